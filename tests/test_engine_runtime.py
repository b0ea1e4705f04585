"""The Engine in-process (as the console and the demo run it): leader and standby on one
database, hand-over on a clean stop, status and source health."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from ircon.engine import lease
from ircon.engine.runtime import Engine, engine_status
from ircon.store import open_store
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
    a = Engine(cfg, s1, actor="engine-a@test", lease_seconds=1.0)
    b = Engine(cfg, s2, actor="engine-b@test", lease_seconds=1.0, follow_interval=0.05)
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
    t0 = time.monotonic()
    await until(lambda: b.state == "leader" and b.telemetry, timeout=5)
    assert time.monotonic() - t0 < 1.0
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
    # Another holder steals the lease (as after a long stall past our expiry).
    with store.write() as conn:
        from ircon.store.tables import Lease

        t = Lease.__table__  # type: ignore[attr-defined]
        conn.execute(t.update().values(holder="other:1:x"))
    await until(lambda: e.state == "standby", timeout=5)
    e.stop()
    await task
    held = lease.holder(store)
    assert held is not None and held.holder == "other:1:x"  # never released someone else's
    store.close()
