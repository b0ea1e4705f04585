"""LLM gateway log formats, one module each, all mapped onto ``TelemetryEvent``.

Each format module exposes ``looks_like(obj) -> bool`` (a cheap check on the
top-level keys) and ``to_events(obj, origin, line) -> list[TelemetryEvent]``
(raises ``ValueError`` with a reason a responder can read). Detection order
matters: the most specific markers are tried first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ircon.sources.formats.langfuse as langfuse
import ircon.sources.formats.litellm as litellm
import ircon.sources.formats.openai as openai
import ircon.sources.formats.otel as otel
from ircon.model.telemetry import TelemetryEvent

Normalizer = Callable[[dict[str, Any], str, int], list[TelemetryEvent]]

FORMATS: dict[str, Normalizer] = {
    "litellm": litellm.to_events,
    "otel": otel.to_events,
    "openai": openai.to_events,
    "langfuse": langfuse.to_events,
}

_DETECTORS: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
    ("litellm", litellm.looks_like),
    ("langfuse", langfuse.looks_like),
    ("openai", openai.looks_like),
    ("otel", otel.looks_like),
)


def detect_format(obj: dict[str, Any]) -> str | None:
    """The format a decoded record is in, or None when no known format matches."""
    for name, looks_like in _DETECTORS:
        if looks_like(obj):
            return name
    return None
