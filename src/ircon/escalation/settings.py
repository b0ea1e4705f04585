"""Config of on-call roster, escalation policies, notifications and clocks.

Targets are written as ``person:HANDLE``, ``rotation:NAME`` (whoever is on
call then), ``channel:NAME`` or ``commander`` (the incident's commander when
that is a known person). Apprise URLs carry credentials, so the config holds
only secret references to them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field, field_validator

from ircon.settings_base import SecretRef, Section

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _hhmm(value: str) -> str:
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError("write the time as HH:MM, e.g. \"09:00\"")
    h, m = int(parts[0]), int(parts[1])
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError("hour 0-23 and minute 0-59, e.g. \"09:00\"")
    return f"{h:02d}:{m:02d}"


def _zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like "
                         "\"Europe/Berlin\" or \"UTC\"") from exc
    return value


class Person(Section):
    name: str = ""
    """Display name (the table key is the handle used in targets)."""
    targets: list[SecretRef] = []
    """Apprise URLs as secret references (env:VAR or keyring:ircon/NAME)."""
    timezone: str | None = None
    """The person's zone, for times in messages; default: ui.timezone."""

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, v: str | None) -> str | None:
        return v if v is None else _zone(v)


class Override(Section):
    person: str
    """Handle of who is on call instead during this window."""
    start: datetime
    """Window start (TOML date-time; without an offset it is read in the rotation's zone)."""
    end: datetime
    """Window end (exclusive)."""
    reason: str = ""
    """Why (swap, holiday)."""


class Rotation(Section):
    members: list[str] = []
    """Handles in hand-off order."""
    handoff: Literal["daily", "weekly"] = "weekly"
    """How often the on-call hands off to the next member."""
    handoff_time: str = "09:00"
    """Local hand-off time HH:MM in ``timezone``."""
    handoff_day: Literal[WEEKDAYS] = "monday"  # type: ignore[valid-type]
    """Weekday of the hand-off for weekly rotations."""
    timezone: str = "UTC"
    """IANA zone the hand-off time is in (daylight saving time is followed)."""
    start: date = date(2024, 1, 1)
    """A date on which the first member's shift began (anchors the order)."""
    overrides: list[Override] = []
    """Time windows with someone else on call."""

    @field_validator("handoff_time")
    @classmethod
    def _check_time(cls, v: str) -> str:
        return _hhmm(v)

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, v: str) -> str:
        return _zone(v)


class Channel(Section):
    targets: list[SecretRef] = []
    """Apprise URLs (secret references) of a shared channel: Slack, Teams, ntfy, webhook."""


class Level(Section):
    after_minutes: float = 0.0
    """Delay before this level is notified (see ``after``)."""
    after: Literal["previous", "open"] = "previous"
    """Delay counted from the previous level's notification, or from the ladder's start
    (incident opened or severity raised)."""
    notify: list[str] = []
    """Targets: "person:HANDLE", "rotation:NAME", "channel:NAME" or "commander"."""
    repeat: int = Field(default=0, ge=0, le=100)
    """Notify this level again this many times while nobody acknowledges."""
    repeat_minutes: float = 10.0
    """Interval between repeats."""


class Policy(Section):
    levels: list[Level] = []
    """Ordered levels; acknowledging the incident stops the ladder."""
    then: str | None = None
    """Another policy whose levels follow this one's last level."""


class ExtraClock(Section):
    title: str
    """What the clock is for (shown and sent in reminders)."""
    hours: float = Field(gt=0)
    """Time allowed from awareness to deadline."""


class EscalationConfig(Section):
    enabled: bool = True
    """Run escalation ladders and clocks."""
    people: dict[str, Person] = {}
    """People by handle."""
    rotations: dict[str, Rotation] = {}
    """On-call rotations by name."""
    channels: dict[str, Channel] = {}
    """Shared notification channels by name."""
    policies: dict[str, Policy] = {}
    """Escalation policies by name."""
    severity_policy: dict[str, str] = {}
    """Which policy runs for each severity, e.g. {SEV1 = "critical", SEV2 = "standard"}."""
    reminders: list[float] = [0.5, 0.8, 1.0]
    """Fractions of a clock's time at which a reminder is sent (1.0 = the deadline)."""
    clock_notify: list[str] = []
    """Who gets clock and status-update reminders; default: the first level of the policy."""
    status_update_minutes: dict[str, float] = {"SEV1": 30.0, "SEV2": 60.0}
    """Remind to post a status update after this many minutes without one, per severity."""
    ack_within_minutes: dict[str, float] = {}
    """Target time to acknowledge per severity (the operational clock turns breached after)."""
    contain_within_minutes: dict[str, float] = {}
    """Target time to contain per severity."""
    clocks: dict[str, ExtraClock] = {}
    """Extra clocks (contractual SLAs) a responder can start, by name."""
    send_attempts: int = Field(default=4, ge=1, le=20)
    """Attempts per notification target before it is journaled as failed."""
    retry_backoff_seconds: float = Field(default=2.0, ge=0, le=600)
    """First retry delay; it doubles after each failed attempt."""
    send_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    """Give up on one attempt to a target after this long."""
    tick_seconds: float = Field(default=15.0, gt=0, le=3600)
    """How often every open incident is re-checked against the wall clock (covers clock
    jumps and suspend/resume)."""
    late_after_seconds: float = Field(default=60.0, ge=0)
    """A firing sent later than this past its due time is marked late."""
