"""Tabletop drills: the scenario model and the scorecard. Pure: no store, no I/O.

A scenario is a timeline of injections (alerts, gateway telemetry, notes for
the responders) on a drill clock, and the response expected of the team:
severity, playbook, the decisions and steps of that playbook, containment,
and deadlines (acknowledge within N minutes, classify, contain within M).

Scoring reads the drill incident's journal. Drill time is carried by
``drill`` entries whose ``at_s`` says what the drill clock read when they
were written; any other entry's drill time is the nearest such marker before
it plus the wall time elapsed since, times the drill's rate. So a live drill
(rate 1) measures real responders, and ``--auto`` (which journals a marker
before each thing it does) measures the scripted response on the same scale.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ircon.model import kinds
from ircon.model.severity import SEVERITIES
from ircon.response.model import ActionStep, DecisionStep, Playbook, format_duration, parse_duration

InjectKind = Literal["alert", "telemetry", "note"]
INJECT_KINDS: tuple[InjectKind, ...] = ("alert", "telemetry", "note")
CLOCKS = ("acknowledge", "classify", "contain")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_TIMELINE = 200
MAX_TELEMETRY = 5000  # requests one injection may generate
MAX_DRILL_S = 30 * 86400

_TOP_KEYS = ("name", "title", "description", "playbook", "duration", "timeline", "expected",
             "auto", "practice")
_EXPECTED_KEYS = ("severity", "playbook", "steps", "decisions", "containment", "inputs",
                  "deadlines")
_ALERT_KEYS = ("name", "severity", "summary", "labels", "annotations")
_TELEMETRY_KEYS = ("prompt", "response", "count", "accounts", "model", "params", "spacing",
                   "system", "role", "team")
_AUTO_KEYS = ("acknowledge", "classify", "contain", "step_interval")


class ScenarioError(ValueError):
    """A scenario that cannot be run; each problem names the file and the key."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Inject:
    at_s: int
    kind: InjectKind
    data: Mapping[str, Any]
    index: int  # position in the file's timeline, for messages


@dataclass(frozen=True, slots=True)
class Expected:
    severity: str
    playbook: str
    steps: tuple[str, ...]
    decisions: Mapping[str, str]
    containment: tuple[str, ...]
    inputs: Mapping[str, str]
    deadlines: Mapping[str, int]  # clock -> seconds from the incident's opening


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    description: str
    duration_s: int
    timeline: tuple[Inject, ...]
    expected: Expected
    auto: Mapping[str, int]  # when --auto does each part, seconds after the incident opened
    practice: Mapping[str, str]
    origin: str = ""

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "playbook": self.expected.playbook,
                "severity": self.expected.severity,
                "deadlines": {k: format_duration(v) for k, v in self.expected.deadlines.items()},
                "injections": len(self.timeline), "origin": self.origin}


# --- parsing ------------------------------------------------------------------------------


def seconds(value: Any) -> int:
    """Drill times: ``0``, ``90`` (seconds), ``15m``, ``1h30m``; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time; write it like 0m, 90s, 15m or 1h30m")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a drill time cannot be negative")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("-"):
            raise ValueError(f"{value!r}: a drill time cannot be negative")
        if text in ("0", "0s", "0m", "0h"):
            return 0
        return parse_duration(text)
    raise ValueError(f"{value!r} is not a time; write it like 0m, 90s, 15m or 1h30m")


class _P:
    """Collects problems with their location instead of stopping at the first."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.problems: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.problems.append(f"{self.origin}: {where}: {what}")

    def keys(self, where: str, d: Mapping[str, Any], allowed: Sequence[str]) -> None:
        for k in d:
            if k not in allowed:
                self.add(f"{where}.{k}" if where else str(k),
                         f"unknown key — use one of {', '.join(allowed)}")

    def time(self, where: str, v: Any) -> int | None:
        try:
            return seconds(v)
        except ValueError as exc:
            self.add(where, str(exc))
            return None

    def text(self, where: str, v: Any, *, required: bool = False, limit: int = 20000
             ) -> str:
        if v is None:
            if required:
                self.add(where, "missing — add it")
            return ""
        if not isinstance(v, str):
            self.add(where, f"expected text, got {type(v).__name__}")
            return ""
        if len(v) > limit:
            self.add(where, f"longer than {limit} characters")
        return v

    def strs(self, where: str, v: Any) -> tuple[str, ...]:
        if v is None:
            return ()
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            self.add(where, "expected a list of step ids")
            return ()
        return tuple(v)

    def mapping(self, where: str, v: Any) -> dict[str, Any]:
        if v is None:
            return {}
        if not isinstance(v, dict):
            self.add(where, f"expected a mapping, got {type(v).__name__}")
            return {}
        return {str(k): x for k, x in v.items()}


