"""Running drills: load scenarios, inject the timeline, play the expected response
(``--auto``), and write the scorecard into the journal and as Markdown.

Every drill run gets a run id; whatever it injects carries the campaign
signature ``drill:<scenario>:<run>``, so a drill's alerts and findings form
one incident of their own and can never join a real incident that is open in
the same database (nor an earlier run of the same drill). Containment in a
drill is always a dry run: the plan is journaled, nothing is sent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ircon.demo import drill
from ircon.demo.drill import Entry, Inject, Scenario, ScenarioError, Scorecard
from ircon.model import kinds

if TYPE_CHECKING:
    from ircon.config import IrconConfig
    from ircon.detect.pipeline import DetectorSet
    from ircon.model.finding import Finding
    from ircon.response.model import Playbook
    from ircon.store.db import Store

MAX_SCENARIO_BYTES = 1 << 20
DRILL_SOURCE = "drill"


def scenarios_dir() -> Path:
    return Path(__file__).with_name("scenarios")


def shipped() -> list[Path]:
    return sorted(scenarios_dir().glob("*.yaml"))


def _read(path: Path) -> Any:
    import yaml

    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError([f"{path}: larger than {MAX_SCENARIO_BYTES} bytes"])
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError([f"{path}: not UTF-8 (byte {exc.start})"]) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError([f"{where}: not valid YAML: {problem}"]) from exc


def resolve_path(name_or_path: str) -> Path:
    """A shipped scenario by name, or a file the user supplied."""
    p = Path(name_or_path).expanduser()
    if p.suffix in (".yaml", ".yml") or p.exists() or "/" in name_or_path:
        if not p.is_file():
            raise ScenarioError([f"{p}: no such scenario file"])
        return p
    cand = scenarios_dir() / f"{name_or_path}.yaml"
    if not cand.is_file():
        names = ", ".join(x.stem for x in shipped())
        raise ScenarioError([f"no scenario named {name_or_path!r}; shipped: {names} "
                             "(or give the path of a scenario file)"])
    return cand


def find_playbook(name: str, dirs: Sequence[str]) -> Playbook | None:
    from ircon.response.library import discover, playbook_dirs

    for r in discover(playbook_dirs(list(dirs))):
        if r.playbook is not None and r.playbook.name == name:
            return r.playbook
    return None


def load(name_or_path: str, *, playbook_dirs: Sequence[str] = ()) -> tuple[Scenario, Playbook]:
    """Parse and check a scenario against its playbook; ScenarioError lists every problem."""
    path = resolve_path(name_or_path)
    sc = drill.parse(_read(path), str(path))
    pb = find_playbook(sc.expected.playbook, playbook_dirs)
    problems = drill.check_against(sc, pb)
    if problems:
        raise ScenarioError(problems)
    assert pb is not None
    return sc, pb


def list_scenarios(playbook_dirs: Sequence[str] = ()) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in shipped():
        try:
            sc, _ = load(str(p), playbook_dirs=playbook_dirs)
            out.append({**sc.summary(), "ok": True})
        except ScenarioError as exc:
            out.append({"name": p.stem, "origin": str(p), "ok": False,
                        "problems": exc.problems})
    return out


# --- injection ------------------------------------------------------------------------


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for x in parts:
        h.update(x.encode("utf-8", "surrogatepass") + b"\xff")
    return h.hexdigest()


def telemetry_lines(spec: dict[str, Any], *, run: str, index: int, base_ts: float
                    ) -> list[bytes]:
    """LiteLLM ``StandardLoggingPayload`` lines for one telemetry injection."""
    count = int(spec.get("count", 1))
    accounts = int(spec.get("accounts", 1))
    spacing = drill.seconds(spec.get("spacing", "5s"))
    model = str(spec.get("model", "gpt-4o"))
    team = str(spec.get("team", "team-drill"))
    params = dict(spec.get("params") or {"temperature": 0.7, "max_tokens": 512})
    prompt = str(spec["prompt"])
    answer = str(spec.get("response", ""))
    role = str(spec.get("role", "user"))
    system = str(spec.get("system", "You are Acme's assistant."))
    out: list[bytes] = []
    for n in range(count):
        acct = n % accounts
        alias = f"drill-{run}-{index}-{acct}"
        ts = base_ts + n * spacing
        text = prompt.replace("{n}", str(n + 1)).replace("{account}", str(acct))
        msgs: list[dict[str, Any]] = [{"role": "system", "content": system}]
        if role == "tool":
            msgs += [{"role": "user", "content": "Summarize the retrieved page."},
                     {"role": "tool", "name": "fetch", "content": text}]
        else:
            msgs.append({"role": "user", "content": text})
        rec = {
            "id": f"drill-{run}-{index}-{n}", "call_type": "acompletion",
            "startTime": round(ts, 3), "endTime": round(ts + 0.8, 3), "model": model,
            "metadata": {"user_api_key_hash": _digest("drill-key", alias),
                         "user_api_key_alias": alias, "user_api_key_team_id": team,
                         "user_api_key_user_id": f"acct-{run}-{index}-{acct}"},
            "end_user": f"acct-{run}-{index}-{acct}",
            "requester_ip_address": f"198.18.{index % 250}.{acct % 250 + 1}",
            "messages": msgs,
            "response": {"choices": [{"message": {"role": "assistant", "content": answer}}]},
            "model_parameters": params, "status": "success",
            "prompt_tokens": max(1, len(text) // 4), "completion_tokens": max(1, len(answer) // 4),
        }
        out.append((json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n").encode())
    return out


@dataclass
class InjectResult:
    opened: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    findings: int = 0
    note: str | None = None


class Injector:
    """Turns timeline entries into real alerts and telemetry for triage (blocking)."""

    def __init__(self, store: Store, cfg: IrconConfig, sc: Scenario, *, run: str,
                 actor: str, base_ts: float | None = None) -> None:
        from ircon.detect.pipeline import DetectorSet

        self.store = store
        self.cfg = cfg
        self.sc = sc
        self.run = run
        self.actor = actor
        self.base_ts = base_ts if base_ts is not None else time.time()
        self.signature = f"drill:{sc.name}:{run}"
        self.detectors: DetectorSet = DetectorSet.from_config(cfg.detectors)

    def _own(self, f: Finding) -> Finding:
        # One signature per run: the drill's findings form one incident of their own.
        return dataclasses.replace(f, campaign=self.signature)

    def inject(self, inj: Inject) -> InjectResult:
        from ircon.engine.ingest import ingest_alerts, ingest_findings

        if inj.kind == "note":
            return InjectResult(note=str(inj.data.get("text", "")))
        if inj.kind == "alert":
            report = ingest_alerts(self.store, [self.alert(inj)], self.cfg.triage,
                                   actor=self.actor)
            return InjectResult(report.incidents_opened, report.incidents_touched)
        from ircon.model.telemetry import TelemetryEvent
        from ircon.sources.telemetry import parse_line

        events: list[TelemetryEvent] = []
        for n, line in enumerate(telemetry_lines(dict(inj.data), run=self.run, index=inj.index,
                                                 base_ts=self.base_ts + inj.at_s), 1):
            ev = parse_line(line, "litellm", origin=f"drill:{self.sc.name}", lineno=n)
            if isinstance(ev, TelemetryEvent):
                events.append(ev)
        found = self.detectors.observe_batch(events)
        found.extend(self.detectors.flush())
        if not found:
            return InjectResult()
        report = ingest_findings(self.store, [self._own(f) for f in found], self.cfg.triage,
                                 actor=self.actor)
        return InjectResult(report.incidents_opened, report.incidents_touched, len(found))

    def alert(self, inj: Inject) -> Any:
        from ircon.model.alert import AlertIn
        from ircon.triage.grouping import CAMPAIGN_LABEL

        d = inj.data
        labels = {str(k): str(v) for k, v in (d.get("labels") or {}).items()}
        labels.update({"alertname": str(d["name"]), CAMPAIGN_LABEL: self.signature,
                       "drill": self.sc.name})
        if d.get("severity") is not None:
            labels["severity"] = str(d["severity"])
        ann = {str(k): str(v) for k, v in (d.get("annotations") or {}).items()}
        if d.get("summary"):
            ann["summary"] = str(d["summary"])
        return AlertIn(
            source=DRILL_SOURCE, fingerprint=_digest("drill", self.run, str(inj.index))[:16],
            labels=labels, annotations=ann, status="firing",
            starts_at=datetime.fromtimestamp(self.base_ts + inj.at_s, UTC))


def mark(store: Store, incident: str, sc: Scenario, run: str, event: str, at_s: float, *,
         actor: str, **extra: Any) -> None:
    """A drill marker: what the drill clock read (``at_s``) when this entry was written."""
    from ircon.store import journal

    journal.append(store, incident, kinds.DRILL, {
        "drill": sc.name, "run": run, "event": event, "at_s": round(at_s, 3), **extra,
    }, actor=actor)


def entries_of(store: Store, incident: str) -> list[Entry]:
    from ircon.model.journal import parse_ts
    from ircon.store import journal

    out = []
    for e in journal.iter_entries(store, incident):
        try:
            body = json.loads(e.body)
        except ValueError:
            body = {}
        out.append(Entry(e.seq, parse_ts(e.ts), e.actor, e.kind,
                         body if isinstance(body, dict) else {}))
    return out


def finish(store: Store, sc: Scenario, pb: Playbook | None, incident: str | None, *,
           run: str, actor: str, rate: float, mode: str,
           markdown_path: Path | None) -> Scorecard:
    """Score the drill incident, journal the scorecard (kind ``drill``) and write Markdown."""
    entries = entries_of(store, incident) if incident else []
    card = drill.score(sc, entries, incident=incident, pb=pb, rate=rate)
    if incident:
        from ircon.store import journal

        journal.append(store, incident, kinds.DRILL, {
            "drill": sc.name, "run": run, "event": "scorecard", "mode": mode,
            "scorecard": card.to_dict(),
        }, actor=actor)
    if markdown_path is not None:
        markdown_path.parent.mkdir(parents=True, exist_ok=True)
        markdown_path.write_text(drill.markdown(card), encoding="utf-8")
    return card


def new_run_id() -> str:
    return secrets.token_hex(3)


# --- the scripted response (--auto) ---------------------------------------------------


@dataclass
class AutoResult:
    card: Scorecard
    incident: str | None
    run: str
    problems: list[str]


class AutoDrill:
    """Plays the timeline and the expected response on a virtual drill clock.

    Injections and responder moves are merged in drill-time order; before each
    move a marker journals the drill time, so scoring sees the scripted times.
    """

    def __init__(self, store: Store, cfg: IrconConfig, sc: Scenario, pb: Playbook, *,
                 actor: str, run: str | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.cfg = cfg
        self.sc = sc
        self.pb = pb
        self.actor = actor
        self.run = run or new_run_id()
        self.log = log or (lambda _m: None)
        self.injector = Injector(store, cfg, sc, run=self.run, actor="ircon-drill")
        self.incident: str | None = None
        self.problems: list[str] = []

    def _moves(self, t0: float) -> list[tuple[float, str, str]]:
        """(drill time, move, step id) of the whole scripted response."""
        a = self.sc.auto
        path, _ = drill.expected_path(self.pb, self.sc.expected.decisions)
        cont = self.sc.expected.containment
        last_c = max((path.index(s) for s in cont if s in path), default=-1)
        moves = [(t0 + a["acknowledge"], "acknowledge", ""),
                 (t0 + a["classify"], "classify", "")]
        before = path[: last_c + 1]
        span = max(0, a["contain"] - a["classify"])
        for i, sid in enumerate(before, 1):
            moves.append((t0 + a["classify"] + span * i / len(before), "step", sid))
        t = t0 + (a["contain"] if before else a["classify"])
        moves.append((t, "contained", ""))
        for sid in path[last_c + 1:]:
            t += a["step_interval"]
            moves.append((t, "step", sid))
        moves.append((t + a["step_interval"], "resolve", ""))
        return moves

    def play(self, markdown_path: Path | None = None) -> AutoResult:
        pending = list(self.sc.timeline)
        moves: list[tuple[float, str, str]] = []
        while pending or moves:
            nxt_inj = pending[0].at_s if pending else None
            nxt_move = moves[0][0] if moves else None
            if nxt_inj is not None and (nxt_move is None or nxt_inj <= nxt_move):
                inj = pending.pop(0)
                res = self.injector.inject(inj)
                if self.incident is None and res.opened:
                    self.incident = res.opened[0]
                    moves = sorted(self._moves(float(inj.at_s)), key=lambda m: m[0])
                if self.incident is not None:
                    extra: dict[str, Any] = {"kind": inj.kind, "index": inj.index}
                    if res.note:
                        extra["note"] = res.note
                    mark(self.store, self.incident, self.sc, self.run, "inject", inj.at_s,
                         actor="ircon-drill", **extra)
                self.log(f"{inj.at_s:>6}s inject {inj.kind}"
                         + (f" -> {', '.join(res.opened)}" if res.opened else ""))
                continue
            at, move, sid = moves.pop(0)
            assert self.incident is not None
            mark(self.store, self.incident, self.sc, self.run, "clock", at, actor=self.actor)
            try:
                self._do(move, sid)
            except Exception as exc:  # reported: the scenario does not play as written
                self.problems.append(f"{move} {sid}: {type(exc).__name__}: {exc}")
            self.log(f"{int(at):>6}s {move} {sid}".rstrip())
        if self.incident is None:
            self.problems.append("the timeline opened no incident: nothing to respond to")
        card = finish(self.store, self.sc, self.pb, self.incident, run=self.run,
                      actor=self.actor, rate=0.0, mode="auto", markdown_path=markdown_path)
        return AutoResult(card, self.incident, self.run, self.problems)

    def _do(self, move: str, sid: str) -> None:
        from ircon.store import incidents, playbooks

        hid = self.incident
        assert hid is not None
        exp = self.sc.expected
        if move == "acknowledge":
            incidents.set_status(self.store, hid, "acknowledged", "drill: acknowledged",
                                 actor=self.actor)
        elif move == "classify":
            cur = incidents.get(self.store, hid)
            if cur["severity"] != exp.severity:
                incidents.set_severity(self.store, hid, exp.severity,
                                       ["drill: classified by the responder"], override=True,
                                       actor=self.actor)
            playbooks.start_playbook(
                self.store, hid, exp.playbook, actor=self.actor,
                dirs=self.cfg.playbooks.dirs,
                instances={n: str(a.type) for n, a in self.cfg.adapters.items()})
        elif move == "step":
            self._step(sid)
        elif move == "contained":
            incidents.set_status(self.store, hid, "contained", "drill: containment done",
                                 actor=self.actor)
        elif move == "resolve":
            incidents.set_status(self.store, hid, "resolved", "drill: response complete",
                                 actor=self.actor)

    def _step(self, sid: str) -> None:
        from ircon.response.model import ActionStep, DecisionStep
        from ircon.store import playbooks

        hid = self.incident
        assert hid is not None
        exp = self.sc.expected
        step = self.pb.step(sid)
        if step is None:
            return
        if isinstance(step, DecisionStep):
            playbooks.record_decision(self.store, hid, sid, exp.decisions[sid],
                                      reason="drill: expected decision", actor=self.actor)
        elif sid not in exp.steps:
            playbooks.record_step(self.store, hid, sid, "skipped",
                                  reason="not part of this drill's expected response",
                                  actor=self.actor)
        elif isinstance(step, ActionStep):
            self._action(step)
        else:
            playbooks.record_step(self.store, hid, sid, "done", actor=self.actor)

    def _action(self, step: Any) -> None:
        from ircon.adapters import runner
        from ircon.response.actions_catalog import resolve_instances
        from ircon.response.engine import action_call
        from ircon.store import playbooks

        hid = self.incident
        assert hid is not None
        names = resolve_instances(step.adapter, {n: str(a.type)
                                                 for n, a in self.cfg.adapters.items()})
        if not names:
            raise RuntimeError(f"no adapter instance of type {step.adapter!r}")
        values = playbooks.template_values(self.store, hid, actor=self.actor)
        values["input"] = dict(self.sc.expected.inputs)
        call = action_call(step, values)
        out = runner.run_action(self.store, self.cfg, names[0], call.action, call.params,
                                incident=hid, actor=self.actor, dry_run=True)
        playbooks.record_step(self.store, hid, step.id, "done" if out.ok else "failed",
                              reason="" if out.ok else out.summary[:500], actor=self.actor)
