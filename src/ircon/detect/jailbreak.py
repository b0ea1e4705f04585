"""Jailbreak detection (AML.T0054): persona, mode-switch, refusal-suppression,
fiction-wrapper and "ignore your guidelines" families, from the jailbreak pack."""

from __future__ import annotations

from ircon.detect.base import BuildContext
from ircon.detect.patterns import PatternDetector, from_rules


def from_context(ctx: BuildContext) -> PatternDetector:
    return from_rules("jailbreak", ctx)
