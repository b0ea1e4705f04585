"""Helpers for playbook tests: a pure journal of dict entries, path enumeration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ircon.model import kinds
from ircon.model.journal import format_ts
from ircon.response import engine
from ircon.response.loader import LoadResult, load_text
from ircon.response.model import ActionStep, DecisionStep, Playbook

T0 = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)


class PureJournal:
    """Entries as dicts (the export form), appended through the engine's own producers."""

    def __init__(self, res: LoadResult, start: datetime = T0) -> None:
        assert res.playbook is not None and res.source is not None and res.sha256
        self.pb: Playbook = res.playbook
        self.now = start
        self.entries: list[dict[str, Any]] = []
        kind, body = engine.start_entry(self.pb, res.source, res.sha256)
        self._add(kind, body)

    def _add(self, kind: str, body: dict[str, Any], actor: str = "tester@ci") -> None:
        self.now += timedelta(minutes=1)
        self.entries.append({
            "seq": len(self.entries) + 1, "ts": format_ts(self.now), "actor": actor,
            "kind": kind, "body": body,
        })

    def state(self, now: datetime | None = None) -> engine.PlaybookState:
        return engine.replay(self.pb, self.entries, now=now or self.now)

    def step(self, step_id: str, state: str, reason: str = "") -> engine.PlaybookState:
        self.apply(step_id, state, reason)
        return self.state()

    def apply(
        self, step_id: str, state: str, reason: str = "",
        current: engine.PlaybookState | None = None,
    ) -> None:
        st = current or self.state()
        for kind, body in engine.step_entries(self.pb, st, step_id, state, reason):
            self._add(kind, body)

    def decide(self, step_id: str, option: str, reason: str = "") -> engine.PlaybookState:
        for kind, body in engine.decision_entries(self.pb, self.state(), step_id, option, reason):
            self._add(kind, body)
        return self.state()

    def copy(self) -> PureJournal:
        new = object.__new__(PureJournal)
        new.pb, new.now, new.entries = self.pb, self.now, list(self.entries)
        return new


def load(text: str) -> LoadResult:
    res = load_text(text, "<test>")
    assert res.playbook is not None, [str(p) for p in res.problems]
    return res


def all_paths(
    res: LoadResult, *, fail_actions: bool = False
) -> list[tuple[list[str], PureJournal]]:
    """Walk every path: every option of every decision (and failure exits when asked)."""
    out: list[tuple[list[str], PureJournal]] = []
    todo: list[tuple[list[str], PureJournal]] = [([], PureJournal(res))]
    while todo:
        choices, j = todo.pop()
        st = j.state()
        if st.current is None:
            out.append((choices, j))
            continue
        step = j.pb.step(st.current)
        assert step is not None
        if isinstance(step, DecisionStep):
            for o in step.options:
                k = j.copy()
                k.decide(step.id, o.id)
                todo.append(([*choices, f"{step.id}={o.id}"], k))
        elif fail_actions and isinstance(step, ActionStep) and step.on_failure:
            k = j.copy()
            k.apply(step.id, "failed", "adapter returned 503", st)
            todo.append(([*choices, f"{step.id}=failed"], k))
            j.apply(step.id, "done", "", st)
            todo.append(([*choices, f"{step.id}=done"], j))
        else:
            j.apply(step.id, "done", "", st)
            todo.append((choices, j))
        assert len(todo) < 10_000
    return out


STEP_KIND = kinds.STEP
