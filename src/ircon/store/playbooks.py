"""Playbooks on incidents: pin, record steps and decisions, rebuild the state.

The ``playbook.started`` entry carries the playbook's full source text and
its SHA-256, so the incident keeps the version it started with even when the
file is edited or deleted later, and the state can always be rebuilt from
the journal alone. Each change is validated against the state computed
inside the same write transaction (two consoles cannot both complete a step
from the same stale view), journaled, and projected into ``step_state``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ircon.identity import default_actor
from ircon.model import kinds
from ircon.model.journal import ChainEntry, canonical_body, parse_ts
from ircon.response import engine
from ircon.response.engine import EngineError, PlaybookState, Record
from ircon.response.library import find, playbook_dirs
from ircon.response.lint import lint
from ircon.response.loader import LoadResult, content_hash, load_text
from ircon.response.model import Playbook
from ircon.store.db import Store
from ircon.store.engine import StoreError, utcnow
from ircon.store.journal import append_in, resolve
from ircon.store.tables import Incident, JournalEntry, StepState

_J = JournalEntry.__table__  # type: ignore[attr-defined]
_I = Incident.__table__  # type: ignore[attr-defined]
_S = StepState.__table__  # type: ignore[attr-defined]

_KINDS = (kinds.PLAYBOOK_STARTED, kinds.STEP, kinds.DECISION)


class PlaybookError(StoreError):
    """A playbook operation refused, worded for the responder."""


@dataclass(slots=True, frozen=True)
class Pinned:
    playbook: Playbook
    source: str
    hash: str
    seq: int  # of the playbook.started entry


_cache: dict[str, Playbook] = {}


def _parse_pinned(source: str, expected_hash: str) -> Playbook:
    if content_hash(source) != expected_hash:
        raise PlaybookError("the pinned playbook text does not match its hash; "
                            "run `ircon journal verify`")
    pb = _cache.get(expected_hash)
    if pb is None:
        res = load_text(source, "<pinned playbook>")
        if res.playbook is None:
            raise PlaybookError("the pinned playbook no longer loads: "
                                + "; ".join(str(p) for p in res.problems[:3]))
        pb = res.playbook
        if len(_cache) > 64:
            _cache.clear()
        _cache[expected_hash] = pb
    return pb


def _records(conn: Connection, iid: int) -> tuple[Pinned | None, list[Record]]:
    last = conn.execute(
        select(func.max(_J.c.seq)).where(
            _J.c.incident_id == iid, _J.c.kind == kinds.PLAYBOOK_STARTED
        )
    ).scalar()
    if last is None:
        return None, []
    rows = conn.execute(
        select(_J.c.seq, _J.c.ts, _J.c.actor, _J.c.kind, _J.c.body)
        .where(_J.c.incident_id == iid, _J.c.seq >= last, _J.c.kind.in_(_KINDS))
        .order_by(_J.c.seq)
    ).all()
    recs = [Record(int(r[0]), parse_ts(r[1]), r[2], r[3], json.loads(r[4])) for r in rows]
    body = recs[0].body
    pb = _parse_pinned(str(body.get("source", "")), str(body.get("hash", "")))
    return Pinned(pb, str(body["source"]), str(body["hash"]), int(last)), recs


def _as_record(e: ChainEntry) -> Record:
    return Record(e.seq, parse_ts(e.ts), e.actor, e.kind, json.loads(e.body))


def _project(conn: Connection, iid: int, state: PlaybookState) -> None:
    """Rewrite the incident's step_state rows from ``state`` (a few dozen rows)."""
    now = utcnow()
    conn.execute(_S.delete().where(_S.c.incident_id == iid))
    rows = [
        {"incident_id": iid, "step_id": v.id, "state": v.state, "reason": v.reason or None,
         "updated_at": v.finished_at or v.started_at or now}
        for v in state.steps.values()
    ]
    if rows:
        conn.execute(_S.insert(), rows)
    conn.execute(_I.update().where(_I.c.id == iid).values(updated_at=now))


def start_playbook(
    store: Store,
    incident: str | int,
    name: str,
    *,
    actor: str | None = None,
    dirs: Sequence[str | Path] = (),
    loaded: LoadResult | None = None,
    instances: dict[str, str] | None = None,
) -> PlaybookState:
    """Pin the playbook ``name`` (or ``loaded``) to the incident and start it.

    A playbook with lint errors is refused. Starting again (the same or
    another playbook) begins a fresh run; the earlier one stays in the journal.
    """
    res = loaded if loaded is not None else find(name, playbook_dirs(dirs))
    problems = [p for p in lint(res, instances=instances) if p.level == "error"]
    if res.playbook is None or problems or res.source is None or res.sha256 is None:
        listed = "; ".join(str(p) for p in problems[:5]) or "it does not load"
        raise PlaybookError(f"playbook {name!r} cannot be started: {listed}")
    pb = res.playbook
    kind, body = engine.start_entry(pb, res.source, res.sha256)
    text = canonical_body(body)
    who = actor or default_actor()
    with store.write() as conn:
        iid, hid = resolve(conn, incident)
        entry = append_in(conn, iid, hid, kind, text, who)
        _cache[res.sha256] = pb
        state = engine.replay(pb, [_as_record(entry)], now=utcnow())
        _project(conn, iid, state)
        conn.execute(
            _I.update().where(_I.c.id == iid).values(playbook=pb.name, playbook_hash=res.sha256)
        )
    return state


