"""The demo: an embedded config, a throwaway database, and the pipeline that works it.

``prepare()`` builds a session in a fresh directory: a config whose telemetry
source follows a replay file, detectors with a canary, one adapter instance
of every type pointing nowhere real (actions are forced to dry-run, so the
preview shows exactly what would be sent), and escalation that notifies into
a local demo log instead of real people. ``DemoRuntime`` is what the console
runs: the replay appends the bundled sample to the followed file while the
pipeline follows it through the real source, detectors, triage, playbooks
and escalation.

The pipeline prefers the headless engine (``ircon.engine.runtime.Engine``)
when this build has it; otherwise it composes the same pieces itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ircon.demo import generator
from ircon.model.text import one_line

if TYPE_CHECKING:
    from ircon.config import IrconConfig, LoadedConfig
    from ircon.detect.pipeline import DetectorSet
    from ircon.escalation.service import EscalationService
    from ircon.model.finding import Finding
    from ircon.sources.telemetry import TelemetrySource
    from ircon.store.db import Store

NOTIFY_ENV = "IRCON_DEMO_NOTIFY"  # the "secret" behind every demo notification target
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing real listens there
DEMO_LABEL = "DEMO"
LOG_NAME = "demo.log"
TELEMETRY_NAME = "gateway.jsonl"

# Incident kind (the detector that opened it) -> the playbook kind that answers it.
KIND_ALIASES: dict[str, tuple[str, ...]] = {
    "jailbreak": ("jailbreak-campaign", "jailbreak"),
    "campaign": ("jailbreak-campaign",),
    "injection": ("indirect-prompt-injection", "prompt-injection"),
    "obfuscation": ("prompt-injection", "jailbreak"),
    "suffix": ("adversarial-suffix",),
    "probing": ("model-extraction", "probing"),
    "leakage": ("system-prompt-leakage", "data-leakage", "sensitive-data-disclosure"),
    "wallet": ("denial-of-wallet",),
}


def choose_playbook(kind: str, catalog: Iterable[tuple[str, Sequence[str]]]) -> str | None:
    """The playbook (by name) for an incident of ``kind``. The most specific answer
    wins: the kind's aliases in order, then the kind itself; for each, a playbook named
    so, else the first whose kinds list it. ``catalog`` is (name, kinds)."""
    entries = list(catalog)
    for want in (*KIND_ALIASES.get(kind, ()), kind):
        for name, _ in entries:
            if name == want:
                return name
        for name, kinds in entries:
            if want in kinds:
                return name
    return None


def demo_config_dict(workdir: Path, telemetry: Path) -> dict[str, Any]:
    """The demo's configuration as TOML-shaped data (validated by ``demo_config``)."""
    who = f"env:{NOTIFY_ENV}"
    return {
        "identity": {"actor": None},
        "sources": [{
            "type": "telemetry", "name": "gateway", "paths": [str(telemetry)],
            "format": "litellm", "interval": 0.25, "from_start": True,
        }],
        "detectors": {"canaries": [generator.CANARY], "rules_dir": str(workdir / "rules")},
        "adapters": {
            "gateway": {"type": "litellm", "url": NOWHERE, "timeout": 2.0, "retries": 0,
                        "description": "LiteLLM proxy admin API (demo: nowhere real)"},
            "alertmanager": {"type": "alertmanager", "url": NOWHERE, "timeout": 2.0,
                             "retries": 0},
            "flags": {"type": "flags", "backend": "flagd", "path": str(workdir / "flags.json")},
            "cluster": {"type": "kubernetes", "namespace": "ml-serving",
                        "kubeconfig": str(workdir / "kubeconfig-nowhere")},
            "guardrail": {"type": "guardrail", "path": str(workdir / "guardrail-blocklist.txt")},
            "soar": {"type": "http", "url": NOWHERE + "/hooks/contain", "method": "POST",
                     "params": {"key": "key_id"}, "body": {"key": "{key}", "source": "ircon"},
                     "timeout": 2.0, "retries": 0},
            "revoke-script": {"type": "shell", "argv": ["/usr/bin/false", "--revoke", "{key}"],
                              "params": {"key": "key_id"}},
        },
        "escalation": {
            "people": {
                "alex": {"name": "Alex (on call)", "targets": [who]},
                "sam": {"name": "Sam (secondary)", "targets": [who]},
                "dana": {"name": "Dana (security lead)", "targets": [who]},
            },
            "rotations": {"primary": {"members": ["alex", "sam"], "handoff": "weekly"}},
            "channels": {"secops": {"targets": [who]}},
            "policies": {
                "critical": {"levels": [
                    {"after_minutes": 0, "notify": ["rotation:primary", "channel:secops"]},
                    {"after_minutes": 2, "notify": ["person:dana"]},
                ]},
                "standard": {"levels": [
                    {"after_minutes": 0, "notify": ["rotation:primary"]},
                    {"after_minutes": 5, "notify": ["person:sam"]},
                ]},
            },
            "severity_policy": {"SEV1": "critical", "SEV2": "standard"},
            "ack_within_minutes": {"SEV1": 5, "SEV2": 15},
            "contain_within_minutes": {"SEV1": 30, "SEV2": 120},
            "send_attempts": 1, "send_timeout_seconds": 5.0, "tick_seconds": 5.0,
        },
        # Shown in shadow mode: the journal says what automation would have done.
        "policies": {
            "throttle-extraction": {
                "description": "Rate-limit a key that harvests log-probabilities",
                "mode": "shadow",
                "when": {"rule": "probe.extraction", "min_score": 0.5, "scope": "key"},
                "then": {"adapter": "gateway", "action": "limit-key",
                         "params": {"key": "{finding.key}", "rpm": "10"}},
                "expire_after": "1h",
            },
        },
        "ui": {"refresh_seconds": 1.0},
    }


