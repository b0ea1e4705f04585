"""Pure timer logic: every ladder path, rotations, clocks and config checks (no I/O)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ircon.escalation.checks import escalation_problems
from ircon.escalation.clocks import clock_states, operational_clocks
from ircon.escalation.facts import Facts, fold
from ircon.escalation.ladder import Evaluation, evaluate, ladder_view
from ircon.escalation.roster import next_handoff, on_call, recipients
from ircon.escalation.settings import EscalationConfig, Rotation

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class E:
    ts: str
    kind: str
    body: str
    actor: str = "tester@ci"


class Journal:
    """A hand-built journal: the same facts the store would hold."""

    def __init__(self, severity: str = "SEV2", title: str = "jailbreak campaign") -> None:
        self.items: list[E] = []
        self.add(T0, "incident.opened", {"title": title, "severity": severity})

    def add(self, at: datetime, kind: str, body: dict[str, Any]) -> None:
        self.items.append(E(at.isoformat(), kind, json.dumps(body)))

    def fired(self, at: datetime, keys: list[str]) -> None:
        for k in keys:
            self.add(at, "escalation", {"key": k})

    def facts(self) -> Facts:
        return fold("IR-2026-0001", self.items)


def cfg(**extra: Any) -> EscalationConfig:
    base: dict[str, Any] = {
        "people": {
            "alice": {"targets": ["env:T_ALICE"]},
            "bob": {"targets": ["env:T_BOB"]},
            "carol": {"targets": ["env:T_CAROL"]},
            "lead": {"targets": ["env:T_LEAD"]},
        },
        "rotations": {"primary": {"members": ["alice", "bob"], "handoff": "daily",
                                  "handoff_time": "09:00", "timezone": "UTC",
                                  "start": "2026-03-02"}},
        "channels": {"secops": {"targets": ["env:T_CHAN"]}},
        "policies": {
            "standard": {"levels": [
                {"after_minutes": 0, "notify": ["rotation:primary"]},
                {"after_minutes": 5, "notify": ["person:carol"]},
                {"after_minutes": 10, "notify": ["person:lead", "channel:secops"]},
            ]},
            "critical": {"levels": [
                {"after_minutes": 0, "notify": ["rotation:primary", "person:lead"],
                 "repeat": 2, "repeat_minutes": 3},
                {"after_minutes": 15, "after": "open", "notify": ["channel:secops"]},
            ], "then": "standard"},
        },
        "severity_policy": {"SEV1": "critical", "SEV2": "standard"},
        "status_update_minutes": {"SEV1": 30},
    }
    base.update(extra)
    return EscalationConfig.model_validate(base)


def keys(ev: Evaluation) -> list[str]:
    return [f.key for f in ev.due]


def test_first_level_is_due_at_open_and_next_levels_follow_delays() -> None:
    j = Journal()
    c = cfg()
    ev = evaluate(c, j.facts(), T0)
    assert keys(ev) == ["IR-2026-0001/e0/L1"]
    assert ev.due[0].targets == ("rotation:primary",)
    j.fired(T0, ["IR-2026-0001/e0/L1"])
    ev = evaluate(c, j.facts(), T0 + timedelta(minutes=4, seconds=59))
    assert ev.due == [] and ev.next_at == T0 + timedelta(minutes=5)
    ev = evaluate(c, j.facts(), T0 + timedelta(minutes=5))
    assert keys(ev) == ["IR-2026-0001/e0/L2"]
    j.fired(T0 + timedelta(minutes=5), ["IR-2026-0001/e0/L2"])
    # Level 3 is 10 minutes after level 2's planned time, not after the open.
    assert evaluate(c, j.facts(), T0 + timedelta(minutes=14)).next_at == T0 + timedelta(minutes=15)
    assert keys(evaluate(c, j.facts(), T0 + timedelta(minutes=15))) == ["IR-2026-0001/e0/L3"]


def test_acknowledgement_stops_the_ladder() -> None:
    j = Journal()
    j.fired(T0, ["IR-2026-0001/e0/L1"])
    j.add(T0 + timedelta(minutes=2), "status", {"status": "acknowledged"})
    ev = evaluate(cfg(), j.facts(), T0 + timedelta(hours=3))
    assert ev.due == [] and ev.next_at is None
    view = ladder_view(cfg(), j.facts(), T0 + timedelta(hours=3))
    assert [v["state"] for v in view] == ["sent", "stopped", "stopped"]


def test_resolved_incident_has_no_ladder_and_no_update_reminders() -> None:
    j = Journal("SEV1")
    j.add(T0 + timedelta(seconds=1), "status", {"status": "resolved"})
    assert evaluate(cfg(), j.facts(), T0 + timedelta(days=1)).due == []


def test_missed_levels_after_downtime_all_fire_once_marked_late() -> None:
    j = Journal()
    ev = evaluate(cfg(), j.facts(), T0 + timedelta(hours=1))
    assert keys(ev) == [f"IR-2026-0001/e0/L{i}" for i in (1, 2, 3)]
    body = ev.due[0].body(now=T0 + timedelta(hours=1), late_after=60)
    assert body["late"] is True and body["late_by_seconds"] == 3600.0
    j.fired(T0 + timedelta(hours=1), keys(ev))
    assert evaluate(cfg(), j.facts(), T0 + timedelta(hours=2)).due == []


def test_repeats_while_unacknowledged_and_catch_up_sends_one() -> None:
    j = Journal("SEV1")
    c = cfg()
    ev = evaluate(c, j.facts(), T0)
    assert keys(ev) == ["IR-2026-0001/e0/L1"]
    j.fired(T0, keys(ev))
    assert evaluate(c, j.facts(), T0 + timedelta(minutes=2)).next_at == T0 + timedelta(minutes=3)
    ev = evaluate(c, j.facts(), T0 + timedelta(minutes=3))
    assert keys(ev) == ["IR-2026-0001/e0/L1/r1"] and ev.due[0].what == "repeat"
    j.fired(T0 + timedelta(minutes=3), keys(ev))
    ev = evaluate(c, j.facts(), T0 + timedelta(minutes=6))
    assert keys(ev) == ["IR-2026-0001/e0/L1/r2"]
    j.fired(T0 + timedelta(minutes=6), keys(ev))
    # Repeats exhausted; level 2 is 15 min after the open ("after = open").
    ev = evaluate(c, j.facts(), T0 + timedelta(minutes=10))
    assert ev.due == [] and ev.next_at == T0 + timedelta(minutes=15)


def test_level_sent_late_skips_repeats_planned_before_it_went_out() -> None:
    j = Journal("SEV1")
    c = cfg()
    j.fired(T0 + timedelta(minutes=4), ["IR-2026-0001/e0/L1"])  # went out 4 min late
    # r1 (planned 09:03) is older than the send: never sent; r2 at 09:06 is.
    ev = evaluate(c, j.facts(), T0 + timedelta(minutes=5))
    assert ev.due == [] and ev.next_at == T0 + timedelta(minutes=6)
    assert keys(evaluate(c, j.facts(), T0 + timedelta(minutes=6))) == ["IR-2026-0001/e0/L1/r2"]


def test_catch_up_folds_several_missed_repeats_into_one() -> None:
    j = Journal("SEV1")
    c = cfg(policies={"p": {"levels": [{"notify": ["person:alice"], "repeat": 5,
                                        "repeat_minutes": 1}]}}, severity_policy={"SEV1": "p"})
    j.fired(T0, ["IR-2026-0001/e0/L1"])
    ev = evaluate(c, j.facts(), T0 + timedelta(minutes=3, seconds=30))
    assert keys(ev) == ["IR-2026-0001/e0/L1/r3"]
    assert ev.due[0].covers == ("IR-2026-0001/e0/L1/r1", "IR-2026-0001/e0/L1/r2")


def test_policy_chain_continues_with_then_policy() -> None:
    j = Journal("SEV1")
    view = ladder_view(cfg(), j.facts(), T0)
    assert [(v["level"], v["policy"]) for v in view] == [
        (1, "critical"), (2, "critical"), (3, "standard"), (4, "standard"), (5, "standard")]
    # "standard" level 1 follows "critical" level 2 (at 15 min) with its own 0-minute delay.
    assert view[2]["due"] == (T0 + timedelta(minutes=15)).isoformat()


def test_raising_severity_rearms_the_ladder_even_after_ack() -> None:
    j = Journal("SEV2")
    j.fired(T0, ["IR-2026-0001/e0/L1"])
    j.add(T0 + timedelta(minutes=1), "status", {"status": "acknowledged"})
    t1 = T0 + timedelta(minutes=20)
    j.add(t1, "severity", {"severity": "SEV1", "reasons": ["PII in outputs"]})
    f = j.facts()
    assert f.epoch == 1 and not f.stopped
    ev = evaluate(cfg(), f, t1)
    assert keys(ev) == ["IR-2026-0001/e1/L1"]
    assert ev.due[0].targets == ("rotation:primary", "person:lead")


def test_lowering_severity_keeps_the_acknowledgement() -> None:
    j = Journal("SEV1")
    j.add(T0 + timedelta(minutes=1), "status", {"status": "acknowledged"})
    j.add(T0 + timedelta(minutes=2), "severity", {"severity": "SEV2", "reasons": []})
    assert j.facts().stopped
    assert [f for f in evaluate(cfg(), j.facts(), T0 + timedelta(hours=1)).due
            if f.what in ("level", "repeat")] == []


def test_lowering_severity_unacknowledged_starts_the_lower_policy() -> None:
    j = Journal("SEV1")
    j.fired(T0, ["IR-2026-0001/e0/L1"])
    t1 = T0 + timedelta(minutes=1)
    j.add(t1, "severity", {"severity": "SEV2", "reasons": []})
    ev = evaluate(cfg(), j.facts(), t1)
    assert keys(ev) == ["IR-2026-0001/e1/L1"]


def test_reopening_rearms() -> None:
    j = Journal()
    j.add(T0 + timedelta(minutes=1), "status", {"status": "acknowledged"})
    j.add(T0 + timedelta(minutes=30), "status", {"status": "open"})
    ev = evaluate(cfg(), j.facts(), T0 + timedelta(minutes=30))
    assert keys(ev) == ["IR-2026-0001/e1/L1"]


def test_severity_without_a_policy_has_no_ladder() -> None:
    j = Journal("SEV4")
    ev = evaluate(cfg(), j.facts(), T0 + timedelta(days=2))
    assert ev.due == [] and ev.next_at is None


def test_status_update_reminders_every_n_minutes_for_sev1() -> None:
    j = Journal("SEV1")
    j.add(T0 + timedelta(seconds=1), "status", {"status": "acknowledged"})
    ack = T0 + timedelta(seconds=1)
    ev = evaluate(cfg(), j.facts(), ack + timedelta(minutes=29))
    assert ev.due == [] and ev.next_at == ack + timedelta(minutes=30)
    ev = evaluate(cfg(), j.facts(), ack + timedelta(minutes=30))
    assert [f.what for f in ev.due] == ["update"]
    assert "post a status update" in ev.due[0].ask
    j.fired(ack + timedelta(minutes=30), keys(ev))
    assert evaluate(cfg(), j.facts(), ack + timedelta(minutes=59)).due == []
    # A note is an update: the interval restarts from it.
    j.add(ack + timedelta(minutes=50), "note", {"text": "contained at gateway"})
    ev = evaluate(cfg(), j.facts(), ack + timedelta(minutes=79))
    assert ev.due == [] and ev.next_at == ack + timedelta(minutes=80)


def test_update_reminder_after_long_downtime_is_one_message() -> None:
    j = Journal("SEV1")
    j.add(T0, "status", {"status": "acknowledged"})
    ev = evaluate(cfg(), j.facts(), T0 + timedelta(days=3))
    assert len(ev.due) == 1 and ev.due[0].what == "update"


# -- clocks -----------------------------------------------------------------------------------
def _clock(j: Journal, name: str, aw: datetime, at: datetime | None = None) -> None:
    j.add(at or aw, "clock", {"action": "start", "clock": name, "awareness": aw.isoformat(),
                              "reason": "PII confirmed"})


@pytest.mark.parametrize(("name", "hours"), [
    ("gdpr", 72), ("ai-act", 15 * 24), ("ai-act-death", 10 * 24), ("ai-act-widespread", 48)])
def test_regulatory_deadlines(name: str, hours: int) -> None:
    j = Journal()
    _clock(j, name, T0)
    (st,) = clock_states(cfg(), j.facts(), T0 + timedelta(hours=1))
    assert st.deadline == T0 + timedelta(hours=hours)
    assert st.state == "running"
    (st,) = clock_states(cfg(), j.facts(), T0 + timedelta(hours=hours))
    assert st.state == "breached"


def test_clock_reminders_at_fractions_then_met() -> None:
    j = Journal()
    j.add(T0, "status", {"status": "acknowledged"})
    _clock(j, "gdpr", T0)
    c = cfg()
    ev = evaluate(c, j.facts(), T0 + timedelta(hours=35))
    assert ev.due == [] and ev.next_at == T0 + timedelta(hours=36)
    ev = evaluate(c, j.facts(), T0 + timedelta(hours=36))
    (f,) = ev.due
    assert f.what == "clock" and f.fraction == 0.5 and "50% of the time used" in f.ask
    assert "GDPR Art. 33(1)" in f.ask
    j.fired(T0 + timedelta(hours=36), [f.key])
    ev = evaluate(c, j.facts(), T0 + timedelta(hours=72))
    # 80% was missed (down): one message at 100% stands for both.
    (f,) = ev.due
    assert f.fraction == 1.0 and "passed" in f.ask and len(f.covers) == 1
    j.add(T0 + timedelta(hours=73), "clock", {"action": "met", "clock": "gdpr",
                                               "reference": "DPA-2026-113"})
    (st,) = clock_states(c, j.facts(), T0 + timedelta(hours=80))
    assert st.state == "met" and st.late and st.reference == "DPA-2026-113"
    assert evaluate(c, j.facts(), T0 + timedelta(hours=90)).due == []


def test_editing_awareness_moves_the_deadline_and_rearms_reminders() -> None:
    j = Journal()
    j.add(T0, "status", {"status": "acknowledged"})
    _clock(j, "ai-act-widespread", T0)
    j.fired(T0 + timedelta(hours=24), ["IR-2026-0001/clock/ai-act-widespread/"
                                       + (T0 + timedelta(hours=48)).isoformat() + "/0.5"])
    aw2 = T0 - timedelta(hours=12)
    _clock(j, "ai-act-widespread", aw2, at=T0 + timedelta(hours=25))
    (st,) = clock_states(cfg(), j.facts(), T0 + timedelta(hours=25))
    assert st.awareness == aw2 and st.deadline == aw2 + timedelta(hours=48) and st.edits == 1
    ev = evaluate(cfg(), j.facts(), T0 + timedelta(hours=25))
    # Under the new deadline 50% is past (and 80% not yet): one reminder, new key.
    assert [f.fraction for f in ev.due] == [0.5] and (aw2 + timedelta(hours=48)).isoformat() \
        in ev.due[0].key


def test_extra_contractual_clock() -> None:
    c = cfg(clocks={"customer-sla": {"title": "Notify ACME within 24 h", "hours": 24}})
    j = Journal()
    _clock(j, "customer-sla", T0)
    (st,) = clock_states(c, j.facts(), T0 + timedelta(hours=1))
    assert st.deadline == T0 + timedelta(hours=24) and st.title == "Notify ACME within 24 h"


def test_operational_clocks() -> None:
    c = cfg(ack_within_minutes={"SEV2": 5}, contain_within_minutes={"SEV2": 60})
    j = Journal()
    j.add(T0 + timedelta(minutes=7), "status", {"status": "acknowledged"})
    ops = {o.name: o for o in operational_clocks(c, j.facts(), T0 + timedelta(minutes=30))}
    assert ops["time-to-ack"].state == "breached"
    assert ops["time-to-ack"].elapsed == timedelta(minutes=7)
    assert ops["time-to-contain"].state == "running"
    assert ops["since-last-update"].elapsed == timedelta(minutes=23)
    j.add(T0 + timedelta(minutes=40), "status", {"status": "contained"})
    ops = {o.name: o for o in operational_clocks(c, j.facts(), T0 + timedelta(hours=3))}
    assert ops["time-to-contain"].state == "met"


# -- roster -----------------------------------------------------------------------------------
def test_daily_rotation_hands_off_at_local_time_across_dst() -> None:
    rot = Rotation(members=["a", "b", "c"], handoff="daily", handoff_time="09:00",
                   timezone="Europe/Berlin", start=date(2026, 3, 27))
    # 2026-03-29 is the spring-forward day in Berlin: 09:00 local is 07:00 UTC (was 08:00).
    assert on_call(rot, datetime(2026, 3, 27, 8, 0, tzinfo=UTC)) == "a"  # 09:00 CET
    assert on_call(rot, datetime(2026, 3, 27, 7, 59, tzinfo=UTC)) == "c"  # before hand-off
    assert on_call(rot, datetime(2026, 3, 29, 6, 59, tzinfo=UTC)) == "b"
    assert on_call(rot, datetime(2026, 3, 29, 7, 0, tzinfo=UTC)) == "c"  # 09:00 CEST
    assert next_handoff(rot, datetime(2026, 3, 28, 12, 0, tzinfo=UTC)) == datetime(
        2026, 3, 29, 7, 0, tzinfo=UTC)


def test_weekly_rotation_and_override() -> None:
    rot = Rotation.model_validate({
        "members": ["a", "b"], "handoff": "weekly", "handoff_day": "wednesday",
        "handoff_time": "10:00", "timezone": "UTC", "start": "2026-03-04",
        "overrides": [{"person": "z", "start": "2026-03-12T00:00:00",
                       "end": "2026-03-13T00:00:00", "reason": "swap"}],
    })
    assert on_call(rot, datetime(2026, 3, 4, 10, 0, tzinfo=UTC)) == "a"
    assert on_call(rot, datetime(2026, 3, 11, 9, 59, tzinfo=UTC)) == "a"
    assert on_call(rot, datetime(2026, 3, 11, 10, 0, tzinfo=UTC)) == "b"
    assert on_call(rot, datetime(2026, 3, 12, 12, 0, tzinfo=UTC)) == "z"
    assert on_call(rot, datetime(2026, 3, 18, 10, 0, tzinfo=UTC)) == "a"


def test_recipients_resolve_rotation_commander_and_dedupe() -> None:
    c = cfg()
    rs = recipients(c, ["rotation:primary", "person:alice", "commander", "channel:secops"],
                    commander="lead", at=T0)
    assert [(r.spec, r.who) for r in rs] == [
        ("rotation:primary", "alice"), ("commander", "lead"), ("channel:secops", "secops")]
    rs = recipients(c, ["commander"], commander=None, at=T0)
    assert rs[0].problem and not rs[0].refs


# -- config checks ----------------------------------------------------------------------------
def test_valid_config_has_no_problems() -> None:
    assert escalation_problems(cfg()) == []


@pytest.mark.parametrize(("patch", "expect"), [
    ({"policies": {"p": {"levels": [{"notify": ["person:mallory"]}]}}},
     "escalation.policies.p.levels[0].notify: unknown person 'mallory'"),
    ({"policies": {"p": {"levels": [{"notify": []}]}}},
     "escalation.policies.p.levels[0].notify: this level notifies nobody"),
    ({"policies": {"p": {"levels": [{"after_minutes": -5, "notify": ["person:alice"]}]}}},
     "escalation.policies.p.levels[0].after_minutes: negative delay"),
    ({"policies": {"a": {"levels": [{"notify": ["person:alice"]}], "then": "b"},
                   "b": {"levels": [{"notify": ["person:bob"]}], "then": "a"}}},
     "policies form a cycle (a -> b -> a)"),
    ({"severity_policy": {"SEV9": "standard"}}, "escalation.severity_policy.SEV9: not a severity"),
    ({"severity_policy": {"SEV1": "nope"}}, "escalation.severity_policy.SEV1: unknown policy"),
    ({"rotations": {"r": {"members": ["ghost"]}}},
     "escalation.rotations.r.members[0]: unknown person 'ghost'"),
    ({"people": {"x": {}}, "policies": {"p": {"levels": [{"notify": ["person:x"]}]}}},
     "escalation.policies.p.levels[0].notify: this level notifies nobody: person:x"),
    ({"policies": {"p": {"levels": [{"notify": ["pager:bob"]}]}}}, "target kind 'pager'"),
    ({"reminders": [0.5, 0]}, "escalation.reminders[1]"),
])
def test_config_problems_name_the_key(patch: dict[str, Any], expect: str) -> None:
    problems = escalation_problems(cfg(**patch))
    assert any(expect in p for p in problems), problems


def test_secret_urls_are_refused_in_the_config() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="secrets are never written"):
        EscalationConfig.model_validate(
            {"people": {"a": {"targets": ["slack://T000/B000/XXXXXXXX"]}}})


def test_playbook_decision_starts_its_regulatory_clock() -> None:
    j = Journal()
    j.add(T0 + timedelta(hours=1), "decision", {
        "step": "personal-data", "option": "yes", "starts_clock": "gdpr-72h"})
    (st,) = clock_states(cfg(), j.facts(), T0 + timedelta(hours=2))
    assert st.name == "gdpr" and st.state == "running"
    assert st.deadline == T0 + timedelta(hours=73)
    # A clock the responder started earlier keeps its own awareness time.
    j2 = Journal()
    _clock(j2, "gdpr", T0 - timedelta(hours=5))
    j2.add(T0, "decision", {"step": "personal-data", "option": "yes", "starts_clock": "gdpr-72h"})
    (st2,) = clock_states(cfg(), j2.facts(), T0)
    assert st2.deadline == T0 + timedelta(hours=67)
