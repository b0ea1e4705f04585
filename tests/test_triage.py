"""Pure triage: dedup, grouping, severity matrix, findings as alerts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ircon.model.alert import AlertIn
from ircon.model.finding import Evidence, Finding
from ircon.triage import grouping, severity
from ircon.triage.dedup import dedup
from ircon.triage.findings import finding_to_alert, fingerprint_of
from ircon.triage.settings import SeverityThresholds, TriageConfig

CFG = TriageConfig()


def alert(fp: str = "a1", source: str = "am", status: str = "firing", **labels: str) -> AlertIn:
    return AlertIn(source=source, fingerprint=fp, labels=labels or {"alertname": "X"},
                   status=status)  # type: ignore[arg-type]


def test_dedup_keeps_order_last_report_and_whether_it_fired() -> None:
    out = dedup([
        alert("a"), alert("b"), alert("a", status="resolved"), alert("a", source="other"),
    ])
    assert [(d.alert.source, d.alert.fingerprint) for d in out] == [
        ("am", "a"), ("am", "b"), ("other", "a")
    ]
    assert out[0].alert.status == "resolved" and out[0].fired and out[0].occurrences == 2
    only_resolved = dedup([alert("z", status="resolved")])[0]
    assert not only_resolved.fired


def test_grouping_precedence_campaign_backend_labels_alone() -> None:
    camp = alert(alertname="J", model="m", campaign="sig-1")
    camp.group_key = "{}:{alertname=\"J\"}"
    d = grouping.decide(camp, CFG)
    assert d.basis == "campaign" and d.key == "campaign:sig-1"

    backend = alert(alertname="J", model="m")
    backend.group_key = "{}:{alertname=\"J\"}"
    assert grouping.decide(backend, CFG).basis == "backend"
    assert grouping.decide(backend, TriageConfig(group_mode="labels")).basis == "labels"

    a1 = grouping.decide(alert("1", alertname="J", model="m", key="k1"), CFG)
    a2 = grouping.decide(alert("2", source="detector:x", alertname="J", model="m"), CFG)
    a3 = grouping.decide(alert("3", alertname="J", model="other"), CFG)
    assert a1.basis == "labels" and a1.key == a2.key != a3.key
    assert "alertname=J" in a1.reason

    alone = grouping.decide(alert("q", foo="bar"), CFG)
    assert alone.basis == "alert" and alone.key == "alert:am:q"


def test_grouping_keys_are_bounded_and_reasons_escaped() -> None:
    a = alert(alertname="\x1b[31m" + "x" * 5000, model="m")
    d = grouping.decide(a, CFG)
    assert len(d.key) <= grouping.MAX_KEY_CHARS and d.key.startswith("labels:sha256:")
    assert "\x1b" not in d.reason and len(d.reason) < 300
    # Same labels -> same hashed key (stable).
    assert grouping.decide(alert("other", alertname=a.labels["alertname"], model="m"),
                           CFG).key == d.key


def facts(**kw: object) -> severity.Facts:
    f = severity.Facts()
    for k, v in kw.items():
        setattr(f, k, v)
    return f


@pytest.mark.parametrize(
    ("f", "impact", "urgency", "level"),
    [
        (facts(regulated=True, firing=1, automated=True), "high", "high", "SEV1"),
        (facts(safety_harm=True, firing=1), "high", "medium", "SEV2"),
        (facts(data_exposure=True, production=True), "high", "low", "SEV2"),
        (facts(data_exposure=True, firing=1, automated=True), "medium", "high", "SEV2"),
        (facts(production=True, firing=1), "medium", "medium", "SEV3"),
        (facts(production=True), "medium", "low", "SEV3"),
        (facts(firing=2, alerts=12), "low", "high", "SEV3"),
        (facts(firing=1, alerts=1), "low", "medium", "SEV4"),
        (facts(), "low", "low", "SEV4"),
    ],
)
def test_matrix_cells(f: severity.Facts, impact: str, urgency: str, level: str) -> None:
    c = severity.classify(f, CFG)
    assert (c.impact, c.urgency, c.level) == (impact, urgency, level)
    assert any(r.startswith(f"matrix: impact {impact} x urgency {urgency}") for r in c.reasons)
    assert severity.MATRIX[(impact, urgency)] == level  # type: ignore[index]


def test_actor_thresholds_come_from_config() -> None:
    labels = [({"alertname": "J", "key": f"k{i}"}, "firing") for i in range(6)]
    c = severity.classify(severity.facts_of(labels, CFG), CFG)
    assert c.impact == "medium" and c.urgency == "high" and c.level == "SEV2"
    assert any("6 keys/users/IPs affected" in r for r in c.reasons)
    tight = TriageConfig(thresholds=SeverityThresholds(affected_high=6))
    assert severity.classify(severity.facts_of(labels, tight), tight).level == "SEV1"


def test_labels_feed_the_facts() -> None:
    f = severity.facts_of([
        ({"alertname": "A", "env": "Production", "pii": "yes", "user": "u1"}, "firing"),
        ({"alertname": "A", "affected": "70", "bot": "true"}, "resolved"),
    ], CFG)
    assert f.production and f.data_exposure and f.automated and not f.regulated
    assert f.affected_count == 70 and f.firing == 1 and f.alerts == 2
    c = severity.classify(f, CFG)
    assert c.level == "SEV1"  # high impact (70 actors, exposure in prod) x high urgency


def test_backend_severity_is_a_floor_never_a_ceiling() -> None:
    crit = severity.classify(severity.facts_of([({"severity": "critical"}, "firing")], CFG), CFG)
    assert crit.level == "SEV2" and "critical" in crit.reasons[-1]
    hint = severity.classify(severity.facts_of([({"severity": "SEV1"}, "resolved")], CFG), CFG)
    assert hint.level == "SEV1"
    info = severity.classify(
        severity.facts_of([({"severity": "info", "regulated": "1"}, "firing")], CFG), CFG
    )
    assert info.level == "SEV2"  # regulated x ongoing, not lowered by "info"


def test_override_wins_and_keeps_computed_reasons() -> None:
    c = severity.classify(facts(), CFG)
    o = severity.with_override(c, "SEV1", "customer data confirmed", "alice@host")
    assert o.level == "SEV1" and o.override and o.reasons[0].startswith("override by alice")
    assert c.reasons[0] in o.reasons
    assert not severity.needs_change("SEV1", True, c)
    assert severity.needs_change("SEV1", False, c)
    with pytest.raises(ValueError):
        severity.with_override(c, "SEV9", "x", "y")


def finding(**kw: object) -> Finding:
    base: dict[str, object] = {
        "detector": "jailbreak", "rule_id": "JB-001", "title": "DAN prompt", "score": 0.9,
        "severity_hint": "SEV2", "model": "gpt-x", "key": "key-1", "ts": 1_790_000_000.0,
        "atlas": ("AML.T0054",), "owasp": ("LLM01:2025",),
        "evidence": (Evidence("messages[0].content", 0, 10, "ignore all"),),
    }
    base.update(kw)
    return Finding(**base)  # type: ignore[arg-type]


def test_finding_fingerprint_stable_per_rule_and_actor() -> None:
    a, b = finding_to_alert(finding()), finding_to_alert(finding(score=0.5, title="again"))
    assert a.fingerprint == b.fingerprint and a.source == "detector:jailbreak"
    assert finding_to_alert(finding(key="key-2")).fingerprint != a.fingerprint
    assert finding_to_alert(finding(rule_id="JB-002")).fingerprint != a.fingerprint
    assert a.labels["alertname"] == "JB-001" and a.labels["severity"] == "SEV2"
    assert a.labels["atlas"] == "AML.T0054" and "ignore all" in a.annotations["evidence"]
    assert a.raw["rule_id"] == "JB-001" and a.starts_at is not None


def test_campaign_findings_share_one_fingerprint_and_group() -> None:
    c1 = finding(campaign="suffix:abc", members=("k1", "k2"), key=None)
    c2 = finding(campaign="suffix:abc", members=("k1", "k2", "k3"), key=None, score=0.99)
    assert fingerprint_of(c1) == fingerprint_of(c2)
    alert2 = finding_to_alert(c2)
    assert alert2.labels["affected"] == "3" and alert2.labels["campaign"] == "suffix:abc"
    member = finding_to_alert(finding(campaign="suffix:abc", key="k9"))
    assert member.fingerprint != alert2.fingerprint
    assert grouping.decide(member, CFG).key == grouping.decide(alert2, CFG).key


hostile_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300
) | st.sampled_from(["\x1b[2J\x1b[H", "[red]x[/red]", "\u202e\u200b", "\x00\x07\x9b", "A" * 5000])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(hostile_text, hostile_text, max_size=8), hostile_text)
def test_hostile_labels_never_break_triage(labels: dict[str, str], gk: str) -> None:
    a = AlertIn(source="am", fingerprint="f", labels=labels, annotations={"summary": gk},
                group_key=gk or None)
    for cfg in (CFG, TriageConfig(group_mode="labels")):
        d = grouping.decide(a, cfg)
        assert len(d.key) <= grouping.MAX_KEY_CHARS + 20
        assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in d.reason)
        c = severity.classify(severity.facts_of([(labels, "firing")], cfg), cfg)
        assert c.level in ("SEV1", "SEV2", "SEV3", "SEV4")
        for r in c.reasons:
            assert "\x1b" not in r
        assert len(grouping.incident_title(a, d)) <= 200
