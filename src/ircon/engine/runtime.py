"""The always-on engine: sources, telemetry -> detectors -> triage, escalation, policies.

    engine = Engine(cfg, store, actor="ircon-engine@host")
    await engine.run(stop)          # stop: an asyncio.Event; returns once shut down

It works only while it holds the database's leader lease (``engine.lease``);
otherwise it waits in standby and tries again, so a second ``ircon watch`` or
a console opened beside a running engine never duplicates work, and takes
over within one lease period when the leader dies. On stop it lets the
current pull, transaction and queued policy work finish (within
``engine.shutdown_grace_seconds``), then releases the lease.

``ircon watch`` runs it headless; the console and the demo run it in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ircon.engine import lease
from ircon.engine.logs import event
from ircon.store import positions

if TYPE_CHECKING:
    from ircon.config import IrconConfig
    from ircon.detect.pipeline import DetectorSet
    from ircon.engine.automation import Automation
    from ircon.escalation.notify import Notifier
    from ircon.escalation.service import EscalationService
    from ircon.model.finding import Finding
    from ircon.model.telemetry import TelemetryEvent
    from ircon.sources.base import SourceHealth
    from ircon.sources.telemetry import TelemetrySource
    from ircon.store.db import Store

log = logging.getLogger("ircon.engine")

ENGINE_ACTOR = "ircon-engine"  # the journal's actor for what the engine records itself
MAX_EVENTS_PER_BATCH = 5000  # bounded work between two checks of the stop flag


class EngineFailed(RuntimeError):
    """A part of the engine died; it stopped cleanly (lease released) and says why."""


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True when ``stop`` was set meanwhile."""
    if stop.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max(0.0, seconds))
    return stop.is_set()


