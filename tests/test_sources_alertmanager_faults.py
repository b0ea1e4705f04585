"""A misbehaving Alertmanager (real loopback server): ircon reports the cause, keeps the
last good state, and loses or duplicates nothing after recovery."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from ircon.engine.ingest import ingest_alerts
from ircon.engine.poller import pull_once
from ircon.sources.alertmanager import AlertmanagerClient
from ircon.sources.settings import AlertmanagerSource
from ircon.store import alerts as store_alerts
from ircon.store import journal
from ircon.triage.settings import TriageConfig
from tests.alerts_support import HOSTILE_LABELS, FakeAM, am_alert, fake_am  # noqa: F401
from tests.services import free_port

CFG = TriageConfig()


def outcome(cfg: AlertmanagerSource):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        c = AlertmanagerClient(cfg)
        try:
            return await pull_once(c), c.health
        finally:
            await c.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("mode", "cause"),
    [
        ("500", "answered HTTP 500"),
        ("malformed", "malformed JSON"),
        ("partial", "transfer failed"),
        ("notlist", "expected a JSON list of alerts"),
        ("slow", "timeout"),
    ],
)
def test_fault_is_reported_with_its_cause(fake_am: FakeAM, mode: str, cause: str) -> None:  # noqa: F811
    fake_am.mode = mode
    fake_am.slow_seconds = 2.0
    t0 = time.monotonic()
    out, health = outcome(AlertmanagerSource(url=fake_am.url, timeout=0.5))
    assert time.monotonic() - t0 < 2.0
    assert out.result is None and out.error and cause in out.error
    assert not health.healthy and health.last_error == out.error
    assert health.consecutive_failures == 1 and health.last_error_at is not None
    assert "\x1b" not in out.error


def test_down_and_oversized() -> None:
    out, health = outcome(AlertmanagerSource(url=f"http://127.0.0.1:{free_port()}", timeout=2))
    assert out.error and "cannot connect" in out.error and not health.healthy


def test_response_cap(fake_am: FakeAM) -> None:  # noqa: F811
    fake_am.alerts = [am_alert({"alertname": f"A{i}"}) for i in range(3000)]
    out, _ = outcome(AlertmanagerSource(url=fake_am.url, max_response_mb=0.1))
    assert out.error and "larger than 0.1 MiB" in out.error


@pytest.mark.slow
def test_huge_response_of_100k_alerts(fake_am: FakeAM) -> None:  # noqa: F811
    one = am_alert({"alertname": "Flood", "key": "k"})
    parts = []
    for i in range(100_000):
        a = dict(one, labels={"alertname": "Flood", "key": f"k{i}"}, fingerprint=f"{i:016x}")
        parts.append(json.dumps(a))
    fake_am.body_override = ("[" + ",".join(parts) + "]").encode()
    fake_am.alerts = []
    out, health = outcome(AlertmanagerSource(url=fake_am.url, timeout=60))
    assert out.error is None and health.healthy
    assert len(out.result.alerts) == 100_000 and out.result.complete


def test_hostile_labels_are_bounded(fake_am: FakeAM, db_path: Path) -> None:  # noqa: F811
    from ircon.store import open_store

    fake_am.alerts = [am_alert(HOSTILE_LABELS, summary="\x1b]0;title\x07[link=x]y[/link]")]
    out, _ = outcome(AlertmanagerSource(url=fake_am.url))
    assert out.error is None
    a = out.result.alerts[0]
    assert a.labels["alertname"] == HOSTILE_LABELS["alertname"]  # stored as is, shown escaped
    assert len(a.labels["huge"]) < 70_000 and a.labels["huge"].endswith("chars]")
    assert a.raw["ircon_truncated"] is True
    store = open_store(str(db_path))
    rep = ingest_alerts(
        store, out.result.alerts, CFG, actor="t@x", complete_sources={"alertmanager"}
    )
    assert len(rep.new) == 1 and rep.new[0].incident
    assert journal.verify(store).ok
    body = journal.entries(store, rep.new[0].incident)[2].body
    assert len(body) < 20_000 and "\x1b" not in body  # bounded, and canonical JSON escapes
    store.close()


def test_skipped_item_makes_pull_incomplete(fake_am: FakeAM) -> None:  # noqa: F811
    fake_am.alerts = [am_alert({"alertname": "A"}), {"fingerprint": "zz", "labels": "nope"}]
    out, _ = outcome(AlertmanagerSource(url=fake_am.url, fetch_groups=False))
    assert len(out.result.alerts) == 1 and not out.result.complete
    assert out.result.skipped == [("alertmanager", 1, "alert has no labels")]


def test_last_good_state_kept_and_recovery_loses_nothing(fake_am: FakeAM, store) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    cfg = AlertmanagerSource(url=fake_am.url, timeout=0.5)
    base = [am_alert({"alertname": "Jailbreak", "model": "m", "key": f"k{i}"}) for i in range(3)]
    fake_am.alerts = list(base)
    client = AlertmanagerClient(cfg)

    async def cycle() -> tuple[object, object]:
        out = await pull_once(client)
        rep = None
        if out.result is not None:
            rep = await asyncio.to_thread(
                ingest_alerts, store, out.result.alerts, CFG, actor="t@x",
                complete_sources={client.name} if out.result.complete else set(),
            )
        return out, rep

    async def scenario() -> None:
        out, rep = await cycle()
        assert out.error is None and len(rep.new) == 3  # type: ignore[union-attr]
        for mode in ("500", "malformed", "partial", "slow", "notlist"):
            fake_am.mode = mode
            out, rep = await cycle()
            assert out.error and rep is None
            assert store_alerts.count_alerts(store, status="firing") == 3
        assert client.health.consecutive_failures == 5 and not client.health.healthy
        fake_am.mode = "ok"
        fake_am.alerts = [*base, am_alert({"alertname": "Jailbreak", "model": "m", "key": "k9"})]
        out, rep = await cycle()
        assert out.error is None and client.health.healthy
        assert len(rep.new) == 1 and rep.repeated == 3 and not rep.resolved  # type: ignore[union-attr]
        await client.aclose()

    asyncio.run(scenario())
    rows = store_alerts.list_alerts(store)
    assert len(rows) == 4 and {r.count for r in rows} == {1, 2}
    assert len({r.incident for r in rows}) == 1
    assert journal.verify(store).ok
