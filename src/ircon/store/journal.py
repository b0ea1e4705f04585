"""Journal I/O: append (the only write), read, verify.

The encoding and chain rules are pure and live in ``ircon.model.journal``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
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
    verify_rows,
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


# The append path is the hot path: plain parameterized SQL (portable; no ORM,
# no per-call statement construction) keeps it close to a bare insert.
_SQL_HEAD = text("SELECT count, head_hash FROM journal_head WHERE incident_id = :iid")
_SQL_INSERT = text(
    "INSERT INTO journal_entry (incident_id, seq, ts, actor, kind, body, prev_hash, hash) "
    "VALUES (:iid, :seq, :ts, :actor, :kind, :body, :prev, :hash)"
)
_SQL_HEAD_UPDATE = text(
    "UPDATE journal_head SET count = :count, head_hash = :hash WHERE incident_id = :iid"
)
_SQL_HEAD_INSERT = text(
    "INSERT INTO journal_head (incident_id, count, head_hash) VALUES (:iid, :count, :hash)"
)


def _chain_rows(
    human_id: str, count: int, prev: str, items: Sequence[tuple[str, str, str]], ts_text: str
) -> list[ChainEntry]:
    out = []
    for kind, body_text, actor in items:
        count += 1
        h = entry_hash(human_id, count, ts_text, actor, kind, body_text, prev)
        out.append(ChainEntry(human_id, count, ts_text, actor, kind, body_text, prev, h))
        prev = h
    return out


def _write_chain(conn: Connection, incident_id: int, had_head: bool, new: list[ChainEntry]) -> None:
    conn.execute(
        _SQL_INSERT,
        [
            {"iid": incident_id, "seq": e.seq, "ts": e.ts, "actor": e.actor, "kind": e.kind,
             "body": e.body, "prev": e.prev, "hash": e.hash}
            for e in new
        ],
    )
    last = new[-1]
    conn.execute(
        _SQL_HEAD_UPDATE if had_head else _SQL_HEAD_INSERT,
        {"iid": incident_id, "count": last.seq, "hash": last.hash},
    )


def _read_head(conn: Connection, incident_id: int) -> tuple[bool, int, str]:
    head = conn.execute(_SQL_HEAD, {"iid": incident_id}).first()
    return (True, int(head[0]), str(head[1])) if head else (False, 0, GENESIS)


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
    had_head, count, prev = _read_head(conn, incident_id)
    [entry] = _chain_rows(human_id, count, prev, [(kind, body_text, actor)],
                          format_ts(ts or utcnow()))
    _write_chain(conn, incident_id, had_head, [entry])
    return entry


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
    if not items:
        return []
    who = default_actor()
    prepared = [(i.kind, canonical_body(i.body), i.actor or who) for i in items]
    with store.write() as conn:
        iid, hid = resolve(conn, incident)
        had_head, count, prev = _read_head(conn, iid)
        # One timestamp for the batch: the entries were committed together.
        out = _chain_rows(hid, count, prev, prepared, format_ts(utcnow()))
        _write_chain(conn, iid, had_head, out)
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
        # Millions of rows: read them through the DBAPI cursor directly (plain
        # tuples, no per-row Row objects); the SQL is portable.
        sql = (
            "SELECT incident_id, seq, ts, actor, kind, body, prev_hash, hash FROM journal_entry "  # noqa: S608
            + (f"WHERE incident_id = {int(ids[0])} " if incident is not None else "")
            + "ORDER BY incident_id, seq"
        )
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(sql)
        result = _fetch_all(cursor)
        problems: list[ChainProblem] = []
        total = 0
        seen: set[int] = set()
        for iid, rows in _group(result):
            seen.add(iid)
            hid, hcount, hhash = incs.get(iid, (f"#{iid}", None, None))
            chain = (r[1:] for r in rows)
            n, problem = verify_rows(hid, chain, hcount or 0, hhash or GENESIS)
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


def _fetch_all(cursor: Any, size: int = 20_000) -> Iterator[Any]:
    while True:
        chunk = cursor.fetchmany(size)
        if not chunk:
            cursor.close()
            return
        yield from chunk


def _group(rows: Iterable[Any]) -> Iterator[tuple[int, Iterator[Any]]]:
    import itertools

    for key, grp in itertools.groupby(rows, key=lambda r: r[0]):
        yield int(key), grp
