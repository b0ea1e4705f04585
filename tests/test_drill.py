"""Drills: every shipped scenario played by --auto, bad scenario files, scoring."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ircon.demo import drill
from ircon.demo.drill import Entry, ScenarioError
from ircon.demo.drill_runner import find_playbook, load, shipped
from tests.conftest import run_ircon

SHIPPED = [p.stem for p in shipped()]


def test_the_required_scenarios_ship() -> None:
    assert {"jailbreak-campaign", "model-extraction", "training-data-poisoning"} <= set(SHIPPED)


def test_list(tmp_path: Path) -> None:
    r = run_ircon("drill", "--list", "--json", db=tmp_path / "d.db")
    assert r.returncode == 0, r.stderr
    items = {i["name"]: i for i in json.loads(r.stdout)["scenarios"]}
    assert set(SHIPPED) <= set(items)
    assert all(i["ok"] for i in items.values())
    assert items["jailbreak-campaign"]["severity"] == "SEV1"
    plain = run_ircon("drill", "--list", db=tmp_path / "d.db")
    assert "jailbreak-campaign" in plain.stdout and "1,000+" in plain.stdout


@pytest.mark.parametrize("name", SHIPPED)
def test_auto_plays_each_scenario_to_full_marks(tmp_path: Path, name: str) -> None:
    db = tmp_path / "drill.db"
    md = tmp_path / f"{name}.md"
    r = run_ircon("drill", name, "--auto", "--json", "-o", str(md), db=db)
    assert r.returncode == 0, r.stdout + r.stderr
    card = json.loads(r.stdout)
    assert card["scenario"] == name
    assert card["score"] == 100, card["practise"]
    assert card["problems"] == []
    for c in ("acknowledge", "classify", "contain"):
        assert isinstance(card[f"time_to_{c}_s"], float)
        assert card[f"time_to_{c}_s"] <= card["deadlines_s"][c]
        assert card["clocks"][c] == "met"
    assert card["time_to_acknowledge_s"] <= card["time_to_classify_s"] \
        <= card["time_to_contain_s"]
    text = md.read_text()
    assert "Score: 100/100" in text and card["incident"] in text
    v = run_ircon("journal", "verify", "--json", db=db)
    assert v.returncode == 0, v.stdout + v.stderr
    # The scorecard is in the journal, as a drill entry of the incident.
    show = run_ircon("incident", "show", card["incident"], "--json", db=db)
    assert show.returncode == 0, show.stderr
    assert '"scorecard"' in show.stdout or "scorecard" in show.stdout


def test_jailbreak_campaign_measures_what_it_says(tmp_path: Path) -> None:
    db = tmp_path / "drill.db"
    r = run_ircon("drill", "jailbreak-campaign", "--auto", "--json", "-o",
                  str(tmp_path / "s.md"), db=db)
    card = json.loads(r.stdout)
    # The scripted response: ack at 2m, classified at 6m, contained at 20m.
    assert card["time_to_acknowledge_s"] == 120.0
    assert card["time_to_classify_s"] == 360.0
    assert card["time_to_contain_s"] == 1200.0
    assert card["containment_done"] == ["block-template", "disable-feature"]
    # Two runs of the same drill never share an incident.
    r2 = run_ircon("drill", "jailbreak-campaign", "--auto", "--json", "-o",
                   str(tmp_path / "s2.md"), db=db)
    assert json.loads(r2.stdout)["incident"] != card["incident"]
    assert json.loads(r2.stdout)["score"] == 100


# --- bad scenario files ---------------------------------------------------------------------

GOOD = """
name: tiny
title: Tiny drill
playbook: model-extraction
timeline:
  - at: 0m
    alert: {name: ProbeAlert, severity: warning}
expected:
  severity: SEV2
  steps: [confirm, throttle, intent, block-key]
  decisions: {intent: "yes", personal-data: "no", high-risk: "no"}
  containment: [throttle]
  deadlines: {acknowledge: 5m, contain: 30m}
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


def _problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioError) as ei:
        load(str(_write(tmp_path, text)))
    return str(ei.value)


def test_a_good_user_file_loads(tmp_path: Path) -> None:
    sc, pb = load(str(_write(tmp_path, GOOD)))
    assert sc.name == "tiny" and pb.name == "model-extraction"
    assert sc.expected.deadlines == {"acknowledge": 300, "contain": 1800}


def test_unknown_step_in_the_timeline(tmp_path: Path) -> None:
    msg = _problems(tmp_path, GOOD.replace("alert: {name", "allert: {name"))
    assert "timeline[0].allert: unknown step 'allert'" in msg
    assert "alert, telemetry, note" in msg


def test_unknown_playbook_step(tmp_path: Path) -> None:
    msg = _problems(tmp_path, GOOD.replace("block-key]", "block-kee]"))
    assert "expected.steps: playbook model-extraction has no step 'block-kee'" in msg


def test_missing_playbook(tmp_path: Path) -> None:
    msg = _problems(tmp_path, GOOD.replace("playbook: model-extraction",
                                           "playbook: no-such-playbook"))
    assert "no playbook named 'no-such-playbook'" in msg