def demo_config(workdir: Path, telemetry: Path) -> IrconConfig:
    from ircon.config import IrconConfig

    return IrconConfig.model_validate(demo_config_dict(workdir, telemetry))


# --- the demo log: where notifications go instead of real people -------------------------


def playbook_catalog(cfg: IrconConfig) -> list[tuple[str, list[str]]]:
    """(name, kinds) of every playbook that loads from the configured directories."""
    from ircon.response.library import discover, playbook_dirs

    return [(r.playbook.name, list(r.playbook.kinds))
            for r in discover(playbook_dirs(cfg.playbooks.dirs)) if r.playbook]


class DemoLog:
    """An append-only text log the console shows (one line per event, UTC times)."""

    def __init__(self, path: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.path = path
        self.clock = clock or (lambda: datetime.now(UTC))

    def write(self, what: str, text: str) -> None:
        stamp = self.clock().strftime("%H:%M:%S")
        line = f"{stamp}  {what:<9} {one_line(text, 400)}\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)

    def tail(self, n: int = 500) -> list[str]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                lines = fh.readlines()
        except FileNotFoundError:
            return []
        return [x.rstrip("\n") for x in lines[-n:]]


class DemoLogNotifier:
    """Escalation's notifier for the demo: a message is delivered by appending it to the
    demo log, so the whole ladder (levels, repeats, reminders) is visible and nobody is
    paged."""

    def __init__(self, log: DemoLog) -> None:
        self.log = log
        self.sent = 0

    async def send(self, url: str, subject: str, body: str) -> None:
        asked = next((x.split(":", 1)[1].strip() for x in body.splitlines()
                      if x.startswith("Asked of you:")), "")
        self.log.write("notify", f"{subject}" + (f" — {asked}" if asked else ""))
        self.sent += 1


# --- the pipeline ---------------------------------------------------------------------


def engine_actor() -> str:
    return f"ircon-engine@{socket.gethostname()}"


@dataclass
class PipelineStats:
    events: int = 0
    findings: int = 0
    incidents: list[str] = field(default_factory=list)
    playbooks: dict[str, str] = field(default_factory=dict)  # incident -> playbook
    errors: list[str] = field(default_factory=list)


class Pipeline:
    """Telemetry source -> detectors -> triage -> playbook -> escalation, in one process.

    The same pieces ``ircon watch`` composes; one ``step()`` is one pull. Blocking store
    work runs in threads so the console stays responsive.
    """

    def __init__(self, store: Store, loaded: LoadedConfig, *, log: DemoLog,
                 notifier: Any | None = None, actor: str | None = None,
                 start_playbooks: bool = True) -> None:
        from ircon.detect.pipeline import DetectorSet
        from ircon.escalation.service import EscalationService
        from ircon.sources.base import build

        cfg = loaded.config
        self.store = store
        self.loaded = loaded
        self.cfg = cfg
        self.log = log
        self.actor = actor or engine_actor()
        self.start_playbooks = start_playbooks
        self.sources: list[TelemetrySource] = [
            build(s) for s in cfg.sources if s.type == "telemetry"  # type: ignore[misc]
        ]
        self.detectors: DetectorSet = DetectorSet.from_config(cfg.detectors)
        self.notifier = notifier or DemoLogNotifier(log)
        self.escalation: EscalationService = EscalationService(
            store, cfg, notifier=self.notifier, actor=f"ircon-escalation@{socket.gethostname()}",
            use_scheduler=False)
        self.stats = PipelineStats()
        self._catalog: list[tuple[str, list[str]]] | None = None
        self._last_sweep = 0.0

    def catalog(self) -> list[tuple[str, list[str]]]:
        if self._catalog is None:
            self._catalog = playbook_catalog(self.cfg)
        return self._catalog

    async def start(self) -> None:
        await self.escalation.start()

    async def step(self) -> int:
        """One pull of every telemetry source; returns the number of events handled."""
        findings: list[Finding] = []
        n = 0
        for src in self.sources:
            res = await src.pull()
            n += len(res.events)
            findings.extend(self.detectors.observe_batch(res.events))
        self.stats.events += n
        if findings:
            await self.handle(findings)
        now = time.monotonic()
        if now - self._last_sweep >= self.cfg.escalation.tick_seconds:
            self._last_sweep = now
            await self.escalation.sweep()
        return n

    async def flush(self) -> None:
        got = self.detectors.flush()
        if got:
            await self.handle(got)

    async def handle(self, findings: list[Finding]) -> None:
        from ircon.engine.ingest import ingest_findings

        self.stats.findings += len(findings)
        report = await asyncio.to_thread(
            ingest_findings, self.store, findings, self.cfg.triage, actor=self.actor)
        for hid in report.incidents_opened:
            self.stats.incidents.append(hid)
            await asyncio.to_thread(self._opened, hid)
        for hid in {*report.incidents_opened, *(c["incident"] for c in report.severity_changes)}:
            self.escalation.on_incident_changed(hid)
        for c in report.severity_changes:
            self.log.write("triage", f"{c['incident']} severity {c['from']} -> {c['to']}")

    def _opened(self, hid: str) -> None:
        from ircon.store import incidents

        inc = incidents.get(self.store, hid)
        self.log.write("incident", f"{hid} {inc['severity']} opened: {inc['title']}")
        if not self.start_playbooks:
            return
        name = choose_playbook(str(inc["kind"]), self.catalog())
        if name is None:
            return
        from ircon.store import playbooks
        from ircon.store.engine import StoreError

        try:
            playbooks.start_playbook(
                self.store, hid, name, actor=self.actor, dirs=self.cfg.playbooks.dirs,
                instances={n: str(a.type) for n, a in self.cfg.adapters.items()})
        except StoreError as exc:
            self.stats.errors.append(f"{hid}: {exc}")
            self.log.write("playbook", f"{hid}: {name} could not start: {exc}")
            return
        self.stats.playbooks[hid] = name
        self.log.write("playbook", f"{hid}: {name} started")

    async def run(self, stop: asyncio.Event) -> None:
        interval = min((s.interval for s in self.sources), default=0.5)
        while not stop.is_set():
            try:
                await self.step()
            except Exception as exc:  # shown in the demo log; the next pull retries
                self.stats.errors.append(f"{type(exc).__name__}: {exc}")
                self.log.write("error", f"pipeline: {type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def aclose(self) -> None:
        for s in self.sources:
            with contextlib.suppress(Exception):
                await s.aclose()
        await self.escalation.stop()


class PlaybookPicker:
    """Starts the matching playbook on every new incident that has none, and writes each
    new incident to the demo log: the first minute of a responder's work, scripted, so
    the demo shows the checklist the team would follow."""

    def __init__(self, store: Store, cfg: IrconConfig, log: DemoLog, *, actor: str) -> None:
        self.store = store
        self.cfg = cfg
        self.log = log
        self.actor = actor
        self.seen: set[str] = set()
        self.started: dict[str, str] = {}
        self.errors: list[str] = []
        self._catalog: list[tuple[str, list[str]]] | None = None

    def catalog(self) -> list[tuple[str, list[str]]]:
        if self._catalog is None:
            self._catalog = playbook_catalog(self.cfg)
        return self._catalog

    def check(self) -> list[str]:
        """One look at the incidents (blocking); returns those newly seen."""
        from ircon.store import incidents, playbooks
        from ircon.store.engine import StoreError

        new = []
        for r in incidents.list_incidents(self.store):
            if r.id in self.seen:
                continue
            self.seen.add(r.id)
            new.append(r.id)
            self.log.write("incident", f"{r.id} {r.severity} opened: {r.title}")
            if r.playbook:
                continue
            name = choose_playbook(r.kind, self.catalog())
            if name is None:
                continue
            try:
                playbooks.start_playbook(
                    self.store, r.id, name, actor=self.actor, dirs=self.cfg.playbooks.dirs,
                    instances={n: str(a.type) for n, a in self.cfg.adapters.items()})
            except StoreError as exc:
                self.errors.append(f"{r.id}: {exc}")
                self.log.write("playbook", f"{r.id}: {name} could not start: {exc}")
                continue
            self.started[r.id] = name
            self.log.write("playbook", f"{r.id}: {name} started")
        return new

    async def run(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.check)
            except Exception as exc:  # shown; the next look retries
                self.log.write("error", f"playbooks: {type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def engine_class() -> Any | None:
    """The headless engine of this build, or None when it has none."""
    try:
        from ircon.engine.runtime import Engine
    except ImportError:
        return None
    return Engine


# --- the session ----------------------------------------------------------------------


@dataclass
class DemoSession:
    """Everything one demo run needs, in one directory."""

    workdir: Path
    db: str
    telemetry: Path
    log: DemoLog
    loaded: LoadedConfig
    speed: float
    owns_workdir: bool

    def cleanup(self) -> None:
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def prepare(*, speed: float = 20.0, db: str | None = None,
            workdir: Path | None = None) -> DemoSession:
    """A fresh demo session: directory, empty telemetry file, config, database path.

    With ``db`` the demo writes into that database (kept afterwards); otherwise
    into a throwaway one inside the session directory.
    """
    from ircon.config import LoadedConfig

    if speed <= 0:
        raise ValueError("--speed must be greater than 0")
    owns = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="ircon-demo-")) if workdir is None else workdir
    wd.mkdir(parents=True, exist_ok=True)
    (wd / "rules").mkdir(exist_ok=True)
    telemetry = wd / TELEMETRY_NAME
    telemetry.write_bytes(b"")
    os.environ.setdefault(NOTIFY_ENV, "demo://log")
    cfg = demo_config(wd, telemetry)
    loaded = LoadedConfig(cfg, None)
    log = DemoLog(wd / LOG_NAME)
    log.write("demo", f"replaying {generator.MINUTES} minutes of gateway traffic at "
                      f"{speed:g}x; notifications land here, containment is dry-run")
    return DemoSession(wd, db or str(wd / "demo.db"), telemetry, log, loaded, speed, owns)


class DemoRuntime:
    """What the console runs in demo mode: the replay and the pipeline, until stopped."""

    label = DEMO_LABEL
    dry_run = True

    def __init__(self, session: DemoSession, *, lines: Sequence[bytes] | None = None) -> None:
        from ircon.demo.replay import load_sample

        self.session = session
        self.lines = list(lines) if lines is not None else load_sample()
        self.pipeline: Pipeline | None = None
        self.engine: Any = None
        self.picker: PlaybookPicker | None = None
        self.replay_done = False
        self._stop = asyncio.Event()

    @property
    def log(self) -> DemoLog:
        return self.session.log

    @property
    def log_path(self) -> Path:
        return self.session.log.path

    async def run(self, store: Store) -> None:
        """Replay into the followed file while the engine works it; until ``stop()``."""
        from ircon.demo.replay import Replayer

        self._stop = asyncio.Event()
        cfg = self.session.loaded.config
        engine_cls = engine_class()
        notifier = DemoLogNotifier(self.log)
        work: list[asyncio.Task[Any]] = []
        if engine_cls is not None:
            self.engine = engine_cls(cfg, store, actor=engine_actor(), notifier=notifier)
            self.picker = PlaybookPicker(store, cfg, self.log, actor=engine_actor())
            work.append(asyncio.create_task(self.engine.run(self._stop)))
            work.append(asyncio.create_task(self.picker.run(self._stop)))
        else:  # a build without the engine: the same pieces, composed here
            pipe = self.pipeline = Pipeline(store, self.session.loaded, log=self.log,
                                            notifier=notifier)
            await pipe.start()
            work.append(asyncio.create_task(pipe.run(self._stop)))
        replayer = Replayer(self.session.telemetry, self.lines, speed=self.session.speed)
        try:
            await replayer.run(self._stop)
            if not self._stop.is_set():
                self.replay_done = True
                self.log.write("demo", "replay finished; the console stays live "
                                       "(escalation keeps running) until you quit")
            await self._stop.wait()
        finally:
            self._stop.set()
            # The engine finishes its current pull and transaction, then releases its lease.
            await asyncio.gather(*work, return_exceptions=True)
            if self.pipeline is not None:
                await self.pipeline.flush()
                await self.pipeline.aclose()

    async def settle(self, seconds: float = 2.0) -> None:
        """After the replay: let the last lines be followed and their pages be sent."""
        await asyncio.sleep(seconds)
        esc = getattr(self.engine, "escalation", None) or (
            self.pipeline.escalation if self.pipeline is not None else None)
        if esc is not None:
            await esc.drain()

    def stop(self) -> None:
        self._stop.set()
