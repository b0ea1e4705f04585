"""Escalation I/O: the service the console and `ircon watch` run, and responder actions.

Decisions are pure (``ladder``, ``clocks``, ``roster``); this module reads the
journal, claims firings, sends through the notifier and journals outcomes.
Sends run as background tasks so a slow or dead target never holds up the
next level of the ladder or another incident.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ircon.config import IrconConfig
from ircon.escalation import scheduler as sch
from ircon.escalation.clocks import clock_defs, clock_states, operational_clocks
from ircon.escalation.facts import DONE, Facts, fold
from ircon.escalation.ladder import Firing, evaluate, ladder_view, policy_chain
from ircon.escalation.notify import (
    AppriseNotifier,
    Message,
    Notifier,
    Outcome,
    RetryPolicy,
    deliver,
    scheme,
)
from ircon.escalation.roster import Recipient, recipients
from ircon.escalation.settings import EscalationConfig
from ircon.model import kinds
from ircon.secrets import SecretError, resolve
from ircon.store import journal
from ircon.store.db import Store
from ircon.store.engine import utcnow
from ircon.store.tables import Incident, JournalEntry

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from sqlalchemy import Engine

log = logging.getLogger("ircon.escalation")

_I = Incident.__table__  # type: ignore[attr-defined]
_J = JournalEntry.__table__  # type: ignore[attr-defined]


def _json(text: str) -> dict[str, Any]:
    import json

    try:
        b = json.loads(text)
    except ValueError:
        return {}
    return b if isinstance(b, dict) else {}


class EscalationInputError(ValueError):
    """A responder action that cannot be done; the message says why."""


def load_facts(store: Store, incident: str) -> tuple[Facts, int]:
    """Facts folded from the journal, and the entry count they reflect."""
    entries = journal.entries(store, incident)
    hid = entries[0].incident if entries else incident.upper()
    return fold(hid, entries), (entries[-1].seq if entries else 0)


def default_actor_for_engine() -> str:
    return f"ircon-escalation@{socket.gethostname()}"


class EscalationService:
    def __init__(
        self,
        store: Store,
        cfg: IrconConfig,
        *,
        clock: Callable[[], datetime] = utcnow,
        notifier: Notifier | None = None,
        actor: str | None = None,
        holder: str | None = None,
        use_scheduler: bool = True,
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.esc: EscalationConfig = cfg.escalation
        self.clock = clock
        self.notifier: Notifier = notifier or AppriseNotifier(self.esc.send_timeout_seconds)
        self.actor = actor or default_actor_for_engine()
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.retry = RetryPolicy(self.esc.send_attempts, self.esc.retry_backoff_seconds)
        self.use_scheduler = use_scheduler
        self.key = sch.store_key(store)
        self._sched: AsyncIOScheduler | None = None
        self._engine: Engine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self.sent: list[dict[str, Any]] = []  # claimed firings in this process (for callers)

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        sch.register(self.key, self)
        if self.use_scheduler and self.esc.enabled:
            self._engine = sch.job_engine(self.store)
            self._sched = sch.build(self.store, self._engine)
            # Jobs that fell due while no process ran are run once by the scheduler as it
            # starts; the sweep below covers incidents whose job never got written.
            self._sched.start()
            self._sched.add_job(
                self.sweep, trigger="interval", seconds=self.esc.tick_seconds,
                id="escalation-sweep", jobstore="local", replace_existing=True,
            )
        if self.esc.enabled:
            await self.resume_unsent()
            await self.sweep()

    async def stop(self) -> None:
        sch.unregister(self.key, self)
        if self._sched is not None:
            self._sched.shutdown(wait=False)
            self._sched = None
        if self._tasks:
            # Give in-flight sends a moment to finish and journal their outcome.
            await asyncio.wait(list(self._tasks), timeout=self.esc.send_timeout_seconds)
            for t in self._tasks:
                t.cancel()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    async def drain(self) -> None:
        """Wait until every send started so far has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def on_incident_changed(self, incident_id: str) -> None:
        """Re-evaluate soon (ack, severity change, clock started); safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def go() -> None:
            self._spawn(self.run_incident(incident_id, source="change"))

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            go()
        else:
            loop.call_soon_threadsafe(go)

    # -- evaluation --------------------------------------------------------------------
    async def sweep(self) -> list[dict[str, Any]]:
        """Check every incident that can still have something due against the wall clock."""
        ids = await asyncio.to_thread(self._live_incidents)
        out: list[dict[str, Any]] = []
        for hid in ids:
            out.extend(await self.run_incident(hid, source="sweep"))
        return out

    def _live_incidents(self) -> list[str]:
        with self.store.read() as conn:
            live = {str(r[0]) for r in conn.execute(
                select(_I.c.human_id).where(_I.c.status.not_in(DONE)))}
            with_clocks = {str(r[0]) for r in conn.execute(
                select(_I.c.human_id).where(
                    _I.c.id.in_(select(_J.c.incident_id).where(_J.c.kind == kinds.CLOCK)))
            )}
        return sorted(live | with_clocks)

    async def run_incident(self, incident: str, *, source: str = "call") -> list[dict[str, Any]]:
        """Send what is due for one incident now; schedule its next look."""
        if not self.esc.enabled:
            return []
        lock = self._locks.setdefault(incident.upper(), asyncio.Lock())
        async with lock:
            return await self._run_locked(incident)

    async def _run_locked(self, incident: str) -> list[dict[str, Any]]:
        fired: list[dict[str, Any]] = []
        next_at: datetime | None = None
        for _ in range(5):
            facts, count = await asyncio.to_thread(load_facts, self.store, incident)
            now = self.clock()
            ev = evaluate(self.esc, facts, now)
            next_at = ev.next_at
            try:
                for firing in ev.due:
                    got = await asyncio.to_thread(
                        sch.claim, self.store, facts.incident, count, firing, holder=self.holder,
                        actor=self.actor, now=now, late_after=self.esc.late_after_seconds,
                    )
                    if got is None:
                        continue
                    count = got.seq
                    fired.append(got.body)
                    self.sent.append(got.body)
                    self._spawn(self._send(facts, firing, got.head_hash, bool(got.body["late"])))
            except sch.Stale:
                continue  # the journal moved (an ack?): decide again from scratch
            break
        if self._sched is not None:
            sch.schedule(self._sched, self.key, facts.incident, next_at)
        return fired

    def send_grace(self) -> timedelta:
        """The longest one firing's sends can take, retries included."""
        n = self.esc.send_attempts
        return timedelta(seconds=n * self.esc.send_timeout_seconds
                         + self.esc.retry_backoff_seconds * (2 ** n) + 60)

    async def resume_unsent(self, within: timedelta = timedelta(days=1)) -> list[str]:
        """Send firings that were claimed but never got an outcome (the process that claimed
        them died mid-send). Each is resent once, under its own claim, marked as resent."""
        now = self.clock()
        ids = await asyncio.to_thread(self._live_incidents)
        resent: list[str] = []
        mine = {b["key"] for b in self.sent}
        for hid in ids:
            entries = await asyncio.to_thread(journal.entries, self.store, hid)
            answered = set()
            claimed: list[tuple[datetime, dict[str, Any]]] = []
            for e in entries:
                b = _json(e.body)
                if e.kind == kinds.NOTIFICATION:
                    answered.add(b.get("firing"))
                elif e.kind == kinds.ESCALATION and isinstance(b.get("key"), str):
                    # The claimer's clock, as recorded in the body (the entry's own stamp
                    # is the wall clock, which differs when the clock is injected).
                    at = b.get("claimed_at") or e.ts
                    claimed.append((datetime.fromisoformat(at.replace("Z", "+00:00")), b))
            facts = fold(hid, entries)
            for ts, b in claimed:
                key = b["key"]
                if key in answered or key in mine or b.get("resend") or not (
                        now - within <= ts <= now - self.send_grace()):
                    continue
                firing = Firing(key + "#resend", ts, str(b.get("what", "level")),
                                tuple(b.get("targets") or ()), str(b.get("ask", "")))
                try:
                    got = await asyncio.to_thread(
                        sch.claim, self.store, hid, entries[-1].seq, firing, holder=self.holder,
                        actor=self.actor, now=now, late_after=0, extra={"resend": key})
                except sch.Stale:
                    break  # the journal moved; the next start looks again
                if got is None:
                    continue
                resent.append(key)
                # Outcomes are journaled under the original key: that answers it.
                self._spawn(self._send(facts, Firing(key, ts, firing.what, firing.targets,
                                                     firing.ask), got.head_hash, True))
                entries = await asyncio.to_thread(journal.entries, self.store, hid)
        return resent

    def _spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._done)

    def _done(self, t: asyncio.Task[Any]) -> None:
        self._tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("escalation task failed: %r", t.exception())

    # -- sending -----------------------------------------------------------------------
    async def _send(self, facts: Facts, firing: Firing, head_hash: str, late: bool) -> None:
        msg = Message(facts.incident, facts.severity, facts.title, firing.ask, head_hash,
                      firing.key, late)
        recips = recipients(self.esc, firing.targets, commander=facts.commander,
                            at=self.clock())
        jobs = []
        for r in recips:
            if r.problem or not r.refs:
                jobs.append(self._record(facts.incident, firing.key, Outcome(
                    r.spec, r.who, r.who, False, 0, r.problem or "no targets")))
                continue
            for n, ref in enumerate(r.refs, 1):
                jobs.append(self._send_one(facts.incident, firing.key, r, n, ref, msg))
        if not recips:
            jobs.append(self._record(facts.incident, firing.key, Outcome(
                "-", "-", "-", False, 0, "this firing has no targets")))
        await asyncio.gather(*jobs)

    async def _send_one(self, incident: str, key: str, r: Recipient, n: int, ref: str,
                        msg: Message) -> None:
        via = f"{r.who}#{n}"
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        try:
            url = await asyncio.to_thread(resolve, ref)
        except SecretError as exc:
            # The reference (not the value) may be shown: it names where the secret lives.
            await self._record(incident, key, Outcome(r.spec, r.who, f"{via} ({ref})", False, 0,
                                                      str(exc)))
            return
        ok, attempts, err = await deliver(self.notifier, url, msg.subject, msg.text, self.retry)
        await self._record(incident, key, Outcome(r.spec, r.who, f"{via} ({scheme(url)})", ok,
                                                  attempts, err, loop.time() - t0))

    async def _record(self, incident: str, key: str, outcome: Outcome) -> None:
        if not outcome.ok:
            log.warning("notification for %s via %s failed: %s", key, outcome.via, outcome.error)
        await asyncio.to_thread(
            journal.append, self.store, incident, kinds.NOTIFICATION, outcome.body(key),
            actor=self.actor,
        )


