"""Who is on call: rotations with hand-offs in a named zone, and overrides. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ircon.escalation.settings import WEEKDAYS, EscalationConfig, Override, Rotation


def _aware(dt: datetime, zone: ZoneInfo) -> datetime:
    # TOML local date-times carry no offset: read them in the rotation's zone.
    return dt.replace(tzinfo=zone) if dt.tzinfo is None else dt


def override_at(rotation: Rotation, at: datetime) -> Override | None:
    zone = ZoneInfo(rotation.timezone)
    # The last matching override wins, so a later line can patch an earlier one.
    hit = None
    for o in rotation.overrides:
        if _aware(o.start, zone) <= at < _aware(o.end, zone):
            hit = o
    return hit


def shift_start_date(rotation: Rotation, at: datetime) -> date:
    """The local date on which the shift covering ``at`` began."""
    zone = ZoneInfo(rotation.timezone)
    local = at.astimezone(zone)
    hh, mm = (int(x) for x in rotation.handoff_time.split(":"))
    day = local.date()
    # Wall-clock comparison: a hand-off in a skipped DST hour happens when the clock
    # passes it, which is what people on the rotation see on their phones.
    if local.time().replace(tzinfo=None) < time(hh, mm):
        day -= timedelta(days=1)
    if rotation.handoff == "weekly":
        want = WEEKDAYS.index(rotation.handoff_day)
        day -= timedelta(days=(day.weekday() - want) % 7)
    return day


def on_call(rotation: Rotation, at: datetime) -> str | None:
    """Handle of who is on call at ``at`` (aware), or None for an empty rotation."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    o = override_at(rotation, at)
    if o is not None:
        return o.person
    if not rotation.members:
        return None
    anchor = rotation.start
    if rotation.handoff == "weekly":
        want = WEEKDAYS.index(rotation.handoff_day)
        anchor -= timedelta(days=(anchor.weekday() - want) % 7)
    shifts = (shift_start_date(rotation, at) - anchor).days
    if rotation.handoff == "weekly":
        shifts //= 7
    return rotation.members[shifts % len(rotation.members)]


def next_handoff(rotation: Rotation, at: datetime) -> datetime:
    """The UTC instant of the next regular hand-off after ``at``."""
    zone = ZoneInfo(rotation.timezone)
    hh, mm = (int(x) for x in rotation.handoff_time.split(":"))
    start = shift_start_date(rotation, at)
    step = 7 if rotation.handoff == "weekly" else 1
    nxt = datetime.combine(start + timedelta(days=step), time(hh, mm), tzinfo=zone)
    return nxt.astimezone(UTC)


@dataclass(frozen=True)
class Recipient:
    """One resolved target: who, through which secret references (never the URLs)."""

    spec: str  # as written in the policy: person:x, rotation:y, channel:z, commander
    who: str  # person handle or channel name
    refs: tuple[str, ...]
    problem: str | None = None  # why nobody could be reached through this target


def recipients(
    cfg: EscalationConfig, specs: Iterable[str], *, commander: str | None, at: datetime
) -> list[Recipient]:
    """Resolve targets at ``at``; a person reached twice is notified once."""
    out: list[Recipient] = []
    seen: set[str] = set()
    for spec in specs:
        kind, _, name = spec.partition(":")
        handle: str | None = None
        if kind == "person":
            handle = name
        elif kind == "commander":
            handle = commander
            if not handle or handle not in cfg.people:
                out.append(Recipient(spec, handle or "-", (), "the incident has no commander "
                                     "who is in the roster"))
                continue
        elif kind == "rotation":
            rot = cfg.rotations.get(name)
            handle = on_call(rot, at) if rot else None
            if handle is None:
                out.append(Recipient(spec, name, (), "nobody is on call in this rotation"))
                continue
        elif kind == "channel":
            ch = cfg.channels.get(name)
            ident = "channel:" + name
            if ident in seen:
                continue
            seen.add(ident)
            out.append(Recipient(spec, name, tuple(ch.targets) if ch else (),
                                 None if ch and ch.targets else "channel has no targets"))
            continue
        person = cfg.people.get(handle or "")
        ident = "person:" + (handle or "")
        if ident in seen:
            continue
        seen.add(ident)
        if person is None:
            out.append(Recipient(spec, handle or "-", (), "not in the roster"))
        else:
            out.append(Recipient(spec, handle or "-", tuple(person.targets),
                                 None if person.targets else "person has no targets"))
    return out
