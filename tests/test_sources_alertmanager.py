"""The Alertmanager source against a real Alertmanager, and webhook (v4) archives."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ircon.sources.alertmanager import (
    AlertmanagerClient,
    labels_fingerprint,
    parse_time,
    parse_webhook,
)
from ircon.sources.base import PullResult, SourceError
from ircon.sources.settings import AlertmanagerSource
from tests.alerts_support import FakeAM, am_alert, fake_am  # noqa: F401


def pull(cfg: AlertmanagerSource) -> PullResult:
    async def go() -> PullResult:
        c = AlertmanagerClient(cfg)
        try:
            return await c.pull()
        finally:
            await c.aclose()

    return asyncio.run(go())


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def post(am: object, *alerts: dict[str, object]) -> None:
    am.post_alerts(list(alerts))  # type: ignore[attr-defined]


def test_pull_keeps_fingerprints_groups_and_state(alertmanager: object) -> None:
    url = alertmanager.url  # type: ignore[attr-defined]
    post(alertmanager,
         {"labels": {"alertname": "LLMJailbreakSpike", "model": "gpt-x", "severity": "critical"},
          "annotations": {"summary": "jailbreak rate > 5%"},
          "generatorURL": "http://prom/graph?g0"},
         {"labels": {"alertname": "LLMJailbreakSpike", "model": "gpt-y"}},
         {"labels": {"alertname": "TokenFlood", "model": "gpt-x"}})
    res = pull(AlertmanagerSource(url=url))
    assert res.complete and not res.skipped and len(res.alerts) == 3
    by = {a.labels["model"] + a.labels["alertname"]: a for a in res.alerts}
    jb = by["gpt-xLLMJailbreakSpike"]
    assert jb.fingerprint == labels_fingerprint(jb.labels)
    assert jb.status == "firing" and jb.state == "active"
    assert jb.annotations["summary"] == "jailbreak rate > 5%"
    assert jb.generator_url == "http://prom/graph?g0"
    assert jb.starts_at is not None and jb.ends_at is not None and jb.ends_at > jb.starts_at
    assert jb.group_key == by["gpt-yLLMJailbreakSpike"].group_key
    assert jb.group_key != by["gpt-xTokenFlood"].group_key
    assert jb.group_key == 'ircon-null:{alertname="LLMJailbreakSpike"}'

    only = pull(AlertmanagerSource(url=url, filter=['model="gpt-x"']))
    assert {a.labels["alertname"] for a in only.alerts} == {"LLMJailbreakSpike", "TokenFlood"}
    assert pull(AlertmanagerSource(url=url, receiver="nobody")).alerts == []

    async def status() -> object:
        c = AlertmanagerClient(AlertmanagerSource(url=url))
        try:
            return await c.status()
        finally:
            await c.aclose()

    st = asyncio.run(status())
    assert st.version and st.cluster == "disabled" and st.uptime is not None  # type: ignore[attr-defined]


def test_silence_makes_state_suppressed_and_can_be_excluded(alertmanager: object) -> None:
    url = alertmanager.url  # type: ignore[attr-defined]
    post(alertmanager, {"labels": {"alertname": "Leak", "model": "m"}},
         {"labels": {"alertname": "Other", "model": "m"}})
    now = datetime.now(UTC)
    r = httpx.post(url + "/api/v2/silences", json={
        "matchers": [{"name": "alertname", "value": "Leak", "isRegex": False, "isEqual": True}],
        "startsAt": iso(now - timedelta(minutes=1)), "endsAt": iso(now + timedelta(hours=1)),
        "createdBy": "test", "comment": "maintenance",
    }, timeout=10)
    r.raise_for_status()
    deadline = time.monotonic() + 10
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = {a.labels["alertname"]: a.state for a in pull(AlertmanagerSource(url=url)).alerts}
        if states.get("Leak") == "suppressed":
            break
        time.sleep(0.2)
    assert states == {"Leak": "suppressed", "Other": "active"}
    visible = pull(AlertmanagerSource(url=url, silenced=False)).alerts
    assert [a.labels["alertname"] for a in visible] == ["Other"]


def test_resolved_alerts_leave_the_api_and_restart_loses_memory(alertmanager: object) -> None:
    url = alertmanager.url  # type: ignore[attr-defined]
    labels = {"alertname": "Probe", "model": "m"}
    post(alertmanager, {"labels": labels})
    assert len(pull(AlertmanagerSource(url=url)).alerts) == 1
    past = iso(datetime.now(UTC) - timedelta(seconds=1))
    post(alertmanager, {"labels": labels, "endsAt": past})
    assert pull(AlertmanagerSource(url=url)).alerts == []

    post(alertmanager, {"labels": labels})
    alertmanager.stop()  # type: ignore[attr-defined]
    with pytest.raises(SourceError, match="cannot connect"):
        pull(AlertmanagerSource(url=url, timeout=3))
    alertmanager.start()  # type: ignore[attr-defined]
    # Alertmanager keeps alerts in memory only: Prometheus re-sends them after a restart.
    assert pull(AlertmanagerSource(url=url)).alerts == []
    post(alertmanager, {"labels": labels})
    again = pull(AlertmanagerSource(url=url)).alerts
    assert [a.fingerprint for a in again] == [labels_fingerprint(labels)]


def test_auth_and_filters_are_sent(fake_am: FakeAM, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("AM_TOKEN", "s3cret-token")
    fake_am.alerts = [am_alert({"alertname": "A"})]
    res = pull(AlertmanagerSource(url=fake_am.url, bearer_token="env:AM_TOKEN",
                                  filter=['team="ml"', 'model=~"gpt.*"'], receiver="oncall",
                                  inhibited=False))
    assert len(res.alerts) == 1 and res.alerts[0].group_key == 'team:{alertname="A"}'
    first = next(r for r in fake_am.requests if r["path"] == "/api/v2/alerts")
    assert first["headers"]["Authorization"] == "Bearer s3cret-token"
    assert first["query"]["filter"] == ['team="ml"', 'model=~"gpt.*"']
    assert first["query"]["receiver"] == ["oncall"] and first["query"]["inhibited"] == ["false"]
    monkeypatch.delenv("AM_TOKEN")
    with pytest.raises(SourceError, match="AM_TOKEN is not set"):
        pull(AlertmanagerSource(url=fake_am.url, bearer_token="env:AM_TOKEN"))


def test_basic_auth_from_keyring(fake_am: FakeAM) -> None:  # noqa: F811
    from ircon.secrets import set_secret

    set_secret("am-pass", "hunter22")
    fake_am.alerts = [am_alert({"alertname": "A"})]
    pull(AlertmanagerSource(url=fake_am.url, basic_user="ircon",
                            basic_password="keyring:ircon/am-pass"))
    auth = fake_am.requests[0]["headers"]["Authorization"]
    assert auth == httpx.BasicAuth("ircon", "hunter22")._auth_header


def test_real_webhook_samples(shared_dir: Path) -> None:
    data = (shared_dir / "samples" / "alertmanager-webhook-v4.jsonl").read_bytes()
    res = parse_webhook(data, "alertmanager", origin="samples")
    assert not res.skipped and not res.complete
    firing, resolved = res.alerts
    assert firing.fingerprint == resolved.fingerprint == "2b94efc2ca307ce7"
    assert labels_fingerprint(firing.labels) == firing.fingerprint
    assert (firing.status, resolved.status) == ("firing", "resolved")
    assert firing.ends_at is None  # 0001-01-01 is "no end"
    assert firing.starts_at == datetime(2026, 11, 26, 22, 9, 48, 13009, tzinfo=UTC)
    assert firing.group_key == '{}:{alertname="LLMJailbreakSpike"}'
    assert firing.raw["webhook"]["receiver"] == "hook"


def test_webhook_forms_and_bad_lines() -> None:
    payload = {"version": "4", "status": "firing", "groupKey": "g", "receiver": "r",
               "alerts": [{"status": "firing", "labels": {"alertname": "A"},
                           "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}]}
    one = parse_webhook(json.dumps(payload).encode(), "am")
    arr = parse_webhook(json.dumps([payload, payload]).encode(), "am")
    assert len(one.alerts) == 1 and len(arr.alerts) == 2
    assert one.alerts[0].fingerprint == labels_fingerprint({"alertname": "A"})  # computed

    v3 = dict(payload, version="3")
    no_labels = dict(payload, alerts=[{"status": "firing"}], truncatedAlerts=4)
    lines = [json.dumps(payload), "not json {", "", json.dumps(v3), '{"x": 1}',
             json.dumps(no_labels), '{"truncated": ']
    res = parse_webhook("\n".join(lines).encode(), "am", origin="f.jsonl")
    assert len(res.alerts) == 1
    reasons = {(n, r.split(" (")[0]) for _, n, r in res.skipped}
    assert (2, "not JSON") in reasons and (7, "not JSON") in reasons
    assert any(n == 4 and "version 3" in r for _, n, r in res.skipped)
    assert any(n == 5 and "no alerts list" in r for _, n, r in res.skipped)
    assert any(n == 6 and "no labels" in r for _, n, r in res.skipped)
    assert any(n == 6 and "left 4 alert(s) out" in r for _, n, r in res.skipped)


def test_parse_time() -> None:
    assert parse_time("2026-11-26T22:09:48.013009305Z") == datetime(
        2026, 11, 26, 22, 9, 48, 13009, tzinfo=UTC)
    assert parse_time("2026-11-26T23:09:48+01:00") == datetime(2026, 11, 26, 22, 9, 48,
                                                               tzinfo=UTC)
    assert parse_time("0001-01-01T00:00:00Z") is None
    for junk in ("", "yesterday", 5, None, "9" * 100):
        assert parse_time(junk) is None
