"""Telemetry positions survive the engine: lines written while no engine reads
(between a leader's death and the takeover, or a restart) are read by the next one."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from ircon.engine.runtime import Engine
from ircon.sources.telemetry import FileFollower
from ircon.store import open_store, positions
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


def _lines(f: FileFollower) -> list[tuple[int, bytes]]:
    return [(n, raw) for _p, n, raw in f.poll()]


def test_checkpoint_resumes_after_the_last_complete_line(tmp_path: Path) -> None:
    log = tmp_path / "gw.jsonl"
    log.write_bytes(b"a\nb\nc\n")
    f = FileFollower([str(log)], from_start=True)
    assert _lines(f) == [(1, b"a"), (2, b"b"), (3, b"c")]
    with log.open("ab") as fh:
        fh.write(b"par")  # half a line: not yet a line, read again after a resume
    assert _lines(f) == []
    cp = f.checkpoint()
    f.close()
    assert cp[str(log)][2] == 6 and cp[str(log)][3] == 3
    with log.open("ab") as fh:
        fh.write(b"tial\ne\n")
    g = FileFollower([str(log)], resume=cp)  # not from the end: from the checkpoint
    assert _lines(g) == [(4, b"partial"), (5, b"e")]
    g.close()


def test_a_replaced_or_truncated_file_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "gw.jsonl"
    log.write_bytes(b"old1\nold2\n")
    f = FileFollower([str(log)], from_start=True)
    _lines(f)
    cp = f.checkpoint()
    f.close()
    os.rename(log, tmp_path / "gw.jsonl.1")  # rotated while nobody read
    log.write_bytes(b"new1\n")
    g = FileFollower([str(log)], resume=cp)
    assert _lines(g) == [(1, b"new1")]
    g.close()
    cp = {str(log): (*cp[str(log)][:2], 10_000, 99, False)}  # offset past the end
    h = FileFollower([str(log)], resume=cp)
    assert _lines(h) == [(1, b"new1")]
    h.close()


def test_stored_positions_reject_garbage(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "ircon.db"))
    assert positions.load(store, "gw") == {}
    positions.save(store, "gw", {"/x": (1, 2, 3, 4, False)})
    positions.save(store, "gw", {"/x": (1, 2, 30, 40, True)})
    assert positions.load(store, "gw") == {"/x": (1, 2, 30, 40, True)}
    with store.write() as conn:
        conn.exec_driver_sql("UPDATE ircon_meta SET value = '{\"/x\": [1, -2, \"a\"]}' "
                             "WHERE key = 'telemetry.position:gw'")
    assert positions.load(store, "gw") == {}
    store.close()


async def test_a_line_written_while_no_engine_runs_is_read_by_the_next(
        tmp_path: Path, proxy: FakeLiteLLM,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    tel, cfg = engine_setup(tmp_path, proxy.url, monkeypatch, policies=policy("jb"))
    db = str(tmp_path / "ircon.db")
    first = key_hash("first")
    gap = key_hash("gap")
    proxy.add_key(first)
    proxy.add_key(gap)
    s1 = open_store(db)
    a = Engine(cfg, s1, actor="engine-a@test", lease_seconds=1.0, follow_interval=0.05)
    ta = asyncio.create_task(a.run())
    await until(lambda: a.state == "leader" and a.telemetry)
    append(tel, telemetry_line(first))
    await until(lambda: a.counts["findings"] >= 1)
    await until(lambda: positions.load(s1, "gateway") != {})
    a.stop()
    await ta
    s1.close()
    # Nobody reads: an attack line lands in the gap.
    append(tel, telemetry_line(gap))
    s2 = open_store(db)
    b = Engine(cfg, s2, actor="engine-b@test", lease_seconds=1.0, follow_interval=0.05)
    tb = asyncio.create_task(b.run())
    await until(lambda: any(r.path == "/key/block" and gap in json.dumps(r.body)
                             for r in proxy.requests))
    assert b.counts["findings"] >= 1
    b.stop()
    await tb
    s2.close()
