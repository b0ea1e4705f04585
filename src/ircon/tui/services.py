"""Everything the console asks of the rest of ircon, as thin blocking functions.

Workers call these (never the UI thread). Screens only see the small view
types defined here, so wiring a newly landed area (playbooks, containment,
escalation, reports, the engine) is a change in this one module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection

from ircon.model import kinds
from ircon.model.journal import ChainEntry
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
    from ircon.store import alerts as alert_store

    done = 0
    with store.read() as conn:
        todo = [int(r.id) for r in _alerts_by_id(conn, ids) if not r.acknowledged]
    for aid in todo:
        alert_store.acknowledge(store, aid, actor=actor)
        done += 1
    return done


def assign_alerts(store: Store, ids: Sequence[int], incident: str, *, actor: str) -> int:
    """Move alerts to an incident; journaled on the incident they leave and the one they join."""
    from ircon.store import alerts as alert_store

    with store.read() as conn:
        iid, hid = jr.resolve(conn, incident)
        todo = [int(r.id) for r in _alerts_by_id(conn, ids) if r.incident_id != iid]
    for aid in todo:
        alert_store.assign(store, aid, hid, actor=actor, reason="assigned in the console")
    return len(todo)


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


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    kind: str
    healthy: bool | None  # None: unknown (no poller in this process)
    detail: str
    last_seen: datetime | None
    firing: int


def source_health(
    store: Store, loaded: LoadedConfig | None, health: dict[str, Any] | None = None
) -> list[SourceStatus]:
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
    health = health or {}
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
    kind: str = "manual"  # manual, action, decision, notify, wait
    instructions: str = ""
    has_action: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)  # (option id, label)
    due: datetime | None = None


@dataclass(frozen=True, slots=True)
class PlaybookView:
    name: str | None
    steps: list[StepView]
    current: str | None
    note: str = ""
    finished: bool = False


def _dirs(loaded: LoadedConfig | None) -> list[str]:
    return list(loaded.config.playbooks.dirs) if loaded else []


def _instances(loaded: LoadedConfig | None) -> dict[str, str]:
    """Adapter instance name -> type, from the config."""
    if loaded is None:
        return {}
    return {name: str(a.type) for name, a in loaded.config.adapters.items()}


def _step_text(step: Any) -> str:
    parts = [str(getattr(step, "description", "") or "")]
    if getattr(step, "question", None):
        parts.append(str(step.question))
    for item in getattr(step, "checklist", []) or []:
        parts.append(f"[ ] {item}")
    if getattr(step, "kind", "") == "action":
        parts.append(f"action: {step.adapter} {step.action}")
    if getattr(step, "kind", "") == "notify":
        parts.append(f"notify {', '.join(step.to)}: {step.message}")
    return "\n".join(p for p in parts if p)


def playbook_view(store: Store, loaded: LoadedConfig | None, incident: str,
                  now: datetime | None = None) -> PlaybookView:
    """The incident's checklist, rebuilt from the journal."""
    from ircon.store import playbooks

    pinned = playbooks.pinned_playbook(store, incident)
    if pinned is None:
        return PlaybookView(None, [], None, "no playbook running — p starts one")
    state = playbooks.playbook_state(store, incident, now=now)
    if state is None:
        return PlaybookView(None, [], None, "no playbook running — p starts one")
    models = {s.id: s for s in pinned.playbook.steps}
    steps = []
    for sid, v in state.steps.items():
        m = models.get(sid)
        steps.append(StepView(
            id=sid, title=v.title, state=v.state, kind=v.kind,
            instructions=_step_text(m) if m is not None else "",
            has_action=v.kind == "action",
            options=[(o.id, o.label) for o in getattr(m, "options", [])] if m else [],
            due=v.due_at,
        ))
    note = "; ".join(state.problems[:3])
    return PlaybookView(f"{state.name} {state.version}", steps, state.current, note,
                        state.finished)


def list_playbooks(loaded: LoadedConfig | None) -> list[tuple[str, str]]:
    """(name, title) of every playbook that loads: bundled, then configured directories."""
    from ircon.response.library import discover, playbook_dirs

    return [
        (r.playbook.name, r.playbook.title)
        for r in discover(playbook_dirs(_dirs(loaded))) if r.playbook is not None
    ]


def start_playbook(store: Store, loaded: LoadedConfig | None, incident: str, name: str,
                   *, actor: str) -> None:
    from ircon.store import playbooks

    playbooks.start_playbook(store, incident, name, actor=actor, dirs=_dirs(loaded),
                             instances=_instances(loaded))


def record_step(store: Store, incident: str, step: str, state: str, reason: str, *,
                actor: str) -> None:
    from ircon.store import playbooks

    playbooks.record_step(store, incident, step, state, reason=reason, actor=actor)


def record_decision(store: Store, incident: str, step: str, option: str, *, actor: str,
                    reason: str = "") -> None:
    from ircon.store import playbooks

    playbooks.record_decision(store, incident, step, option, reason=reason, actor=actor)