def _change(
    store: Store,
    incident: str | int,
    make: Any,
    actor: str | None,
    now: datetime | None,
) -> PlaybookState:
    who = actor or default_actor()
    with store.write() as conn:
        iid, hid = resolve(conn, incident)
        pinned, recs = _records(conn, iid)
        if pinned is None:
            raise PlaybookError("no playbook has been started on this incident; "
                                "start one first (`ircon playbook list` shows them)")
        state = engine.replay(pinned.playbook, recs)
        try:
            new: Iterable[engine.NewEntry] = make(pinned.playbook, state)
        except EngineError as exc:
            raise PlaybookError(str(exc)) from exc
        for kind, body in new:
            recs.append(_as_record(append_in(conn, iid, hid, kind, canonical_body(body), who)))
        state = engine.replay(pinned.playbook, recs, now=now or utcnow())
        _project(conn, iid, state)
    return state


def record_step(
    store: Store,
    incident: str | int,
    step_id: str,
    state: str,
    *,
    reason: str = "",
    actor: str | None = None,
    now: datetime | None = None,
) -> PlaybookState:
    """Record a step's new state (pending, in_progress, done, skipped, failed)."""
    return _change(
        store, incident,
        lambda pb, st: engine.step_entries(pb, st, step_id, state, reason),
        actor, now,
    )


def record_decision(
    store: Store,
    incident: str | int,
    step_id: str,
    option: str,
    *,
    reason: str = "",
    actor: str | None = None,
    now: datetime | None = None,
) -> PlaybookState:
    """Record the option chosen at a decision step (its ``starts_clock`` goes in the body)."""
    return _change(
        store, incident,
        lambda pb, st: engine.decision_entries(pb, st, step_id, option, reason),
        actor, now,
    )


def pinned_playbook(store: Store, incident: str | int) -> Pinned | None:
    with store.read() as conn:
        iid, _ = resolve(conn, incident)
        pinned, _ = _records(conn, iid)
    return pinned


def playbook_state(
    store: Store, incident: str | int, now: datetime | None = None
) -> PlaybookState | None:
    """The incident's playbook state rebuilt from the journal; None if none was started."""
    with store.read() as conn:
        iid, _ = resolve(conn, incident)
        pinned, recs = _records(conn, iid)
    if pinned is None:
        return None
    return engine.replay(pinned.playbook, recs, now=now or utcnow())


def template_values(
    store: Store, incident: str | int, *, actor: str | None = None
) -> dict[str, Any]:
    """The fields templates may use for this incident: incident, latest finding and alert.

    Values from findings and alerts are attacker-influenced: they are data
    for the adapters to validate, never code.
    """
    with store.read() as conn:
        iid, hid = resolve(conn, incident)
        inc = conn.execute(select(_I).where(_I.c.id == iid)).mappings().one()
        latest: dict[str, dict[str, Any]] = {}
        for kind in (kinds.FINDING, kinds.ALERT):
            row = conn.execute(
                select(_J.c.body).where(_J.c.incident_id == iid, _J.c.kind == kind)
                .order_by(_J.c.seq.desc()).limit(1)
            ).first()
            if row is not None:
                body = json.loads(row[0])
                latest[kind] = body if isinstance(body, dict) else {}
    finding = latest.get(kinds.FINDING, {})
    alert = latest.get(kinds.ALERT, {})
    return {
        "incident": {
            "id": hid, "title": inc["title"], "severity": inc["severity"], "kind": inc["kind"],
            "status": inc["status"], "commander": inc["commander"],
            "campaign": inc["campaign"], "playbook": inc["playbook"],
        },
        "finding": {k: finding.get(k) for k in
                    ("key", "user", "team", "ip", "model", "campaign", "detector", "rule_id",
                     "title") if finding.get(k) is not None},
        "alert": {
            **{k: alert.get(k) for k in ("name", "fingerprint", "source", "severity", "summary")
               if isinstance(alert.get(k), str)},
            "labels": alert.get("labels") if isinstance(alert.get("labels"), dict) else {},
            "annotations": alert.get("annotations")
            if isinstance(alert.get("annotations"), dict) else {},
        },
        "responder": {"actor": actor or default_actor()},
    }
