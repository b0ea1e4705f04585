"""Automated containment: policy decisions turned into journaled adapter actions.

Every action goes through ``adapters.runner.run_action`` with actor
``ircon-policy:NAME``, so it is an ``action.request``/``action.result`` pair
in the journal and undoable like any responder's action. Around it this
module adds what makes automation safe to leave running:

- the global kill switch (``ircon policies pause``), stored in the database
  and read again right before every call, so it holds within a second;
- the blast-radius cap: after ``cap_per_hour`` actions the policy stops and
  exactly one escalation says why (the stop is recorded in the same write
  transaction that checks it, so a restart does not escalate twice);
- retries within the policy's limits, then an escalation; a failed action is
  never reported as done;
- expiry: the action is undone automatically unless a responder confirmed it
  (a ``policy`` journal entry with event ``confirmed``);
- a notification to the on-call through the escalation roster for every
  automated action, failure, stop and automatic undo.

Policy state (recent actions, stopped) lives in ``ircon_meta`` as JSON, one
row per policy, so every process and the next leader see the same history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ircon.engine.logs import event
from ircon.engine.policies import (
    ALLOWLISTED,
    BAD_PARAMS,
    CAP,
    HOUR,
    PAUSED,
    STOPPED,
    Decision,
    PastAction,
    WindowCounter,
    decide,
    expiry_seconds,
    mask,
    matches,
    scope_id,
    scope_value,
)
from ircon.engine.settings import PolicyConfig
from ircon.model import kinds
from ircon.model.finding import Finding
from ircon.model.text import one_line
from ircon.store import journal
from ircon.store.db import Store
from ircon.store.engine import utcnow
from ircon.store.tables import ActionRun, Alert, Incident, Meta

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ircon.config import IrconConfig
    from ircon.escalation.notify import Notifier

log = logging.getLogger("ircon.engine.policy")

_M = Meta.__table__  # type: ignore[attr-defined]
_R = ActionRun.__table__  # type: ignore[attr-defined]
_A = Alert.__table__  # type: ignore[attr-defined]
_I = Incident.__table__  # type: ignore[attr-defined]

PAUSE_KEY = "policies.paused"
STATE_PREFIX = "policy:"
STATE_TTL = 0.5  # seconds a read of the policy state and kill switch is reused
UNDO_RETRY_SECONDS = 60.0
MAX_RECENT = 20_000
ACTIVE = ("running", "succeeded", "shadow")


def actor_of(policy: str) -> str:
    return f"ircon-policy:{policy}"


# --- state in ircon_meta --------------------------------------------------------------------


def _get(conn: Connection, key: str) -> dict[str, Any] | None:
    raw = conn.execute(select(_M.c.value).where(_M.c.key == key)).scalar()
    if raw is None:
        return None
    try:
        v = json.loads(raw)
    except ValueError:
        return None
    return v if isinstance(v, dict) else None


def _put(conn: Connection, key: str, value: dict[str, Any] | None) -> None:
    conn.execute(_M.delete().where(_M.c.key == key))
    if value is not None:
        conn.execute(_M.insert().values(key=key, value=json.dumps(value, sort_keys=True)))


def pause_state(store: Store) -> dict[str, Any] | None:
    """The kill switch: ``{"by", "at", "reason"}`` while paused, else None."""
    with store.read() as conn:
        return _get(conn, PAUSE_KEY)


def pause(store: Store, *, actor: str, reason: str = "") -> dict[str, Any]:
    """Stop every automated action (engines read this before each call)."""
    body = {"by": actor, "at": utcnow().isoformat(), "reason": reason[:500]}
    with store.write() as conn:
        cur = _get(conn, PAUSE_KEY)
        if cur is not None:
            return cur
        _put(conn, PAUSE_KEY, body)
    event(log, logging.WARNING, "automated containment paused", by=actor, reason=reason)
    return body


def resume(store: Store, *, actor: str) -> bool:
    """Lift the kill switch; False when it was not set."""
    with store.write() as conn:
        was = _get(conn, PAUSE_KEY) is not None
        _put(conn, PAUSE_KEY, None)
    if was:
        event(log, logging.WARNING, "automated containment resumed", by=actor)
    return was


def policy_state(store: Store, name: str) -> dict[str, Any]:
    with store.read() as conn:
        return _get(conn, STATE_PREFIX + name) or {}


def resume_policy(store: Store, name: str, *, actor: str) -> bool:
    """Let a policy that stopped at its cap act again; False when it was not stopped."""
    with store.write() as conn:
        st = _get(conn, STATE_PREFIX + name) or {}
        if not st.get("stopped"):
            return False
        st.update(stopped=False, resumed_by=actor, resumed_at=utcnow().isoformat())
        # The hour's actions stay counted: resuming does not reset the cap's window.
        _put(conn, STATE_PREFIX + name, st)
    event(log, logging.WARNING, "policy resumed", policy=name, by=actor)
    return True


def runs_of(store: Store, policy: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """The policy's recent action runs, newest first."""
    with store.read() as conn:
        rows = conn.execute(
            select(_R.c.id, _R.c.adapter, _R.c.action, _R.c.status, _R.c.dry_run,
                   _R.c.created_at, _R.c.expires_at, _R.c.params, _I.c.human_id)
            .select_from(_R.outerjoin(_I, _I.c.id == _R.c.incident_id))
            .where(_R.c.policy == policy).order_by(_R.c.id.desc()).limit(limit)
        ).mappings().all()
    out = []
    for r in rows:
        d = dict(r)
        d["incident"] = d.pop("human_id")
        for k in ("created_at", "expires_at"):
            if d[k] is not None:
                d[k] = d[k].isoformat()
        out.append(d)
    return out