class Engine:
    """One engine run against one database."""

    def __init__(
        self,
        cfg: IrconConfig,
        store: Store,
        *,
        actor: str,
        notifier: Notifier | None = None,
        follow_interval: float | None = None,
        lease_seconds: float | None = None,
        holder: str | None = None,
        base_dir: Path | None = None,
        escalation: bool = True,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.actor = actor
        self.notifier = notifier
        ec = cfg.engine
        self.follow_interval = follow_interval or ec.follow_interval
        self.lease_seconds = lease_seconds or ec.lease_seconds
        self.holder = holder or lease.new_holder()
        self.base_dir = base_dir
        self.with_escalation = escalation
        self.state = "starting"  # starting, standby, leader, stopping, stopped
        self.leader: lease.LeaseInfo | None = None
        self.detectors: DetectorSet | None = None
        self.automation: Automation | None = None
        self.escalation: EscalationService | None = None
        self.telemetry: list[TelemetrySource] = []
        self.poller: Any = None
        self.counts: dict[str, int] = {"events": 0, "skipped": 0, "findings": 0,
                                       "incidents_opened": 0, "batches": 0}
        self._lost = False
        self._saved: dict[str, dict[str, positions.Position]] = {}  # last kept checkpoints
        self._stop: asyncio.Event | None = None
        self.failure: str | None = None

    # -- status ------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What the console and ``ircon watch`` show about this engine."""
        out: dict[str, Any] = {"state": self.state, "holder": self.holder,
                               "leader": self.leader.to_dict() if self.leader else None,
                               "counts": dict(self.counts)}
        if self.automation is not None:
            out["policies"] = dict(self.automation.stats)
        health: dict[str, Any] = {}
        for t in self.telemetry:
            health[t.name] = {"healthy": t.health.healthy, "error": t.health.last_error}
        if self.poller is not None:
            for n, h in self.poller.health().items():
                health[n] = {"healthy": h.healthy, "error": h.last_error}
        out["sources"] = health
        return out

    def health(self) -> dict[str, SourceHealth]:
        """Source name -> health, like ``Poller.health`` (the console's source list)."""
        out: dict[str, SourceHealth] = {t.name: t.health for t in self.telemetry}
        if self.poller is not None:
            out.update(self.poller.health())
        return out

    def stop(self) -> None:
        """Ask a running engine to shut down (safe to call from the engine's loop)."""
        if self._stop is not None:
            self._stop.set()

    # -- the outer loop: leader or standby ---------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Work the database while holding the lease, standby otherwise, until ``stop``
        is set (or ``stop()`` is called)."""
        stop = stop or asyncio.Event()
        self._stop = stop
        retry = min(1.0, self.lease_seconds / 4)
        shown_standby: str | None = None
        try:
            while not stop.is_set():
                try:
                    got = await asyncio.to_thread(lease.acquire, self.store, self.holder,
                                                  self.lease_seconds)
                except Exception as exc:  # the database is busy or gone: try again
                    event(log, logging.WARNING, "could not read the lease", error=str(exc))
                    got = None
                if got is None:
                    self.state = "standby"
                    self.leader = await asyncio.to_thread(lease.holder, self.store)
                    who = self.leader.holder if self.leader else "?"
                    if shown_standby != who:
                        event(log, logging.INFO, "standby: another engine holds the lease",
                              leader=who, holder=self.holder)
                        shown_standby = who
                    await _wait(stop, retry)
                    continue
                shown_standby = None
                self.leader = got
                self.state = "leader"
                event(log, logging.INFO, "leader: this engine works the database",
                      holder=self.holder, lease_seconds=self.lease_seconds)
                await self._lead(stop)
                if self.failure is not None:
                    raise EngineFailed(self.failure)
                if not self._lost:
                    break
                self._lost = False
        finally:
            self.state = "stopped"
            with contextlib.suppress(Exception):
                if await asyncio.to_thread(lease.release, self.store, self.holder):
                    event(log, logging.INFO, "lease released", holder=self.holder)

    # -- leading -----------------------------------------------------------------------
    async def _lead(self, stop: asyncio.Event) -> None:
        inner = asyncio.Event()
        # The lease is renewed from before the parts start until after they have
        # stopped: building the detectors or a shutdown's grace can outlast the
        # lease, and a standby must not take over while this engine still works.
        parts_stopped = asyncio.Event()
        renewer = asyncio.create_task(self._renew(inner, parts_stopped), name="lease")
        try:
            await self._work(stop, inner, renewer)
        finally:
            parts_stopped.set()
            await asyncio.gather(renewer, return_exceptions=True)

    async def _work(self, stop: asyncio.Event, inner: asyncio.Event,
                    renewer: asyncio.Task[None]) -> None:
        try:
            await self._start_parts()
        except Exception as exc:  # e.g. an unreadable rule pack: stop cleanly, say why
            log.error("engine could not start", exc_info=exc)
            self.failure = f"start: {type(exc).__name__}: {exc}"
            await self._stop_parts(0)
            return
        tasks = [
            asyncio.create_task(self._follow(inner), name="telemetry"),
            asyncio.create_task(self._ticks(inner), name="expiry"),
        ]
        if self.poller is not None:
            tasks.append(asyncio.create_task(self.poller.run(inner), name="poller"))
        stopper = asyncio.create_task(stop.wait())
        try:
            # The lease lost while starting ends the work before it begins.
            await asyncio.wait([stopper, renewer, *tasks],
                               return_when=asyncio.FIRST_COMPLETED)
            for t in (renewer, *tasks):
                if t.done() and not t.cancelled() and t.exception() is not None:
                    log.error("engine task %s failed", t.get_name(), exc_info=t.exception())
                    self.failure = f"{t.get_name()}: {t.exception()!r}"
        finally:
            self.state = "stopping"
            inner.set()
            stopper.cancel()
            # Loops notice ``inner`` between iterations: the pull, detection and
            # transaction in progress complete first.
            grace = self.cfg.engine.shutdown_grace_seconds
            _, pending = await asyncio.wait(tasks, timeout=grace + 5)
            for t in pending:
                t.cancel()
            await asyncio.gather(*tasks, stopper, return_exceptions=True)
            await self._stop_parts(grace)

    async def _start_parts(self) -> None:
        from ircon.detect.pipeline import DetectorSet
        from ircon.engine.automation import Automation
        from ircon.engine.poller import Poller, ingest_callback
        from ircon.sources.base import build
        from ircon.sources.telemetry import from_config

        cfg = self.cfg
        self.detectors = await asyncio.to_thread(DetectorSet.from_config, cfg.detectors,
                                                 base_dir=self.base_dir)
        self.telemetry = []
        alert_sources = []
        for s in cfg.sources:
            if s.type == "telemetry":
                # read on from where the last engine on this database stopped
                saved = await asyncio.to_thread(positions.load, self.store, s.name)
                src = from_config(s, resume=saved or None)
                self._saved[s.name] = saved
                if self.follow_interval:
                    src.interval = self.follow_interval
                self.telemetry.append(src)
            else:
                alert_sources.append(build(s))
        self.poller = (Poller(alert_sources, ingest_callback(self.store, cfg.triage,
                                                             actor=self.actor))
                       if alert_sources else None)
        self.automation = Automation(self.store, cfg, notifier=self.notifier)
        await self.automation.start()
        self.escalation = None
        if self.with_escalation and cfg.escalation.enabled:
            from ircon.escalation.service import EscalationService

            self.escalation = EscalationService(self.store, cfg, notifier=self.notifier,
                                                holder=self.holder)
            try:
                await self.escalation.start()
            except Exception as exc:  # escalation down must not stop containment
                log.error("escalation service did not start", exc_info=exc)
                self.escalation = None
        event(log, logging.INFO, "engine started",
              telemetry=[t.name for t in self.telemetry],
              alert_sources=[s.name for s in alert_sources],
              policies={n: p.mode for n, p in cfg.policies.items()},
              follow_interval=self.follow_interval or
              min((t.interval for t in self.telemetry), default=None),
              escalation=self.escalation is not None)

    async def _stop_parts(self, grace: float) -> None:
        if self.automation is not None:
            await self.automation.stop(grace)
        if self.escalation is not None:
            with contextlib.suppress(Exception):
                await self.escalation.stop()
        for t in self.telemetry:
            with contextlib.suppress(Exception):
                await t.aclose()
        event(log, logging.INFO, "engine stopped", **self.counts)

    # -- lease renewal -----------------------------------------------------------------
    async def _renew(self, inner: asyncio.Event, done: asyncio.Event) -> None:
        """Renew the lease until ``done``; on losing it, set ``inner`` and return."""
        every = self.lease_seconds / 3
        while not await _wait(done, every):
            try:
                got = await asyncio.to_thread(lease.acquire, self.store, self.holder,
                                              self.lease_seconds)
            except Exception as exc:
                event(log, logging.WARNING, "lease renewal failed; retrying", error=str(exc))
                if self.leader is not None and not self.leader.alive():
                    got = None
                else:
                    continue
            if got is None:
                # Another engine took over (we stalled past our expiry): stop working at once.
                event(log, logging.ERROR, "lease lost to another engine; going to standby",
                      holder=self.holder)
                self._lost = True
                inner.set()
                return
            self.leader = got

    # -- telemetry -> detectors -> triage -> policies -----------------------------------
    async def _follow(self, inner: asyncio.Event) -> None:
        if not self.telemetry:
            await inner.wait()
            return
        interval = min(t.interval for t in self.telemetry)
        while not inner.is_set():
            t0 = time.monotonic()
            events: list[TelemetryEvent] = []
            pause = interval
            before = {src.name: src.checkpoint() for src in self.telemetry}
            try:
                for src in self.telemetry:
                    result = await src.pull()
                    events.extend(result.events)
                    if result.skipped:
                        self.counts["skipped"] += len(result.skipped)
                        origin, line, reason = result.skipped[0]
                        event(log, logging.INFO, "telemetry lines skipped", source=src.name,
                              count=len(result.skipped), first=f"{origin}:{line}",
                              reason=reason)
                for i in range(0, len(events), MAX_EVENTS_PER_BATCH):
                    await self.process(events[i:i + MAX_EVENTS_PER_BATCH])
                await asyncio.to_thread(self._save_positions)
            except Exception as exc:  # the database busy or gone: say so, keep following
                self.counts["errors"] = self.counts.get("errors", 0) + 1
                log.error("processing telemetry failed; retrying", exc_info=exc)
                pause = max(interval, 2.0)
                for src in self.telemetry:  # what was pulled is read again
                    if before.get(src.name):
                        src.rewind(before[src.name])
            await _wait(inner, pause - (time.monotonic() - t0))
        # Pending windowed detections are journaled too, so nothing seen is lost.
        if self.detectors is not None:
            rest = await asyncio.to_thread(self.detectors.flush)
            if rest:
                await self._ingest(rest, act=False)

    def _save_positions(self) -> None:
        """Keep each follower's checkpoint once what it pulled is handled."""
        for src in self.telemetry:
            now = src.checkpoint()
            if now and now != self._saved.get(src.name):
                positions.save(self.store, src.name, now)
                self._saved[src.name] = now

    def _detect(self, events: list[TelemetryEvent]) -> list[Finding]:
        assert self.detectors is not None
        return self.detectors.observe_batch(events)

    async def process(self, events: list[TelemetryEvent]) -> list[Finding]:
        """Detect, triage and hand to the policies one batch of events."""
        self.counts["events"] += len(events)
        if not events:
            return []
        findings = await asyncio.to_thread(self._detect, events)
        if findings:
            await self._ingest(findings, act=True)
        return findings

    async def _ingest(self, findings: list[Finding], *, act: bool) -> None:
        from ircon.engine.automation import incident_map
        from ircon.engine.ingest import ingest_findings

        self.counts["findings"] += len(findings)
        self.counts["batches"] += 1
        report = await asyncio.to_thread(ingest_findings, self.store, findings,
                                         self.cfg.triage, actor=self.actor)
        self.counts["incidents_opened"] += len(report.incidents_opened)
        event(log, logging.INFO, "findings triaged", findings=len(findings),
              opened=report.incidents_opened, touched=len(report.incidents_touched))
        if act and self.automation is not None and self.automation.policies:
            incidents = await asyncio.to_thread(incident_map, self.store, findings)
            self.automation.submit(findings, incidents)
        if self.escalation is not None:
            for hid in report.incidents_touched:
                self.escalation.on_incident_changed(hid)

    # -- expiry of automated actions ---------------------------------------------------
    def _sweep_actions(self) -> list[int]:
        from ircon.adapters.runner import sweep_abandoned

        return sweep_abandoned(self.store, self.cfg, actor=ENGINE_ACTOR)

    async def _ticks(self, inner: asyncio.Event) -> None:
        every = self.cfg.engine.tick_seconds
        while not await _wait(inner, every):
            try:  # actions whose process died before recording a result
                swept = await asyncio.to_thread(self._sweep_actions)
                if swept:
                    event(log, logging.WARNING, "actions without a result marked interrupted",
                          runs=swept)
            except Exception as exc:
                log.error("sweep of interrupted actions failed", exc_info=exc)
            if self.automation is None:
                continue
            try:
                await self.automation.tick()
            except Exception as exc:  # a bad row must not stop expiry for the others
                log.error("expiry check failed", exc_info=exc)


def engine_status(store: Store) -> dict[str, Any]:
    """Whether an engine works this database, for the console and ``ircon policies``."""
    info = lease.holder(store)
    return {"running": info is not None, "leader": info.to_dict() if info else None}
