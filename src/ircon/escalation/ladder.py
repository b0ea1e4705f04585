"""The escalation ladder and every other timer: what is due at ``now``. Pure.

Due times are planned from the ladder's start (cumulative delays), never from
when something happened to be sent: a restart, a crash or a clock jump then
changes nothing about *what* is due, only how late it goes out. Each firing
has a stable key; the journal records which keys were sent, and a database
claim on the key keeps two processes from sending the same one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ircon.escalation.clocks import clock_states
from ircon.escalation.facts import DONE, Facts
from ircon.escalation.settings import EscalationConfig, Level


@dataclass(frozen=True)
class PlannedLevel:
    index: int  # 1-based across the whole chain of policies
    policy: str
    level: Level
    due: datetime


@dataclass(frozen=True)
class Firing:
    key: str
    due: datetime
    what: str  # level, repeat, clock, update
    targets: tuple[str, ...]
    ask: str
    level: int | None = None
    repeat: int | None = None
    clock: str | None = None
    fraction: float | None = None
    covers: tuple[str, ...] = ()  # earlier keys of the same series this one stands for

    def body(self, *, now: datetime, late_after: float) -> dict[str, Any]:
        late_by = (now - self.due).total_seconds()
        b: dict[str, Any] = {
            "key": self.key, "what": self.what, "due": self.due.isoformat(),
            "targets": list(self.targets), "ask": self.ask,
            "late": late_by > late_after, "late_by_seconds": round(max(late_by, 0.0), 1),
        }
        for name in ("level", "repeat", "clock", "fraction"):
            v = getattr(self, name)
            if v is not None:
                b[name] = v
        if self.covers:
            b["covers"] = list(self.covers)
        return b


@dataclass
class Evaluation:
    due: list[Firing] = field(default_factory=list)
    next_at: datetime | None = None

    def consider(self, at: datetime) -> None:
        if self.next_at is None or at < self.next_at:
            self.next_at = at


def policy_chain(cfg: EscalationConfig, severity: str) -> list[tuple[str, Level]]:
    """The levels that run for a severity: its policy's, then each ``then`` policy's."""
    name = cfg.severity_policy.get(severity)
    out: list[tuple[str, Level]] = []
    seen: set[str] = set()
    while name and name in cfg.policies and name not in seen:  # cycles are config errors
        seen.add(name)
        pol = cfg.policies[name]
        out.extend((name, lv) for lv in pol.levels)
        name = pol.then
    return out


def plan_levels(cfg: EscalationConfig, facts: Facts) -> list[PlannedLevel]:
    start = facts.epoch_start or facts.opened_at
    if start is None:
        return []
    out: list[PlannedLevel] = []
    prev = start
    for i, (pname, lv) in enumerate(policy_chain(cfg, facts.severity), 1):
        base = start if lv.after == "open" else prev
        due = base + timedelta(minutes=lv.after_minutes)
        out.append(PlannedLevel(i, pname, lv, due))
        prev = due
    return out


def level_key(facts: Facts, index: int, repeat: int = 0) -> str:
    k = f"{facts.incident}/e{facts.epoch}/L{index}"
    return f"{k}/r{repeat}" if repeat else k


def _ask(facts: Facts, text: str) -> str:
    return text.format(id=facts.incident, sev=facts.severity)


def _latest_in_series(
    keys_dues: list[tuple[str, datetime]], facts: Facts, after: datetime | None, now: datetime,
    ev: Evaluation,
) -> tuple[str, datetime, tuple[str, ...]] | None:
    """Of a series of reminders, the one to send now: the latest due, unsent, planned after
    ``after`` (the last send of the series). Earlier missed ones are folded into it, so a
    catch-up after downtime sends one message, not a burst."""
    pick = None
    skipped: list[str] = []
    for key, due in keys_dues:
        if due > now:
            ev.consider(due)
            break
        if key in facts.fired or (after is not None and due <= after):
            continue
        if pick is not None:
            skipped.append(pick[0])
        pick = (key, due)
    if pick is None:
        return None
    return pick[0], pick[1], tuple(skipped)


def evaluate(cfg: EscalationConfig, facts: Facts, now: datetime) -> Evaluation:
    ev = Evaluation()
    if facts.opened_at is None:
        return ev
    _ladder(cfg, facts, now, ev)
    _clock_reminders(cfg, facts, now, ev)
    _update_reminders(cfg, facts, now, ev)
    ev.due.sort(key=lambda f: (f.due, f.key))
    return ev


def _ladder(cfg: EscalationConfig, facts: Facts, now: datetime, ev: Evaluation) -> None:
    if facts.stopped:
        return
    for pl in plan_levels(cfg, facts):
        key = level_key(facts, pl.index)
        targets = tuple(pl.level.notify)
        if key not in facts.fired:
            if pl.due <= now:
                ev.due.append(Firing(
                    key, pl.due, "level", targets,
                    _ask(facts, f"acknowledge {{id}} ({{sev}}): escalation level {pl.index}"),
                    level=pl.index,
                ))
            else:
                ev.consider(pl.due)
            continue
        if not pl.level.repeat:
            continue
        sent = [facts.fired[k] for k in
                [key] + [level_key(facts, pl.index, r) for r in range(1, pl.level.repeat + 1)]
                if k in facts.fired]
        series = [(level_key(facts, pl.index, r),
                   pl.due + timedelta(minutes=pl.level.repeat_minutes * r))
                  for r in range(1, pl.level.repeat + 1)]
        hit = _latest_in_series(series, facts, max(sent), now, ev)
        if hit:
            rk, rdue, covers = hit
            r = int(rk.rsplit("/r", 1)[1])
            ev.due.append(Firing(
                rk, rdue, "repeat", targets,
                _ask(facts, f"still unacknowledged: acknowledge {{id}} ({{sev}}) "
                            f"(level {pl.index}, reminder {r} of {pl.level.repeat})"),
                level=pl.index, repeat=r, covers=covers,
            ))


def first_level_targets(cfg: EscalationConfig, severity: str) -> tuple[str, ...]:
    chain = policy_chain(cfg, severity)
    return tuple(chain[0][1].notify) if chain else ()


def reminder_targets(cfg: EscalationConfig, facts: Facts) -> tuple[str, ...]:
    if cfg.clock_notify:
        return tuple(cfg.clock_notify)
    t = first_level_targets(cfg, facts.severity)
    if facts.commander and "commander" not in t:
        t = ("commander", *t)
    return t


def _clock_reminders(cfg: EscalationConfig, facts: Facts, now: datetime, ev: Evaluation) -> None:
    targets = reminder_targets(cfg, facts)
    if not targets:
        return  # nobody configured to remind: the clock still shows in the incident view
    for st in clock_states(cfg, facts, now):
        if st.met_at is not None:
            continue
        # The deadline is part of the key: editing the awareness time re-arms reminders.
        base = f"{facts.incident}/clock/{st.name}/{st.deadline.isoformat()}"
        series = [(f"{base}/{f:g}", at) for f, at in st.reminders]
        sent = [facts.fired[k] for k, _ in series if k in facts.fired]
        hit = _latest_in_series(series, facts, max(sent) if sent else None, now, ev)
        if not hit:
            continue
        key, due, covers = hit
        frac = float(key.rsplit("/", 1)[1])
        left = st.deadline - now
        if frac >= 1.0 or left.total_seconds() <= 0:
            ask = (f"{st.title} for {{id}}: the deadline ({st.basis}) passed at "
                   f"{st.deadline:%Y-%m-%d %H:%M} UTC — file now and record it with "
                   f"`ircon incident clock {{id}} met {st.name} --reference REF`")
        else:
            ask = (f"{st.title} for {{id}}: {frac:.0%} of the time used, due "
                   f"{st.deadline:%Y-%m-%d %H:%M} UTC ({_span(left)} left, {st.basis})")
        ev.due.append(Firing(key, due, "clock", targets, _ask(facts, ask), clock=st.name,
                             fraction=frac, covers=covers))


def _update_reminders(cfg: EscalationConfig, facts: Facts, now: datetime,
                      ev: Evaluation) -> None:
    every = cfg.status_update_minutes.get(facts.severity)
    if not every or every <= 0 or facts.status in DONE or not reminder_targets(cfg, facts):
        return
    last = facts.last_update_at or facts.opened_at
    assert last is not None
    base = f"{facts.incident}/update/{last.isoformat()}"
    step = timedelta(minutes=every)
    # Only the reminders up to now (plus the next one) matter; bound the series so a
    # months-old incident costs no more than a fresh one.
    n_due = max(0, int((now - last) / step))
    first = max(1, n_due - 1)
    series = [(f"{base}/{k}", last + step * k) for k in range(first, n_due + 2)]
    sent = [t for k, t in facts.fired.items() if k.startswith(base + "/")]
    hit = _latest_in_series(series, facts, max(sent) if sent else None, now, ev)
    if hit:
        key, due, covers = hit
        ev.due.append(Firing(
            key, due, "update", reminder_targets(cfg, facts),
            _ask(facts, f"post a status update for {{id}} ({{sev}}): none for "
                        f"{_span(now - last)}"), covers=covers,
        ))


def _span(d: timedelta) -> str:
    s = int(abs(d.total_seconds()))
    days, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m = s // 60
    if days:
        return f"{days}d {h}h"
    if h:
        return f"{h}h {m:02d}m"
    return f"{m}m"


def ladder_view(cfg: EscalationConfig, facts: Facts, now: datetime) -> list[dict[str, Any]]:
    """Each level with its due time and state, for `incident show` and the console."""
    out = []
    for pl in plan_levels(cfg, facts):
        key = level_key(facts, pl.index)
        if key in facts.fired:
            state, at = "sent", facts.fired[key]
        elif facts.stopped:
            state, at = "stopped", None
        elif pl.due <= now:
            state, at = "due", None
        else:
            state, at = "pending", None
        out.append({
            "level": pl.index, "policy": pl.policy, "due": pl.due.isoformat(),
            "notify": list(pl.level.notify), "state": state,
            "sent_at": at.isoformat() if at else None, "repeat": pl.level.repeat,
        })
    return out