def _inject(p: _P, i: int, raw: Any) -> Inject | None:
    where = f"timeline[{i}]"
    if not isinstance(raw, dict):
        p.add(where, "each timeline entry is a mapping with `at` and one of "
                     + ", ".join(INJECT_KINDS))
        return None
    present = [k for k in raw if k != "at"]
    unknown = [k for k in present if k not in INJECT_KINDS]
    for k in unknown:
        p.add(f"{where}.{k}", f"unknown step {k!r} — a timeline entry injects one of "
                              + ", ".join(INJECT_KINDS))
    kinds_ = [k for k in present if k in INJECT_KINDS]
    if "at" not in raw:
        p.add(f"{where}.at", "missing — say when it happens on the drill clock (e.g. 0m, 5m)")
    at = p.time(f"{where}.at", raw.get("at", 0))
    if not kinds_:
        if not unknown:
            p.add(where, "nothing to inject — add one of " + ", ".join(INJECT_KINDS))
        return None
    if len(kinds_) > 1:
        p.add(where, f"one injection per entry, found {', '.join(kinds_)} — split it")
        return None
    kind: InjectKind = kinds_[0]
    body = raw[kind]
    if kind == "note":
        text = p.text(f"{where}.note", body, required=True, limit=2000)
        data: dict[str, Any] = {"text": text}
    elif kind == "alert":
        data = p.mapping(f"{where}.alert", body)
        p.keys(f"{where}.alert", data, _ALERT_KEYS)
        p.text(f"{where}.alert.name", data.get("name"), required=True, limit=200)
        for k in ("labels", "annotations"):
            m = p.mapping(f"{where}.alert.{k}", data.get(k))
            if any(not isinstance(v, str | int | float) or isinstance(v, bool)
                   for v in m.values()):
                p.add(f"{where}.alert.{k}", "values must be text or numbers")
    else:
        data = p.mapping(f"{where}.telemetry", body)
        p.keys(f"{where}.telemetry", data, _TELEMETRY_KEYS)
        p.text(f"{where}.telemetry.prompt", data.get("prompt"), required=True)
        for k, lo, hi in (("count", 1, MAX_TELEMETRY), ("accounts", 1, MAX_TELEMETRY)):
            v = data.get(k, 1)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                p.add(f"{where}.telemetry.{k}", f"a whole number from {lo} to {hi}")
        if "spacing" in data:
            p.time(f"{where}.telemetry.spacing", data["spacing"])
        p.mapping(f"{where}.telemetry.params", data.get("params"))
        if data.get("role", "user") not in ("user", "tool"):
            p.add(f"{where}.telemetry.role", "use user or tool")
    if at is None:
        return None
    return Inject(at, kind, data, i)


