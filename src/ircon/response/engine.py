"""The step engine: a playbook plus the journal gives the state of the response.

Pure and deterministic: the same playbook and entries give the same state,
so reopening ircon (or a second console on the same database) resumes
exactly where the team was. The journal is the only input; the engine also
produces the entries (kind, body) that record a change, after checking the
change is allowed.

Walk: start at the first step; a done or skipped step continues with its
successor (a decision with the chosen option, or its default when skipped);
a failed action continues with ``on_failure`` when it has one. The first
step that is not finished is the current one. Steps no longer reachable
from the current one (a branch not taken) are skipped, with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from ircon.model import kinds
from ircon.model.journal import ChainEntry
from ircon.response import template
from ircon.response.model import END, ActionStep, DecisionStep, Playbook, Step, WaitStep

State = Literal["pending", "in_progress", "done", "skipped", "failed"]
STATES: tuple[State, ...] = ("pending", "in_progress", "done", "skipped", "failed")

# Allowed transitions a responder may record (from -> to).
_ALLOWED: dict[str, set[str]] = {
    "pending": {"in_progress", "done", "skipped", "failed"},
    "in_progress": {"done", "skipped", "failed", "pending"},
    "failed": {"in_progress", "done", "skipped"},
    "skipped": {"in_progress", "done", "pending"},
    "done": set(),  # finished steps stay finished; record a new note instead
}

NewEntry = tuple[str, dict[str, Any]]


class EngineError(ValueError):
    """A change that cannot be recorded, worded for the responder."""


@dataclass(slots=True, frozen=True)
class Record:
    """A journal entry as the engine sees it."""

    seq: int
    ts: datetime
    actor: str
    kind: str
    body: Mapping[str, Any]


@dataclass(slots=True)
class StepView:
    id: str
    kind: str
    title: str
    phase: str
    state: State = "pending"
    reason: str = ""
    on_path: bool = False  # on the walked path (done so far, or current)
    became_current: datetime | None = None
    started_at: datetime | None = None  # first in_progress
    finished_at: datetime | None = None
    actor: str | None = None  # who recorded the last change
    option: str | None = None  # decisions: the option taken
    due_at: datetime | None = None
    overdue: bool = False
    wait_until: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        def t(v: datetime | None) -> str | None:
            return v.isoformat().replace("+00:00", "Z") if v else None

        return {
            "id": self.id, "kind": self.kind, "title": self.title, "phase": self.phase,
            "state": self.state, "reason": self.reason, "on_path": self.on_path,
            "became_current": t(self.became_current), "started_at": t(self.started_at),
            "finished_at": t(self.finished_at), "actor": self.actor, "option": self.option,
            "due_at": t(self.due_at), "overdue": self.overdue, "wait_until": t(self.wait_until),
        }


@dataclass(slots=True, frozen=True)
class Decision:
    step: str
    option: str
    label: str
    next: str
    starts_clock: str | None
    actor: str
    ts: datetime
    seq: int


@dataclass(slots=True, frozen=True)
class Overdue:
    step: str
    title: str
    since: datetime
    due_at: datetime
    late_by: timedelta
    notify: tuple[str, ...]  # role ids
    message: str


@dataclass(slots=True)
class PlaybookState:
    name: str
    version: str
    hash: str | None
    started_at: datetime | None
    steps: dict[str, StepView]
    path: list[str]
    current: str | None
    next: list[str]  # where the current step may lead (several for a decision)
    decisions: list[Decision]
    overdue: list[Overdue]
    waits_elapsed: list[str]  # wait steps whose timer has run out (ready to mark done)
    finished: bool
    problems: list[str] = field(default_factory=list)  # entries ignored, and why

    def step(self, step_id: str) -> StepView:
        return self.steps[step_id]

    @property
    def clocks(self) -> list[str]:
        """Regulatory clocks started by the decisions currently in force."""
        latest: dict[str, Decision] = {}
        for d in self.decisions:
            latest[d.step] = d
        return [d.starts_clock for d in latest.values() if d.starts_clock]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "hash": self.hash,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "current": self.current, "next": self.next, "finished": self.finished,
            "path": self.path,
            "steps": [v.to_dict() for v in self.steps.values()],
            "decisions": [
                {"step": d.step, "option": d.option, "label": d.label, "next": d.next,
                 "starts_clock": d.starts_clock, "actor": d.actor, "seq": d.seq}
                for d in self.decisions
            ],
            "overdue": [
                {"step": o.step, "title": o.title, "due_at": o.due_at.isoformat(),
                 "late_by_s": int(o.late_by.total_seconds()), "notify": list(o.notify)}
                for o in self.overdue
            ],
            "waits_elapsed": self.waits_elapsed,
            "clocks": self.clocks,
            "problems": self.problems,
        }


# --- input normalisation -----------------------------------------------------------------

def to_records(entries: Iterable[ChainEntry | Mapping[str, Any]]) -> list[Record]:
    """Journal entries (``ChainEntry`` or their ``to_dict`` form) as records, in order."""
    out: list[Record] = []
    for e in entries:
        if isinstance(e, ChainEntry):
            body = json.loads(e.body)
            out.append(Record(e.seq, datetime.fromisoformat(e.ts), e.actor, e.kind, body))
        else:
            body = e.get("body", {})
            if isinstance(body, str):
                body = json.loads(body)
            ts = e.get("ts")
            when = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            out.append(Record(int(e.get("seq", 0)), when, str(e.get("actor", "")),
                              str(e["kind"]), body if isinstance(body, Mapping) else {}))
    return out


def since_last_start(records: Sequence[Record]) -> tuple[Record | None, list[Record]]:
    """The last ``playbook.started`` entry and the records after it."""
    for i in range(len(records) - 1, -1, -1):
        if records[i].kind == kinds.PLAYBOOK_STARTED:
            return records[i], list(records[i + 1:])
    return None, list(records)


# --- replay -------------------------------------------------------------------------------

def replay(
    pb: Playbook,
    entries: Iterable[ChainEntry | Mapping[str, Any] | Record],
    now: datetime | None = None,
) -> PlaybookState:
    """The state of ``pb`` after ``entries`` (only those after the last playbook start count)."""
    recs: list[Record] = []
    for e in entries:
        if isinstance(e, Record):
            recs.append(e)
        else:
            recs.extend(to_records([e]))
    started, records = since_last_start(recs)
    views = {s.id: StepView(s.id, s.kind, s.title, s.phase) for s in pb.steps}
    decisions: list[Decision] = []
    chosen: dict[str, str] = {}
    problems: list[str] = []
    for r in records:
        if r.kind == kinds.STEP:
            sid = str(r.body.get("step", ""))
            state = str(r.body.get("state", ""))
            v = views.get(sid)
            if v is None:
                problems.append(f"entry {r.seq}: unknown step {sid!r} ignored")
                continue
            if state not in STATES:
                problems.append(f"entry {r.seq}: unknown state {state!r} ignored")
                continue
            v.state = state
            v.reason = str(r.body.get("reason") or "")
            v.actor = r.actor
            if state == "in_progress" and v.started_at is None:
                v.started_at = r.ts
            if state in ("done", "skipped", "failed"):
                v.finished_at = r.ts
            elif state == "pending":
                v.finished_at = None
        elif r.kind == kinds.DECISION:
            sid = str(r.body.get("step", ""))
            step = pb.step(sid)
            opt = step.option(str(r.body.get("option", ""))) \
                if isinstance(step, DecisionStep) else None
            if step is None or opt is None:
                problems.append(f"entry {r.seq}: decision on {sid!r} does not match the "
                                "playbook; ignored")
                continue
            v = views[sid]
            v.state, v.option, v.actor, v.finished_at = "done", opt.id, r.actor, r.ts
            v.reason = str(r.body.get("reason") or "")
            chosen[sid] = opt.id
            decisions.append(Decision(sid, opt.id, opt.label, opt.next, opt.starts_clock,
                                      r.actor, r.ts, r.seq))

    start_ts = started.ts if started else (records[0].ts if records else None)
    path, current = _walk(pb, views, chosen, start_ts)
    _settle_off_path(pb, views, chosen, path, current)
    finished = current is None
    nxt: list[str] = []
    if current is not None:
        nxt = pb.successors(pb.step(current))  # type: ignore[arg-type]
    overdue, waits = _timers(pb, views, path, now)
    return PlaybookState(
        name=pb.name, version=pb.version,
        hash=str(started.body.get("hash")) if started else None,
        started_at=start_ts, steps=views, path=path, current=current, next=nxt,
        decisions=decisions, overdue=overdue, waits_elapsed=waits, finished=finished,
        problems=problems,
    )


def _continue(pb: Playbook, step: Step, view: StepView, chosen: Mapping[str, str]) -> str | None:
    """Where the walk goes after ``step``, or None when it stops here."""
    if isinstance(step, DecisionStep):
        if view.state == "done" and step.id in chosen:
            return step.option(chosen[step.id]).next  # type: ignore[union-attr]
        if view.state == "skipped":
            return step.default_option.next
        return None
    if view.state in ("done", "skipped"):
        return pb.successor(step)
    if view.state == "failed" and isinstance(step, ActionStep) and step.on_failure:
        return step.on_failure
    return None


def _walk(
    pb: Playbook, views: dict[str, StepView], chosen: Mapping[str, str], start: datetime | None
) -> tuple[list[str], str | None]:
    path: list[str] = []
    cur = pb.start
    became = start
    while cur != END:
        step = pb.step(cur)
        if step is None or cur in path:  # broken or cyclic playbook: stop, never loop
            return path, None
        view = views[cur]
        path.append(cur)
        view.on_path = True
        view.became_current = became
        nxt = _continue(pb, step, view, chosen)
        if nxt is None:
            return path, cur
        if view.finished_at is not None:
            became = max(became, view.finished_at) if became else view.finished_at
        cur = nxt
    return path, None


def _reachable(pb: Playbook, roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    todo = [r for r in roots if r != END]
    while todo:
        sid = todo.pop()
        if sid in seen or pb.step(sid) is None:
            continue
        seen.add(sid)
        todo.extend(t for t in pb.successors(pb.step(sid)) if t != END)  # type: ignore[arg-type]
    return seen


def _settle_off_path(
    pb: Playbook, views: dict[str, StepView], chosen: Mapping[str, str],
    path: list[str], current: str | None,
) -> None:
    ahead = _reachable(pb, [current]) if current else set()
    reasons = _branch_reasons(pb, chosen, path)
    for s in pb.steps:
        v = views[s.id]
        if v.on_path or s.id in ahead:
            continue
        if v.state in ("done", "failed", "in_progress"):
            continue  # work done off the path is kept as recorded
        v.state = "skipped"
        v.reason = reasons.get(s.id, "not on the path taken")


def _branch_reasons(pb: Playbook, chosen: Mapping[str, str], path: list[str]) -> dict[str, str]:
    """For steps cut off by a decision on the path: which decision, which option."""
    out: dict[str, str] = {}
    for pid in path:
        step = pb.step(pid)
        if not isinstance(step, DecisionStep) or pid not in chosen:
            continue
        taken = step.option(chosen[pid])
        if taken is None:
            continue
        others = [o.next for o in step.options if o.id != taken.id]
        for sid in _reachable(pb, others) - _reachable(pb, [taken.next]):
            out.setdefault(sid, f"branch not taken: {step.title} → {taken.label}")
    return out


def _timers(
    pb: Playbook, views: dict[str, StepView], path: list[str], now: datetime | None
) -> tuple[list[Overdue], list[str]]:
    overdue: list[Overdue] = []
    waits: list[str] = []
    for sid in path:
        step = pb.step(sid)
        v = views[sid]
        if step is None:
            continue
        since = v.started_at or v.became_current
        if since is None:
            continue
        if isinstance(step, WaitStep):
            v.wait_until = since + timedelta(seconds=step.duration_s)
            if v.state in ("pending", "in_progress") and now and now >= v.wait_until:
                waits.append(sid)
        limit = step.time_limit_s
        if limit is None:
            continue
        v.due_at = since + timedelta(seconds=limit)
        if v.state in ("done", "skipped") or now is None or now <= v.due_at:
            continue
        v.overdue = True
        esc = step.escalate
        overdue.append(Overdue(
            sid, step.title, since, v.due_at, now - v.due_at,
            tuple(esc.notify) if esc else ("commander",),
            esc.message if esc and esc.message else
            f"Step '{step.title}' is past its {step.time_limit} time limit",
        ))
    return overdue, waits


# --- producing entries --------------------------------------------------------------------

def start_entry(pb: Playbook, source: str, content_hash: str) -> NewEntry:
    """The entry that pins ``pb`` (its full source text) to an incident."""
    return kinds.PLAYBOOK_STARTED, {
        "name": pb.name, "version": pb.version, "title": pb.title,
        "hash": content_hash, "source": source,
    }


def step_entries(
    pb: Playbook, state: PlaybookState, step_id: str, new_state: str, reason: str = ""
) -> list[NewEntry]:
    """The entries recording ``step_id`` -> ``new_state``; EngineError when not allowed."""
    step = pb.step(step_id)
    if step is None:
        raise EngineError(f"playbook {pb.name} has no step {step_id!r}")
    if new_state not in STATES:
        raise EngineError(f"state must be one of {', '.join(STATES)}")
    view = state.steps[step_id]
    reason = reason.strip()
    if new_state == view.state:
        raise EngineError(f"step {step_id!r} is already {new_state}")
    if new_state not in _ALLOWED[view.state]:
        raise EngineError(f"step {step_id!r} is {view.state}; it cannot become {new_state}")
    if new_state == "skipped" and not reason:
        raise EngineError("skipping a step needs a reason (it goes into the journal)")
    if isinstance(step, DecisionStep) and new_state in ("done", "failed"):
        raise EngineError(f"{step_id!r} is a decision: record it by choosing one of "
                          f"{', '.join(o.id for o in step.options)}")
    if new_state == "failed" and not isinstance(step, ActionStep) and not reason:
        raise EngineError("marking a step failed needs a reason")
    return [(kinds.STEP, {"step": step_id, "state": new_state, "reason": reason,
                          "title": step.title})]


def decision_entries(
    pb: Playbook, state: PlaybookState, step_id: str, option_id: str, reason: str = ""
) -> list[NewEntry]:
    """The entry recording a decision; changing an earlier decision needs a reason."""
    step = pb.step(step_id)
    if not isinstance(step, DecisionStep):
        raise EngineError(f"{step_id!r} is not a decision step of {pb.name}")
    opt = step.option(option_id)
    if opt is None:
        raise EngineError(f"{step_id!r} has no option {option_id!r}; options: "
                          f"{', '.join(o.id for o in step.options)}")
    view = state.steps[step_id]
    if view.option == option_id:
        raise EngineError(f"{option_id!r} is already the decision at {step_id!r}")
    if view.option is not None and not reason.strip():
        raise EngineError("changing a decision needs a reason (it goes into the journal)")
    body: dict[str, Any] = {
        "step": step_id, "option": opt.id, "label": opt.label, "next": opt.next,
        "question": step.question, "reason": reason.strip(),
    }
    if opt.starts_clock:
        body["starts_clock"] = opt.starts_clock
    return [(kinds.DECISION, body)]


# --- running an action step ---------------------------------------------------------------

@dataclass(slots=True, frozen=True)
class ActionCall:
    adapter: str
    action: str
    params: dict[str, str]
    requires_confirmation: bool
    undo_action: str | None
    undo_params: dict[str, str]


def inputs_needed(step: ActionStep) -> list[str]:
    """Names of ``{input.NAME}`` values the responder must type before the step runs."""
    out: list[str] = []
    texts = list(step.params.values()) + (list(step.undo.params.values()) if step.undo else [])
    for text in texts:
        for f in template.fields(text):
            if f.startswith("input.") and f[6:] not in out:
                out.append(f[6:])
    return out


def action_call(step: ActionStep, values: Mapping[str, Any]) -> ActionCall:
    """The adapter call of an action step with its parameters rendered from ``values``.

    ``values`` is a dict of dicts (``{"incident": {...}, "finding": {...}, "input":
    {...}}``); TemplateError names every missing field. Undo parameters that cannot
    be rendered yet (they may need the action's result) are left out.
    """
    params = {k: template.render(v, values) for k, v in step.params.items()}
    undo_params: dict[str, str] = {}
    if step.undo:
        for k, v in step.undo.params.items():
            try:
                undo_params[k] = template.render(v, values)
            except template.TemplateError:
                continue
    return ActionCall(step.adapter, step.action, params, step.requires_confirmation,
                      step.undo.action if step.undo else None, undo_params)
