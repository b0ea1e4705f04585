"""Regulatory, contractual and operational clocks: deadlines, states, reminders. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ircon.escalation.facts import DONE, ClockRun, Facts
from ircon.escalation.settings import EscalationConfig


@dataclass(frozen=True)
class ClockDef:
    name: str
    title: str
    duration: timedelta
    basis: str = ""
    regulatory: bool = False


# Deadlines run from awareness. Sources: GDPR Art. 33(1) (72 hours);
# EU AI Act Art. 73(2) (15 days), 73(3) (2 days: widespread infringement or
# serious and irreversible disruption of critical infrastructure), 73(4)
# (10 days: death of a person).
BUILTIN: dict[str, ClockDef] = {
    c.name: c
    for c in (
        ClockDef("gdpr", "GDPR: notify the supervisory authority of the personal data breach",
                 timedelta(hours=72), "GDPR Art. 33(1)", True),
        ClockDef("ai-act", "EU AI Act: report the serious incident (high-risk AI system)",
                 timedelta(days=15), "AI Act Art. 73(2)", True),
        ClockDef("ai-act-death", "EU AI Act: report the serious incident involving a death",
                 timedelta(days=10), "AI Act Art. 73(4)", True),
        ClockDef("ai-act-widespread",
                 "EU AI Act: report the widespread infringement or critical-infrastructure "
                 "disruption", timedelta(days=2), "AI Act Art. 73(3)", True),
    )
}


def clock_defs(cfg: EscalationConfig) -> dict[str, ClockDef]:
    out = dict(BUILTIN)
    for name, c in cfg.clocks.items():
        out[name] = ClockDef(name, c.title, timedelta(hours=c.hours), "config", False)
    return out


@dataclass(frozen=True)
class ClockState:
    name: str
    title: str
    basis: str
    awareness: datetime
    deadline: datetime
    state: str  # running, met, breached
    met_at: datetime | None
    reference: str | None
    late: bool  # met after the deadline
    elapsed_fraction: float
    reason: str
    edits: int
    reminders: tuple[tuple[float, datetime], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "basis": self.basis,
            "awareness": self.awareness.isoformat(), "deadline": self.deadline.isoformat(),
            "state": self.state, "met_at": self.met_at.isoformat() if self.met_at else None,
            "reference": self.reference, "met_late": self.late,
            "elapsed_fraction": round(self.elapsed_fraction, 4), "reason": self.reason,
            "awareness_edits": self.edits,
            "reminders": [{"fraction": f, "at": t.isoformat()} for f, t in self.reminders],
        }


def clock_state(d: ClockDef, run: ClockRun, fractions: list[float], now: datetime) -> ClockState:
    deadline = run.awareness + d.duration
    total = d.duration.total_seconds()
    until = run.met_at or now
    frac = (until - run.awareness).total_seconds() / total
    if run.met_at is not None:
        state = "met"
    elif now >= deadline:
        state = "breached"
    else:
        state = "running"
    rem = tuple((f, run.awareness + d.duration * f) for f in sorted(set(fractions)))
    return ClockState(
        name=d.name, title=d.title, basis=d.basis, awareness=run.awareness, deadline=deadline,
        state=state, met_at=run.met_at, reference=run.reference,
        late=run.met_at is not None and run.met_at > deadline, elapsed_fraction=frac,
        reason=run.reason, edits=run.edits, reminders=rem,
    )


def clock_states(cfg: EscalationConfig, facts: Facts, now: datetime) -> list[ClockState]:
    defs = clock_defs(cfg)
    out = []
    for name, run in facts.clocks.items():
        d = defs.get(name)
        if d is None:  # a clock whose definition left the config: keep showing it
            hours = float(run.params.get("hours") or 0) or 1.0
            d = ClockDef(name, name, timedelta(hours=hours), str(run.params.get("basis", "")))
        out.append(clock_state(d, run, cfg.reminders, now))
    out.sort(key=lambda c: c.deadline)
    return out


@dataclass(frozen=True)
class OpClock:
    name: str  # time-to-ack, time-to-contain, since-last-update
    start: datetime
    stop: datetime | None
    target: timedelta | None
    state: str  # running, met, breached, idle
    elapsed: timedelta

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "start": self.start.isoformat(),
            "stop": self.stop.isoformat() if self.stop else None,
            "target_seconds": self.target.total_seconds() if self.target else None,
            "state": self.state, "elapsed_seconds": round(self.elapsed.total_seconds(), 1),
        }


def _op(name: str, start: datetime, stop: datetime | None, target: float | None,
        now: datetime) -> OpClock:
    tgt = timedelta(minutes=target) if target is not None else None
    elapsed = (stop or now) - start
    if tgt is None:
        state = "met" if stop else "running"
    elif stop is not None:
        state = "met" if elapsed <= tgt else "breached"
    else:
        state = "breached" if elapsed > tgt else "running"
    return OpClock(name, start, stop, tgt, state, elapsed)


def operational_clocks(cfg: EscalationConfig, facts: Facts, now: datetime) -> list[OpClock]:
    if facts.opened_at is None:
        return []
    sev = facts.severity
    out = [
        _op("time-to-ack", facts.opened_at, facts.first_ack_at,
            cfg.ack_within_minutes.get(sev), now),
        _op("time-to-contain", facts.opened_at, facts.contained_at,
            cfg.contain_within_minutes.get(sev), now),
    ]
    last = facts.last_update_at or facts.opened_at
    every = cfg.status_update_minutes.get(sev)
    if facts.status in DONE:
        out.append(OpClock("since-last-update", last, None, None, "idle", now - last))
    else:
        out.append(_op("since-last-update", last, None, every, now))
    return out