class ConfirmError(ValueError):
    """The run cannot be confirmed; the message says why."""


def confirm(store: Store, run_id: int, *, actor: str, reason: str = "") -> dict[str, Any]:
    """Keep an automated action past its expiry (journaled as ``policy`` ``confirmed``)."""
    with store.read() as conn:
        r = conn.execute(
            select(_R.c.policy, _R.c.status, _R.c.expires_at, _R.c.incident_id, _R.c.dry_run)
            .where(_R.c.id == run_id)).first()
    if r is None:
        raise ConfirmError(f"no action run {run_id}")
    if not r.policy or r.dry_run:
        raise ConfirmError(f"run {run_id} is not an automated action in force; nothing expires")
    if r.status != "succeeded":
        raise ConfirmError(f"run {run_id} is {r.status}; only an action in force can be "
                           "confirmed")
    if r.incident_id is None:
        raise ConfirmError(f"run {run_id} belongs to no incident")
    body = {"event": "confirmed", "policy": r.policy, "run_id": run_id,
            "reason": reason[:1000],
            "was_expiring_at": r.expires_at.isoformat() if r.expires_at else None}

    def apply(conn: Connection, _iid: int) -> None:
        conn.execute(_R.update().where(_R.c.id == run_id).values(expires_at=None))

    journal.append(store, int(r.incident_id), kinds.POLICY, body, actor=actor, apply=apply)
    return body


# --- the engine side ------------------------------------------------------------------------


@dataclass
class _Loaded:
    at: float
    paused: dict[str, Any] | None
    state: dict[str, Any]
    run_status: dict[int, str] = field(default_factory=dict)

    def history(self, now: float, retry_after: float) -> list[PastAction]:
        """The policy's past actions; one that failed less than ``retry_after`` seconds ago
        counts as in force: a person was escalated to, and a burst of findings for the
        same target must not start a storm of failing calls."""
        out = []
        for e in self.state.get("recent", []):
            status = self.run_status.get(int(e["run"]), e["status"]) if e.get("run") else \
                e["status"]
            until = e.get("until")
            active = (status in ACTIVE and (until is None or until > now)) or (
                status == "failed" and float(e["at"]) > now - retry_after)
            out.append(PastAction(float(e["at"]), str(e["scope"]), str(e["mode"]), active))
        return out


