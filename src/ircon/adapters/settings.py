"""Config of containment adapter instances (``[adapters.NAME]``)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from ircon.settings_base import Section


class AdapterConfig(Section):
    """One adapter instance; ``type`` picks the adapter, the rest are its settings."""

    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True)
    type: str
    """shell | http | litellm | alertmanager | flags | kubernetes | guardrail"""

    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})
