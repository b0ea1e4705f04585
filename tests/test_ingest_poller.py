"""The polling service: intervals, backoff with jitter, single-flight pulls, health."""

from __future__ import annotations

import asyncio

import pytest

from ircon.engine.poller import Poller, backoff_delay, ingest_callback, pull_once
from ircon.model.alert import AlertIn
from ircon.sources.alertmanager import AlertmanagerClient
from ircon.sources.base import PullResult, SourceError, SourceHealth
from ircon.sources.settings import AlertmanagerSource
from ircon.store import alerts as sa
from ircon.triage.settings import TriageConfig
from tests.alerts_support import FakeAM, am_alert, fake_am  # noqa: F401


class ScriptedSource:
    """A source whose pulls follow a script: "ok", "fail", or "hang"."""

    def __init__(self, name: str, script: list[str], interval: float = 10.0) -> None:
        self.name = name
        self.interval = interval
        self.timeout = 0.2
        self.health = SourceHealth()
        self.script = list(script)
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self.closed = False

    async def pull(self) -> PullResult:
        self.calls += 1
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            step = self.script.pop(0) if self.script else "ok"
            await asyncio.sleep(0.01)
            if step == "fail":
                raise SourceError(f"{self.name} said no")
            if step == "hang":
                await asyncio.sleep(30)
            if step == "bug":
                raise KeyError("oops")
            a = AlertIn(source=self.name, fingerprint=f"fp{self.calls}", labels={"alertname": "A"})
            return PullResult(alerts=[a], complete=True)
        finally:
            self.running -= 1

    async def aclose(self) -> None:
        self.closed = True


def test_backoff_grows_caps_and_jitters() -> None:
    d = [backoff_delay(10, n, backoff_max=300, jitter=0.2, rand=0.5) for n in range(7)]
    assert d == [10, 10, 20, 40, 80, 160, 300]
    lo = backoff_delay(10, 3, backoff_max=300, jitter=0.2, rand=0.0)
    hi = backoff_delay(10, 3, backoff_max=300, jitter=0.2, rand=1.0)
    assert (lo, hi) == (pytest.approx(32.0), pytest.approx(48.0))
    assert backoff_delay(10, 60, backoff_max=300, jitter=0.2, rand=1.0) == 300


async def test_pull_once_reports_errors_timeouts_and_bugs() -> None:
    s = ScriptedSource("s", ["fail", "hang", "bug", "ok"])
    out = [await pull_once(s, timeout=0.3) for _ in range(4)]
    assert [o.ok for o in out] == [False, False, False, True]
    assert out[0].error == "s said no"
    assert out[1].error and "timeout" in out[1].error
    assert out[2].error and "unexpected KeyError" in out[2].error
    assert s.health.healthy and s.health.consecutive_failures == 0
    assert s.health.last_error == out[2].error  # the last cause stays visible


async def test_poller_backs_off_keeps_last_good_and_recovers() -> None:
    src = ScriptedSource("am", ["ok", "fail", "fail", "fail", "ok", "ok"])
    got: list[PullResult] = []
    delays: list[float] = []
    stop = asyncio.Event()

    async def fake_sleep(d: float) -> None:
        delays.append(d)
        if len(delays) >= 6:
            stop.set()
        await asyncio.sleep(0)

    p = Poller([src], lambda name, r: got.append(r), sleep=fake_sleep, rand=lambda: 0.5)
    health_after: list[bool] = []

    async def watch() -> None:
        while not stop.is_set():
            health_after.append(src.health.healthy)
            await asyncio.sleep(0)

    await asyncio.gather(p.run(stop), watch())
    assert delays == [10, 10, 20, 40, 10, 10]  # interval, then 1x, 2x, 4x, then back
    assert len(got) == 3 and p.last_good["am"] is got[-1]
    assert False in health_after and src.health.healthy and src.closed


async def test_never_two_pulls_of_one_source_at_once() -> None:
    src = ScriptedSource("am", [])
    p = Poller([src])
    outs = await asyncio.gather(*(p.pull("am") for _ in range(5)))
    assert src.calls == 1 and src.max_running == 1
    assert all(o is outs[0] for o in outs)
    await p.pull("am")
    assert src.calls == 2


async def test_store_failure_counts_as_unhealthy_and_retries() -> None:
    src = ScriptedSource("am", [])
    calls = {"n": 0}

    def flaky(name: str, r: PullResult) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database is locked")

    p = Poller([src], flaky)
    bad = await p.pull("am")
    assert bad.error and "storing the pull failed" in bad.error and not src.health.healthy
    assert "am" not in p.last_good
    good = await p.pull("am")
    assert good.ok and src.health.healthy and "am" in p.last_good


async def test_poller_with_real_http_and_store(fake_am: FakeAM, store) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    fake_am.alerts = [am_alert({"alertname": "J", "key": f"k{i}"}) for i in range(4)]
    client = AlertmanagerClient(AlertmanagerSource(url=fake_am.url, interval=0.05, timeout=1))
    p = Poller([client], ingest_callback(store, TriageConfig(), actor="engine@x"))
    first = await p.pull("alertmanager")
    assert first.ok and sa.count_alerts(store) == 4
    fake_am.mode = "500"
    bad = await p.pull("alertmanager")
    assert bad.error and "HTTP 500" in bad.error
    assert sa.count_alerts(store, status="firing") == 4  # last good state kept
    fake_am.mode = "ok"
    fake_am.alerts = fake_am.alerts[:3]
    assert (await p.pull("alertmanager")).ok
    assert sa.count_alerts(store, status="firing") == 3 and sa.count_alerts(store) == 4
    await client.aclose()


def test_duplicate_source_names_refused() -> None:
    with pytest.raises(ValueError, match="share a name"):
        Poller([ScriptedSource("a", []), ScriptedSource("a", [])])
