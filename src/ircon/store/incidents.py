"""Incidents: creation with unique human ids, projections, queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ircon.identity import default_actor
from ircon.model.journal import canonical_body
from ircon.model.severity import SEVERITIES, rank
from ircon.store.db import Store
from ircon.store.engine import utcnow
from ircon.store.journal import append, append_in, resolve
from ircon.store.tables import Incident

_I = Incident.__table__  # type: ignore[attr-defined]

STATUSES = ("open", "acknowledged", "contained", "resolved", "closed")


class IncidentInputError(ValueError):
    pass


def human_id(year: int, number: int) -> str:
    return f"IR-{year}-{number:04d}"


def create(
    store: Store,
    title: str,
    *,
    severity: str = "SEV3",
    kind: str = "other",
    actor: str | None = None,
    reasons: list[str] | None = None,
    group_key: str | None = None,
    campaign: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Declare an incident; its first journal entry records how it was opened."""
    title = title.strip()
    if not title:
        raise IncidentInputError("an incident needs a non-empty title")
    if severity not in SEVERITIES:
        raise IncidentInputError(f"severity must be one of {', '.join(SEVERITIES)}")
    who = actor or default_actor()
    body = {"title": title, "severity": severity, "kind": kind, "reasons": reasons or []}
    if extra:
        body.update(extra)
    body_text = canonical_body(body)
    now = utcnow()
    with store.write() as conn:
        # BEGIN IMMEDIATE serializes creators, so max+1 cannot collide; the
        # unique constraint is the backstop.
        number = (
            conn.execute(select(func.max(_I.c.number)).where(_I.c.year == now.year)).scalar()
            or 0
        ) + 1
        hid = human_id(now.year, number)
        iid = conn.execute(
            _I.insert().values(
                human_id=hid, year=now.year, number=number, title=title, kind=kind,
                severity=severity, severity_reasons=reasons or [], status="open",
                group_key=group_key, campaign=campaign, atlas=[], owasp=[],
                created_at=now, updated_at=now,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        append_in(conn, int(iid), hid, "incident.opened", body_text, who, now)
    return {"id": hid, "title": title, "severity": severity, "kind": kind, "status": "open"}


def _touch(conn: Connection, iid: int, **values: Any) -> None:
    conn.execute(_I.update().where(_I.c.id == iid).values(updated_at=utcnow(), **values))


def note(store: Store, incident: str, text: str, *, actor: str | None = None) -> int:
    if not text.strip():
        raise IncidentInputError("a note needs some text")
    e = append(
        store, incident, "note", {"text": text}, actor=actor,
        apply=lambda conn, iid: _touch(conn, iid),
    )
    return e.seq


def set_status(
    store: Store, incident: str, status: str, reason: str = "", *, actor: str | None = None
) -> int:
    if status not in STATUSES:
        raise IncidentInputError(f"status must be one of {', '.join(STATUSES)}")
    stamp = {
        "acknowledged": "acknowledged_at", "contained": "contained_at", "resolved": "resolved_at"
    }.get(status)

    def apply(conn: Connection, iid: int) -> None:
        values: dict[str, Any] = {"status": status}
        if stamp:
            values[stamp] = utcnow()
        _touch(conn, iid, **values)

    return append(
        store, incident, "status", {"status": status, "reason": reason}, actor=actor, apply=apply
    ).seq


def set_severity(
    store: Store,
    incident: str,
    severity: str,
    reasons: list[str],
    *,
    override: bool = False,
    actor: str | None = None,
) -> int:
    if severity not in SEVERITIES:
        raise IncidentInputError(f"severity must be one of {', '.join(SEVERITIES)}")
    return append(
        store, incident, "severity",
        {"severity": severity, "reasons": reasons, "override": override},
        actor=actor,
        apply=lambda conn, iid: _touch(
            conn, iid, severity=severity, severity_reasons=reasons, severity_override=override
        ),
    ).seq


def set_commander(store: Store, incident: str, who: str, *, actor: str | None = None) -> int:
    return append(
        store, incident, "role", {"role": "commander", "person": who}, actor=actor,
        apply=lambda conn, iid: _touch(conn, iid, commander=who),
    ).seq


@dataclass(slots=True)
class IncidentRow:
    id: str
    title: str
    kind: str
    severity: str
    status: str
    commander: str | None
    created_at: datetime
    updated_at: datetime
    entries: int
    playbook: str | None
    campaign: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "kind": self.kind, "severity": self.severity,
            "status": self.status, "commander": self.commander,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "entries": self.entries, "playbook": self.playbook, "campaign": self.campaign,
        }


def _row(r: Any, entries: int) -> IncidentRow:
    return IncidentRow(
        id=r.human_id, title=r.title, kind=r.kind, severity=r.severity, status=r.status,
        commander=r.commander, created_at=r.created_at, updated_at=r.updated_at,
        entries=entries, playbook=r.playbook, campaign=r.campaign,
    )


def list_incidents(
    store: Store, *, include_closed: bool = True, limit: int = 500, offset: int = 0
) -> list[IncidentRow]:
    """Newest first, paged in SQL."""
    from ircon.store.tables import JournalHead

    h = JournalHead.__table__  # type: ignore[attr-defined]
    q = select(_I, h.c.count).select_from(_I.outerjoin(h, h.c.incident_id == _I.c.id))
    if not include_closed:
        q = q.where(_I.c.status.not_in(("resolved", "closed")))
    q = q.order_by(_I.c.id.desc()).limit(limit).offset(offset)
    with store.read() as conn:
        return [_row(r, int(r[-1] or 0)) for r in conn.execute(q)]


def get(store: Store, incident: str | int) -> dict[str, Any]:
    """The incident's projection row as a plain dict."""
    with store.read() as conn:
        iid, _ = resolve(conn, incident)
        r = conn.execute(select(_I).where(_I.c.id == iid)).mappings().one()
    d = dict(r)
    for k in ("created_at", "updated_at", "acknowledged_at", "contained_at", "resolved_at"):
        if d.get(k) is not None:
            d[k] = d[k].isoformat()
    return d


def urgency_key(row: IncidentRow) -> tuple[int, int, float]:
    """Board order: unresolved first, worst severity first, oldest first."""
    active = 0 if row.status in ("open", "acknowledged", "contained") else 1
    return (active, rank(row.severity), row.created_at.timestamp())
