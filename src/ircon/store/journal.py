"""Journal I/O: append (the only write), read, verify.

The encoding and chain rules are pure and live in ``ircon.model.journal``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ircon.identity import default_actor
from ircon.model.journal import (
    GENESIS,
    ChainEntry,
    ChainProblem,
    canonical_body,
    entry_hash,
    format_ts,
    verify_chain,
)
from ircon.store.db import Store
from ircon.store.engine import StoreError, utcnow
from ircon.store.tables import Incident, JournalEntry, JournalHead

_J = JournalEntry.__table__  # type: ignore[attr-defined]
_H = JournalHead.__table__  # type: ignore[attr-defined]
_I = Incident.__table__  # type: ignore[attr-defined]

Apply = Callable[[Connection, int], None]


class UnknownIncident(StoreError):
    pass


def resolve(conn: Connection, incident: str | int) -> tuple[int, str]:
    """(row id, human id) of an incident given either."""
    if isinstance(incident, int):
        row = conn.execute(select(_I.c.id, _I.c.human_id).where(_I.c.id == incident)).first()
    else:
        row = conn.execute(
            select(_I.c.id, _I.c.human_id).where(_I.c.human_id == incident.strip().upper())
        ).first()
    if row is None:
        raise UnknownIncident(f"no incident {incident!s}; `ircon incidents list` shows them")
    return int(row[0]), str(row[1])


def append_in(
    conn: Connection,
    incident_id: int,
    human_id: str,
    kind: str,
    body_text: str,
    actor: str,
    ts: datetime | None = None,
) -> ChainEntry:
    """Append inside an open write transaction (``Store.write``)."""
    head = conn.execute(
        select(_H.c.count, _H.c.head_hash).where(_H.c.incident_id == incident_id)
    ).first()
    count, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
    seq = count + 1
    ts_text = format_ts(ts or utcnow())
    h = entry_hash(human_id, seq, ts_text, actor, kind, body_text, prev)
    conn.execute(
        _J.insert().values(
            incident_id=incident_id, seq=seq, ts=ts_text, actor=actor, kind=kind,
            body=body_text, prev_hash=prev, hash=h,
        )
    )
    if head:
        conn.execute(
            _H.update().where(_H.c.incident_id == incident_id).values(count=seq, head_hash=h)
        )
    else:
        conn.execute(_H.insert().values(incident_id=incident_id, count=seq, head_hash=h))
    return ChainEntry(human_id, seq, ts_text, actor, kind, body_text, prev, h)


def append(
    store: Store,
    incident: str | int,
    kind: str,
    body: dict[str, Any],
    *,
    actor: str | None = None,
    apply: Apply | None = None,
) -> ChainEntry:
    """Append one entry durably; returns once it is committed.

    ``apply(conn, incident_row_id)`` runs in the same transaction, for
    projections (incident status, step state) that must never disagree with
    the journal.
    """
    body_text = canonical_body(body)  # outside the lock: it may be large
    who = actor or default_actor()
    with store.write() as conn:
        iid, hid = resolve(conn, incident)
        entry = append_in(conn, iid, hid, kind, body_text, who)
        if apply is not None:
            apply(conn, iid)
    return entry


@dataclass(slots=True)
class NewEntry:
    kind: str
    body: dict[str, Any]
    actor: str | None = None


def append_many(store: Store, incident: str | int, items: Sequence[NewEntry]) -> list[ChainEntry]:
    """Append several entries in one transaction (one fsync)."""
    texts = [canonical_body(i.body) for i in items]
    who = default_actor()
    out: list[ChainEntry] = []
    with store.write() as conn:
        iid, hid = resolve(conn, incident)
        for item, text in zip(items, texts, strict=True):
            out.append(append_in(conn, iid, hid, item.kind, text, item.actor or who))
    return out


_COLS = (_J.c.seq, _J.c.ts, _J.c.actor, _J.c.kind, _J.c.body, _J.c.prev_hash, _J.c.hash)


def entries(
    store: Store, incident: str | int, *, after_seq: int = 0, limit: int | None = None
) -> list[ChainEntry]:
    """An incident's entries in order, optionally only those after ``after_seq``."""
    with store.read() as conn:
        iid, hid = resolve(conn, incident)
        q = (
            select(*_COLS)
            .where(_J.c.incident_id == iid, _J.c.seq > after_seq)
            .order_by(_J.c.seq)
        )
        if limit is not None:
            q = q.limit(limit)
        return [ChainEntry(hid, *r) for r in conn.execute(q)]


def iter_entries(store: Store, incident: str | int, batch: int = 5000) -> Iterator[ChainEntry]:
    """Stream an incident's entries in bounded batches (for big exports)."""
    after = 0
    while True:
        chunk = entries(store, incident, after_seq=after, limit=batch)
        if not chunk:
            return
        yield from chunk
        after = chunk[-1].seq


def head(store: Store, incident: str | int) -> tuple[int, str]:
    with store.read() as conn:
        iid, _ = resolve(conn, incident)
        row = conn.execute(
            select(_H.c.count, _H.c.head_hash).where(_H.c.incident_id == iid)
        ).first()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


@dataclass(slots=True)
class VerifyReport:
    incidents: int
    entries: int
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "incidents": self.incidents,
            "entries": self.entries,
            "problems": [
                {"incident": p.incident, "seq": p.seq, "reason": p.reason} for p in self.problems
            ],
        }


def verify(store: Store, incident: str | int | None = None) -> VerifyReport:
    """Re-check every chain (or one) against its head record."""
    with store.read() as conn:
        q = select(_I.c.id, _I.c.human_id, _H.c.count, _H.c.head_hash).select_from(
            _I.outerjoin(_H, _H.c.incident_id == _I.c.id)
        )
        if incident is not None:
            iid, _ = resolve(conn, incident)
            q = q.where(_I.c.id == iid)
        incs = {int(r[0]): (str(r[1]), r[2], r[3]) for r in conn.execute(q.order_by(_I.c.id))}
        ids = list(incs)
        # One ordered scan; rows are grouped per incident by the (incident_id, seq) index.
        scan = select(_J.c.incident_id, *_COLS).order_by(_J.c.incident_id, _J.c.seq)
        if incident is not None:
            scan = scan.where(_J.c.incident_id == ids[0])
        result = conn.execution_options(yield_per=10_000).execute(scan)
        problems: list[ChainProblem] = []
        total = 0
        seen: set[int] = set()
        for iid, rows in _group(result):
            seen.add(iid)
            hid, hcount, hhash = incs.get(iid, (f"#{iid}", None, None))
            chain = (ChainEntry(hid, *r[1:]) for r in rows)
            n, problem = verify_chain(hid, chain, hcount or 0, hhash or GENESIS)
            total += n
            if problem:
                problems.append(problem)
        for iid in ids:
            if iid not in seen:
                hid, hcount, hhash = incs[iid]
                n, problem = verify_chain(hid, [], hcount or 0, hhash or GENESIS)
                if problem:
                    problems.append(problem)
    return VerifyReport(incidents=len(ids), entries=total, problems=problems)


def _group(rows: Iterable[Any]) -> Iterator[tuple[int, Iterator[Any]]]:
    import itertools

    for key, grp in itertools.groupby(rows, key=lambda r: r[0]):
        yield int(key), grp