# --- containment (adapters area) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActionPlan:
    """Exactly what will be sent (plain text lines) and what to call to send it."""

    title: str
    lines: list[str]
    instance: str
    action: str
    params: dict[str, str]
    step: str | None = None
    destructive: bool = False


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    ok: bool
    lines: list[str]


def _action_step(store: Store, incident: str, step_id: str) -> Any:
    from ircon.store import playbooks

    pinned = playbooks.pinned_playbook(store, incident)
    step = next((s for s in pinned.playbook.steps if s.id == step_id), None) if pinned else None
    if step is None or getattr(step, "kind", "") != "action":
        raise NotAvailable(f"step {step_id} has no action to run")
    return step


def step_inputs(store: Store, incident: str, step_id: str) -> list[str]:
    """Values the responder must type before the step's action can be planned."""
    from ircon.response.engine import inputs_needed

    return inputs_needed(_action_step(store, incident, step_id))


def step_instances(store: Store, loaded: LoadedConfig | None, incident: str,
                   step_id: str) -> list[str]:
    """Configured adapter instances the step can run on (the responder picks one of several)."""
    from ircon.response.actions_catalog import resolve_instances

    step = _action_step(store, incident, step_id)
    names = resolve_instances(step.adapter, _instances(loaded))
    if not names:
        raise NotAvailable(
            f"no adapter instance for {step.adapter!r} is configured: add [adapters.NAME] "
            f'with type = "{step.adapter}" to the config'
        )
    return names


def plan_step_action(
    store: Store, loaded: LoadedConfig | None, incident: str, step_id: str, *, actor: str,
    instance: str, inputs: dict[str, str] | None = None,
) -> ActionPlan:
    """Render the step's parameters and plan the call (no I/O to the target)."""
    from ircon.adapters import runner
    from ircon.response.engine import action_call
    from ircon.store import playbooks

    if loaded is None:
        raise NotAvailable("containment needs a config with [adapters.NAME]")
    step = _action_step(store, incident, step_id)
    values = playbooks.template_values(store, incident, actor=actor)
    values["input"] = dict(inputs or {})
    call = action_call(step, values)
    plan = runner.plan_action(loaded.config, instance, call.action, call.params, actor=actor,
                              incident=incident)
    lines = list(plan.lines())
    if plan.destructive:
        lines.append("destructive: yes")
    return ActionPlan(f"{instance} {call.action}: {plan.summary}", lines, instance,
                      call.action, dict(call.params), step_id, plan.destructive)


def run_planned(store: Store, loaded: LoadedConfig | None, incident: str, plan: ActionPlan,
                *, actor: str, approved_by: str | None = None,
                dry_run: bool = False) -> ActionOutcome:
    """Send it (journaled by the runner), then record the step's outcome. ``dry_run``
    (demo and drill mode): journal the plan, send nothing."""
    from ircon.adapters import runner

    if loaded is None:
        raise NotAvailable("containment needs a config with [adapters.NAME]")
    out = runner.run_action(store, loaded.config, plan.instance, plan.action, plan.params,
                            incident=incident, actor=actor, approved_by=approved_by,
                            dry_run=dry_run)
    lines = [out.summary]
    if dry_run:
        lines.append("dry run: nothing was sent (demo mode); the plan above is in the journal")
    if out.error:
        lines.append(f"error: {out.error}")
    if out.output:
        lines.extend(out.output.splitlines()[:200])
    if out.undo_available:
        lines.append(f"undo is available (run {out.run_id})")
    if plan.step:
        from ircon.store import playbooks

        playbooks.record_step(store, incident, plan.step, "done" if out.ok else "failed",
                              reason=out.summary[:500] if not out.ok else "", actor=actor)
    return ActionOutcome(out.ok, lines)


def silence_alerts(
    store: Store, loaded: LoadedConfig | None, ids: Sequence[int], *, hours: float,
    comment: str, actor: str,
) -> str:
    """One Alertmanager silence per alert (its exact labels), through the containment runner."""
    from ircon.adapters import runner
    from ircon.adapters.params import format_matchers
    from ircon.store import alerts as alert_store

    names = sorted(n for n, t in _instances(loaded).items() if t == "alertmanager")
    if not names or loaded is None:
        raise NotAvailable(
            'silencing needs an Alertmanager adapter: add [adapters.NAME] with type = '
            '"alertmanager" to the config'
        )
    done: list[str] = []
    for aid in ids:
        a = alert_store.get_alert(store, aid)
        labels = sorted(a.labels.items())[:32]
        if not labels:
            continue
        matchers = format_matchers(
            [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in labels]
        )
        out = runner.run_action(
            store, loaded.config, names[0], "silence",
            {"matchers": matchers, "duration": f"{int(hours * 3600)}s", "comment": comment},
            incident=a.incident, actor=actor,
        )
        if not out.ok:
            raise NotAvailable(f"silence failed for alert {aid}: {out.error or out.summary}")
        done.append(out.summary)
    return f"{len(done)} silence(s) on {names[0]}"


