"""Dedup: one alert per (source, fingerprint).

A pull (or a webhook archive) may carry the same alert several times; the
last report wins, but whether it fired at any point is kept, so an archive
holding "firing" then "resolved" still records that the alert fired.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ircon.model.alert import AlertIn

AlertKey = tuple[str, str]


def key_of(alert: AlertIn) -> AlertKey:
    return (alert.source, alert.fingerprint)


@dataclass(slots=True)
class Deduped:
    """The latest report of one alert in a batch and what the batch said about it."""

    alert: AlertIn
    occurrences: int = 1
    fired: bool = False  # at least one report in the batch was "firing"

    @property
    def key(self) -> AlertKey:
        return key_of(self.alert)


def dedup(alerts: Iterable[AlertIn]) -> list[Deduped]:
    """Collapse repeats, keeping first-appearance order and the last report's content."""
    out: dict[AlertKey, Deduped] = {}
    for a in alerts:
        k = key_of(a)
        d = out.get(k)
        if d is None:
            out[k] = Deduped(a, 1, a.status == "firing")
        else:
            d.alert = a
            d.occurrences += 1
            d.fired = d.fired or a.status == "firing"
    return list(out.values())
