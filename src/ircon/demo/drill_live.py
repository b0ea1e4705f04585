"""The interactive drill: the console with the scenario's timeline injected on the clock.

Responders work the incident in the console as they would a real one; the
timeline arrives in real time (or ``speed`` times faster), escalation pages
into the drill log, containment is a dry run. When the console closes, the
drill is scored from the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ircon.demo import drill_runner
from ircon.demo.drill import Scenario, Scorecard

if TYPE_CHECKING:
    from ircon.config import LoadedConfig
    from ircon.demo.runtime import DemoLog
    from ircon.response.model import Playbook
    from ircon.store.db import Store


class DrillRuntime:
    """What the console runs in drill mode (the same protocol as the demo's runtime)."""

    dry_run = True

    def __init__(self, sc: Scenario, pb: Playbook, loaded: LoadedConfig, *, log: DemoLog,
                 speed: float = 1.0, actor: str) -> None:
        self.sc = sc
        self.pb = pb
        self.loaded = loaded
        self.log = log
        self.speed = speed
        self.actor = actor
        self.run_id = drill_runner.new_run_id()
        self.label = f"DRILL {sc.name}"
        self.incident: str | None = None
        self.done_injecting = False
        self._stop = asyncio.Event()

    @property
    def log_path(self) -> Path:
        return self.log.path

    async def run(self, store: Store) -> None:
        from ircon.demo.runtime import Pipeline

        self._stop = asyncio.Event()
        pipe = Pipeline(store, self.loaded, log=self.log, start_playbooks=False)
        await pipe.start()
        injector = drill_runner.Injector(store, self.loaded.config, self.sc, run=self.run_id,
                                         actor="ircon-drill")
        self.log.write("drill", f"{self.sc.title}: the timeline starts now "
                                f"(clock speed {self.speed:g}x); containment is dry-run")
        t0 = time.monotonic()
        try:
            for inj in self.sc.timeline:
                wait = inj.at_s / self.speed - (time.monotonic() - t0)
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), timeout=wait)
                if self._stop.is_set():
                    return
                res = await asyncio.to_thread(injector.inject, inj)
                if self.incident is None and res.opened:
                    self.incident = res.opened[0]
                if self.incident is not None:
                    extra: dict[str, str | int] = {"kind": inj.kind, "index": inj.index}
                    if res.note:
                        extra["note"] = res.note
                    await asyncio.to_thread(
                        drill_runner.mark, store, self.incident, self.sc, self.run_id,
                        "inject", inj.at_s, actor="ircon-drill", **extra)
                for hid in {*res.opened, *res.touched}:
                    pipe.escalation.on_incident_changed(hid)
                for hid in res.opened:
                    self.log.write("incident", f"{hid} opened")
                if res.note:
                    self.log.write("note", res.note)
            self.done_injecting = True
            while not self._stop.is_set():
                await pipe.escalation.sweep()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(),
                                           timeout=self.loaded.config.escalation.tick_seconds)
        finally:
            await pipe.aclose()

    def stop(self) -> None:
        self._stop.set()

    def finish(self, store: Store) -> Scorecard:
        return drill_runner.finish(store, self.sc, self.pb, self.incident, run=self.run_id,
                                   actor=self.actor, rate=self.speed, mode="interactive",
                                   markdown_path=None)