def parse(data: Any, origin: str = "<scenario>") -> Scenario:
    """A validated scenario from decoded YAML; ScenarioError lists every problem."""
    p = _P(origin)
    if not isinstance(data, dict):
        raise ScenarioError([f"{origin}: a scenario is a mapping with name, playbook, "
                             "timeline and expected"])
    p.keys("", data, _TOP_KEYS)
    name = p.text("name", data.get("name"), required=True, limit=64)
    if name and not NAME_RE.match(name):
        p.add("name", "lowercase letters, digits and dashes, like jailbreak-campaign")
    title = p.text("title", data.get("title"), required=True, limit=200)
    description = p.text("description", data.get("description"), limit=4000)
    duration = p.time("duration", data.get("duration", "2h")) or 0
    if duration > MAX_DRILL_S:
        p.add("duration", "a drill longer than 30 days is surely a mistake")

    raw_tl = data.get("timeline")
    timeline: list[Inject] = []
    if not isinstance(raw_tl, list) or not raw_tl:
        p.add("timeline", "missing or empty — list what happens, e.g. "
                          "[{at: 0m, alert: {name: ...}}]")
    elif len(raw_tl) > MAX_TIMELINE:
        p.add("timeline", f"more than {MAX_TIMELINE} entries")
    else:
        for i, raw in enumerate(raw_tl):
            inj = _inject(p, i, raw)
            if inj is not None:
                timeline.append(inj)
    for inj in timeline:
        if duration and inj.at_s > duration:
            p.add(f"timeline[{inj.index}].at",
                  f"{format_duration(inj.at_s)} is after the end of the drill "
                  f"(duration {format_duration(duration)})")
    for prev, cur in itertools.pairwise(timeline):
        if cur.at_s < prev.at_s:
            p.add(f"timeline[{cur.index}].at",
                  f"{_fmt(cur.at_s)} is before the entry above it ({_fmt(prev.at_s)}); "
                  "keep the timeline in order")
    if timeline and not any(t.kind in ("alert", "telemetry") for t in timeline):
        p.add("timeline", "only notes: inject at least one alert or telemetry so there is "
                          "an incident to respond to")

    exp = p.mapping("expected", data.get("expected"))
    if "expected" not in data:
        p.add("expected", "missing — say what the right response is")
    p.keys("expected", exp, _EXPECTED_KEYS)
    severity = p.text("expected.severity", exp.get("severity"), required=True)
    if severity and severity not in SEVERITIES:
        p.add("expected.severity", f"use one of {', '.join(SEVERITIES)}")
    playbook = p.text("playbook", data.get("playbook"), limit=64) or \
        p.text("expected.playbook", exp.get("playbook"), limit=64)
    if not playbook:
        p.add("playbook", "missing — name the playbook the response should follow")
    if data.get("playbook") and exp.get("playbook") and data["playbook"] != exp["playbook"]:
        p.add("expected.playbook", "differs from the top-level playbook; keep one")
    decisions = {k: str(v) for k, v in p.mapping("expected.decisions",
                                                  exp.get("decisions")).items()}
    inputs = {k: str(v) for k, v in p.mapping("expected.inputs", exp.get("inputs")).items()}
    deadlines: dict[str, int] = {}
    for k, v in p.mapping("expected.deadlines", exp.get("deadlines")).items():
        if k not in CLOCKS:
            p.add(f"expected.deadlines.{k}", f"unknown clock — use one of {', '.join(CLOCKS)}")
            continue
        s = p.time(f"expected.deadlines.{k}", v)
        if s is not None:
            if s == 0:
                p.add(f"expected.deadlines.{k}", "a deadline of zero cannot be met")
            deadlines[k] = s
    if "acknowledge" in deadlines and "contain" in deadlines \
            and deadlines["contain"] < deadlines["acknowledge"]:
        p.add("expected.deadlines.contain",
              f"{format_duration(deadlines['contain'])} is before the acknowledge deadline "
              f"({format_duration(deadlines['acknowledge'])}); containment follows "
              "acknowledgement")
    for k, s in deadlines.items():
        if duration and s > duration:
            p.add(f"expected.deadlines.{k}",
                  f"{format_duration(s)} is after the end of the drill "
                  f"(duration {format_duration(duration)})")
    expected = Expected(severity, playbook, p.strs("expected.steps", exp.get("steps")),
                        decisions, p.strs("expected.containment", exp.get("containment")),
                        inputs, deadlines)

    auto_raw = p.mapping("auto", data.get("auto"))
    p.keys("auto", auto_raw, _AUTO_KEYS)
    auto: dict[str, int] = {}
    for k, v in auto_raw.items():
        if k in _AUTO_KEYS:
            s = p.time(f"auto.{k}", v)
            if s is not None:
                auto[k] = s
    auto.setdefault("acknowledge", min(60, deadlines.get("acknowledge", 60)))
    auto.setdefault("classify", max(auto["acknowledge"], 120))
    auto.setdefault("step_interval", 30)
    auto.setdefault("contain", auto["classify"] + 60)
    for first, then in itertools.pairwise(("acknowledge", "classify", "contain")):
        if auto[then] < auto[first]:
            p.add(f"auto.{then}", f"the scripted response cannot {then} ({_fmt(auto[then])}) "
                                  f"before it can {first} ({_fmt(auto[first])})")
    practice = {k: str(v) for k, v in p.mapping("practice", data.get("practice")).items()}
    if p.problems:
        raise ScenarioError(p.problems)
    return Scenario(name, title, description, duration, tuple(timeline), expected, auto,
                    practice, origin)


