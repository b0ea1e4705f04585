"""The normalized alert every source produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

AlertStatus = Literal["firing", "resolved"]


@dataclass(slots=True)
class AlertIn:
    """An alert as a source reports it, before dedup and triage.

    ``fingerprint`` identifies the alert within its source (Alertmanager's own
    fingerprint, or a detector finding's signature); ``group_key`` is the
    backend's grouping (Alertmanager group key) when it has one.
    """

    source: str
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    status: AlertStatus = "firing"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str | None = None
    group_key: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    state: str = "active"  # backend state: active, suppressed (silenced/inhibited), unprocessed

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "") or self.fingerprint
