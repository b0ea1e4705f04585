"""The leader lease on a real SQLite file: one holder, renewal, expiry, takeover."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from ircon.engine import lease
from ircon.store import open_store
from ircon.store.engine import utcnow


def test_one_holder_renews_another_waits(store) -> None:
    t0 = utcnow()
    a = lease.acquire(store, "host:1:a", 10, now=t0)
    assert a is not None and a.holder == "host:1:a"
    assert lease.acquire(store, "host:2:b", 10, now=t0 + timedelta(seconds=5)) is None
    again = lease.acquire(store, "host:1:a", 10, now=t0 + timedelta(seconds=5))
    assert again is not None and again.expires_at == t0 + timedelta(seconds=15)
    info = lease.holder(store, now=t0 + timedelta(seconds=14))
    assert info is not None and (info.host, info.pid) == ("host", 1)
    assert info.to_dict(t0)["alive"] is True


def test_expired_lease_is_taken_over(store) -> None:
    t0 = utcnow()
    assert lease.acquire(store, "a", 2, now=t0)
    assert lease.holder(store, now=t0 + timedelta(seconds=2.5)) is None
    b = lease.acquire(store, "b", 2, now=t0 + timedelta(seconds=2.5))
    assert b is not None and b.holder == "b"
    # The old holder, back from a stall, cannot renew over the new one.
    assert lease.acquire(store, "a", 2, now=t0 + timedelta(seconds=3)) is None


def test_release_only_by_the_holder(store) -> None:
    assert lease.acquire(store, "a", 30)
    assert lease.release(store, "b") is False
    assert lease.holder(store) is not None
    assert lease.release(store, "a") is True
    assert lease.holder(store) is None
    assert lease.acquire(store, "b", 30) is not None


def test_concurrent_acquirers_from_separate_connections_get_one_lease(db_path: Path) -> None:
    stores = [open_store(str(db_path)) for _ in range(6)]
    wins: list[str] = []
    barrier = threading.Barrier(len(stores))

    def go(i: int) -> None:
        barrier.wait()
        if lease.acquire(stores[i], f"h:{i}:x", 30) is not None:
            wins.append(f"h:{i}:x")

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    info = lease.holder(stores[0])
    assert info is not None and info.holder == wins[0]
    for s in stores:
        s.close()