# --- checking a scenario against its playbook ---------------------------------------------


def expected_path(pb: Playbook, decisions: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """The steps the expected decisions lead through, and problems on the way (a decision
    reached without an expected option, or an unknown option)."""
    path: list[str] = []
    problems: list[str] = []
    cur = pb.start
    while cur != "end":
        step = pb.step(cur)
        if step is None or cur in path:
            break
        path.append(cur)
        if isinstance(step, DecisionStep):
            chosen = decisions.get(cur)
            if chosen is None:
                problems.append(f"expected.decisions: the path reaches decision {cur!r} "
                                f"({step.title}); add which option the team should take: "
                                + ", ".join(o.id for o in step.options))
                break
            opt = step.option(chosen)
            if opt is None:
                problems.append(f"expected.decisions.{cur}: {chosen!r} is not an option; use "
                                + ", ".join(o.id for o in step.options))
                break
            cur = opt.next
        else:
            cur = pb.successor(step)
    return path, problems


def check_against(sc: Scenario, pb: Playbook | None) -> list[str]:
    """Problems of a parsed scenario against the playbook it names (None: not found)."""
    o = sc.origin
    exp = sc.expected
    if pb is None:
        return [f"{o}: playbook: no playbook named {exp.playbook!r} — `ircon playbook list` "
                "shows the available ones"]
    out: list[str] = []
    for sid in exp.decisions:
        step = pb.step(sid)
        if step is None:
            out.append(f"{o}: expected.decisions.{sid}: playbook {pb.name} has no step {sid!r}")
        elif not isinstance(step, DecisionStep):
            out.append(f"{o}: expected.decisions.{sid}: {sid!r} is a {step.kind} step, "
                       "not a decision")
    if out:
        return out
    path, problems = expected_path(pb, exp.decisions)
    out += [f"{o}: {x}" for x in problems]
    for sid in exp.steps:
        if pb.step(sid) is None:
            out.append(f"{o}: expected.steps: playbook {pb.name} has no step {sid!r}")
        elif not problems and sid not in path:
            out.append(f"{o}: expected.steps: {sid!r} is not on the path the expected "
                       f"decisions lead through ({' > '.join(path)})")
    for sid in exp.containment:
        step = pb.step(sid)
        if step is None:
            out.append(f"{o}: expected.containment: playbook {pb.name} has no step {sid!r}")
        elif not isinstance(step, ActionStep):
            out.append(f"{o}: expected.containment: {sid!r} is a {step.kind} step; "
                       "containment names action steps")
        elif sid not in exp.steps:
            out.append(f"{o}: expected.containment: {sid!r} must also be in expected.steps")
    return out


# --- scoring ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal entry as scoring needs it."""

    seq: int
    ts: datetime
    actor: str
    kind: str
    body: Mapping[str, Any]


def drill_times(entries: Sequence[Entry], rate: float = 1.0) -> dict[int, float]:
    """Drill-clock seconds of every entry (by seq), from the ``drill`` markers."""
    markers = [(e.seq, e.ts, float(e.body["at_s"])) for e in entries
               if e.kind == kinds.DRILL and isinstance(e.body.get("at_s"), int | float)]
    out: dict[int, float] = {}
    if not markers:
        return out
    mi = 0
    for e in entries:
        while mi + 1 < len(markers) and markers[mi + 1][0] <= e.seq:
            mi += 1
        _, mts, mat = markers[mi]
        out[e.seq] = max(0.0, mat + (e.ts - mts).total_seconds() * rate)
    return out


@dataclass
class Scorecard:
    scenario: str
    title: str
    incident: str | None
    score: int
    times: dict[str, float | None]  # time_to_acknowledge_s, ... from the incident's opening
    deadlines: dict[str, int]
    clocks: dict[str, str]  # clock -> met, missed, not done, no deadline
    severity: dict[str, str | None]  # expected, actual
    playbook: dict[str, str | None]
    steps_taken: list[str]
    steps_missed: list[str]
    steps_skipped: list[str]
    wrong_decisions: list[dict[str, str]]
    containment_done: list[str]
    containment_missed: list[str]
    unexpected_actions: list[str]
    practise: list[str]
    points: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario, "title": self.title, "incident": self.incident,
            "score": self.score, **self.times, "times": self.times,
            "deadlines_s": self.deadlines, "clocks": self.clocks, "severity": self.severity,
            "playbook": self.playbook, "steps_taken": self.steps_taken,
            "steps_missed": self.steps_missed, "steps_skipped": self.steps_skipped,
            "wrong_decisions": self.wrong_decisions, "containment_done": self.containment_done,
            "containment_missed": self.containment_missed,
            "unexpected_actions": self.unexpected_actions, "practise": self.practise,
            "points": self.points,
        }


