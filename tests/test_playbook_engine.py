"""The step engine: every path of every bundled playbook, transitions, timers, replay."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ircon.model import kinds
from ircon.model.journal import GENESIS, ChainEntry, canonical_body, entry_hash
from ircon.response import engine
from ircon.response.engine import EngineError
from ircon.response.library import discover, playbook_dirs
from ircon.response.lint import lint
from ircon.response.model import DecisionStep
from ircon.response.template import TemplateError
from tests.playbook_support import T0, PureJournal, all_paths, load

SMALL = """
name: small
version: "2.1"
title: Small playbook
description: For engine tests.
kinds: [other]
roles:
  - {id: commander, title: Incident commander}
  - {id: responder, title: Responder}
steps:
  - id: look
    kind: manual
    title: Look at it
    phase: detect
    time_limit: 10m
    escalate: {notify: [commander, responder], message: "look is late"}
  - id: bad
    kind: decision
    title: Is it bad?
    phase: analyze
    question: Bad?
    default: "no"
    options:
      - {id: "yes", label: "Yes", next: block, starts_clock: gdpr-72h}
      - {id: "no", label: "No", next: wrap}
  - id: block
    kind: action
    title: Block the key
    phase: contain
    adapter: litellm
    action: block-key
    params: {key: "{finding.key}"}
    undo: {action: unblock-key, params: {key: "{finding.key}"}}
    on_failure: manual-block
  - id: cool
    kind: wait
    title: Cool down
    phase: recover
    duration: 1h
    next: wrap
  - id: manual-block
    kind: manual
    title: Block it by hand
    phase: contain
    next: wrap
  - id: wrap
    kind: manual
    title: Wrap up
    phase: post-incident
