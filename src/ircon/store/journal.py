"""Journal I/O: append (the only write), read, verify.

The encoding and chain rules are pure and live in ``ircon.model.journal``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from ircon.identity import default_actor
from ircon.model.journal import (
    GENESIS,
    MAX_BODY_BYTES,
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


class JournalBatch:
    """Journal entries written inside one open write transaction.

    The only code that chains and inserts entries: ``append``, ``append_many``
    and ingestion all go through it. Entries of several incidents may be mixed;
    each incident's head is read once and written once per flush, and all rows go
    in one INSERT (an ingest may journal thousands of alerts). Plain
    parameterized SQL keeps the single-entry path close to a bare insert.
    """

    def __init__(self, conn: Connection, actor: str, ts: datetime | None = None) -> None:
        self.conn = conn
        self.actor = actor
        self.ts = format_ts(ts or utcnow())
        self._heads: dict[int, list[Any]] = {}  # iid -> [count, hash, head row exists]
        self._pending: list[tuple[int, ChainEntry]] = []

    def _head(self, iid: int) -> list[Any]:
        h = self._heads.get(iid)
        if h is None:
            row = self.conn.execute(_SQL_HEAD, {"iid": iid}).first()
            h = [int(row[0]), str(row[1]), True] if row else [0, GENESIS, False]
            self._heads[iid] = h
        return h

    def add(
        self, iid: int, hid: str, kind: str, body: dict[str, Any], *, shallow: bool = False,
        actor: str | None = None,
    ) -> int:
        """Queue one entry; returns its seq. ``shallow``: the caller built ``body``
        from strings, numbers and flat lists/dicts, so the depth walk of
        ``canonical_body`` can be skipped; the encoding is the same canonical one."""
        if shallow:
            body_text = json.dumps(body, sort_keys=True, separators=(",", ":"),
                                   ensure_ascii=True, allow_nan=False)
            if len(body_text) > MAX_BODY_BYTES:
                body_text = canonical_body(body)  # raises with the standard message
        else:
            body_text = canonical_body(body)
        return self.add_text(iid, hid, kind, body_text, actor=actor)

    def add_text(
        self, iid: int, hid: str, kind: str, body_text: str, *, actor: str | None = None
    ) -> int:
        """Queue one entry whose body is already canonical text."""
        h = self._head(iid)
        seq = h[0] + 1
        who = actor or self.actor
        digest = entry_hash(hid, seq, self.ts, who, kind, body_text, h[1])
        self._pending.append(
            (iid, ChainEntry(hid, seq, self.ts, who, kind, body_text, h[1], digest))
        )
        h[0], h[1] = seq, digest
        return seq

    def flush(self) -> int:
        return len(self.flush_entries())

    def flush_entries(self) -> list[ChainEntry]:
        """Write what is queued (rows, then each touched head) and return it."""
        pending, self._pending = self._pending, []
        if not pending:
            return []
        self.conn.execute(
            _SQL_INSERT,
            [
                {"iid": iid, "seq": e.seq, "ts": e.ts, "actor": e.actor, "kind": e.kind,
                 "body": e.body, "prev": e.prev, "hash": e.hash}
                for iid, e in pending
            ],
        )
        for iid in dict.fromkeys(i for i, _ in pending):
            h = self._heads[iid]
            self.conn.execute(
                _SQL_HEAD_UPDATE if h[2] else _SQL_HEAD_INSERT,
                {"iid": iid, "count": h[0], "hash": h[1]},
            )
            h[2] = True
        return [e for _, e in pending]


def append_in(
    conn: Connection,
    incident_id: int,
    human_id: str,
    kind: str,
    body_text: str,
    actor: str,
    ts: datetime | None = None,
) -> ChainEntry:
    """Append one already-encoded body inside an open write transaction (``Store.write``)."""
    jb = JournalBatch(conn, actor, ts)
    jb.add_text(incident_id, human_id, kind, body_text)
    [entry] = jb.flush_entries()
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
        # One timestamp for the batch: the entries were committed together.
        jb = JournalBatch(conn, who)
        for kind, text_, actor in prepared:
            jb.add_text(iid, hid, kind, text_, actor=actor)
        return jb.flush_entries()


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
