"""Config of on-call roster, escalation policies, notifications and clocks."""

from __future__ import annotations

from ircon.settings_base import Section


class EscalationConfig(Section):
    enabled: bool = True
    """Run escalation ladders and clocks."""