@pytest.mark.parametrize("change,expect", [
    (("at: 0m", "at: -5m"), "cannot be negative"),
    (("at: 0m", "at: 3h"), "after the end of the drill"),
    (("contain: 30m", "contain: 2m"), "before the acknowledge deadline"),
    (("acknowledge: 5m", "acknowledge: 0m"), "a deadline of zero cannot be met"),
    (("severity: SEV2", "severity: SEV9"), "use one of SEV1"),
    (("intent: \"yes\"", "intent: maybe"), "'maybe' is not an option"),
    (("containment: [throttle]", "containment: [intent]"), "is a decision step"),
    (("block-key]", "agree-limits]"), "not on the path"),
])
def test_impossible_or_wrong_scenarios(tmp_path: Path, change: tuple[str, str],
                                       expect: str) -> None:
    assert change[0] in GOOD
    assert expect in _problems(tmp_path, GOOD.replace(*change, 1))


def test_timeline_out_of_order_and_decision_missing(tmp_path: Path) -> None:
    text = GOOD.replace("""  - at: 0m
    alert: {name: ProbeAlert, severity: warning}""", """  - at: 10m
    alert: {name: A}
  - at: 5m
    note: earlier than the line above""")
    assert "is before the entry above it" in _problems(tmp_path, text)
    text2 = GOOD.replace('intent: "yes", ', "")
    assert "reaches decision 'intent'" in _problems(tmp_path, text2)


def test_broken_files_are_reported_by_the_command(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    r = run_ircon("drill", str(bad), "--auto", db=tmp_path / "d.db")
    assert r.returncode == 2
    err = "".join(r.stderr.split())  # the console wraps long lines
    assert "notvalidYAML" in err and "bad.yaml:" in err
    r2 = run_ircon("drill", "no-such-drill", "--auto", db=tmp_path / "d.db")
    assert r2.returncode == 2 and "jailbreak-campaign" in r2.stderr
    r3 = run_ircon("drill", str(_write(tmp_path, GOOD.replace("at: 0m", "at: -1m"))), "--auto",
                   db=tmp_path / "d.db")
    assert r3.returncode == 2 and "timeline[0].at" in "".join(r3.stderr.split())
    r4 = run_ircon("drill", db=tmp_path / "d.db")
    assert r4.returncode == 2


def test_a_user_supplied_scenario_runs(tmp_path: Path) -> None:
    text = GOOD.replace("alert: {name: ProbeAlert, severity: warning}", """telemetry:
      prompt: "Classify review #{n}: the battery was fine"
      count: 60
      accounts: 1
      spacing: 2s
      params: {temperature: 0.0, logprobs: true, top_logprobs: 20, max_tokens: 1}""")
    r = run_ircon("drill", str(_write(tmp_path, text)), "--auto", "--json", "-o",
                  str(tmp_path / "o.md"), db=tmp_path / "d.db")
    assert r.returncode == 0, r.stdout + r.stderr
    card = json.loads(r.stdout)
    assert card["scenario"] == "tiny" and card["score"] == 100


# --- scoring (pure) -------------------------------------------------------------------------


def _sc() -> drill.Scenario:
    import yaml

    return drill.parse(yaml.safe_load(GOOD), "tiny.yaml")


T0 = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)


def _e(seq: int, minutes: float, kind: str, **body: object) -> Entry:
    return Entry(seq, T0 + timedelta(minutes=minutes), "alice@host", kind, body)


def test_a_slow_partial_response_scores_lower_and_says_what_to_practise() -> None:
    sc = _sc()
    pb = find_playbook("model-extraction", [])
    entries = [
        _e(1, 0, "incident.opened", severity="SEV3"),
        _e(2, 0, "drill", at_s=0),
        _e(3, 9, "status", status="acknowledged"),  # 9 min against 5
        _e(4, 12, "playbook.started", name="model-extraction"),
        _e(5, 13, "severity", severity="SEV2"),
        _e(6, 14, "step", step="confirm", state="done"),
        _e(7, 50, "step", step="throttle", state="done"),  # 50 min against 30
        _e(8, 51, "decision", step="intent", option="benign"),  # wrong decision
    ]
    card = drill.score(sc, entries, incident="IR-2026-0001", pb=pb, rate=1.0)
    assert card.times["time_to_acknowledge_s"] == 540.0
    assert card.times["time_to_classify_s"] == 780.0
    assert card.times["time_to_contain_s"] == 3000.0
    assert card.clocks == {"acknowledge": "missed", "classify": "done", "contain": "missed"}
    assert card.wrong_decisions == [{"step": "intent", "chosen": "benign", "expected": "yes"}]
    assert "block-key" in card.steps_missed
    assert 0 < card.score < 100
    text = " ".join(card.practise)
    assert "acknowledge: took 9m against a 5m deadline" in text
    assert "decision intent: chose benign, expected yes" in text
    assert "## What to practise next" in drill.markdown(card)


def test_nothing_done_scores_zero() -> None:
    card = drill.score(_sc(), [], incident=None)
    assert card.score == 0
    assert card.times["time_to_acknowledge_s"] is None


def test_drill_time_follows_markers_and_rate() -> None:
    entries = [_e(1, 0, "incident.opened"), _e(2, 0, "drill", at_s=600),
               _e(3, 1, "note"), _e(4, 1, "drill", at_s=3600), _e(5, 2, "note")]
    assert drill.drill_times(entries, 1.0) == {1: 600.0, 2: 600.0, 3: 660.0, 4: 3600.0,
                                               5: 3660.0}
    assert drill.drill_times(entries, 0.0)[5] == 3600.0
