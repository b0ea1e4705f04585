"""The Engine in-process (as the console and the demo run it): leader and standby on one
database, hand-over on a clean stop, status and source health."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from ircon.engine import lease
from ircon.engine.runtime import Engine, engine_status
from ircon.store import open_store
from ircon.store.engine import utcnow
from tests.adapters_support import FakeLiteLLM
from tests.engine_support import (  # noqa: F401 - proxy is a fixture
    append,
    engine_setup,
    key_hash,
    policy,
    proxy,
    telemetry_line,
    until,
)


async def test_standby_engine_takes_over_when_the_leader_stops(
        tmp_path: Path, proxy: FakeLiteLLM,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    tel, cfg = engine_setup(tmp_path, proxy.url, monkeypatch, policies=policy("jb"))
    db = str(tmp_path / "ircon.db")
    s1, s2 = open_store(db), open_store(db)
    # A lease long enough that a loaded machine's stalls do not pass it, short
    # enough that waiting for its expiry would show.
    a = Engine(cfg, s1, actor="engine-a@test", lease_seconds=3.0)
    b = Engine(cfg, s2, actor="engine-b@test", lease_seconds=3.0, follow_interval=0.05)
    ta = asyncio.create_task(a.run())
    await until(lambda: a.state == "leader" and a.telemetry)
    tb = asyncio.create_task(b.run())
    await until(lambda: b.state == "standby")
    info = engine_status(s1)
    assert info["running"] and info["leader"]["holder"] == a.holder
    assert b.status()["leader"]["holder"] == a.holder
    assert set(a.health()) == {"gateway"}

    attacker = key_hash("x")
    proxy.add_key(attacker)
    a.stop()  # a clean stop releases the lease: the standby need not wait for expiry
    await ta
    assert a.leader is not None
    held_until = a.leader.expires_at
    await until(lambda: b.state == "leader" and b.telemetry, timeout=10)
    assert b.leader is not None and b.leader.renewed_at < held_until
    assert b.status()["policies"] == {}
    append(tel, telemetry_line(attacker))
    await until(lambda: any(r.path == "/key/block" for r in proxy.requests))
    assert b.counts["findings"] >= 1 and b.status()["policies"]["act"] == 1
    b.stop()
    await tb
    assert b.state == "stopped" and lease.holder(s2) is None
    s1.close()
    s2.close()


async def test_an_engine_whose_lease_was_taken_goes_to_standby(
        tmp_path: Path, proxy: FakeLiteLLM,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    _tel, cfg = engine_setup(tmp_path, proxy.url, monkeypatch)
    store = open_store(str(tmp_path / "ircon.db"))
    e = Engine(cfg, store, actor="engine@test", lease_seconds=1.0)
    task = asyncio.create_task(e.run())
    await until(lambda: e.state == "leader")
    # Another engine took the lease over (as after a long stall past our expiry) and
    # holds it for its own lease period: it stays live however slow this machine is,
    # so the engine must stay in standby rather than take it back on expiry.
    with store.write() as conn:
        from ircon.store.tables import Lease

        t = Lease.__table__  # type: ignore[attr-defined]
        conn.execute(t.update().values(holder="other:1:x",
                                       expires_at=utcnow() + timedelta(seconds=60)))
    await until(lambda: e.state == "standby", timeout=10)
    await asyncio.sleep(1.5)  # past the lease we held: the live one is still not ours
    assert e.state == "standby"
    e.stop()
    await task
    held = lease.holder(store)
    assert held is not None and held.holder == "other:1:x"  # never released someone else's
    store.close()


async def test_the_lease_is_held_until_a_slow_shutdown_ends(
        tmp_path: Path, proxy: FakeLiteLLM,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A shutdown's grace may outlast the lease: no standby works the database
    while the leader still finishes its work."""
    _tel, cfg = engine_setup(tmp_path, proxy.url, monkeypatch)
    db = str(tmp_path / "ircon.db")
    s1, s2 = open_store(db), open_store(db)
    a = Engine(cfg, s1, actor="engine-a@test", lease_seconds=1.0)
    b = Engine(cfg, s2, actor="engine-b@test", lease_seconds=1.0)
    stop_parts = a._stop_parts
    finishing = asyncio.Event()

    async def slow_stop(grace: float) -> None:
        finishing.set()
        await asyncio.sleep(3.0)  # three lease periods of in-flight work
        await stop_parts(grace)

    monkeypatch.setattr(a, "_stop_parts", slow_stop)
    ta = asyncio.create_task(a.run())
    await until(lambda: a.state == "leader")
    tb = asyncio.create_task(b.run())
    await until(lambda: b.state == "standby")
    a.stop()
    await finishing.wait()
    while not ta.done():
        assert b.state != "leader", "the standby took over during the leader's shutdown"
        await asyncio.sleep(0.05)
    await ta
    await until(lambda: b.state == "leader")
    b.stop()
    await tb
    s1.close()
    s2.close()