# --- escalation -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockView:
    name: str
    detail: str
    due: datetime | None
    state: str  # pending/running (counting down), sent, met, breached, stopped, due


@dataclass(frozen=True, slots=True)
class EscalationView:
    ladder: list[ClockView]
    clocks: list[ClockView]
    note: str = ""


def escalation_view(store: Store, loaded: LoadedConfig | None, incident: str,
                    now: datetime) -> EscalationView:
    from ircon.config import IrconConfig
    from ircon.escalation.service import escalation_state

    cfg = loaded.config if loaded else IrconConfig()
    st = escalation_state(store, cfg, incident, now)
    ladder = [
        ClockView(f"L{lv['level']}", ", ".join(lv.get("notify") or []),
                  _dt(lv.get("sent_at") or lv.get("due")), str(lv.get("state")))
        for lv in st.get("levels", [])
    ]
    clocks = [
        ClockView(str(c.get("title") or c.get("name")), str(c.get("basis") or ""),
                  _dt(c.get("deadline")), str(c.get("state")))
        for c in st.get("clocks", [])
    ]
    note = ""
    if not st.get("enabled", True):
        note = "escalation is disabled in the config"
    elif not ladder and not clocks:
        note = "no escalation policy applies"
    fails = (st.get("notifications") or {}).get("failed_total", 0)
    if fails:
        note = (note + "; " if note else "") + f"{fails} notification(s) failed"
    return EscalationView(ladder, clocks, note)


def _dt(v: Any) -> datetime | None:
    from ircon.tui.timefmt import parse_ts

    return parse_ts(v) if v else None


def _next_clocks(store: Store, ids: list[str]) -> dict[str, tuple[str, datetime]]:
    """Soonest running regulatory clock per incident, from ``clock`` entries (indexed by kind)."""
    if not ids:
        return {}
    with store.read() as conn:
        rows = conn.execute(
            select(_I.c.human_id, _J.c.body)
            .select_from(_J.join(_I, _I.c.id == _J.c.incident_id))
            .where(_J.c.kind == kinds.CLOCK, _I.c.human_id.in_(ids))
            .order_by(_J.c.id)
        ).all()
    running: dict[tuple[str, str], tuple[str, datetime]] = {}
    for hid, body in rows:
        try:
            b = json.loads(body)
        except ValueError:
            continue
        key = (hid, str(b.get("clock")))
        if b.get("action") == "start" and (due := _dt(b.get("deadline"))) is not None:
            running[key] = (str(b.get("clock")), due)
        elif b.get("action") == "met":
            running.pop(key, None)
    out: dict[str, tuple[str, datetime]] = {}
    for (hid, _), (name, due) in running.items():
        if hid not in out or due < out[hid][1]:
            out[hid] = (name, due)
    return out


def acknowledge_page(store: Store, loaded: LoadedConfig | None, incident: str, *,
                     actor: str) -> None:
    """Acknowledge the incident: the escalation ladder stops at its next look."""
    from ircon.escalation.service import EscalationInputError, acknowledge

    try:
        acknowledge(store, incident, actor=actor)
    except EscalationInputError as exc:
        raise NotAvailable(str(exc)) from exc


# --- reports --------------------------------------------------------------------------


def postmortem_markdown(store: Store, loaded: LoadedConfig | None, incident: str,
                        now: datetime | None = None) -> str:
    from ircon.report.postmortem import draft_markdown

    return draft_markdown(store, incident, generated_at=now)


# --- engine ---------------------------------------------------------------------------


def make_engine(store: Store, loaded: LoadedConfig | None, *, actor: str) -> Any | None:
    """The headless engine, run in the console's process when no ``ircon watch`` works
    this database (it waits in standby while another engine holds the lease)."""
    if loaded is None:
        return None
    cfg = loaded.config
    esc = cfg.escalation
    if not (cfg.sources or cfg.policies or (esc.enabled and esc.severity_policy)):
        return None  # nothing to pull, contain or escalate
    from ircon.engine.runtime import Engine

    base = loaded.path.parent if loaded.path else None
    return Engine(cfg, store, actor=actor, base_dir=base)


def engine_label(store: Store, own: Any | None) -> str:
    """Who works this database: this console, another process, or nobody."""
    from ircon.engine.runtime import engine_status

    status = engine_status(store)
    leader = status.get("leader")
    if own is not None and getattr(own, "state", "") == "leader":
        return "engine: this console"
    if leader:
        return f"engine: {leader.get('holder', '?')}"
    return "engine: none"


def _now() -> datetime:
    from ircon.store.engine import utcnow

    return utcnow()


def ids_of(rows: Iterable[AlertRow]) -> list[int]:
    return [r.id for r in rows]
