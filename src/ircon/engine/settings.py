"""Config of the headless engine (``[engine]``) and containment policies (``[policies.NAME]``).

A policy reads: *when* a detector finding matches (detector or rule, score,
count in a window, severity, scope), *then* run one adapter action with
parameters filled from the finding, undo it after ``expire_after`` unless a
responder confirms it. New policies run in shadow mode: they journal what
they would have done and do nothing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ircon.model.severity import SEVERITIES
from ircon.settings_base import Section

Scope = Literal["key", "user", "team", "ip"]


class EngineConfig(Section):
    lease_seconds: float = Field(default=15.0, ge=1.0, le=3600.0)
    """Leader lease length; another engine takes over within this after a crash."""
    follow_interval: float | None = Field(default=None, gt=0, le=60)
    """Seconds between checks of followed telemetry files; default: each source's interval."""
    tick_seconds: float = Field(default=0.5, gt=0, le=60)
    """How often expired automated actions are looked for and undone."""
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=600)
    """On SIGTERM, how long in-flight automated actions may run to completion."""


class PolicyWhen(Section):
    detector: str | None = None
    """Detector whose findings match (jailbreak, injection, suffix, ..., campaign)."""
    rule: str | None = None
    """Rule id that matches; a trailing * matches a prefix (``jb.*``)."""
    min_score: float = Field(default=0.0, ge=0, le=1)
    """Lowest finding score that matches."""
    min_count: int = Field(default=1, ge=1, le=100_000)
    """Matching findings for one scope value within ``window_seconds`` before acting."""
    window_seconds: float = Field(default=300.0, gt=0)
    """Window of ``min_count`` (event time of the findings)."""
    severity_at_least: str | None = None
    """Only findings with this severity hint or worse (SEV1 is the worst)."""
    scope: Scope = "key"
    """What is counted and contained: the finding's key, user, team or ip."""

    @field_validator("severity_at_least")
    @classmethod
    def _sev(cls, v: str | None) -> str | None:
        if v is not None and v not in SEVERITIES:
            raise ValueError(f"use one of {', '.join(SEVERITIES)}")
        return v


class PolicyThen(Section):
    adapter: str
    """Adapter instance to run ([adapters.NAME])."""
    action: str
    """Action of that adapter, e.g. block-key, limit-key, disable, block-pattern."""
    params: dict[str, str] = {}
    """Action parameters; ``{finding.key}``, ``{finding.user}``, ``{finding.team}``,
    ``{finding.ip}``, ``{finding.model}``, ``{finding.rule_id}``, ``{finding.detector}``
    and ``{scope}`` are filled from the finding."""


class PolicyConfig(Section):
    description: str = ""
    """What the policy is for (shown by `ircon policies list`)."""
    mode: Literal["shadow", "enforce"] = "shadow"
    """shadow: journal what would be done, do nothing; enforce: act."""
    when: PolicyWhen = PolicyWhen()
    """Which findings trigger the policy."""
    then: PolicyThen
    """The containment action."""
    expire_after: str = "1h"
    """Undo the action after this long (30m, 2h, 1d) unless a responder confirms it;
    "never" keeps it until someone undoes it."""
    allow_keys: list[str] = []
    """Keys (as logged, usually hashes) never contained automatically."""
    allow_teams: list[str] = []
    """Teams whose requests are never contained automatically."""
    allow_users: list[str] = []
    """Users never contained automatically."""
    allow_ips: list[str] = []
    """Client IPs never contained automatically."""
    cap_per_hour: int = Field(default=10, ge=1, le=10_000)
    """Blast-radius cap: at most this many automated actions per hour; then the policy
    stops and escalates to a human."""
    retries: int = Field(default=2, ge=0, le=10)
    """Extra attempts when the action fails, before escalating."""
    retry_backoff_seconds: float = Field(default=1.0, ge=0, le=300)
    """Delay before the first retry; it doubles after each one."""
    notify: list[str] = []
    """Who hears of every automated action (escalation targets such as
    "rotation:primary"); default: the first level of the incident's escalation policy."""
