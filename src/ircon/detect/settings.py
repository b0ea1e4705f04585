"""Config of the AI detectors (``[detectors]``)."""

from __future__ import annotations

from pydantic import Field

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
    max_field_chars: int = Field(default=32768, ge=1024, le=4_194_304)
    """Characters of each text field examined (head and tail halves); the middle is skipped."""
    max_keys: int = Field(default=100_000, ge=100)
    """Most keys/users/teams tracked per detector; the least recently seen are dropped first."""
    idle_seconds: float = Field(default=3600.0, gt=0)
    """Per-key state not touched for this long (event time) is dropped."""
    window_seconds: float = Field(default=300.0, gt=0)
    """Length of the sliding window for probing, extraction and spend statistics."""
    min_requests: int = Field(default=20, ge=3)
    """Requests a key needs inside one window before probing statistics are judged."""
    rate_factor: float = Field(default=5.0, gt=1)
    """A key's request rate this many times its own baseline is a burst."""
    spend_factor: float = Field(default=8.0, gt=1)
    """Token or cost spend of a key/team this many times its own baseline is denial of wallet."""
    spend_min_tokens: int = Field(default=200_000, ge=0)
    """Tokens per window below which spend is never reported, whatever the baseline."""
    spend_new_key_tokens: int = Field(default=2_000_000, ge=0)
    """Tokens per window that are reported for a key or team that has no baseline yet."""
    campaign_window_seconds: float = Field(default=3600.0, gt=0)
    """How long the same rule, suffix or template is remembered for campaign correlation."""
    campaign_min_members: int = Field(default=3, ge=2)
    """Distinct keys/users/IPs sharing a signature that make a campaign."""
    suffix_threshold: float = Field(default=0.7, gt=0, lt=1)
    """Score at or above which a gibberish prompt tail is reported as an adversarial suffix."""
