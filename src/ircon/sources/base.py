"""The source protocol and registry.

A source has a name, a poll interval and an async ``pull()``. Alert sources
return normalized ``AlertIn``s; telemetry sources return ``TelemetryEvent``s
that the detectors turn into findings. Each keeps its own health.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ircon.model.alert import AlertIn
from ircon.model.telemetry import TelemetryEvent


class SourceError(Exception):
    """A pull failed; the message is the cause, worded for a responder."""


@dataclass(slots=True)
class SourceHealth:
    healthy: bool = True
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    latency_ms: float | None = None
    consecutive_failures: int = 0


@dataclass(slots=True)
class PullResult:
    """What one pull produced. ``complete`` means the list is the whole active set,
    so stored alerts missing from it can be marked resolved."""

    alerts: list[AlertIn] = field(default_factory=list)
    events: list[TelemetryEvent] = field(default_factory=list)
    complete: bool = False
    skipped: list[tuple[str, int, str]] = field(default_factory=list)  # (origin, line, reason)


@runtime_checkable
class Source(Protocol):
    name: str
    interval: float
    health: SourceHealth

    async def pull(self) -> PullResult: ...

    async def aclose(self) -> None: ...


SourceFactory = Callable[[Any], Source]
REGISTRY: dict[str, str] = {
    # type -> "module:factory"; factories take the validated config section.
    "alertmanager": "ircon.sources.alertmanager:from_config",
    "telemetry": "ircon.sources.telemetry:from_config",
}


def build(cfg: Any) -> Source:
    import importlib

    modname, _, fn = REGISTRY[cfg.type].partition(":")
    factory: SourceFactory = getattr(importlib.import_module(modname), fn)
    return factory(cfg)
