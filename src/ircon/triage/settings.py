"""Config of triage (``[triage]``): grouping and severity thresholds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ircon.model.severity import SEVERITIES
from ircon.settings_base import Section


def _check_sev(value: str) -> str:
    if value not in SEVERITIES:
        raise ValueError(f"use one of {', '.join(SEVERITIES)}")
    return value


class SeverityThresholds(Section):
    affected_high: int = Field(default=50, ge=1)
    """Distinct keys/users/IPs affected at or above which impact is high."""
    affected_medium: int = Field(default=5, ge=1)
    """Distinct keys/users/IPs affected at or above which impact is at least medium."""
    spreading_actors: int = Field(default=3, ge=2)
    """Distinct actors in one incident at or above which the incident counts as spreading."""
    spreading_alerts: int = Field(default=10, ge=2)
    """Distinct alerts in one incident at or above which the incident counts as spreading."""
    urgency_high: int = Field(default=2, ge=1, le=3)
    """How many of ongoing / spreading / automated make urgency high."""


class TriageConfig(Section):
    group_mode: Literal["backend", "labels"] = "backend"
    """backend: group by the source's own group key (Alertmanager) when it has one, else by
    group_by; labels: always group by the group_by label set."""
    group_by: list[str] = Field(default_factory=lambda: ["alertname", "model"])
    """Labels whose values together group alerts into one incident."""
    campaign_window_minutes: float = Field(default=60.0, gt=0)
    """Window in which the same signature across keys is one campaign."""
    open_for_suppressed: bool = False
    """Open incidents for silenced or inhibited alerts (they are always stored)."""
    min_incident_severity: str = "SEV4"
    """Alerts classified less severe than this are stored but open no incident."""
    actor_labels: list[str] = Field(
        default_factory=lambda: ["key", "api_key", "key_alias", "user", "user_id", "team", "ip"]
    )
    """Labels naming who is behind an alert; distinct values count as affected keys/users."""
    severity_label: str = "severity"
    """Label carrying the backend's own severity."""
    backend_severity: dict[str, str] = Field(default_factory=lambda: {
        "critical": "SEV2", "page": "SEV2", "high": "SEV2", "error": "SEV3",
        "warning": "SEV3", "medium": "SEV3", "low": "SEV4", "info": "SEV4", "none": "SEV4",
    })
    """Backend severity label value -> the least severe level it allows (SEV1..SEV4 pass
    through)."""
    production_labels: dict[str, list[str]] = Field(default_factory=lambda: {
        "env": ["prod", "production"], "environment": ["prod", "production"],
        "tier": ["prod", "production"],
    })
    """Label -> values meaning a production model is affected."""
    data_exposure_labels: list[str] = Field(
        default_factory=lambda: ["data_exposure", "pii", "secret_leak", "leak"]
    )
    """Labels that, when true/yes/1, mean data was exposed."""
    regulated_labels: list[str] = Field(
        default_factory=lambda: ["regulated", "gdpr", "hipaa", "pci"]
    )
    """Labels that, when true/yes/1, mean regulated data is involved."""
    safety_labels: list[str] = Field(default_factory=lambda: ["safety_harm", "harm"])
    """Labels that, when true/yes/1, mean users may be harmed."""
    automated_labels: list[str] = Field(default_factory=lambda: ["automated", "bot", "scripted"])
    """Labels that, when true/yes/1, mean the activity is automated."""
    thresholds: SeverityThresholds = SeverityThresholds()
    """Numbers behind the impact x urgency matrix."""

    @field_validator("min_incident_severity")
    @classmethod
    def _check_min(cls, value: str) -> str:
        return _check_sev(value)

    @field_validator("backend_severity")
    @classmethod
    def _check_backend(cls, value: dict[str, str]) -> dict[str, str]:
        for k, v in value.items():
            if v not in SEVERITIES:
                raise ValueError(f"backend_severity.{k}: use one of {', '.join(SEVERITIES)}")
        return {k.lower(): v for k, v in value.items()}
