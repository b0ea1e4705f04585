"""What the journal says about an incident, as the timers need it. Pure.

The journal is the record, so everything a timer depends on (when the ladder
started, whether someone acknowledged, which firings were already sent,
when a clock's awareness was set) is folded from journal entries here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ircon.model import kinds
from ircon.model.severity import rank

# Statuses past "open": the ladder stops for each of them.
ACKED = ("acknowledged", "contained", "resolved", "closed")
DONE = ("resolved", "closed")
# Entries that count as a status update to stakeholders.
UPDATE_KINDS = (kinds.NOTE, kinds.STATUS, kinds.SEVERITY, kinds.INCIDENT_OPENED)


class EntryLike(Protocol):
    @property
    def ts(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def body(self) -> str: ...


def parse_ts(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"timestamp without a zone: {text!r}")
    return dt


@dataclass
class ClockRun:
    name: str
    awareness: datetime
    started_at: datetime
    reason: str = ""
    edits: int = 0
    met_at: datetime | None = None
    reference: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Facts:
    incident: str
    title: str = ""
    opened_at: datetime | None = None
    severity: str = "SEV3"
    status: str = "open"
    commander: str | None = None
    epoch: int = 0
    """Ladder generation: a new one starts when severity changes or the incident reopens."""
    epoch_start: datetime | None = None
    acked_at: datetime | None = None
    """Acknowledgement that holds for the current ladder."""
    first_ack_at: datetime | None = None
    contained_at: datetime | None = None
    last_update_at: datetime | None = None
    clocks: dict[str, ClockRun] = field(default_factory=dict)
    fired: dict[str, datetime] = field(default_factory=dict)
    """Firing key -> when it was sent (claimed)."""

    @property
    def stopped(self) -> bool:
        return self.acked_at is not None or self.status in DONE


def _body(e: EntryLike) -> dict[str, Any]:
    try:
        b = json.loads(e.body)
    except ValueError:
        return {}
    return b if isinstance(b, dict) else {}


# Clock names used by playbook decision options -> the clocks defined in clocks.py.
PLAYBOOK_CLOCKS = {
    "gdpr-72h": "gdpr",
    "ai-act-15d": "ai-act",
    "ai-act-10d": "ai-act-death",
    "ai-act-2d": "ai-act-widespread",
}


def fold(incident: str, entries: Iterable[EntryLike]) -> Facts:
    f = Facts(incident=incident)
    for e in entries:
        ts = parse_ts(e.ts)
        b = _body(e)
        k = e.kind
        if k == kinds.INCIDENT_OPENED:
            f.opened_at = f.epoch_start = ts
            f.title = str(b.get("title", ""))
            f.severity = str(b.get("severity", f.severity))
        elif k == kinds.SEVERITY:
            new = str(b.get("severity", f.severity))
            if new != f.severity:
                raised = rank(new) < rank(f.severity)
                f.severity = new
                f.epoch += 1
                f.epoch_start = ts
                # Raising the severity re-arms the ladder: the worse policy's people must
                # hear of it. Lowering keeps an acknowledgement already given.
                if raised:
                    f.acked_at = None
        elif k == kinds.STATUS:
            st = str(b.get("status", ""))
            if st in ACKED and f.acked_at is None and f.status not in DONE:
                f.acked_at = ts
                if f.first_ack_at is None:
                    f.first_ack_at = ts
            if st in ("contained", "resolved", "closed") and f.contained_at is None:
                f.contained_at = ts
            if st == "open" and f.status != "open":
                f.epoch += 1
                f.epoch_start = ts
                f.acked_at = None
            if st:
                f.status = st
        elif k == kinds.ROLE and b.get("role") == "commander":
            f.commander = str(b.get("person") or "") or None
        elif k == kinds.ESCALATION and isinstance(b.get("key"), str):
            f.fired[b["key"]] = ts
            for extra in b.get("covers", []) or []:
                if isinstance(extra, str):
                    f.fired.setdefault(extra, ts)
        elif k == kinds.CLOCK:
            _clock(f, b, ts)
        elif k == kinds.DECISION and isinstance(b.get("starts_clock"), str):
            # A playbook answer ("personal data involved? yes") starts a regulatory
            # clock, aware from the moment the answer was recorded. A clock the
            # responder already started keeps its own awareness time.
            name = PLAYBOOK_CLOCKS.get(b["starts_clock"], b["starts_clock"])
            if name not in f.clocks:
                _clock(f, {"clock": name, "action": "start", "awareness": e.ts,
                           "reason": f"playbook step {b.get('step')}: {b.get('option')}"}, ts)
        if k in UPDATE_KINDS:
            f.last_update_at = ts
    return f


def _clock(f: Facts, b: dict[str, Any], ts: datetime) -> None:
    name = b.get("clock")
    action = b.get("action")
    if not isinstance(name, str):
        return
    if action == "start":
        try:
            aw = parse_ts(str(b.get("awareness")))
        except ValueError:
            aw = ts
        prev = f.clocks.get(name)
        run = ClockRun(name=name, awareness=aw, started_at=ts, reason=str(b.get("reason", "")),
                       params={k: v for k, v in b.items() if k in ("basis", "hours")})
        if prev is not None and prev.met_at is None:
            run.edits = prev.edits + 1
            run.started_at = prev.started_at
        f.clocks[name] = run
    elif action == "met" and name in f.clocks:
        run = f.clocks[name]
        run.met_at = ts
        run.reference = str(b.get("reference", ""))
