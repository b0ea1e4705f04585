"""Ingestion into a real SQLite store: dedup, resolution, grouping, severity, journal."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ircon.engine.ingest import ingest_alerts, ingest_findings, merge_incidents, split_alert
from ircon.model.alert import AlertIn
from ircon.model.finding import Finding
from ircon.sources.alertmanager import parse_webhook
from ircon.store import alerts as sa
from ircon.store import incidents, journal
from ircon.triage.settings import TriageConfig

CFG = TriageConfig()


def al(fp: str, *, source: str = "am", status: str = "firing", state: str = "active",
       group_key: str | None = None, ends_at: datetime | None = None,
       **labels: str) -> AlertIn:
    return AlertIn(source=source, fingerprint=fp, labels=labels or {"alertname": "X"},
                   annotations={"summary": f"summary {fp}"}, status=status,  # type: ignore[arg-type]
                   state=state, group_key=group_key, ends_at=ends_at)


def kinds_of(store, hid: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.kind for e in journal.entries(store, hid)]


def bodies(store, hid: str, kind: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return [json.loads(e.body) for e in journal.entries(store, hid) if e.kind == kind]


def test_new_repeat_update_and_resolution_of_a_complete_source(store) -> None:  # type: ignore[no-untyped-def]
    batch = [al("a", alertname="J", model="m"), al("b", alertname="J", model="m"),
             al("c", alertname="T", model="m"), al("a", alertname="J", model="m")]
    r1 = ingest_alerts(store, batch, CFG, actor="t@x", complete_sources={"am"})
    assert r1.counts() == {"new": 3, "updated": 0, "resolved": 0, "repeated": 0,
                           "incidents_opened": 2}
    assert sa.get_alert(store, ("am", "a")).count == 2  # duplicate in one pull: one alert

    r2 = ingest_alerts(store, [al("a", alertname="J", model="m"),
                               al("b", alertname="J", model="m", state="suppressed")],
                       CFG, actor="t@x", complete_sources={"am"})
    assert r2.repeated == 1 and [u.fingerprint for u in r2.updated] == ["b"]
    assert [x.fingerprint for x in r2.resolved] == ["c"]  # gone from a complete pull
    c = sa.get_alert(store, ("am", "c"))
    assert c.status == "resolved" and c.ends_at is not None
    assert sa.count_alerts(store) == 3  # never deleted

    # An incomplete pull resolves nothing it does not mention.
    r3 = ingest_alerts(store, [], CFG, actor="t@x")
    assert not r3.resolved and sa.count_alerts(store, status="firing") == 2

    inc = r1.new[0].incident
    assert inc and kinds_of(store, inc)[:4] == ["incident.opened", "grouping", "alert", "alert"]
    upd = bodies(store, inc, "alert.update")
    assert upd[0]["change"] == "state" and upd[0]["state"] == "suppressed"
    assert journal.verify(store).ok


def test_ends_at_passed_means_resolved_and_refire_reopens(store) -> None:  # type: ignore[no-untyped-def]
    past = datetime.now(UTC) - timedelta(minutes=1)
    r1 = ingest_alerts(store, [al("x", alertname="Leak")], CFG, actor="t@x")
    inc = r1.new[0].incident
    assert inc
    r2 = ingest_alerts(store, [al("x", alertname="Leak", status="resolved", ends_at=past)],
                       CFG, actor="t@x")
    assert [x.fingerprint for x in r2.resolved] == ["x"]
    incidents.set_status(store, inc, "resolved", "fixed", actor="t@x")
    sa.acknowledge(store, ("am", "x"), actor="t@x")
    r3 = ingest_alerts(store, [al("x", alertname="Leak")], CFG, actor="t@x")
    assert r3.updated[0].change == "refired"
    new_inc = r3.updated[0].incident
    assert new_inc and new_inc != inc  # the old incident was resolved: a new one opens
    row = sa.get_alert(store, ("am", "x"))
    assert row.incident == new_inc and not row.acknowledged and row.status == "firing"
    assert bodies(store, inc, "alert.update")[-1]["to"] == new_inc
    assert journal.verify(store).ok


def test_grouping_joins_open_incidents_by_key(store) -> None:  # type: ignore[no-untyped-def]
    gk = '{}:{alertname="J"}'
    r = ingest_alerts(store, [
        al("1", alertname="J", model="a", group_key=gk),
        al("2", alertname="J", model="b", group_key=gk),
        al("3", alertname="K", model="a"),
        al("4", source="detector:x", alertname="K", model="a"),
        al("5", foo="bar"),
    ], CFG, actor="t@x")
    inc = {c.fingerprint: c.incident for c in r.new}
    assert inc["1"] == inc["2"] and inc["3"] == inc["4"] and len(set(inc.values())) == 3
    grouping = bodies(store, inc["1"], "grouping")[0]
    assert grouping["basis"] == "backend" and grouping["alerts"] == 2 and grouping["opened"]
    # A later alert with the same labels joins the same (still open) incident.
    later = ingest_alerts(store, [al("6", alertname="K", model="a")], CFG, actor="t@x")
    assert later.new[0].incident == inc["3"] and not later.incidents_opened
    assert bodies(store, inc["3"], "grouping")[-1]["decision"] == "joined this open incident"


def test_suppressed_and_minor_alerts_open_no_incident_until_they_matter(store) -> None:  # type: ignore[no-untyped-def]
    cfg = TriageConfig(min_incident_severity="SEV3")
    r = ingest_alerts(store, [al("s", alertname="S", state="suppressed", severity="critical"),
                              al("m", alertname="M", severity="info")], cfg, actor="t@x")
    assert [c.incident for c in r.new] == [None, None]
    r2 = ingest_alerts(store, [al("s", alertname="S", severity="critical")], cfg, actor="t@x")
    assert r2.updated[0].incident and r2.incidents_opened


def test_severity_rises_with_spread_and_override_wins(store) -> None:  # type: ignore[no-untyped-def]
    first = ingest_alerts(store, [al("k0", alertname="J", model="m", key="k0")], CFG,
                          actor="t@x")
    inc = first.new[0].incident
    assert incidents.get(store, inc)["severity"] == "SEV4"
    more = [al(f"k{i}", alertname="J", model="m", key=f"k{i}") for i in range(1, 6)]
    r = ingest_alerts(store, more, CFG, actor="t@x")
    assert r.severity_changes == [{"incident": inc, "from": "SEV4", "to": "SEV2",
                                   "reasons": r.severity_changes[0]["reasons"]}]
    sev = bodies(store, inc, "severity")[-1]
    assert sev["severity"] == "SEV2" and sev["impact"] == "medium" and sev["urgency"] == "high"
    assert any("6 keys/users/IPs affected" in x for x in sev["reasons"])

    incidents.set_severity(store, inc, "SEV1", ["exec decision"], override=True, actor="lead@x")
    ingest_alerts(store, [], CFG, actor="t@x", complete_sources={"am"})  # all resolve
    assert incidents.get(store, inc)["severity"] == "SEV1"  # triage never beats an override
    assert bodies(store, inc, "severity")[-1]["override"] is True


def test_merge_and_split_are_journaled(store) -> None:  # type: ignore[no-untyped-def]
    r = ingest_alerts(store, [al("a", alertname="A", model="m"), al("b", alertname="B"),
                              al("c", alertname="C")], CFG, actor="t@x")
    ia, ib, ic = (c.incident for c in r.new)
    assert ia and ib and ic
    out = merge_incidents(store, ia, [ib, ic], CFG, actor="lead@x", reason="same attacker")
    assert out["alerts_moved"] == 2 and out["from"] == [ib, ic]
    assert incidents.get(store, ib)["status"] == "closed"
    assert incidents.get(store, ib)["merged_into"] == ia
    assert bodies(store, ia, "merge")[0]["from"] == [ib, ic]
    assert bodies(store, ib, "merge")[0]["into"] == ia
    assert {x.incident for x in sa.list_alerts(store)} == {ia}
    # New alerts with a merged incident's key follow the merge.
    again = ingest_alerts(store, [al("b2", alertname="B")], CFG, actor="t@x")
    assert again.new[0].incident == ia
    with pytest.raises(ValueError, match="already merged"):
        merge_incidents(store, ia, [ib], CFG, actor="lead@x")

    new = split_alert(store, ("am", "c"), CFG, actor="lead@x", reason="unrelated")
    assert new not in (ia, ib, ic) and sa.get_alert(store, ("am", "c")).incident == new
    assert bodies(store, ia, "split")[0]["to"] == new
    assert kinds_of(store, new) == ["incident.opened", "alert"]
    back = split_alert(store, ("am", "c"), CFG, actor="lead@x", reason="was right", into=ia)
    assert back == ia and sa.get_alert(store, ("am", "c")).incident == ia
    assert journal.verify(store).ok


def test_findings_dedup_and_campaigns(store) -> None:  # type: ignore[no-untyped-def]
    def f(key: str | None, **kw: object) -> Finding:
        base: dict[str, object] = dict(detector="suffix", rule_id="ADV-1", title="adv suffix",
                                       score=0.8, severity_hint="SEV3", model="gpt-x", key=key)
        base.update(kw)
        return Finding(**base)  # type: ignore[arg-type]

    r1 = ingest_findings(store, [f("k1"), f("k1", score=0.9), f("k2")], CFG, actor="det@x")
    assert len(r1.new) == 2 and r1.new[0].source == "detector:suffix"
    inc = r1.new[0].incident
    assert inc and r1.new[1].incident == inc
    assert len(bodies(store, inc, "finding")) == 2
    r2 = ingest_findings(store, [f("k1", score=0.9)], CFG, actor="det@x")
    assert r2.repeated == 1 and sa.get_alert(store, r1.new[0].id).count == 3
    assert len(bodies(store, inc, "finding")) == 2  # a repeat is counted, not re-journaled

    camp = f(None, campaign="suffix:zz", members=tuple(f"k{i}" for i in range(60)),
             severity_hint="SEV2", rule_id="CAMP")
    member = f("k70", campaign="suffix:zz")
    r3 = ingest_findings(store, [camp, member], CFG, actor="det@x")
    cinc = {c.incident for c in r3.new}
    assert len(cinc) == 1 and inc not in cinc
    chid = cinc.pop()
    assert chid
    got = incidents.get(store, chid)
    assert got["campaign"] == "suffix:zz" and got["severity"] == "SEV1"  # 60 keys, ongoing
    c = bodies(store, chid, "campaign")[0]
    assert c["member_count"] == 60 and len(c["members"]) == 60


def test_real_webhook_archive_opens_then_resolves(store, shared_dir: Path) -> None:  # type: ignore[no-untyped-def]
    data = (shared_dir / "samples" / "alertmanager-webhook-v4.jsonl").read_bytes()
    res = parse_webhook(data, "alertmanager")
    r = ingest_alerts(store, res.alerts, CFG, actor="t@x")
    assert len(r.new) == 1 and r.new[0].status == "resolved" and r.new[0].incident
    inc = r.new[0].incident
    assert kinds_of(store, inc) == ["incident.opened", "grouping", "alert", "alert.update"]
    assert incidents.get(store, inc)["severity"] == "SEV2"  # severity=critical label
    again = ingest_alerts(store, res.alerts, CFG, actor="t@x")
    assert not again.new and sa.count_alerts(store) == 1


def test_list_filters_paging_ack_and_assign(store) -> None:  # type: ignore[no-untyped-def]
    r = ingest_alerts(store, [al(f"f{i:02d}", alertname=f"N{i % 3}") for i in range(30)],
                      CFG, actor="t@x")
    ingest_alerts(store, [al("f00", alertname="N0", status="resolved")], CFG, actor="t@x")
    page1 = sa.list_alerts(store, limit=10)
    page2 = sa.list_alerts(store, limit=10, offset=10)
    assert len(page1) == 10 and not {a.id for a in page1} & {a.id for a in page2}
    assert sa.list_alerts(store, limit=100)[-1].fingerprint == "f00"  # resolved last
    assert sa.count_alerts(store, status="resolved") == 1
    inc0 = r.new[0].incident
    assert sa.count_alerts(store, incident=inc0) == 10
    assert sa.count_alerts(store, search="f2") == 10
    assert sa.count_alerts(store, search="%") == 0  # LIKE wildcards are literal
    row = sa.acknowledge(store, r.new[1].id, actor="t@x")
    assert row.acknowledged and sa.count_alerts(store, acknowledged=True) == 1
    moved = sa.assign(store, r.new[1].id, r.new[2].incident, actor="t@x", reason="belongs")
    assert moved.incident == r.new[2].incident
    with pytest.raises(sa.UnknownAlert):
        sa.get_alert(store, 99999)
    assert journal.verify(store).ok


def test_ten_thousand_alerts_in_seconds(store) -> None:  # type: ignore[no-untyped-def]
    batch = [al(f"{i:016x}", alertname=f"A{i % 40}", model=f"m{i % 3}", key=f"k{i % 97}",
                group_key=f"team:{{alertname=A{i % 40}}}") for i in range(10_000)]
    t0 = time.perf_counter()
    r = ingest_alerts(store, batch, CFG, actor="t@x", complete_sources={"am"})
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    r2 = ingest_alerts(store, batch[:9_000], CFG, actor="t@x", complete_sources={"am"})
    second = time.perf_counter() - t0
    assert len(r.new) == 10_000 and len(r.incidents_opened) == 40
    assert r2.repeated == 9_000 and len(r2.resolved) == 1_000
    assert first < 10 and second < 10, (first, second)
    assert journal.verify(store).ok