WEIGHTS = {"severity": 15.0, "playbook": 15.0, "steps": 20.0, "containment": 20.0,
           "clocks": 30.0}


def _fmt(s: float | None) -> str:
    if s is None:
        return "not done"
    return format_duration(round(s)) if s >= 1 else "0s"


def score(sc: Scenario, entries: Sequence[Entry], *, incident: str | None,
          pb: Playbook | None = None, rate: float = 1.0) -> Scorecard:
    """The scorecard of one drill incident from its journal entries."""
    exp = sc.expected
    times = drill_times(entries, rate)
    severity: str | None = None
    playbook: str | None = None
    opened: float | None = None
    acked: float | None = None
    classified: float | None = None
    contained_status: float | None = None
    step_state: dict[str, str] = {}
    done_at: dict[str, float] = {}
    chosen: dict[str, str] = {}
    all_contained: float | None = None
    actions: list[str] = []
    for e in entries:
        t = times.get(e.seq)
        b = e.body
        if e.kind == kinds.INCIDENT_OPENED:
            severity = str(b.get("severity") or "") or None
            opened = t
        elif e.kind == kinds.SEVERITY:
            severity = str(b.get("severity") or "") or severity
        elif e.kind == kinds.PLAYBOOK_STARTED:
            playbook = str(b.get("name") or "") or None
            step_state.clear()
            chosen.clear()
        elif e.kind == kinds.STATUS:
            st = str(b.get("status") or "")
            if st and st != "open" and acked is None:
                acked = t
            if st in ("contained", "resolved", "closed") and contained_status is None:
                contained_status = t
        elif e.kind == kinds.STEP:
            sid, st = str(b.get("step") or ""), str(b.get("state") or "")
            step_state[sid] = st
            if st == "done" and t is not None:
                done_at.setdefault(sid, t)
        elif e.kind == kinds.DECISION:
            sid = str(b.get("step") or "")
            chosen[sid] = str(b.get("option") or "")
            step_state[sid] = "done"
            if t is not None:
                done_at.setdefault(sid, t)
        elif e.kind == kinds.ACTION_REQUEST:
            actions.append(f"{b.get('adapter')} {b.get('action')}")
        if classified is None and severity == exp.severity and playbook == exp.playbook:
            classified = t
        if all_contained is None and exp.containment and playbook == exp.playbook and all(
                step_state.get(s) == "done" for s in exp.containment):
            all_contained = t
    contained = all_contained if exp.containment else contained_status
    base = opened if opened is not None else 0.0

    def since(x: float | None) -> float | None:
        return None if x is None else round(max(0.0, x - base), 1)

    measured = {"time_to_acknowledge_s": since(acked), "time_to_classify_s": since(classified),
                "time_to_contain_s": since(contained)}
    by_clock = dict(zip(CLOCKS, measured.values(), strict=True))

    clocks: dict[str, str] = {}
    for c in CLOCKS:
        m = by_clock[c]
        if c not in exp.deadlines:
            clocks[c] = "done" if m is not None else "not done"
        elif m is None:
            clocks[c] = "not done"
        else:
            clocks[c] = "met" if m <= exp.deadlines[c] else "missed"

    on_playbook = playbook == exp.playbook
    taken, missed, skipped = [], [], []
    wrong: list[dict[str, str]] = []
    for sid in exp.steps:
        want = exp.decisions.get(sid)
        state = step_state.get(sid) if on_playbook else None
        if want is not None and sid in chosen and chosen[sid] != want and on_playbook:
            wrong.append({"step": sid, "chosen": chosen[sid], "expected": want})
            missed.append(sid)
        elif state == "done":
            taken.append(sid)
        else:
            missed.append(sid)
            if state == "skipped":
                skipped.append(sid)
    cont_done = [s for s in exp.containment if on_playbook and step_state.get(s) == "done"]
    cont_missed = [s for s in exp.containment if s not in cont_done]
    unexpected: list[str] = []
    if pb is not None and on_playbook:
        for s in pb.steps:
            if isinstance(s, ActionStep) and step_state.get(s.id) == "done" \
                    and s.id not in exp.steps:
                unexpected.append(s.id)

    pts: dict[str, float] = {}
    pts["severity"] = WEIGHTS["severity"] if severity == exp.severity else 0.0
    pts["playbook"] = WEIGHTS["playbook"] if on_playbook else 0.0
    pts["steps"] = WEIGHTS["steps"] * (len(taken) / len(exp.steps) if exp.steps else
                                       (1.0 if on_playbook else 0.0))
    pts["containment"] = WEIGHTS["containment"] * (
        len(cont_done) / len(exp.containment) if exp.containment
        else (1.0 if contained is not None else 0.0))
    ok_clocks = sum(1 for c in CLOCKS if clocks[c] in ("met", "done"))
    pts["clocks"] = WEIGHTS["clocks"] * ok_clocks / len(CLOCKS)
    penalty = 5.0 * len(unexpected)
    total = max(0, min(100, round(sum(pts.values()) - penalty)))
    if penalty:
        pts["unexpected_actions"] = -penalty

    practise = _practise(sc, clocks, by_clock, severity, playbook, missed, wrong, cont_missed,
                         unexpected)
    return Scorecard(
        scenario=sc.name, title=sc.title, incident=incident, score=total, times=measured,
        deadlines=dict(exp.deadlines), clocks=clocks,
        severity={"expected": exp.severity, "actual": severity},
        playbook={"expected": exp.playbook, "actual": playbook},
        steps_taken=taken, steps_missed=missed, steps_skipped=skipped, wrong_decisions=wrong,
        containment_done=cont_done, containment_missed=cont_missed,
        unexpected_actions=unexpected, practise=practise,
        points={k: round(v, 1) for k, v in pts.items()},
    )