# -- responder actions (CLI, console, playbooks) ---------------------------------------------
def acknowledge(store: Store, incident: str, *, actor: str) -> None:
    """Journal the acknowledgement; the ladder stops at its next look."""
    from ircon.store import incidents

    inc = incidents.get(store, incident)
    if inc["status"] != "open":
        raise EscalationInputError(
            f"{inc['human_id']} is already {inc['status']}: nothing to acknowledge")
    incidents.set_status(store, incident, "acknowledged", f"acknowledged by {actor}",
                         actor=actor)


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise EscalationInputError("give the awareness time with its zone, e.g. "
                                   "2026-03-01T09:30+01:00 or ...Z for UTC")
    return dt.astimezone(UTC)


def start_clock(
    store: Store, incident: str, clock: str, *, awareness: datetime | None, actor: str,
    reason: str, cfg: EscalationConfig | None = None,
) -> dict[str, Any]:
    """Start a clock at the awareness time, or move a running clock's awareness time.

    Both are journaled with the reason; the deadline follows from the clock's length.
    """
    defs = clock_defs(cfg or EscalationConfig())
    d = defs.get(clock)
    if d is None:
        raise EscalationInputError(
            f"unknown clock {clock!r}; known: {', '.join(sorted(defs))} "
            "(extra clocks are configured under [escalation.clocks])")
    if not reason.strip():
        raise EscalationInputError("say why (a reason is journaled with the awareness time)")
    now = utcnow()
    aw = _aware(awareness) if awareness is not None else now
    if aw > now + timedelta(minutes=5):
        raise EscalationInputError("the awareness time is in the future")
    facts, _ = load_facts(store, incident)
    run = facts.clocks.get(clock)
    if run is not None and run.met_at is not None:
        raise EscalationInputError(f"clock {clock} was already met (reference "
                                   f"{run.reference!r}); it cannot be restarted")
    body = {
        "action": "start", "clock": clock, "awareness": aw.isoformat(),
        "deadline": (aw + d.duration).isoformat(), "hours": d.duration.total_seconds() / 3600,
        "basis": d.basis, "title": d.title, "reason": reason,
        "edit": run is not None,
    }
    if run is not None:
        body["previous_awareness"] = run.awareness.isoformat()
    journal.append(store, incident, kinds.CLOCK, body, actor=actor)
    return body


