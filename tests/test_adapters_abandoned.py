"""A process killed in the middle of an action leaves a run at ``running``; the
engine's sweep closes it as ``interrupted`` (outcome unknown) once no attempt of
it can still be going, with an ``action.result`` entry, and the journal verifies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ircon.adapters import runner
from ircon.config import IrconConfig
from ircon.store import incidents
from ircon.store import journal as jr
from ircon.store.db import Store, open_store

ADAPTERS = {"slow": {"type": "shell", "argv": [sys.executable, "-c",
                                               "import time; time.sleep(60)"],
                     "timeout": 5.0, "retries": 0}}

KILLED_RUNNER = textwrap.dedent("""
    import sys
    from ircon.adapters import runner
    from ircon.config import IrconConfig
    from ircon.store.db import open_store
    cfg = IrconConfig.model_validate({"adapters": %r})
    runner.run_action(open_store(sys.argv[1]), cfg, "slow", "run", {}, incident=sys.argv[2],
                      actor="alice@example")
""") % (ADAPTERS,)


def _running_run(store: Store) -> dict[str, Any] | None:
    runs = runner.list_runs(store)
    return next((r for r in runs if r["status"] == "running"), None)


def test_run_of_a_killed_process_is_swept_as_interrupted(store: Store, db_path: Path) -> None:
    inc = incidents.create(store, "Key abuse", severity="SEV3")["id"]
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUNNER, str(db_path), inc],
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        for _ in range(200):
            run = _running_run(store)
            if run is not None:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the action never started")
        os.kill(proc.pid, signal.SIGKILL)  # mid-action: no result is ever written
    finally:
        proc.wait(10)
    cfg = IrconConfig.model_validate({"adapters": ADAPTERS})
    fresh = open_store(str(db_path))
    created = runner.get_run(fresh, run["id"])["created_at"]  # type: ignore[index]
    t0 = datetime.fromisoformat(created) if isinstance(created, str) else created
    if t0.tzinfo is None:
        t0 = t0.replace(tzinfo=UTC)
    # while an attempt could still be going (5 s timeout, one attempt, a margin): kept
    assert runner.sweep_abandoned(fresh, cfg, actor="ircon-engine",
                                  now=t0 + timedelta(seconds=60)) == []
    assert runner.get_run(fresh, run["id"])["status"] == "running"  # type: ignore[index]
    # past that: interrupted, said once, with the outcome unknown
    later = t0 + timedelta(seconds=5 + 121)
    assert runner.sweep_abandoned(fresh, cfg, actor="ircon-engine", now=later) == [run["id"]]
    assert runner.sweep_abandoned(fresh, cfg, actor="ircon-engine", now=later) == []
    got = runner.get_run(fresh, run["id"])
    assert got is not None and got["status"] == "interrupted"
    last = jr.entries(fresh, inc)[-1]
    assert last.kind == "action.result" and last.actor == "ircon-engine"
    body = json.loads(last.body)
    assert body["status"] == "interrupted" and body["ok"] is False
    assert "may or may not have changed" in body["error"]
    assert jr.verify(fresh).ok
