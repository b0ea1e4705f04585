"""Crashes and concurrent writers: real subprocesses on a real SQLite file."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ircon.store import incidents, open_store
from ircon.store.journal import entries, verify
from tests.conftest import ROOT, run_ircon

WRITER = [sys.executable, str(ROOT / "tests" / "journal_writer.py")]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_sigkill_mid_append_loses_nothing_that_returned(db_path: Path) -> None:
    store = open_store(str(db_path))
    inc = incidents.create(store, "crash test")["id"]
    rng = random.Random(20261126)
    acknowledged: list[int] = []
    for _round in range(25):
        proc = subprocess.Popen(
            [*WRITER, str(db_path), inc, "100000", f"w{_round}"],
            stdout=subprocess.PIPE, text=True, env=_env(),
        )
        assert proc.stdout is not None
        # Wait for the writer to be appending, then kill it at a random moment.
        first = proc.stdout.readline()
        assert first.strip(), "writer did not start"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        acknowledged += [int(first)] + [int(x) for x in out.split()]
        # Every append that returned is there, and the chain verifies.
        present = {e.seq for e in entries(store, inc)}
        missing = [s for s in acknowledged if s not in present]
        assert not missing, f"round {_round}: acknowledged entries lost: {missing[:5]}"
        report = verify(store)
        assert report.ok, report.problems
    store.close()
    r = run_ircon("journal", "verify", "--json", db=db_path)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"]


def test_concurrent_writers_one_chain_no_loss(db_path: Path) -> None:
    store = open_store(str(db_path))
    inc = incidents.create(store, "concurrency")["id"]
    n_proc, per = 4, 60
    procs = [
        subprocess.Popen([*WRITER, str(db_path), inc, str(per), f"p{i}"],
                         stdout=subprocess.PIPE, text=True, env=_env())
        for i in range(n_proc)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    seqs = sorted(int(x) for o in outs for x in o.split())
    assert seqs == list(range(2, 2 + n_proc * per))  # no duplicate, no gap
    got = entries(store, inc)
    assert len(got) == 1 + n_proc * per
    texts = {json.loads(e.body)["text"] for e in got[1:]}
    assert texts == {f"p{i}-{k}" for i in range(n_proc) for k in range(per)}
    assert verify(store).ok


@pytest.mark.parametrize("n", [6])
def test_concurrent_incident_creation_gets_unique_ids(db_path: Path, n: int) -> None:
    open_store(str(db_path)).close()
    env = _env()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ircon.cli", "--db", str(db_path), "incident", "new",
             "--title", f"race {i}", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for i in range(n)
    ]
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        ids.append(json.loads(out)["id"])
    assert len(set(ids)) == n
    assert sorted(int(i.rsplit("-", 1)[1]) for i in ids) == list(range(1, n + 1))
