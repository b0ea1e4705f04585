"""Everything the console asks of the rest of ircon, as thin blocking functions.

Workers call these (never the UI thread). Screens only see the small view
types defined here, so wiring a newly landed area (playbooks, containment,
escalation, reports, the engine) is a change in this one module.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection

from ircon.model import kinds
from ircon.model.journal import ChainEntry, canonical_body
from ircon.model.severity import SEVERITIES, rank, worst
from ircon.store import incidents as inc_store
from ircon.store import journal as jr
from ircon.store.db import Store, open_store
from ircon.store.tables import Alert, Incident, JournalEntry, JournalHead, StepState

if TYPE_CHECKING:
    from ircon.config import LoadedConfig

_A = Alert.__table__  # type: ignore[attr-defined]
_I = Incident.__table__  # type: ignore[attr-defined]
_J = JournalEntry.__table__  # type: ignore[attr-defined]
_H = JournalHead.__table__  # type: ignore[attr-defined]
_S = StepState.__table__  # type: ignore[attr-defined]

ACTIVE_STATUSES = ("open", "acknowledged", "contained")
STATUSES = inc_store.STATUSES
MAX_PAGE = 200  # a DataTable never holds more than this many rows


class NotAvailable(Exception):
    """The feature belongs to an area this build does not have (yet); message says which."""


def _area(modname: str) -> ModuleType | None:
    """The module of another area if it is present, else None (never a half-import)."""
    try:
        return importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        if exc.name == modname or (exc.name and modname.startswith(exc.name + ".")):
            return None
        raise


def open_db(db: str) -> Store:
    return open_store(db)


# --- change detection -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeToken:
    """Cheap fingerprint of the database: any commit by any process moves one of these."""

    journal: int = 0
    alerts: tuple[Any, ...] = ()


def change_token(store: Store) -> ChangeToken:
    with store.read() as conn:
        jmax = conn.execute(select(func.max(_J.c.id))).scalar() or 0
        arow = conn.execute(
            select(
                func.count(), func.max(_A.c.last_seen), func.max(_A.c.id),
                func.sum(case((_A.c.acknowledged, 1), else_=0)),
                func.count(_A.c.incident_id),
                func.sum(case((_A.c.status == "resolved", 1), else_=0)),
            )
        ).one()
    return ChangeToken(int(jmax), tuple(str(v) for v in arow))


# --- alerts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    source: str
    name: str
    summary: str
    severity: str
    status: str
    state: str
    first_seen: datetime
    last_seen: datetime
    count: int
    acknowledged: bool
    incident: str | None


@dataclass(frozen=True, slots=True)
class AlertPage:
    rows: list[AlertRow]
    total: int
    offset: int
    firing: int
    unacknowledged: int


def _like(text: str) -> str:
    esc = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def _alert_filter(text: str) -> Any:
    conds = []
    for word in text.split()[:8]:
        pat = _like(word)
        conds.append(
            or_(
                _A.c.name.ilike(pat, escape="\\"), _A.c.summary.ilike(pat, escape="\\"),
                _A.c.source.ilike(pat, escape="\\"), _A.c.severity.ilike(pat, escape="\\"),
                func.cast(_A.c.labels, _A.c.summary.type).ilike(pat, escape="\\"),
                _I.c.human_id.ilike(pat, escape="\\"),
            )
        )
    return and_(*conds) if conds else None


def list_alerts(
    store: Store, *, filter_text: str = "", limit: int = 100, offset: int = 0,
    include_resolved: bool = True,
) -> AlertPage:
    """The queue, paged in SQL: firing first, worst severity, most recent."""
    limit = max(1, min(limit, MAX_PAGE))
    joined = _A.outerjoin(_I, _I.c.id == _A.c.incident_id)
    where = []
    flt = _alert_filter(filter_text)
    if flt is not None:
        where.append(flt)
    if not include_resolved:
        where.append(_A.c.status != "resolved")
    sev_rank = case(
        *[(_A.c.severity == s, i) for i, s in enumerate(SEVERITIES, 1)], else_=len(SEVERITIES) + 1
    )
    q = (
        select(
            _A.c.id, _A.c.source, _A.c.name, _A.c.summary, _A.c.severity, _A.c.status,
            _A.c.state, _A.c.first_seen, _A.c.last_seen, _A.c.count, _A.c.acknowledged,
            _I.c.human_id,
        )
        .select_from(joined)
        .where(*where)
        .order_by(
            case((_A.c.status == "resolved", 1), else_=0), _A.c.acknowledged, sev_rank,
            _A.c.last_seen.desc(), _A.c.id.desc(),
        )
        .limit(limit)
        .offset(max(0, offset))
    )
    with store.read() as conn:
        rows = [
            AlertRow(
                id=int(r[0]), source=r[1], name=r[2] or "", summary=r[3] or "",
                severity=r[4], status=r[5], state=r[6], first_seen=r[7], last_seen=r[8],
                count=int(r[9]), acknowledged=bool(r[10]), incident=r[11],
            )
            for r in conn.execute(q)
        ]
        stats = conn.execute(
            select(
                func.count(),
                func.sum(case((_A.c.status != "resolved", 1), else_=0)),
                func.sum(case((and_(_A.c.status != "resolved", ~_A.c.acknowledged), 1),
                              else_=0)),
            ).select_from(joined).where(*where)
        ).one()
    return AlertPage(rows, int(stats[0] or 0), offset, int(stats[1] or 0), int(stats[2] or 0))


@dataclass(frozen=True, slots=True)
class AlertDetail:
    row: AlertRow
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    evidence: str  # an excerpt of what the source sent, bounded


def alert_detail(store: Store, alert_id: int, *, excerpt: int = 4000) -> AlertDetail:
    with store.read() as conn:
        r = conn.execute(
            select(_A, _I.c.human_id)
            .select_from(_A.outerjoin(_I, _I.c.id == _A.c.incident_id))
            .where(_A.c.id == alert_id)
        ).mappings().first()
    if r is None:
        raise LookupError(f"alert {alert_id} no longer exists")
    raw = r["raw"] or {}
    evidence = json.dumps(raw, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    if len(evidence) > excerpt:
        evidence = evidence[:excerpt] + f"\n… ({len(evidence) - excerpt} more characters)"
    row = AlertRow(
        id=r["id"], source=r["source"], name=r["name"] or "", summary=r["summary"] or "",
        severity=r["severity"], status=r["status"], state=r["state"],
        first_seen=r["first_seen"], last_seen=r["last_seen"], count=r["count"],
        acknowledged=bool(r["acknowledged"]), incident=r["human_id"],
    )
    return AlertDetail(
        row=row, fingerprint=r["fingerprint"], labels=dict(r["labels"] or {}),
        annotations=dict(r["annotations"] or {}), generator_url=r["generator_url"],
        starts_at=r["starts_at"], ends_at=r["ends_at"], evidence=evidence,
    )


def _alerts_by_id(conn: Connection, ids: Sequence[int]) -> list[Any]:
    return list(
        conn.execute(
            select(
                _A.c.id, _A.c.source, _A.c.fingerprint, _A.c.name, _A.c.severity,
                _A.c.summary, _A.c.incident_id, _A.c.acknowledged,
            ).where(_A.c.id.in_(list(ids)))
        )
    )


def acknowledge_alerts(store: Store, ids: Sequence[int], *, actor: str) -> int:
    """Mark alerts acknowledged; alerts on an incident get a journal entry there."""
    mod = _area("ircon.store.alerts")
    if mod is not None and hasattr(mod, "acknowledge"):
        return int(mod.acknowledge(store, list(ids), actor=actor))
    if not ids:
        return 0
    done = 0
    with store.write() as conn:
        for r in _alerts_by_id(conn, ids):
            if r.acknowledged:
                continue
            conn.execute(_A.update().where(_A.c.id == r.id).values(acknowledged=True))
            done += 1
            if r.incident_id is not None:
                iid, hid = jr.resolve(conn, int(r.incident_id))
                body = {"source": r.source, "fingerprint": r.fingerprint, "name": r.name,
                        "acknowledged": True}
                jr.append_in(conn, iid, hid, kinds.ALERT_UPDATE, canonical_body(body), actor)
    return done


def assign_alerts(store: Store, ids: Sequence[int], incident: str, *, actor: str) -> int:
    """Attach alerts to an incident; each joining alert is journaled on the incident."""
    if not ids:
        return 0
    moved = 0
    with store.write() as conn:
        iid, hid = jr.resolve(conn, incident)
        for r in _alerts_by_id(conn, ids):
            if r.incident_id == iid:
                continue
            conn.execute(_A.update().where(_A.c.id == r.id).values(incident_id=iid))
            body = {
                "source": r.source, "fingerprint": r.fingerprint, "name": r.name,
                "severity": r.severity, "summary": r.summary[:500], "assigned": "manual",
            }
            jr.append_in(conn, iid, hid, kinds.ALERT, canonical_body(body), actor)
            moved += 1
        if moved:
            conn.execute(_I.update().where(_I.c.id == iid).values(updated_at=_now()))
    return moved


def new_incident_from_alerts(
    store: Store, ids: Sequence[int], *, actor: str, title: str | None = None
) -> str:
    """Declare an incident for these alerts (worst severity wins) and attach them."""
    with store.read() as conn:
        rows = _alerts_by_id(conn, ids)
    if not rows:
        raise LookupError("no such alerts")
    sev = worst(*[r.severity for r in rows if r.severity in SEVERITIES]) if rows else "SEV3"
    first = min(rows, key=lambda r: rank(r.severity))
    name = title or (first.name or first.summary or "alert")[:120]
    if len(rows) > 1 and not title:
        name = f"{name} (+{len(rows) - 1} alerts)"
    created = inc_store.create(
        store, name, severity=sev, actor=actor,
        reasons=[f"declared from {len(rows)} alert(s) in the console"],
        extra={"alerts": [f"{r.source}/{r.fingerprint}" for r in rows][:100]},
    )
    assign_alerts(store, [int(r.id) for r in rows], created["id"], actor=actor)
    return str(created["id"])


def silence_alerts(
    store: Store, loaded: LoadedConfig | None, ids: Sequence[int], *, hours: float,
    comment: str, actor: str,
) -> str:
    """Create an Alertmanager silence for these alerts through the containment runner."""
    runner = _area("ircon.adapters.runner")
    if runner is None:
        raise NotAvailable("silencing needs the containment adapters, not in this build")
    raise NotAvailable("no alertmanager adapter is configured ([adapters.NAME] type alertmanager)")


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    kind: str
    healthy: bool | None  # None: unknown (no poller in this process)
    detail: str
    last_seen: datetime | None
    firing: int


def source_health(store: Store, loaded: LoadedConfig | None) -> list[SourceStatus]:
    """Configured sources plus any source that wrote alerts; poller health when running."""
    with store.read() as conn:
        seen = {
            r[0]: (r[1], int(r[2] or 0))
            for r in conn.execute(
                select(
                    _A.c.source, func.max(_A.c.last_seen),
                    func.sum(case((_A.c.status != "resolved", 1), else_=0)),
                ).group_by(_A.c.source)
            )
        }
    health = _poller_health()
    out: list[SourceStatus] = []
    configured = list(loaded.config.sources) if loaded else []
    for src in configured:
        last, firing = seen.pop(src.name, (None, 0))
        h = health.get(src.name)
        out.append(
            SourceStatus(
                src.name, src.type, None if h is None else bool(h.healthy),
                "" if h is None or h.healthy else str(h.last_error or "failing"), last, firing,
            )
        )
    for name, (last, firing) in sorted(seen.items()):
        out.append(SourceStatus(name, "stored", None, "", last, firing))
    return out


def _poller_health() -> dict[str, Any]:
    poller = _area("ircon.engine.poller")
    if poller is None or not hasattr(poller, "health_snapshot"):
        return {}
    return dict(poller.health_snapshot())


# --- incidents ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardRow:
    id: str
    severity: str
    status: str
    title: str
    commander: str | None
    created_at: datetime
    updated_at: datetime
    alerts: int
    entries: int
    next_clock: tuple[str, datetime] | None = None


@dataclass(frozen=True, slots=True)
class BoardPage:
    rows: list[BoardRow]
    total: int
    active: int
    offset: int


def _urgency_order() -> list[Any]:
    """``incidents.urgency_key`` in SQL, so the board can page."""
    sev_rank = case(
        *[(_I.c.severity == s, i) for i, s in enumerate(SEVERITIES, 1)], else_=len(SEVERITIES) + 1
    )
    return [case((_I.c.status.in_(ACTIVE_STATUSES), 0), else_=1), sev_rank, _I.c.created_at,
            _I.c.id]


def board(
    store: Store, *, limit: int = 100, offset: int = 0, filter_text: str = "",
    include_closed: bool = True,
) -> BoardPage:
    limit = max(1, min(limit, MAX_PAGE))
    where = []
    for word in filter_text.split()[:8]:
        pat = _like(word)
        where.append(or_(
            _I.c.human_id.ilike(pat, escape="\\"), _I.c.title.ilike(pat, escape="\\"),
            _I.c.severity.ilike(pat, escape="\\"), _I.c.status.ilike(pat, escape="\\"),
            _I.c.commander.ilike(pat, escape="\\"), _I.c.kind.ilike(pat, escape="\\"),
        ))
    if not include_closed:
        where.append(_I.c.status.in_(ACTIVE_STATUSES))
    alerts = (
        select(func.count()).where(_A.c.incident_id == _I.c.id).correlate(_I).scalar_subquery()
    )
    q = (
        select(
            _I.c.human_id, _I.c.severity, _I.c.status, _I.c.title, _I.c.commander,
            _I.c.created_at, _I.c.updated_at, alerts, _H.c.count,
        )
        .select_from(_I.outerjoin(_H, _H.c.incident_id == _I.c.id))
        .where(*where)
        .order_by(*_urgency_order())
        .limit(limit)
        .offset(max(0, offset))
    )
    with store.read() as conn:
        rows = [
            BoardRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], int(r[7] or 0), int(r[8] or 0))
            for r in conn.execute(q)
        ]
        total, active = conn.execute(
            select(func.count(), func.sum(case((_I.c.status.in_(ACTIVE_STATUSES), 1), else_=0)))
            .where(*where)
        ).one()
    clocks = _next_clocks(store, [r.id for r in rows])
    if clocks:
        rows = [
            BoardRow(**{**_asdict(r), "next_clock": clocks.get(r.id)}) for r in rows
        ]
    return BoardPage(rows, int(total or 0), int(active or 0), offset)


def _asdict(row: BoardRow) -> dict[str, Any]:
    return {k: getattr(row, k) for k in row.__dataclass_fields__}


def _next_clocks(store: Store, ids: list[str]) -> dict[str, tuple[str, datetime]]:
    svc = _area("ircon.escalation.service")
    if svc is None or not hasattr(svc, "next_due"):
        return {}
    return dict(svc.next_due(store, ids))


@dataclass(frozen=True, slots=True)
class IncidentView:
    id: str
    title: str
    kind: str
    severity: str
    severity_reasons: list[str]
    status: str
    commander: str | None
    tlp: str
    playbook: str | None
    atlas: list[str]
    owasp: list[str]
    created_at: str
    updated_at: str
    entries: int
    alerts: int


def incident_view(store: Store, incident: str) -> IncidentView:
    d = inc_store.get(store, incident)
    with store.read() as conn:
        n_alerts = conn.execute(
            select(func.count()).where(_A.c.incident_id == d["id"])
        ).scalar() or 0
        head = conn.execute(select(_H.c.count).where(_H.c.incident_id == d["id"])).scalar() or 0
    return IncidentView(
        id=d["human_id"], title=d["title"], kind=d["kind"], severity=d["severity"],
        severity_reasons=[str(x) for x in d.get("severity_reasons") or []], status=d["status"],
        commander=d["commander"], tlp=d["tlp"], playbook=d["playbook"],
        atlas=list(d.get("atlas") or []), owasp=list(d.get("owasp") or []),
        created_at=d["created_at"], updated_at=d["updated_at"], entries=int(head),
        alerts=int(n_alerts),
    )


def timeline(
    store: Store, incident: str, *, after_seq: int | None = None, tail: int = 300
) -> list[ChainEntry]:
    """Entries after ``after_seq``; on first load (None) only the last ``tail`` of them."""
    if after_seq is None:
        count, _ = jr.head(store, incident)
        after_seq = max(0, count - tail)
    return jr.entries(store, incident, after_seq=after_seq, limit=2000)


def search_incidents(store: Store, text: str, *, limit: int = 20) -> list[BoardRow]:
    return board(store, limit=limit, filter_text=text).rows


def open_incidents(store: Store, *, limit: int = 50) -> list[BoardRow]:
    return board(store, limit=limit, include_closed=False).rows


def declare(store: Store, title: str, severity: str, *, actor: str) -> str:
    return str(inc_store.create(store, title, severity=severity, actor=actor,
                                reasons=["declared in the console"])["id"])


def add_note(store: Store, incident: str, text: str, *, actor: str) -> int:
    return inc_store.note(store, incident, text, actor=actor)


def change_status(store: Store, incident: str, status: str, reason: str, *, actor: str) -> int:
    return inc_store.set_status(store, incident, status, reason, actor=actor)


def change_severity(
    store: Store, incident: str, severity: str, reason: str, *, actor: str
) -> int:
    return inc_store.set_severity(
        store, incident, severity, [reason] if reason else [], override=True, actor=actor
    )


def set_commander(store: Store, incident: str, person: str, *, actor: str) -> int:
    return inc_store.set_commander(store, incident, person, actor=actor)


# --- playbooks (response area) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepView:
    id: str
    title: str
    state: str  # pending, in_progress, done, skipped, failed
    kind: str = "manual"  # manual, action, decision
    instructions: str = ""
    action: dict[str, Any] | None = None
    options: list[tuple[str, str]] = field(default_factory=list)  # (option id, label)


@dataclass(frozen=True, slots=True)
class PlaybookView:
    name: str | None
    steps: list[StepView]
    current: str | None
    note: str = ""


def playbook_view(store: Store, loaded: LoadedConfig | None, incident: str) -> PlaybookView:
    """The incident's checklist: the playbook area's state when present, else the projection."""
    mod = _area("ircon.store.playbooks")
    if mod is not None and hasattr(mod, "playbook_state"):
        return _from_playbook_state(mod.playbook_state(store, incident))
    with store.read() as conn:
        iid, _ = jr.resolve(conn, incident)
        name = conn.execute(select(_I.c.playbook).where(_I.c.id == iid)).scalar()
        steps = [
            StepView(r.step_id, r.step_id, r.state)
            for r in conn.execute(select(_S).where(_S.c.incident_id == iid).order_by(_S.c.step_id))
        ]
    current = next((s.id for s in steps if s.state in ("pending", "in_progress")), None)
    note = "" if name else "no playbook attached"
    if mod is None:
        note = (note + "; " if note else "") + "playbooks arrive with the response feature"
    return PlaybookView(name, steps, current, note)


def _from_playbook_state(state: Any) -> PlaybookView:
    if state is None:
        return PlaybookView(None, [], None, "no playbook attached")
    if isinstance(state, PlaybookView):
        return state
    get = state.get if isinstance(state, dict) else lambda k, d=None: getattr(state, k, d)
    steps = []
    for s in get("steps", []) or []:
        sget = s.get if isinstance(s, dict) else lambda k, d=None, s=s: getattr(s, k, d)
        steps.append(StepView(
            id=str(sget("id", "")), title=str(sget("title", "") or sget("id", "")),
            state=str(sget("state", "pending")), kind=str(sget("kind", "manual")),
            instructions=str(sget("instructions", "") or ""), action=sget("action"),
            options=[(str(o[0]), str(o[1])) for o in (sget("options", []) or [])],
        ))
    return PlaybookView(get("name"), steps, get("current"), "")


def list_playbooks(loaded: LoadedConfig | None) -> list[tuple[str, str]]:
    """(name, title) of every playbook the response area can load; [] without it."""
    mod = _area("ircon.response.library")
    if mod is None or not hasattr(mod, "catalog"):
        return []
    return [(str(n), str(t)) for n, t in mod.catalog(loaded)]


def start_playbook(store: Store, loaded: LoadedConfig | None, incident: str, name: str,
                   *, actor: str) -> None:
    mod = _area("ircon.store.playbooks")
    if mod is None:
        raise NotAvailable("playbooks arrive with the response feature, not in this build")
    mod.start_playbook(store, incident, name, actor=actor)


def record_step(store: Store, incident: str, step: str, state: str, reason: str, *,
                actor: str) -> None:
    mod = _area("ircon.store.playbooks")
    if mod is None:
        raise NotAvailable("playbooks arrive with the response feature, not in this build")
    mod.record_step(store, incident, step, state, reason, actor=actor)


def record_decision(store: Store, incident: str, step: str, option: str, *, actor: str) -> None:
    mod = _area("ircon.store.playbooks")
    if mod is None:
        raise NotAvailable("playbooks arrive with the response feature, not in this build")
    mod.record_decision(store, incident, step, option, actor=actor)


# --- containment (adapters area) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActionPlan:
    """Exactly what will be sent, as lines of plain text, plus an opaque handle."""

    title: str
    lines: list[str]
    handle: Any


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    ok: bool
    lines: list[str]


def plan_step_action(store: Store, loaded: LoadedConfig | None, incident: str,
                     step: StepView) -> ActionPlan:
    runner = _area("ircon.adapters.runner")
    if runner is None:
        raise NotAvailable("containment actions arrive with the adapters feature")
    if not step.action:
        raise NotAvailable(f"step {step.id} has no action to run")
    plan = runner.plan_action(loaded, step.action, incident=incident)
    return ActionPlan(str(getattr(plan, "title", step.title)), _lines(plan), plan)


def run_step_action(store: Store, loaded: LoadedConfig | None, incident: str, plan: ActionPlan,
                    *, actor: str) -> ActionOutcome:
    runner = _area("ircon.adapters.runner")
    if runner is None:
        raise NotAvailable("containment actions arrive with the adapters feature")
    result = runner.run_action(store, loaded, plan.handle, incident=incident, actor=actor)
    ok = bool(getattr(result, "ok", getattr(result, "status", "") == "succeeded"))
    return ActionOutcome(ok, _lines(result))


def _lines(obj: Any) -> list[str]:
    if hasattr(obj, "preview_lines"):
        return [str(x) for x in obj.preview_lines()]
    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    return json.dumps(obj, indent=2, sort_keys=True, default=str).splitlines()


# --- escalation -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockView:
    name: str
    due: datetime | None
    state: str  # running, met, missed, stopped


@dataclass(frozen=True, slots=True)
class EscalationView:
    ladder: list[tuple[str, str]]  # (level label, who / state)
    clocks: list[ClockView]
    note: str = ""


def escalation_view(store: Store, loaded: LoadedConfig | None, incident: str) -> EscalationView:
    svc = _area("ircon.escalation.service")
    if svc is None or not hasattr(svc, "escalation_state"):
        return EscalationView([], [], "escalation arrives with the escalation feature")
    st = svc.escalation_state(store, incident)
    get = st.get if isinstance(st, dict) else lambda k, d=None: getattr(st, k, d)
    ladder = [(str(a), str(b)) for a, b in (get("ladder", []) or [])]
    clocks = [
        ClockView(str(c[0]), c[1], str(c[2])) if isinstance(c, tuple | list)
        else ClockView(str(c.name), c.due, str(c.state))
        for c in (get("clocks", []) or [])
    ]
    return EscalationView(ladder, clocks, "")


def acknowledge_page(store: Store, loaded: LoadedConfig | None, incident: str, *,
                     actor: str) -> None:
    """Acknowledge the incident: stops the escalation ladder where there is one."""
    svc = _area("ircon.escalation.service")
    if svc is not None and hasattr(svc, "acknowledge"):
        svc.acknowledge(store, incident, actor=actor)
        return
    inc_store.set_status(store, incident, "acknowledged", "acknowledged in the console",
                         actor=actor)


# --- reports --------------------------------------------------------------------------


def postmortem_markdown(store: Store, loaded: LoadedConfig | None, incident: str) -> str:
    mod = _area("ircon.report.postmortem")
    if mod is None:
        raise NotAvailable("post-mortem drafts arrive with the reports feature")
    for name in ("draft_markdown", "render", "draft"):
        fn = getattr(mod, name, None)
        if fn is not None:
            return str(fn(store, incident))
    raise NotAvailable("this build's report module has no draft renderer")


# --- engine ---------------------------------------------------------------------------


def start_engine(store: Store, loaded: LoadedConfig | None) -> Any | None:
    """Start the in-process engine (source pulls) when that area is present."""
    poller = _area("ircon.engine.poller")
    if poller is None or loaded is None or not loaded.config.sources:
        return None
    if hasattr(poller, "start_in_process"):
        return poller.start_in_process(store, loaded)
    return None


def _now() -> datetime:
    from ircon.store.engine import utcnow

    return utcnow()


def ids_of(rows: Iterable[AlertRow]) -> list[int]:
    return [r.id for r in rows]