"""


def bundled():
    results = discover(playbook_dirs())
    assert len(results) >= 9
    return results


def test_every_path_of_every_bundled_playbook_finishes_cleanly() -> None:
    total_paths = 0
    for res in bundled():
        assert res.playbook is not None, [str(p) for p in res.problems]
        errors = [str(p) for p in lint(res) if p.level == "error"]
        assert not errors, errors
        pb = res.playbook
        covered: set[str] = set()
        clocks_seen: set[str] = set()
        paths = all_paths(res, fail_actions=True)
        assert paths
        for choices, j in paths:
            st = j.state()
            assert st.finished and st.current is None, (pb.name, choices)
            assert not st.problems
            for sid, view in st.steps.items():
                if sid in st.path:
                    assert view.state in ("done", "failed"), (pb.name, choices, sid, view.state)
                else:
                    assert view.state == "skipped" and view.reason, (pb.name, choices, sid)
            covered.update(st.path)
            expected = []
            for c in choices:
                sid, _, opt = c.partition("=")
                step = pb.step(sid)
                if isinstance(step, DecisionStep):
                    o = step.option(opt)
                    assert o is not None
                    if o.starts_clock:
                        expected.append(o.starts_clock)
            assert sorted(st.clocks) == sorted(expected)
            clocks_seen.update(st.clocks)
        assert covered == {s.id for s in pb.steps}, (pb.name, {s.id for s in pb.steps} - covered)
        # Every bundled playbook asks both regulatory questions on some path.
        assert "gdpr-72h" in clocks_seen, pb.name
        assert {"ai-act-15d", "ai-act-10d", "ai-act-2d"} <= clocks_seen, pb.name
        total_paths += len(paths)
    assert total_paths > 50


def test_walk_current_next_and_branch_reasons() -> None:
    j = PureJournal(load(SMALL))
    st = j.state()
    assert st.current == "look" and st.next == ["bad"] and st.path == ["look"]
    assert st.steps["look"].became_current is not None
    j.step("look", "done")
    st = j.state()
    assert st.current == "bad" and st.next == ["block", "wrap"]
    st = j.decide("bad", "no")
    assert st.current == "wrap"
    for sid in ("block", "cool", "manual-block"):
        assert st.steps[sid].state == "skipped"
        assert st.steps[sid].reason == "branch not taken: Is it bad? → No"
    assert st.clocks == []
    st = j.step("wrap", "done")
    assert st.finished and st.path == ["look", "bad", "wrap"]


def test_change_of_decision_needs_reason_and_moves_the_path() -> None:
    j = PureJournal(load(SMALL))
    j.step("look", "done")
    j.decide("bad", "no")
    with pytest.raises(EngineError, match="needs a reason"):
        j.decide("bad", "yes")
    with pytest.raises(EngineError, match="already the decision"):
        j.decide("bad", "no", "same again")
    st = j.decide("bad", "yes", "found personal data in the logs")
    assert st.current == "block" and st.clocks == ["gdpr-72h"]
    assert [d.option for d in st.decisions] == ["no", "yes"]
    assert st.steps["wrap"].state == "pending"  # reachable again


def test_failed_action_follows_on_failure_and_blocks_without_it() -> None:
    j = PureJournal(load(SMALL))
    j.step("look", "done")
    j.decide("bad", "yes")
    st = j.step("block", "failed", "HTTP 503 from the gateway")
    assert st.current == "manual-block"
    assert st.steps["cool"].state == "skipped"
    st = j.step("manual-block", "done")
    assert st.current == "wrap"
    # Without on_failure a failed step stays current until retried.
    text = SMALL.replace("    on_failure: manual-block\n", "")
    k = PureJournal(load(text))
    k.step("look", "done")
    k.decide("bad", "yes")
    st = k.step("block", "failed", "timeout")
    assert st.current == "block"
    k.step("block", "in_progress")
    st = k.step("block", "done")
    assert st.current == "cool"


def test_refused_transitions() -> None:
    j = PureJournal(load(SMALL))
    with pytest.raises(EngineError, match="needs a reason"):
        j.step("look", "skipped")
    with pytest.raises(EngineError, match="no step"):
        j.step("nope", "done")
    with pytest.raises(EngineError, match="state must be"):
        j.step("look", "finished")
    with pytest.raises(EngineError, match="is a decision"):
        j.step("bad", "done")
    with pytest.raises(EngineError, match="no option"):
        j.decide("bad", "maybe")
    with pytest.raises(EngineError, match="not a decision"):
        j.decide("look", "yes")
    j.step("look", "done")
    with pytest.raises(EngineError, match="already done"):
        j.step("look", "done")
    with pytest.raises(EngineError, match="cannot become"):
        j.step("look", "in_progress")


def test_skipped_decision_follows_its_default() -> None:
    j = PureJournal(load(SMALL))
    j.step("look", "skipped", "obvious from the alert")
    st = j.step("bad", "skipped", "no time to decide")
    assert st.current == "wrap"
    assert st.steps["look"].reason == "obvious from the alert"


def test_overdue_and_wait_timers() -> None:
    j = PureJournal(load(SMALL))
    start = j.state().steps["look"].became_current
    assert start is not None
    st = j.state(now=start + timedelta(minutes=9))
    assert st.overdue == [] and st.steps["look"].due_at == start + timedelta(minutes=10)
    st = j.state(now=start + timedelta(minutes=25))
    (o,) = st.overdue
    assert o.step == "look" and o.notify == ("commander", "responder")
    assert o.late_by == timedelta(minutes=15) and o.message == "look is late"
    # in_progress restarts nothing: the limit runs from when the step began
    j.step("look", "in_progress")
    st = j.state(now=start + timedelta(minutes=25))
    assert st.steps["look"].overdue
    j.step("look", "done")
    assert j.state(now=start + timedelta(days=1)).overdue == []
    j.decide("bad", "yes")
    j.step("block", "done")
    st = j.state()
    assert st.current == "cool" and st.waits_elapsed == []
    until = st.steps["cool"].wait_until
    assert until is not None
    assert j.state(now=until + timedelta(seconds=1)).waits_elapsed == ["cool"]


def test_replay_is_deterministic_and_accepts_chain_entries() -> None:
    res = load(SMALL)
    j = PureJournal(res)
    j.step("look", "done")
    j.decide("bad", "yes")
    prev = GENESIS
    chain = []
    for e in j.entries:
        body = canonical_body(e["body"])
        h = entry_hash("IR-2026-0001", e["seq"], e["ts"], e["actor"], e["kind"], body, prev)
        chain.append(ChainEntry("IR-2026-0001", e["seq"], e["ts"], e["actor"], e["kind"],
                                body, prev, h))
        prev = h
    a = engine.replay(j.pb, j.entries, now=T0 + timedelta(hours=1)).to_dict()
    b = engine.replay(j.pb, chain, now=T0 + timedelta(hours=1)).to_dict()
    c = engine.replay(j.pb, [e.to_dict() for e in chain], now=T0 + timedelta(hours=1)).to_dict()
    assert a == b == c
    assert json.dumps(a)  # serializable for --json


def test_entries_that_do_not_match_are_reported_not_applied() -> None:
    j = PureJournal(load(SMALL))
    j._add(kinds.STEP, {"step": "ghost", "state": "done"})
    j._add(kinds.STEP, {"step": "look", "state": "exploded"})
    j._add(kinds.DECISION, {"step": "bad", "option": "perhaps"})
    st = j.state()
    assert st.current == "look" and len(st.problems) == 3


def test_a_new_start_begins_a_fresh_run() -> None:
    res = load(SMALL)
    j = PureJournal(res)
    j.step("look", "done")
    kind, body = engine.start_entry(j.pb, res.source or "", res.sha256 or "")
    j._add(kind, body)
    st = j.state()
    assert st.current == "look" and st.steps["look"].state == "pending"


def test_action_call_renders_templates_and_names_missing_fields() -> None:
    pb = load(SMALL).playbook
    assert pb is not None
    step = pb.step("block")
    assert step is not None and step.kind == "action"
    call = engine.action_call(step, {"finding": {"key": "sk-abc; rm -rf / {incident.id}"}})  # type: ignore[arg-type]
    # The value is passed through as data: not re-expanded, not interpreted.
    assert call.params == {"key": "sk-abc; rm -rf / {incident.id}"}
    assert call.undo_action == "unblock-key" and call.undo_params == call.params
    with pytest.raises(TemplateError) as exc:
        engine.action_call(step, {"finding": {}})  # type: ignore[arg-type]
    assert exc.value.missing == ["finding.key"]
    res = load(SMALL.replace('"{finding.key}"', '"{input.victim_key}"'))
    assert res.playbook is not None
    s2 = res.playbook.step("block")
    assert engine.inputs_needed(s2) == ["victim_key"]  # type: ignore[arg-type]