def _practise(sc: Scenario, clocks: Mapping[str, str], by_clock: Mapping[str, float | None],
              severity: str | None, playbook: str | None, missed: Iterable[str],
              wrong: Iterable[Mapping[str, str]], cont_missed: Iterable[str],
              unexpected: Iterable[str]) -> list[str]:
    """What to practise next, most important first; scenario hints where it has them."""
    exp = sc.expected
    hint = sc.practice
    out: list[str] = []
    for c in CLOCKS:
        if clocks[c] in ("missed", "not done") and (c in exp.deadlines or c != "classify"):
            took = by_clock[c]
            limit = exp.deadlines.get(c)
            what = (f"{c}: took {_fmt(took)}" if took is not None else f"{c}: never done")
            if limit:
                what += f" against a {format_duration(limit)} deadline"
            out.append(what + (f" — {hint[c]}" if c in hint else ""))
    if severity != exp.severity:
        out.append(f"severity: the incident ended {severity or 'unclassified'}, expected "
                   f"{exp.severity} — review the impact x urgency matrix"
                   + (f" — {hint['severity']}" if "severity" in hint else ""))
    if playbook != exp.playbook:
        out.append(f"playbook: {playbook or 'none'} was run, expected {exp.playbook}"
                   + (f" — {hint['playbook']}" if "playbook" in hint else ""))
    for w in wrong:
        out.append(f"decision {w['step']}: chose {w['chosen']}, expected {w['expected']}"
                   + (f" — {hint[w['step']]}" if w["step"] in hint else ""))
    for s in cont_missed:
        out.append(f"containment {s}: not done" + (f" — {hint[s]}" if s in hint else ""))
    for s in missed:
        if s in exp.containment or any(w["step"] == s for w in wrong):
            continue
        out.append(f"step {s}: not done" + (f" — {hint[s]}" if s in hint else ""))
    for s in unexpected:
        out.append(f"action {s}: run but not part of the expected response — check the "
                   "blast radius before acting")
    return out