@dataclass(slots=True)
class _Item:
    finding: Finding
    incident: str | None
    count: int


Sleep = Callable[[float], Awaitable[Any]]


class Automation:
    """Runs the configured policies over findings; one worker per policy keeps each
    policy's decisions in order (so its cap and history are never raced)."""

    def __init__(self, store: Store, cfg: IrconConfig, *, notifier: Notifier | None = None,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.store = store
        self.cfg = cfg
        self.policies: dict[str, PolicyConfig] = dict(cfg.policies)
        self.notifier = notifier
        self._sleep = sleep
        self.counters = {n: WindowCounter(p.when.window_seconds)
                         for n, p in self.policies.items()}
        self.stats: Counter[str] = Counter()
        self._queues: dict[str, asyncio.Queue[_Item | None]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._notes: set[asyncio.Task[Any]] = set()
        self._cache: dict[str, _Loaded] = {}
        self._allow_seen: dict[str, OrderedDict[str, float]] = {n: OrderedDict()
                                                                 for n in self.policies}
        self._opened: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._expiry = {n: expiry_seconds(p.expire_after) for n, p in self.policies.items()}

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        for name in self.policies:
            q: asyncio.Queue[_Item | None] = asyncio.Queue()
            self._queues[name] = q
            self._workers.append(asyncio.create_task(self._worker(name, q),
                                                     name=f"policy-{name}"))

    async def stop(self, grace: float = 10.0) -> None:
        """Finish what is queued within ``grace`` seconds, then stop."""
        for q in self._queues.values():
            q.put_nowait(None)
        if self._workers:
            _, pending = await asyncio.wait(self._workers, timeout=grace)
            for t in pending:
                t.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        if self._notes:
            await asyncio.wait(list(self._notes), timeout=max(grace, 1.0))
            for t in list(self._notes):
                t.cancel()

    async def idle(self) -> None:
        """Wait until every queued finding has been handled (tests, replays)."""
        for q in self._queues.values():
            await q.join()
        while self._notes:
            await asyncio.gather(*list(self._notes), return_exceptions=True)

    # -- intake ------------------------------------------------------------------------
    def submit(self, findings: list[Finding], incidents: dict[tuple[str, str], str | None]
               ) -> int:
        """Queue findings that reach a policy's count; returns how many were queued.
        ``incidents``: the incident each finding's alert landed in (see ``incident_map``)."""
        from ircon.triage.findings import fingerprint_of, source_of

        queued = 0
        for f in findings:
            for name, p in self.policies.items():
                if not matches(p.when, f):
                    continue
                value = scope_value(p.when, f)
                if value is None:
                    continue
                ts = f.ts if f.ts > 0 else time.time()
                count = self.counters[name].add(value, ts)
                if count < p.when.min_count:
                    self.stats["below count"] += 1
                    continue
                hid = incidents.get((source_of(f), fingerprint_of(f)))
                q = self._queues.get(name)
                if q is not None:
                    q.put_nowait(_Item(f, hid, count))
                    queued += 1
        return queued

    async def _worker(self, name: str, q: asyncio.Queue[_Item | None]) -> None:
        while True:
            item = await q.get()
            try:
                if item is None:
                    return
                await self._handle(name, self.policies[name], item)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad finding must not stop the policy
                log.exception("policy %s failed on a finding", name)
                self.stats["errors"] += 1
            finally:
                q.task_done()

    # -- reading state -----------------------------------------------------------------
    def _load(self, name: str, *, fresh: bool = False) -> _Loaded:
        now = time.monotonic()
        c = self._cache.get(name)
        if c is not None and not fresh and now - c.at < STATE_TTL:
            return c
        with self.store.read() as conn:
            paused = _get(conn, PAUSE_KEY)
            state = _get(conn, STATE_PREFIX + name) or {}
            runs = [int(e["run"]) for e in state.get("recent", [])
                    if e.get("run") and e.get("status") in ACTIVE]
            status: dict[int, str] = {}
            for i in range(0, len(runs), 900):
                for r in conn.execute(select(_R.c.id, _R.c.status)
                                      .where(_R.c.id.in_(runs[i:i + 900]))):
                    status[int(r.id)] = str(r.status)
        c = self._cache[name] = _Loaded(now, paused, state, status)
        return c

    def _paused_now(self) -> bool:
        with self.store.read() as conn:
            return _get(conn, PAUSE_KEY) is not None

    def _record(self, name: str, entry: dict[str, Any] | None = None, *,
                update: tuple[str, dict[str, Any]] | None = None) -> None:
        """Append a history entry, or update the one with ``update[0]`` as its id."""
        now = time.time()
        keep = max(HOUR, max((v for v in self._expiry.values() if v is not None), default=0))
        with self.store.write() as conn:
            st = _get(conn, STATE_PREFIX + name) or {}
            recent = [e for e in st.get("recent", [])
                      if e["at"] > now - keep - 60 or e.get("status") in ("running",)
                      or (e.get("until") is None and e.get("status") == "succeeded")]
            if entry is not None:
                recent.append(entry)
            if update is not None:
                for e in recent:
                    if e.get("id") == update[0]:
                        e.update(update[1])
            st["recent"] = recent[-MAX_RECENT:]
            _put(conn, STATE_PREFIX + name, st)
        self._cache.pop(name, None)

    # -- one finding -------------------------------------------------------------------
    async def _handle(self, name: str, p: PolicyConfig, item: _Item) -> None:
        f = item.finding
        loaded = await asyncio.to_thread(self._load, name)
        now = time.time()
        d = decide(name, p, f, count=item.count,
                   history=loaded.history(now, p.when.window_seconds), now=now,
                   paused=loaded.paused is not None, stopped=bool(loaded.state.get("stopped")))
        self.stats[d.verdict if d.verdict != "skip" else d.reason] += 1
        if d.verdict == "skip":
            await self._skipped(name, p, item, d)
            return
        hid = await self._incident_for(name, item)
        if d.verdict == "shadow":
            await asyncio.to_thread(self._shadow, name, p, f, hid, d)
        else:
            await self._enforce(name, p, f, hid, d)

    async def _skipped(self, name: str, p: PolicyConfig, item: _Item, d: Decision) -> None:
        f = item.finding
        if d.reason == ALLOWLISTED:
            sid = scope_id(d.scope, d.value or "")
            seen = self._allow_seen[name]
            last = seen.get(sid)
            now = time.time()
            if last is not None and now - last < p.when.window_seconds:
                return  # journaled a moment ago; a burst is one skip
            seen[sid] = now
            seen.move_to_end(sid)
            while len(seen) > 10_000:
                seen.popitem(last=False)
            hid = await self._incident_for(name, item)
            await asyncio.to_thread(self._journal, hid, name, {
                "event": "skipped", "reason": d.reason, "detail": d.detail,
                **self._about(p, f, d)})
            event(log, logging.INFO, "policy skipped an allowlisted target", policy=name,
                  incident=hid, scope=d.scope, value=mask(d.scope, d.value or ""))
        elif d.reason == BAD_PARAMS:
            hid = await self._incident_for(name, item)
            await asyncio.to_thread(self._journal, hid, name, {
                "event": "skipped", "reason": d.reason, "detail": d.detail,
                **self._about(p, f, d)})
            event(log, logging.WARNING, "policy could not fill its parameters", policy=name,
                  incident=hid, detail=d.detail)
        elif d.reason == CAP:
            await self._cap_reached(name, p, item, d)
        elif d.reason in (PAUSED, STOPPED):
            event(log, logging.DEBUG, "policy held back", policy=name, reason=d.reason)

    def _about(self, p: PolicyConfig, f: Finding, d: Decision) -> dict[str, Any]:
        return {"policy": d.policy, "mode": p.mode, "scope": d.scope,
                "value": mask(d.scope, d.value) if d.value else None,
                "detector": f.detector, "rule_id": f.rule_id, "score": round(f.score, 4),
                "count": d.count, "adapter": p.then.adapter, "action": p.then.action}

    def _journal(self, hid: str, name: str, body: dict[str, Any],
                 apply: Callable[[Connection, int], None] | None = None) -> None:
        journal.append(self.store, hid, kinds.POLICY, body, actor=actor_of(name), apply=apply)

    async def _incident_for(self, name: str, item: _Item) -> str:
        if item.incident:
            return item.incident
        from ircon.triage.findings import fingerprint_of, source_of

        # One incident per alert that had none, however many of its findings act.
        key = (source_of(item.finding), fingerprint_of(item.finding))
        hid = self._opened.get(key)
        if hid is None:
            hid = self._opened[key] = await asyncio.to_thread(self._open_incident, name,
                                                              item.finding)
            while len(self._opened) > 10_000:
                self._opened.popitem(last=False)
        return hid

    def _open_incident(self, name: str, f: Finding) -> str:
        """Findings below the incident threshold open none; an automated action needs one
        to be journaled on."""
        from ircon.model.severity import SEVERITIES
        from ircon.store import incidents

        sev = f.severity_hint if f.severity_hint in SEVERITIES else "SEV3"
        inc = incidents.create(
            self.store, f"Automated containment ({name}): {one_line(f.title, 150)}",
            severity=sev, kind=f.detector[:60], actor=actor_of(name),
            reasons=[f"policy {name} matched {f.rule_id}"])
        return str(inc["id"])

    # -- shadow ------------------------------------------------------------------------
    def _shadow(self, name: str, p: PolicyConfig, f: Finding, hid: str, d: Decision) -> None:
        from ircon.adapters.runner import ActionInputError, run_action

        about = self._about(p, f, d)
        try:
            out = run_action(self.store, self.cfg, p.then.adapter, p.then.action, d.params,
                             incident=hid, actor=actor_of(name), dry_run=True, policy=name)
        except ActionInputError as exc:
            self._journal(hid, name, {"event": "skipped", "reason": BAD_PARAMS,
                                      "detail": one_line(str(exc), 500), **about})
            return
        exp = self._expiry[name]
        self._record(name, {"id": f"r{out.run_id}", "at": time.time(),
                            "scope": scope_id(d.scope, d.value or ""), "mode": "shadow",
                            "run": None, "status": "shadow",
                            "until": time.time() + exp if exp else None})
        would = one_line(out.summary.removeprefix("planned: "), 500)
        self._journal(hid, name, {"event": "shadow", "run_id": out.run_id, "would": would,
                                  **about})
        event(log, logging.INFO, "policy in shadow mode: would act", policy=name, incident=hid,
              action=f"{p.then.adapter} {p.then.action}", summary=out.summary)

    # -- enforce -----------------------------------------------------------------------
    async def _enforce(self, name: str, p: PolicyConfig, f: Finding, hid: str,
                       d: Decision) -> None:
        from ircon.adapters.runner import ActionInputError, run_action

        about = self._about(p, f, d)
        sid = scope_id(d.scope, d.value or "")
        entry_id = f"e{time.time_ns()}"
        await asyncio.to_thread(self._record, name, {
            "id": entry_id, "at": time.time(), "scope": sid, "mode": "enforce", "run": None,
            "status": "running", "until": None})
        attempts = 1 + p.retries
        delay = p.retry_backoff_seconds
        errors: list[str] = []
        runs: list[int] = []
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                await self._sleep(delay)
                delay *= 2
            # The kill switch is read again right before every call.
            if await asyncio.to_thread(self._paused_now):
                await asyncio.to_thread(self._record, name, update=(entry_id, {
                    "status": "aborted"}))
                await asyncio.to_thread(self._journal, hid, name, {
                    "event": "aborted", "reason": "automated containment was paused",
                    "attempts": attempt - 1, "runs": runs, **about})
                event(log, logging.WARNING, "policy action aborted: paused", policy=name,
                      incident=hid)
                return
            try:
                out = await asyncio.to_thread(
                    run_action, self.store, self.cfg, p.then.adapter, p.then.action, d.params,
                    incident=hid, actor=actor_of(name), policy=name)
            except ActionInputError as exc:
                # Refused before anything was sent (bad value, two-person rule): a person
                # has to decide; retrying cannot help.
                msg = one_line(str(exc), 500)
                await asyncio.to_thread(self._record, name, update=(entry_id, {
                    "status": "failed"}))
                await asyncio.to_thread(self._journal, hid, name, {
                    "event": "failed", "reason": "refused", "error": msg, "attempts": attempt,
                    "runs": runs, **about})
                self._escalate(hid, name, p, "failed", f"Automated containment refused: {msg}",
                               about)
                return
            if out.run_id is not None:
                runs.append(out.run_id)
            if out.ok:
                await asyncio.to_thread(self._succeeded, name, hid, entry_id, out.run_id,
                                        about, attempt, out.summary)
                exp = self._expiry[name]
                until = f" until {(utcnow() + timedelta(seconds=exp)).isoformat()}" if exp \
                    else ""
                self._escalate(hid, name, p, f"acted:{out.run_id}",
                               f"Automated containment by policy {name}: {out.summary}{until}."
                               f" Confirm to keep it: ircon policies confirm {out.run_id}; "
                               f"undo: ircon act {p.then.adapter} --undo {out.run_id}", about)
                event(log, logging.WARNING, "policy acted", policy=name, incident=hid,
                      run=out.run_id, summary=out.summary, attempt=attempt)
                return
            errors.append(one_line(out.error or out.summary or "failed", 300))
            event(log, logging.WARNING, "policy action failed", policy=name, incident=hid,
                  run=out.run_id, attempt=attempt, error=errors[-1])
        await asyncio.to_thread(self._record, name, update=(entry_id, {"status": "failed"}))
        await asyncio.to_thread(self._journal, hid, name, {
            "event": "failed", "reason": "the action failed on every attempt",
            "attempts": attempts, "runs": runs, "errors": errors, **about})
        self._escalate(hid, name, p, "failed",
                       f"Automated containment FAILED after {attempts} attempt(s) "
                       f"({p.then.adapter} {p.then.action}): {errors[-1] if errors else ''}. "
                       "Nothing was contained: a responder must act.", about)

    def _succeeded(self, name: str, hid: str, entry_id: str, run_id: int | None,
                   about: dict[str, Any], attempt: int, summary: str) -> None:
        exp = self._expiry[name]
        until = utcnow() + timedelta(seconds=exp) if exp else None

        def apply(conn: Connection, _iid: int) -> None:
            conn.execute(_R.update().where(_R.c.id == run_id).values(expires_at=until))

        self._journal(hid, name, {
            "event": "acted", "run_id": run_id, "attempt": attempt, "summary": summary,
            "expires_at": until.isoformat() if until else None, **about}, apply=apply)
        self._record(name, update=(entry_id, {
            "status": "succeeded", "run": run_id,
            "until": until.timestamp() if until else None}))

    # -- the cap -----------------------------------------------------------------------
    async def _cap_reached(self, name: str, p: PolicyConfig, item: _Item, d: Decision) -> None:
        reason = (f"policy {name} reached its cap of {p.cap_per_hour} automated actions per "
                  "hour and stopped; further matches are left to responders "
                  f"(resume with: ircon policies resume {name})")

        def stop() -> bool:
            with self.store.write() as conn:
                st = _get(conn, STATE_PREFIX + name) or {}
                if st.get("stopped"):
                    return False
                st.update(stopped=True, stopped_at=utcnow().isoformat(), reason=reason)
                _put(conn, STATE_PREFIX + name, st)
            self._cache.pop(name, None)
            return True

        if not await asyncio.to_thread(stop):
            return
        hid = await self._incident_for(name, item)
        about = self._about(p, item.finding, d)
        await asyncio.to_thread(self._journal, hid, name, {
            "event": "stopped", "reason": reason, "cap_per_hour": p.cap_per_hour,
            "detail": d.detail, **about})
        event(log, logging.ERROR, "policy stopped at its cap", policy=name, incident=hid,
              cap=p.cap_per_hour)
        self._escalate(hid, name, p, "stopped", reason, about)

    # -- expiry ------------------------------------------------------------------------
    def due(self, now: datetime | None = None) -> list[tuple[int, str, str | None]]:
        """Automated actions in force whose expiry has passed: (run, policy, incident)."""
        now = now or utcnow()
        with self.store.read() as conn:
            rows = conn.execute(
                select(_R.c.id, _R.c.policy, _I.c.human_id)
                .select_from(_R.outerjoin(_I, _I.c.id == _R.c.incident_id))
                .where(_R.c.policy.is_not(None), _R.c.status == "succeeded",
                       _R.c.dry_run.is_(False), _R.c.expires_at.is_not(None),
                       _R.c.expires_at <= now)
                .order_by(_R.c.expires_at).limit(100)
            ).all()
        return [(int(r[0]), str(r[1]), r[2]) for r in rows]

    async def tick(self) -> int:
        """Undo what expired; returns how many were handled."""
        rows = await asyncio.to_thread(self.due)
        for run_id, name, hid in rows:
            await self._expire(run_id, name, hid)
        return len(rows)

    async def _expire(self, run_id: int, name: str, hid: str | None) -> None:
        from ircon.adapters.runner import ActionInputError, undo_action

        try:
            out = await asyncio.to_thread(undo_action, self.store, self.cfg, run_id,
                                          actor=actor_of(name))
            ok, err, summary = out.ok, out.error, out.summary
        except ActionInputError as exc:
            ok, err, summary = False, one_line(str(exc), 500), ""
        p = self.policies.get(name)
        about = {"policy": name, "run_id": run_id}
        if ok:
            def clear(conn: Connection, _iid: int) -> None:
                conn.execute(_R.update().where(_R.c.id == run_id).values(expires_at=None))

            if hid:
                await asyncio.to_thread(self._journal, hid, name, {
                    "event": "expired", "undone": True, "summary": summary, **about}, clear)
            self._mark_undone(name, run_id)
            event(log, logging.WARNING, "automated action expired and was undone", policy=name,
                  run=run_id, incident=hid)
            if hid and p is not None:
                self._escalate(hid, name, p, f"expired:{run_id}",
                               f"Automated containment by policy {name} (run {run_id}) expired "
                               f"without confirmation and was undone: {summary}", about)
            return
        retry_at = utcnow() + timedelta(seconds=UNDO_RETRY_SECONDS)

        def later(conn: Connection, _iid: int) -> None:
            conn.execute(_R.update().where(_R.c.id == run_id).values(expires_at=retry_at))

        if hid:
            await asyncio.to_thread(self._journal, hid, name, {
                "event": "undo-failed", "error": err, "retry_at": retry_at.isoformat(),
                **about}, later)
        else:
            def bare() -> None:
                with self.store.write() as conn:
                    later(conn, 0)

            await asyncio.to_thread(bare)
        event(log, logging.ERROR, "automatic undo at expiry failed", policy=name, run=run_id,
              error=err)
        if hid and p is not None:
            self._escalate(hid, name, p, f"undo-failed:{run_id}",
                           f"Automatic undo of run {run_id} (policy {name}) failed: {err}. "
                           f"It is retried in {UNDO_RETRY_SECONDS:g} s; a responder may "
                           "undo it by hand.", about)

    def _mark_undone(self, name: str, run_id: int) -> None:
        try:
            with self.store.write() as conn:
                st = _get(conn, STATE_PREFIX + name)
                if not st:
                    return
                for e in st.get("recent", []):
                    if e.get("run") == run_id:
                        e["status"] = "undone"
                _put(conn, STATE_PREFIX + name, st)
        finally:
            self._cache.pop(name, None)

    # -- notifying the on-call ---------------------------------------------------------
    def _escalate(self, hid: str, name: str, p: PolicyConfig, what: str, text: str,
                  about: dict[str, Any]) -> None:
        """Tell the on-call (in the background: a slow target never holds up the policy)."""
        t = asyncio.ensure_future(self._notify(hid, name, p, what, text, about))
        self._notes.add(t)
        t.add_done_callback(self._notes.discard)

    async def _notify(self, hid: str, name: str, p: PolicyConfig, what: str, text: str,
                      about: dict[str, Any]) -> None:
        from ircon.escalation.ladder import first_level_targets
        from ircon.escalation.notify import AppriseNotifier, Outcome, RetryPolicy, deliver, scheme
        from ircon.escalation.roster import recipients
        from ircon.secrets import SecretError, resolve
        from ircon.store import incidents

        esc = self.cfg.escalation
        key = f"policy:{name}:{what}"
        try:
            inc = await asyncio.to_thread(incidents.get, self.store, hid)
        except Exception:  # the notification still goes out without it
            inc = {"severity": "SEV2", "title": ""}
        sev = str(inc.get("severity") or "SEV2")
        targets = tuple(p.notify) or first_level_targets(esc, sev)
        subject = f"[{hid} {sev}] ircon policy {name}: {what.split(':')[0]}"
        body = "\n".join([
            f"Incident: {hid}", f"Severity: {sev}",
            f"Title: {one_line(str(inc.get('title') or ''), 300)}",
            f"Policy: {name} ({p.mode})",
            f"Target: {about.get('scope', '-')} {about.get('value') or ''}".rstrip(),
            one_line(text, 1000), f"Ref: {key}"])
        notifier = self.notifier or AppriseNotifier(esc.send_timeout_seconds)
        retry = RetryPolicy(esc.send_attempts, esc.retry_backoff_seconds)
        outcomes: list[Outcome] = []
        recips = recipients(esc, targets, commander=inc.get("commander"), at=utcnow())
        if not recips:
            outcomes.append(Outcome("-", "-", "-", False, 0,
                                    f"no one to notify: set policies.{name}.notify or an "
                                    f"escalation policy for {sev}"))
        for r in recips:
            if r.problem or not r.refs:
                outcomes.append(Outcome(r.spec, r.who, r.who, False, 0,
                                        r.problem or "no targets"))
                continue
            for n, ref in enumerate(r.refs, 1):
                via = f"{r.who}#{n}"
                t0 = time.monotonic()
                try:
                    url = await asyncio.to_thread(resolve, ref)
                except SecretError as exc:
                    outcomes.append(Outcome(r.spec, r.who, f"{via} ({ref})", False, 0, str(exc)))
                    continue
                ok, attempts, err = await deliver(notifier, url, subject, body, retry)
                outcomes.append(Outcome(r.spec, r.who, f"{via} ({scheme(url)})", ok, attempts,
                                        err, time.monotonic() - t0))
        for o in outcomes:
            if not o.ok:
                event(log, logging.WARNING, "policy notification failed", policy=name,
                      via=o.via, error=o.error)
            await asyncio.to_thread(journal.append, self.store, hid, kinds.NOTIFICATION,
                                    o.body(key), actor=actor_of(name))


def incident_map(store: Store, findings: list[Finding]) -> dict[tuple[str, str], str | None]:
    """(source, fingerprint) of each finding's alert -> the incident it is in."""
    from ircon.triage.findings import fingerprint_of, source_of

    keys = {(source_of(f), fingerprint_of(f)) for f in findings}
    out: dict[tuple[str, str], str | None] = dict.fromkeys(keys)
    by_source: dict[str, list[str]] = {}
    for s, fp in keys:
        by_source.setdefault(s, []).append(fp)
    with store.read() as conn:
        for s, fps in by_source.items():
            for i in range(0, len(fps), 900):
                rows = conn.execute(
                    select(_A.c.fingerprint, _I.c.human_id)
                    .select_from(_A.outerjoin(_I, _I.c.id == _A.c.incident_id))
                    .where(_A.c.source == s, _A.c.fingerprint.in_(fps[i:i + 900])))
                for r in rows:
                    out[(s, str(r[0]))] = r[1]
    return out
