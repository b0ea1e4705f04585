"""Config of the headless engine and containment policies."""

from __future__ import annotations

from ircon.settings_base import Section


class EngineConfig(Section):
    lease_seconds: float = 15.0
    """Leader lease length; another engine takes over within this after a crash."""
