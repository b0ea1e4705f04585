"""Alert queries for the CLI and the console, and batched journal writes for ingestion.

Lists are filtered and paged in SQL; a console never holds more than a page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from ircon.model import kinds
from ircon.store.db import Store
from ircon.store.engine import StoreError, utcnow
from ircon.store.journal import JournalBatch, resolve
from ircon.store.tables import Alert, Incident, JournalEntry, JournalHead

_A = Alert.__table__  # type: ignore[attr-defined]
_I = Incident.__table__  # type: ignore[attr-defined]
_J = JournalEntry.__table__  # type: ignore[attr-defined]
_H = JournalHead.__table__  # type: ignore[attr-defined]

OPEN_STATUSES = ("open", "acknowledged", "contained")
JOURNAL_LABEL_CHARS = 1024
JOURNAL_MAX_LABELS = 64


class UnknownAlert(StoreError):
    pass


def aware(dt: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; the store's convention is UTC."""
    if dt is None or dt.tzinfo is not None:
        return dt
    return dt.replace(tzinfo=UTC)


def journal_labels(labels: dict[str, str]) -> dict[str, str]:
    """Labels bounded for a journal body (the alert row keeps the full, source-bounded ones)."""
    out: dict[str, str] = {}
    for i, (k, v) in enumerate(labels.items()):
        if i >= JOURNAL_MAX_LABELS:
            out["…"] = f"{len(labels) - JOURNAL_MAX_LABELS} more label(s)"
            break
        out[k[:200]] = v if len(v) <= JOURNAL_LABEL_CHARS else v[:JOURNAL_LABEL_CHARS] + "…"
    return out


@dataclass(slots=True)
class AlertRow:
    id: int
    source: str
    fingerprint: str
    name: str
    summary: str
    status: str
    state: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    first_seen: datetime
    last_seen: datetime
    count: int
    acknowledged: bool
    incident: str | None
    group_key: str | None
    generator_url: str | None

    def to_dict(self) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "id": self.id, "source": self.source, "fingerprint": self.fingerprint,
            "name": self.name, "summary": self.summary, "status": self.status,
            "state": self.state, "severity": self.severity, "labels": self.labels,
            "annotations": self.annotations, "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at), "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen), "count": self.count,
            "acknowledged": self.acknowledged, "incident": self.incident,
            "group_key": self.group_key, "generator_url": self.generator_url,
        }


_COLS = (
    _A.c.id, _A.c.source, _A.c.fingerprint, _A.c.name, _A.c.summary, _A.c.status, _A.c.state,
    _A.c.severity, _A.c.labels, _A.c.annotations, _A.c.starts_at, _A.c.ends_at,
    _A.c.first_seen, _A.c.last_seen, _A.c.count, _A.c.acknowledged, _I.c.human_id,
    _A.c.group_key, _A.c.generator_url,
)


def _row(r: Any) -> AlertRow:
    return AlertRow(
        id=int(r[0]), source=r[1], fingerprint=r[2], name=r[3], summary=r[4], status=r[5],
        state=r[6], severity=r[7], labels=r[8] or {}, annotations=r[9] or {},
        starts_at=aware(r[10]), ends_at=aware(r[11]), first_seen=aware(r[12]) or utcnow(),
        last_seen=aware(r[13]) or utcnow(), count=int(r[14]), acknowledged=bool(r[15]),
        incident=r[16], group_key=r[17], generator_url=r[18],
    )


def _filtered(
    q: Any, conn: Connection, *, status: str | None, source: str | None,
    incident: str | None, severity: str | None, acknowledged: bool | None,
    search: str | None,
) -> Any:
    if status:
        q = q.where(_A.c.status == status)
    if source:
        q = q.where(_A.c.source == source)
    if incident:
        iid, _ = resolve(conn, incident)
        q = q.where(_A.c.incident_id == iid)
    if severity:
        q = q.where(_A.c.severity == severity)
    if acknowledged is not None:
        q = q.where(_A.c.acknowledged == acknowledged)
    if search:
        pat = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(
            _A.c.name.like(pat, escape="\\"), _A.c.fingerprint.like(pat, escape="\\"),
            _A.c.summary.like(pat, escape="\\"),
        ))
    return q