def mark_clock_met(store: Store, incident: str, clock: str, *, reference: str,
                   actor: str) -> None:
    """Record that the report was filed (with its reference); the clock stops."""
    if not reference.strip():
        raise EscalationInputError("give the filing's reference (case number, receipt id)")
    facts, _ = load_facts(store, incident)
    run = facts.clocks.get(clock)
    if run is None:
        raise EscalationInputError(f"clock {clock} was never started on {facts.incident}")
    if run.met_at is not None:
        raise EscalationInputError(f"clock {clock} was already met ({run.reference})")
    journal.append(store, incident, kinds.CLOCK,
                   {"action": "met", "clock": clock, "reference": reference}, actor=actor)


def escalation_state(store: Store, cfg: IrconConfig, incident: str,
                     now: datetime) -> dict[str, Any]:
    """Ladder levels, next firing, clocks with deadlines and states, notification failures."""
    esc = cfg.escalation
    entries = journal.entries(store, incident)
    facts = fold(entries[0].incident if entries else incident.upper(), entries)
    ev = evaluate(esc, facts, now)
    chain = policy_chain(esc, facts.severity)
    notes = [e for e in entries if e.kind == kinds.NOTIFICATION]
    import json

    failed = []
    ok = 0
    for e in notes:
        b = json.loads(e.body)
        if b.get("ok"):
            ok += 1
        else:
            failed.append({"ts": e.ts, "firing": b.get("firing"), "via": b.get("via"),
                           "error": b.get("error"), "attempts": b.get("attempts")})
    return {
        "enabled": esc.enabled,
        "severity": facts.severity,
        "policy": chain[0][0] if chain else None,
        "acknowledged_at": facts.acked_at.isoformat() if facts.acked_at else None,
        "stopped": facts.stopped,
        "levels": ladder_view(esc, facts, now),
        "overdue": [{"key": f.key, "what": f.what, "due": f.due.isoformat()} for f in ev.due],
        "next_firing": ev.next_at.isoformat() if ev.next_at else None,
        "clocks": [c.to_dict() for c in clock_states(esc, facts, now)],
        "operational": [c.to_dict() for c in operational_clocks(esc, facts, now)],
        "notifications": {"sent": ok, "failed": failed[-20:], "failed_total": len(failed)},
    }
