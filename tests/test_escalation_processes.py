"""Real processes on one database: duplicate suppression and surviving a crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ircon.store import incidents, journal
from ircon.store.db import Store
from tests.conftest import ROOT
from tests.escalation_support import Receiver, receiver  # noqa: F401

pytestmark = pytest.mark.timeout(90)


def write_cfg(tmp_path: Path, rec: Receiver, mp: pytest.MonkeyPatch,
              levels: list[dict[str, Any]], **esc: Any) -> Path:
    people = {}
    for who in ("alice", "bob", "carol"):
        mp.setenv(f"IRCON_T_{who.upper()}", rec.url(who))
        people[who] = {"targets": [f"env:IRCON_T_{who.upper()}"]}
    cfg = {"escalation": {
        "people": people, "policies": {"p": {"levels": levels}},
        "severity_policy": {"SEV1": "p"}, "status_update_minutes": {},
        "send_attempts": 1, **esc,
    }}
    p = tmp_path / "cfg.json"
    p.write_text(json.dumps(cfg))
    return p


def worker(db: Path, cfg: Path, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.escalation_worker", str(db), str(cfg), str(seconds)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ),
    )


def finish(p: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def escalations(store: Store, inc: str) -> list[dict[str, Any]]:
    return [json.loads(e.body) for e in journal.entries(store, inc) if e.kind == "escalation"]


def test_two_processes_never_send_the_same_firing(
    store: Store, db_path: Path, tmp_path: Path, receiver: Receiver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    levels = [
        {"after_minutes": 0, "notify": ["person:alice"]},
        {"after_minutes": 0.02, "notify": ["person:bob"], "repeat": 2, "repeat_minutes": 0.01},
        {"after_minutes": 0.02, "notify": ["person:carol"]},
    ]
    # A short sweep interval makes both processes look at the same moments.
    cfg = write_cfg(tmp_path, receiver, monkeypatch, levels, tick_seconds=0.2)
    procs = [worker(db_path, cfg, 6.0) for _ in range(2)]
    for p in procs:  # both running before anything is due
        assert p.stdout is not None and "started" in p.stdout.readline()
    incs = [incidents.create(store, f"campaign {i}", severity="SEV1")["id"] for i in range(3)]
    results = [finish(p) for p in procs]
    claimed = results[0]["claimed"] + results[1]["claimed"]
    # No firing was claimed by both processes, or twice by one.
    assert len(claimed) == len(set(claimed))
    assert results[0]["holder"] != results[1]["holder"]
    with store.read() as conn:
        rows = conn.execute(text("SELECT key, claimed_by FROM firing_claim")).all()
    # Every step of every ladder was claimed (a repeat that a busy machine reached late is
    # folded into the next one and claimed with it, never sent separately).
    expect = {f"{i}/e0/{k}" for i in incs for k in ("L1", "L2", "L2/r1", "L2/r2", "L3")}
    assert {r[0] for r in rows} == expect
    assert {f"{i}/e0/{k}" for i in incs for k in ("L1", "L2", "L2/r2", "L3")} <= set(claimed)
    # Each claimed firing is journaled once and delivered once.
    for inc in incs:
        keys = [e["key"] for e in escalations(store, inc)]
        assert sorted(keys) == sorted(k for k in claimed if k.startswith(inc + "/"))
    assert len(receiver.wait(len(claimed), timeout=5)) == len(claimed)
    time.sleep(0.3)
    assert len(receiver.got) == len(claimed)
    assert len(receiver.at("alice")) == 3 and len(receiver.at("carol")) == 3
    holders = {r[1] for r in rows}
    assert holders <= {results[0]["holder"], results[1]["holder"]}


def test_crash_mid_ladder_then_restart_fires_missed_level_once(
    store: Store, db_path: Path, tmp_path: Path, receiver: Receiver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    levels = [
        {"after_minutes": 0, "notify": ["person:alice"]},
        {"after_minutes": 0.1, "notify": ["person:bob"]},  # 6 s after the open
    ]
    cfg = write_cfg(tmp_path, receiver, monkeypatch, levels, tick_seconds=0.3,
                    late_after_seconds=0.5)
    p = worker(db_path, cfg, 30.0)
    assert p.stdout is not None and "started" in p.stdout.readline()
    inc = incidents.create(store, "agent tool misuse", severity="SEV1")["id"]
    t0 = time.monotonic()
    assert receiver.wait(1, path="alice", timeout=5)
    p.send_signal(signal.SIGKILL)  # crash: no clean shutdown
    p.wait(10)
    assert receiver.at("bob") == []
    time.sleep(max(0.0, 6.5 - (time.monotonic() - t0)))  # level 2 falls due while down
    p2 = worker(db_path, cfg, 0.5)
    res = finish(p2)
    assert res["claimed"] == [f"{inc}/e0/L2"]
    esc = escalations(store, inc)
    assert [e["key"] for e in esc] == [f"{inc}/e0/L1", f"{inc}/e0/L2"]
    assert esc[1]["late"] is True
    assert len(receiver.wait(1, path="bob")) == 1
    assert "sent late" in receiver.at("bob")[0]["body"]["message"]
