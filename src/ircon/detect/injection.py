"""Prompt injection detection (AML.T0051): instruction overrides, system prompt
extraction (AML.T0056), forged role markers and exfiltration set-ups. Hits in
tool-role messages (retrieved or tool content) are reported as indirect
injection (AML.T0051.001)."""

from __future__ import annotations

from ircon.detect.base import BuildContext
from ircon.detect.patterns import PatternDetector, from_rules


def from_context(ctx: BuildContext) -> PatternDetector:
    return from_rules("injection", ctx)
