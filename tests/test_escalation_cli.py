"""`ircon incident ack|clock|show` through the real command line, and claim races."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ircon.escalation import scheduler as sch
from ircon.escalation.ladder import Firing
from ircon.store import incidents
from ircon.store.db import Store
from tests.conftest import run_ircon

CFG = """
[ui]
timezone = "America/New_York"

[escalation]
severity_policy = { SEV1 = "p" }
ack_within_minutes = { SEV1 = 5 }

[escalation.people.alice]
targets = ["env:NOWHERE_URL"]

[escalation.policies.p]
[[escalation.policies.p.levels]]
notify = ["person:alice"]
[[escalation.policies.p.levels]]
after_minutes = 10
notify = ["person:alice"]

[escalation.clocks.msa]
title = "Tell ACME"
hours = 24
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    p = tmp_path / "ircon.toml"
    p.write_text(CFG)
    return {"IRCON_CONFIG": str(p), "COLUMNS": "200"}


def new(db: Path, env: dict[str, str], sev: str = "SEV1") -> str:
    r = run_ircon("incident", "new", "--title", "RAG leak", "--severity", sev, "--json",
                  db=db, env=env)
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout)["id"])


def show(db: Path, env: dict[str, str], inc: str) -> dict[str, Any]:
    r = run_ircon("incident", "show", inc, "--json", db=db, env=env)
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout))


def test_show_includes_ladder_and_ack_stops_it(db_path: Path, env: dict[str, str]) -> None:
    inc = new(db_path, env)
    esc = show(db_path, env, inc)["escalation"]
    assert esc["policy"] == "p" and [lv["state"] for lv in esc["levels"]] == ["due", "pending"]
    assert esc["overdue"] and esc["next_firing"]
    r = run_ircon("incident", "ack", inc, db=db_path, env=env)
    assert r.returncode == 0 and "acknowledged by tester@ci" in r.stdout
    esc = show(db_path, env, inc)["escalation"]
    assert esc["stopped"] and [lv["state"] for lv in esc["levels"]] == ["stopped", "stopped"]
    r = run_ircon("incident", "show", inc, db=db_path, env=env)
    assert r.returncode == 0
    # Shown in the responder's zone, with the zone named.
    assert "(America/New_York)" in r.stdout and "ladder stopped" in r.stdout
    assert "time-to-ack" in r.stdout


def test_clock_start_edit_met(db_path: Path, env: dict[str, str]) -> None:
    inc = new(db_path, env, "SEV2")
    aw = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    r = run_ircon("incident", "clock", inc, "start", "gdpr", "--awareness", aw.isoformat(),
                  "--reason", "customer PII in completions", "--json", db=db_path, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["deadline"] == (aw + timedelta(hours=72)).isoformat()
    r = run_ircon("incident", "clock", inc, "start", "gdpr", "--awareness", "yesterday",
                  "--reason", "x", db=db_path, env=env)
    assert r.returncode == 2 and "ISO 8601" in r.stderr
    aw2 = aw - timedelta(hours=5)
    r = run_ircon("incident", "clock", inc, "start", "gdpr", "--awareness",
                  aw2.isoformat().replace("+00:00", "Z"), "--reason", "log review: earlier",
                  db=db_path, env=env)
    assert r.returncode == 0 and "awareness moved" in r.stdout and "EST" in r.stdout
    r = run_ircon("incident", "clock", inc, "start", "msa", "--reason", "contract",
                  db=db_path, env=env)
    assert r.returncode == 0, r.stderr
    r = run_ircon("incident", "clock", inc, "met", "gdpr", db=db_path, env=env)
    assert r.returncode == 1 and "reference" in r.stderr
    r = run_ircon("incident", "clock", inc, "met", "gdpr", "--reference", "DPA-42",
                  db=db_path, env=env)
    assert r.returncode == 0, r.stderr
    clocks = {c["name"]: c for c in show(db_path, env, inc)["escalation"]["clocks"]}
    assert clocks["gdpr"]["state"] == "met" and clocks["gdpr"]["reference"] == "DPA-42"
    assert clocks["gdpr"]["awareness"] == aw2.isoformat()
    assert clocks["gdpr"]["awareness_edits"] == 1
    assert clocks["msa"]["state"] == "running" and clocks["msa"]["title"] == "Tell ACME"
    r = run_ircon("incident", "show", inc, db=db_path, env=env)
    assert "log review: earlier" in r.stdout and "DPA-42" in r.stdout


def test_claim_race_between_threads_has_one_winner(store: Store) -> None:
    inc = incidents.create(store, "race", severity="SEV1")["id"]
    now = datetime.now(UTC)
    firing = Firing(f"{inc}/e0/L1", now, "level", ("person:a",), "ack")
    wins: list[object] = []
    losses: list[str] = []
    barrier = threading.Barrier(4)

    def go(n: int) -> None:
        barrier.wait()
        try:
            got = sch.claim(store, inc, 1, firing, holder=f"t{n}", actor="x", now=now,
                            late_after=60)
        except sch.Stale:
            # The winner's escalation entry moved the journal on: a loser's way out.
            losses.append("stale")
            return
        if got is not None:
            wins.append(got)
        else:
            losses.append("claimed")

    ts = [threading.Thread(target=go, args=(n,)) for n in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(wins) == 1 and len(losses) == 3


def test_claim_refused_when_journal_moved(store: Store) -> None:
    inc = incidents.create(store, "moved", severity="SEV1")["id"]
    incidents.set_status(store, inc, "acknowledged", "on it", actor="a")
    firing = Firing(f"{inc}/e0/L1", datetime.now(UTC), "level", (), "ack")
    with pytest.raises(sch.Stale):
        sch.claim(store, inc, 1, firing, holder="h", actor="x", now=datetime.now(UTC),
                  late_after=60)
