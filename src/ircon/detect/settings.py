"""Config of the AI detectors (``[detectors]``)."""

from __future__ import annotations

from ircon.settings_base import Section


class DetectConfig(Section):
    rules_dir: str | None = None
    """Extra YAML rule packs (default: rules/ under the config directory)."""
    disabled: list[str] = []
    """Detector names or rule ids to turn off."""
    canaries: list[str] = []
    """Canary tokens planted in system prompts; seeing one in output is a leak."""
    system_prompt_files: list[str] = []
    """Files holding system prompts whose fragments must never appear in output."""
