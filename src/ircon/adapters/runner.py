"""Running containment actions: plan, record, execute, record — and undo.

Used by the command line, the console and automated policies alike. The
request is journaled (and an ``action_run`` row written) before anything is
executed, and the result after, so a crash mid-action leaves a run that says
"running", never one that claims success. Everything written passes through a
``Redactor`` holding every secret value the adapter touched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ircon.adapters.base import Adapter, Context, Plan, Result, UndoNotPossible
from ircon.adapters.params import ParamError
from ircon.adapters.registry import UnknownInstance, instance
from ircon.adapters.settings import AdapterSettingsError
from ircon.model import kinds
from ircon.model.journal import canonical_body
from ircon.secrets import Redactor
from ircon.store.engine import utcnow
from ircon.store.journal import UnknownIncident, append_in, resolve
from ircon.store.tables import ActionRun, Incident

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ircon.config import IrconConfig
    from ircon.store.db import Store

_R = ActionRun.__table__  # type: ignore[attr-defined]
_I = Incident.__table__  # type: ignore[attr-defined]

APPROVAL_SEVERITIES = ("SEV1", "SEV2")


class ActionInputError(ValueError):
    """Bad instance, action, parameter or incident: nothing was done (exit code 2)."""


class ApprovalRequired(ActionInputError):
    """The two-person rule applies and no valid second responder approved."""


@dataclass
class ActionOutcome:
    run_id: int | None
    instance: str
    type: str
    action: str
    status: str  # dry-run, succeeded, failed, undone, undo-failed
    ok: bool
    dry_run: bool
    summary: str
    plan: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    error: str | None = None
    incident: str | None = None
    undo_available: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_adapter(cfg: IrconConfig, name: str) -> Adapter:
    try:
        return instance(cfg, name)
    except (UnknownInstance, AdapterSettingsError) as exc:
        raise ActionInputError(str(exc)) from exc


def plan_action(cfg: IrconConfig, instance_name: str, action: str, params: dict[str, str], *,
                actor: str, incident: str | None = None) -> Plan:
    """The plan only (validation included); no I/O. ActionInputError on bad input."""
    adapter = load_adapter(cfg, instance_name)
    try:
        return adapter.plan(action, params, Context(actor=actor, incident=incident))
    except ParamError as exc:
        raise ActionInputError(str(exc)) from exc


def _incident(store: Store, incident: str) -> tuple[int, str, str]:
    with store.read() as conn:
        try:
            iid, hid = resolve(conn, incident)
        except UnknownIncident as exc:
            raise ActionInputError(str(exc)) from exc
        sev = conn.execute(select(_I.c.severity).where(_I.c.id == iid)).scalar()
    return iid, hid, str(sev)


def _journal(conn: Connection, inc: tuple[int, str, str] | None, kind: str,
             body: dict[str, Any], actor: str) -> None:
    if inc is not None:
        append_in(conn, inc[0], inc[1], kind, canonical_body(body), actor)


def run_action(
    store: Store, cfg: IrconConfig, instance: str, action: str, params: dict[str, str], *,
    incident: str | None, actor: str, dry_run: bool = False, approved_by: str | None = None,
    policy: str | None = None,
) -> ActionOutcome:
    """Plan, journal the request, execute (unless ``dry_run``), journal the result."""
    adapter = load_adapter(cfg, instance)
    inc = _incident(store, incident) if incident else None
    ctx = Context(actor=actor, incident=inc[1] if inc else None)
    try:
        plan = adapter.plan(action, params, ctx)
    except ParamError as exc:
        raise ActionInputError(str(exc)) from exc
    sensitive: list[str] = list(plan.private.get("sensitive", []))
    needs_approval = (
        plan.destructive and adapter.settings.require_approval and inc is not None
        and inc[2] in APPROVAL_SEVERITIES and not dry_run
    )
    if needs_approval:
        if not approved_by or not approved_by.strip():
            raise ApprovalRequired(
                f"{instance} {action} is destructive and {inc[1] if inc else ''} is "
                f"{inc[2] if inc else ''}: the two-person rule needs a second responder's "
                "approval (--approved-by PERSON)")
        if approved_by.strip() == actor:
            raise ApprovalRequired("the approving responder must be someone other than "
                                   f"the requester ({actor})")
    red = Redactor(adapter.secret_values() + sensitive)
    plan_d = red.obj(plan.to_dict())
    assert isinstance(plan_d, dict)
    now = utcnow()
    with store.write() as conn:
        ins = conn.execute(_R.insert().values(
            incident_id=inc[0] if inc else None, adapter=instance, action=action,
            params=red.obj(plan.params), plan=plan_d,
            status="dry-run" if dry_run else "running", dry_run=dry_run,
            result={"approved_by": approved_by} if needs_approval else {}, undo_data={},
            requested_by=actor, policy=policy, created_at=now,
            finished_at=now if dry_run else None,
        ))
        run_id = int(ins.inserted_primary_key[0])  # type: ignore[index]
        _journal(conn, inc, kinds.ACTION_REQUEST, {
            "run_id": run_id, "adapter": instance, "type": adapter.type_name, "action": action,
            "params": red.obj(plan.params), "plan": plan_d, "destructive": plan.destructive,
            "dry_run": dry_run, "policy": policy,
            "approved_by": approved_by if needs_approval else None,
        }, actor)
        if needs_approval:
            _journal(conn, inc, kinds.APPROVAL, {
                "run_id": run_id, "adapter": instance, "action": action,
                "requested_by": actor, "approved_by": approved_by,
                "reason": f"two-person rule: destructive action on a {inc[2] if inc else ''} "
                          "incident",
            }, actor)
    base = dict(run_id=run_id, instance=instance, type=adapter.type_name, action=action,
                dry_run=dry_run, plan=plan_d, incident=inc[1] if inc else None)
    if dry_run:
        return ActionOutcome(status="dry-run", ok=True, summary="planned: " + plan.summary,
                             **base)  # type: ignore[arg-type]
    try:
        result = adapter.execute(plan)
    except Exception as exc:  # an adapter bug must still end as a journaled failure
        result = Result.failed(action, f"internal error: {type(exc).__name__}: {exc}")
    red = Redactor(adapter.secret_values() + sensitive)
    result_d = red.obj(result.to_dict())
    assert isinstance(result_d, dict)
    undo_d = red.obj(result.undo) if result.ok and result.undo else {}
    status = "succeeded" if result.ok else "failed"
    if needs_approval:
        result_d["approved_by"] = approved_by
    with store.write() as conn:
        conn.execute(_R.update().where(_R.c.id == run_id).values(
            status=status, result=result_d, undo_data=undo_d, finished_at=utcnow()))
        _journal(conn, inc, kinds.ACTION_RESULT, {
            "run_id": run_id, "adapter": instance, "action": action, "ok": result.ok,
            "status": status, "summary": result_d.get("summary"),
            "error": result_d.get("error"), "output": result_d.get("output", ""),
            "status_code": result.status_code, "exit_code": result.exit_code,
            "attempts": result.attempts, "undo_available": bool(undo_d),
            "details": result_d.get("details", {}),
        }, actor)
    return ActionOutcome(
        status=status, ok=result.ok, summary=str(result_d.get("summary", "")),
        output=str(result_d.get("output", "")), error=result_d.get("error"),
        undo_available=bool(undo_d), details=result_d.get("details", {}), **base,  # type: ignore[arg-type]
    )


def get_run(store: Store, run_id: int) -> dict[str, Any] | None:
    with store.read() as conn:
        row = conn.execute(select(_R).where(_R.c.id == run_id)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        if out.get("incident_id") is not None:
            out["incident"] = conn.execute(
                select(_I.c.human_id).where(_I.c.id == out["incident_id"])).scalar()
    return out


def list_runs(store: Store, *, incident: str | None = None, limit: int = 100
              ) -> list[dict[str, Any]]:
    """Recent runs, newest first (for the console's action list)."""
    with store.read() as conn:
        q = select(_R.c.id, _R.c.adapter, _R.c.action, _R.c.status, _R.c.dry_run,
                   _R.c.requested_by, _R.c.policy, _R.c.created_at, _R.c.finished_at,
                   _R.c.params, _R.c.undo_data)
        if incident is not None:
            iid, _ = resolve(conn, incident)
            q = q.where(_R.c.incident_id == iid)
        rows = conn.execute(q.order_by(_R.c.id.desc()).limit(limit)).mappings().all()
    out = []
    for r in rows:
        d = dict(r)
        d["undo_available"] = d["status"] == "succeeded" and bool(d.pop("undo_data"))
        out.append(d)
    return out


def undo_action(store: Store, cfg: IrconConfig, run_id: int, *, actor: str) -> ActionOutcome:
    """Revert a succeeded run. Only one caller can undo a run (the row is claimed first)."""
    run = get_run(store, run_id)
    if run is None:
        raise ActionInputError(f"no action run {run_id}")
    adapter = load_adapter(cfg, run["adapter"])
    if run["status"] != "succeeded":
        raise ActionInputError(f"run {run_id} is {run['status']}; only a succeeded run can be "
                               "undone")
    if not run["undo_data"]:
        raise ActionInputError(f"run {run_id} ({run['adapter']} {run['action']}) has no undo "
                               "information; it cannot be undone by ircon")
    inc: tuple[int, str, str] | None = None
    if run.get("incident"):
        inc = (int(run["incident_id"]), str(run["incident"]), "")
    with store.write() as conn:
        claimed = conn.execute(_R.update().where(_R.c.id == run_id, _R.c.status == "succeeded")
                               .values(status="undoing")).rowcount
        if claimed != 1:
            raise ActionInputError(f"run {run_id} is being undone by someone else")
        _journal(conn, inc, kinds.ACTION_UNDO, {
            "run_id": run_id, "adapter": run["adapter"], "action": run["action"],
            "phase": "requested",
        }, actor)
    ctx = Context(actor=actor, incident=inc[1] if inc else None)
    prior = Result(ok=True, action=run["action"], summary="", undo=dict(run["undo_data"]))
    try:
        res = adapter.undo(prior, ctx)
    except UndoNotPossible as exc:
        res = Result.failed("undo", str(exc))
    except Exception as exc:  # recorded, never swallowed silently
        res = Result.failed("undo", f"internal error: {type(exc).__name__}: {exc}")
    red = Redactor(adapter.secret_values())
    res_d = red.obj(res.to_dict())
    assert isinstance(res_d, dict)
    result = dict(run["result"] or {})
    result["undo"] = {**res_d, "by": actor, "at": utcnow().isoformat()}
    with store.write() as conn:
        conn.execute(_R.update().where(_R.c.id == run_id).values(
            status="undone" if res.ok else "succeeded", result=result))
        _journal(conn, inc, kinds.ACTION_UNDO, {
            "run_id": run_id, "adapter": run["adapter"], "action": run["action"],
            "phase": "result", "ok": res.ok, "summary": res_d.get("summary"),
            "error": res_d.get("error"), "output": res_d.get("output", ""),
        }, actor)
    return ActionOutcome(
        run_id=run_id, instance=run["adapter"], type=adapter.type_name, action=run["action"],
        status="undone" if res.ok else "undo-failed", ok=res.ok, dry_run=False,
        summary=str(res_d.get("summary", "")), output=str(res_d.get("output", "")),
        error=res_d.get("error"), incident=inc[1] if inc else None,
        undo_available=not res.ok,
    )


ABANDONED = "interrupted"
_LONGEST_RUN_S = 600.0 * 6  # the largest timeout times the most attempts the settings allow
_MARGIN_S = 120.0


def _longest(cfg: IrconConfig, name: str) -> float:
    """The longest an action of instance ``name`` can take, attempts included."""
    try:
        s = instance(cfg, name).settings
        return float(s.timeout) * (int(s.retries) + 1)
    except Exception:  # an instance since removed or broken: assume the worst
        return _LONGEST_RUN_S


def sweep_abandoned(store: Store, cfg: IrconConfig, *, actor: str,
                    now: datetime | None = None) -> list[int]:
    """Close the runs still ``running`` long after their last attempt must have ended:
    the process running them stopped before it could record a result. Each becomes
    ``interrupted`` with an ``action.result`` entry that says the outcome is unknown,
    so the responder checks the target instead of trusting either answer."""
    now = now or utcnow()
    with store.read() as conn:
        rows = conn.execute(select(_R.c.id, _R.c.adapter, _R.c.action, _R.c.created_at,
                                   _R.c.incident_id).where(_R.c.status == "running")).all()
    done: list[int] = []
    for run_id, adapter, action, created, inc_id in rows:
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        waited = (now - created).total_seconds()
        if waited < _longest(cfg, adapter) + _MARGIN_S:
            continue
        error = (f"no result after {int(waited)} s: the process running this action "
                 "stopped before recording one; the target may or may not have changed")
        with store.write() as conn:
            changed = conn.execute(_R.update().where(
                (_R.c.id == run_id) & (_R.c.status == "running")).values(
                status=ABANDONED, finished_at=now,
                result={"ok": False, "summary": f"{action}: outcome unknown", "error": error}))
            if not changed.rowcount:
                continue  # finished meanwhile
            inc = None
            if inc_id is not None:
                row = conn.execute(select(_I.c.id, _I.c.human_id)
                                   .where(_I.c.id == inc_id)).first()
                inc = (row[0], row[1], "") if row is not None else None
            _journal(conn, inc, kinds.ACTION_RESULT, {
                "run_id": run_id, "adapter": adapter, "action": action, "ok": False,
                "status": ABANDONED, "summary": f"{action}: outcome unknown", "error": error,
                "output": "", "status_code": None, "exit_code": None, "attempts": None,
                "undo_available": False, "details": {},
            }, actor)
        done.append(run_id)
    return done