def list_alerts(
    store: Store,
    *,
    status: str | None = None,
    source: str | None = None,
    incident: str | None = None,
    severity: str | None = None,
    acknowledged: bool | None = None,
    search: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[AlertRow]:
    """Firing first, then most recently seen; filtered and paged in SQL."""
    q = select(*_COLS).select_from(_A.outerjoin(_I, _I.c.id == _A.c.incident_id))
    with store.read() as conn:
        q = _filtered(q, conn, status=status, source=source, incident=incident,
                      severity=severity, acknowledged=acknowledged, search=search)
        q = q.order_by(
            (_A.c.status != "firing"), _A.c.last_seen.desc(), _A.c.id.desc()
        ).limit(max(0, limit)).offset(max(0, offset))
        return [_row(r) for r in conn.execute(q)]


def count_alerts(
    store: Store,
    *,
    status: str | None = None,
    source: str | None = None,
    incident: str | None = None,
    severity: str | None = None,
    acknowledged: bool | None = None,
    search: str | None = None,
) -> int:
    q = select(func.count()).select_from(_A)
    with store.read() as conn:
        q = _filtered(q, conn, status=status, source=source, incident=incident,
                      severity=severity, acknowledged=acknowledged, search=search)
        return int(conn.execute(q).scalar() or 0)


def _find(conn: Connection, alert: int | tuple[str, str]) -> Any:
    q = select(*_COLS, _A.c.incident_id).select_from(
        _A.outerjoin(_I, _I.c.id == _A.c.incident_id)
    )
    if isinstance(alert, int):
        q = q.where(_A.c.id == alert)
    else:
        q = q.where(_A.c.source == alert[0], _A.c.fingerprint == alert[1])
    r = conn.execute(q).first()
    if r is None:
        raise UnknownAlert(f"no alert {alert!s}; `ircon alerts list` shows them")
    return r


def get_alert(store: Store, alert: int | tuple[str, str]) -> AlertRow:
    """One alert by row id or (source, fingerprint)."""
    with store.read() as conn:
        return _row(_find(conn, alert))


def alert_ref(r: AlertRow | Any) -> dict[str, str]:
    if isinstance(r, AlertRow):
        return {"source": r.source, "fingerprint": r.fingerprint, "name": r.name[:200]}
    return {"source": r[1], "fingerprint": r[2], "name": str(r[3])[:200]}


def acknowledge(
    store: Store, alert: int | tuple[str, str], *, actor: str, acknowledged: bool = True
) -> AlertRow:
    """Mark an alert seen by a responder; journaled on its incident when it has one."""
    with store.write() as conn:
        r = _find(conn, alert)
        conn.execute(_A.update().where(_A.c.id == r[0]).values(acknowledged=acknowledged))
        iid = r[-1]
        if iid is not None:
            jb = JournalBatch(conn, actor)
            jb.add(int(iid), r[16], kinds.ALERT_UPDATE,
                   {**alert_ref(r), "change": "acknowledged" if acknowledged else "unacknowledged"})
            jb.flush()
    return get_alert(store, int(r[0]))


def assign_in(
    conn: Connection, jb: JournalBatch, alert_row: Any, target: tuple[int, str], *,
    reason: str, change: str = "split",
) -> None:
    """Move one alert to another incident inside an open write transaction; journaled
    on both incidents (``split`` on the one it leaves, ``alert`` on the one it joins)."""
    ref = alert_ref(alert_row)
    old_iid, old_hid = alert_row[-1], alert_row[16]
    tid, thid = target
    if old_iid == tid:
        return
    conn.execute(_A.update().where(_A.c.id == alert_row[0]).values(incident_id=tid))
    if old_iid is not None:
        jb.add(int(old_iid), old_hid, kinds.SPLIT, {**ref, "to": thid, "reason": reason})
    jb.add(tid, thid, kinds.ALERT, {
        **ref, "status": alert_row[5], "severity": alert_row[7], "from": old_hid,
        "group": {"basis": "responder", "reason": reason or change},
    })


def assign(
    store: Store, alert: int | tuple[str, str], incident: str, *, actor: str, reason: str = ""
) -> AlertRow:
    """Move an alert into an existing incident (journaled on both). The moved-to
    incident's severity is not re-triaged here; ``engine.ingest.split_alert`` does that."""
    with store.write() as conn:
        r = _find(conn, alert)
        tid, thid = resolve(conn, incident)
        jb = JournalBatch(conn, actor)
        assign_in(conn, jb, r, (tid, thid), reason=reason, change="assigned")
        jb.flush()
    return get_alert(store, int(r[0]))


def open_incident_for_keys(conn: Connection, keys: Iterable[str]) -> dict[str, tuple[int, str]]:
    """group key -> (row id, human id) of the open incident holding it, following merges."""
    keys = list(keys)
    out: dict[str, tuple[int, str]] = {}
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        rows = conn.execute(
            select(_I.c.id, _I.c.human_id, _I.c.group_key, _I.c.status, _I.c.merged_into)
            .where(_I.c.group_key.in_(part))
            .order_by(_I.c.id.desc())
        ).all()
        for r in rows:
            if r.group_key in out:
                continue
            if r.status in OPEN_STATUSES and not r.merged_into:
                out[r.group_key] = (int(r.id), str(r.human_id))
            elif r.merged_into:
                target = _follow_merge(conn, str(r.merged_into))
                if target is not None:
                    out[r.group_key] = target
    return out


def _follow_merge(conn: Connection, hid: str) -> tuple[int, str] | None:
    for _ in range(16):  # merges chain; a loop would be a bug, so bound the walk
        r = conn.execute(
            select(_I.c.id, _I.c.human_id, _I.c.status, _I.c.merged_into)
            .where(_I.c.human_id == hid)
        ).first()
        if r is None:
            return None
        if r.merged_into:
            hid = str(r.merged_into)
            continue
        return (int(r.id), str(r.human_id)) if r.status in OPEN_STATUSES else None
    return None


def existing_rows(
    conn: Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Any]:
    """(source, fingerprint) -> stored row, for one batch."""
    by_source: dict[str, list[str]] = {}
    for s, f in keys:
        by_source.setdefault(s, []).append(f)
    out: dict[tuple[str, str], Any] = {}
    cols = (
        _A.c.id, _A.c.source, _A.c.fingerprint, _A.c.status, _A.c.state, _A.c.incident_id,
        _A.c.labels, _A.c.annotations, _A.c.name, _A.c.severity,
    )
    for source, fps in by_source.items():
        for i in range(0, len(fps), 900):
            part = fps[i : i + 900]
            for r in conn.execute(
                select(*cols).where(_A.c.source == source, _A.c.fingerprint.in_(part))
            ):
                out[(r.source, r.fingerprint)] = r
    return out


def ids_of(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(source, fingerprint) -> alert row id."""
    by_source: dict[str, list[str]] = {}
    for s, f in keys:
        by_source.setdefault(s, []).append(f)
    out: dict[tuple[str, str], int] = {}
    for source, fps in by_source.items():
        for i in range(0, len(fps), 900):
            part = fps[i : i + 900]
            for r in conn.execute(
                select(_A.c.id, _A.c.fingerprint)
                .where(_A.c.source == source, _A.c.fingerprint.in_(part))
            ):
                out[(source, r[1])] = int(r[0])
    return out