def markdown(card: Scorecard) -> str:
    """The scorecard as Markdown (plain text values: nothing here is attacker-written
    except the incident id, which ircon generated)."""
    def row(*cells: str) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    lines = [f"# Drill scorecard: {card.title}", "",
             f"Scenario `{card.scenario}`, incident {card.incident or 'none'}. "
             f"**Score: {card.score}/100.**", "",
             "## Clocks (from the incident's opening)", "",
             row("clock", "measured", "deadline", "result"), row("---", "---", "---", "---")]
    for c in CLOCKS:
        m = card.times[f"time_to_{c}_s"]
        dl = card.deadlines.get(c)
        lines.append(row(c, _fmt(m), format_duration(dl) if dl else "—", card.clocks[c]))
    lines += ["", "## Classification", "",
              f"- Severity: {card.severity['actual'] or 'none'} "
              f"(expected {card.severity['expected']})",
              f"- Playbook: {card.playbook['actual'] or 'none'} "
              f"(expected {card.playbook['expected']})", "",
              "## Steps", "",
              f"- Taken: {', '.join(card.steps_taken) or 'none'}",
              f"- Missed: {', '.join(card.steps_missed) or 'none'}",
              f"- Skipped: {', '.join(card.steps_skipped) or 'none'}",
              f"- Containment done: {', '.join(card.containment_done) or 'none'}",
              f"- Containment missed: {', '.join(card.containment_missed) or 'none'}"]
    if card.wrong_decisions:
        lines.append("- Decisions that differed: " + ", ".join(
            f"{w['step']} ({w['chosen']}, expected {w['expected']})"
            for w in card.wrong_decisions))
    if card.unexpected_actions:
        lines.append(f"- Actions beyond the expected containment: "
                     f"{', '.join(card.unexpected_actions)}")
    lines += ["", "## What to practise next", ""]
    lines += [f"- {p}" for p in card.practise] or ["- Nothing missed: raise the difficulty "
                                                   "(shorter deadlines, a night-time drill)."]
    lines += ["", "## Points", "",
              ", ".join(f"{k} {v:g}" for k, v in card.points.items()), ""]
    return "\n".join(lines)
