"""Config of triage (``[triage]``): grouping and severity thresholds."""

from __future__ import annotations

from ircon.settings_base import Section


class TriageConfig(Section):
    group_by: list[str] = ["alertname", "model"]
    """Labels whose values together group alerts into one incident."""
    campaign_window_minutes: float = 60.0
    """Window in which the same signature across keys is one campaign."""
