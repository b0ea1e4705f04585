"""Playbooks on a real SQLite store: pinning, recording, projection, resume, races."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ircon.model import kinds
from ircon.response.loader import content_hash, load_file
from ircon.store import incidents, journal, open_store
from ircon.store.engine import utcnow
from ircon.store.playbooks import (
    PlaybookError,
    pinned_playbook,
    playbook_state,
    record_decision,
    record_step,
    start_playbook,
    template_values,
)
from ircon.store.tables import Incident, StepState
from tests.conftest import run_ircon
from tests.test_playbook_lint import GOOD


def projection(store, incident: str) -> dict[str, str]:
    S = StepState.__table__
    inc_t = Incident.__table__
    with store.read() as conn:
        iid = conn.execute(
            select(inc_t.c.id).where(inc_t.c.human_id == incident)
        ).scalar_one()
        rows = conn.execute(select(S.c.step_id, S.c.state).where(S.c.incident_id == iid))
        return {r[0]: r[1] for r in rows}


def test_start_pins_and_records_with_projection(store) -> None:
    inc = incidents.create(store, "Jailbreak wave", severity="SEV2", kind="jailbreak")["id"]
    st = start_playbook(store, inc, "jailbreak-campaign", actor="alice@host")
    assert st.current == "confirm"
    entry = journal.entries(store, inc)[-1]
    body = json.loads(entry.body)
    assert entry.kind == kinds.PLAYBOOK_STARTED and entry.actor == "alice@host"
    assert body["name"] == "jailbreak-campaign" and len(body["hash"]) == 64
    assert body["source"].startswith("# Jailbreak campaign")
    assert incidents.get(store, inc)["playbook"] == "jailbreak-campaign"
    record_step(store, inc, "confirm", "in_progress", actor="alice@host")
    record_step(store, inc, "confirm", "done", actor="alice@host")
    st = record_decision(store, inc, "authorised-test", "no", actor="bob@host")
    assert st.current == "block-template"
    proj = projection(store, inc)
    assert proj == {v.id: v.state for v in st.steps.values()}
    assert proj["close-as-test"] == "skipped" and proj["confirm"] == "done"
    st = record_decision(store, inc, "spread", "one-key")
    assert st.current == "block-template"  # earlier steps still open come first
    assert journal.verify(store).ok


def test_refused_changes_write_nothing(store) -> None:
    inc = incidents.create(store, "x")["id"]
    with pytest.raises(PlaybookError, match="no playbook has been started"):
        record_step(store, inc, "confirm", "done")
    start_playbook(store, inc, "denial-of-wallet")
    before = journal.head(store, inc)
    for call in (
        lambda: record_step(store, inc, "confirm", "skipped"),
        lambda: record_step(store, inc, "nope", "done"),
        lambda: record_decision(store, inc, "source", "aliens"),
        lambda: record_decision(store, inc, "confirm", "yes"),
    ):
        with pytest.raises(PlaybookError):
            call()
    assert journal.head(store, inc) == before


def test_editing_the_file_does_not_change_a_running_incident(tmp_path: Path, db_path) -> None:
    d = tmp_path / "pbs"
    d.mkdir()
    f = d / "good.yaml"
    f.write_text(GOOD)
    store = open_store(str(db_path))
    inc = incidents.create(store, "x")["id"]
    start_playbook(store, inc, "good", dirs=[d])
    record_step(store, inc, "look", "done")
    # The team edits the file: a step renamed, another removed.
    edited = GOOD.replace("title: Look", "title: Look harder")
    f.write_text(edited.replace("  - id: block", "  - id: blocked")
                 .replace("next: block}", "next: blocked}"))
    store.close()
    # Reopen (a new process, in effect): state is rebuilt from the journal alone.
    store = open_store(str(db_path))
    st = playbook_state(store, inc)
    assert st is not None and st.current == "ask"
    assert st.steps["look"].title == "Look" and "block" in st.steps
    pinned = pinned_playbook(store, inc)
    assert pinned is not None and pinned.hash == content_hash(GOOD) != load_file(f).sha256
    st = record_decision(store, inc, "ask", "yes")
    assert st.current == "block"
    # Starting again pins the new version and begins a fresh run.
    st = start_playbook(store, inc, "good", dirs=[d])
    assert "blocked" in st.steps and st.current == "look"
    assert projection(store, inc)["look"] == "pending"
    store.close()


def test_broken_playbook_is_refused(tmp_path: Path, store) -> None:
    (tmp_path / "bad.yaml").write_text(GOOD.replace("next: end}", "next: nowhere}"))
    inc = incidents.create(store, "x")["id"]
    with pytest.raises(PlaybookError, match="nowhere"):
        start_playbook(store, inc, "good", dirs=[tmp_path])
    with pytest.raises(LookupError):
        start_playbook(store, inc, "missing", dirs=[tmp_path])


def test_two_consoles_completing_the_same_step(store, db_path) -> None:
    inc = incidents.create(store, "race")["id"]
    start_playbook(store, inc, "model-extraction")
    results: list[str] = []
    barrier = threading.Barrier(4)

    def worker(i: int) -> None:
        s = open_store(str(db_path))
        barrier.wait()
        try:
            record_step(s, inc, "confirm", "done", actor=f"r{i}@host")
            results.append("ok")
        except PlaybookError as exc:
            results.append(str(exc))
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1, results
    steps = [e for e in journal.entries(store, inc) if e.kind == kinds.STEP]
    assert len(steps) == 1


def test_overdue_from_the_store(store) -> None:
    inc = incidents.create(store, "slow")["id"]
    start_playbook(store, inc, "jailbreak-campaign")
    st = playbook_state(store, inc, now=utcnow() + timedelta(minutes=20))
    assert st is not None
    assert [o.step for o in st.overdue] == ["confirm"]
    assert st.overdue[0].notify == ("commander",)


def test_template_values_from_the_journal(store) -> None:
    inc = incidents.create(store, "x", severity="SEV1")["id"]
    journal.append(store, inc, kinds.FINDING, {"key": "sk-123", "user": "u1", "detector": "jb"})
    journal.append(store, inc, kinds.ALERT, {"name": "JailbreakBurst", "labels": {"model": "m1"}})
    v = template_values(store, inc, actor="alice@host")
    assert v["incident"]["id"] == inc and v["incident"]["severity"] == "SEV1"
    assert v["finding"] == {"key": "sk-123", "user": "u1", "detector": "jb"}
    assert v["alert"]["name"] == "JailbreakBurst" and v["alert"]["labels"] == {"model": "m1"}
    assert v["responder"] == {"actor": "alice@host"}


def test_cli_runs_a_playbook_end_to_end(db_path, tmp_path: Path) -> None:
    r = run_ircon("incident", "new", "--title", "wallet", "--json", db=db_path)
    inc = json.loads(r.stdout)["id"]
    r = run_ircon("playbook", "start", inc, "denial-of-wallet", "--json", db=db_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["current"] == "confirm"
    assert run_ircon("playbook", "step", inc, "confirm", "done", db=db_path).returncode == 0
    r = run_ircon("playbook", "step", inc, "throttle", "failed", "--reason", "HTTP 503",
                  db=db_path)
    assert r.returncode == 0
    r = run_ircon("playbook", "step", inc, "throttle", "skipped", db=db_path)
    assert r.returncode == 1 and "needs a reason" in r.stderr
    r = run_ircon("playbook", "status", inc, "--json", db=db_path)
    st = json.loads(r.stdout)
    assert st["current"] == "throttle"
    assert {s["id"]: s["state"] for s in st["steps"]}["throttle"] == "failed"
    r = run_ircon("playbook", "status", inc, db=db_path)
    assert "[!] throttle" in r.stdout and "<- current" in r.stdout


def test_cli_list_show_lint(tmp_path: Path) -> None:
    r = run_ircon("playbook", "list", "--json")
    rows = json.loads(r.stdout)
    assert r.returncode == 0 and len([x for x in rows if x["ok"]]) >= 9
    r = run_ircon("playbook", "show", "agent-tool-misuse")
    assert r.returncode == 0
    assert "run: kubernetes scale-zero" in r.stdout and "starts ai-act-2d" in r.stdout
    r = run_ircon("playbook", "show", "nope")
    assert r.returncode == 1
    bad1 = tmp_path / "a.yaml"
    bad1.write_text(GOOD.replace("title: Look", "title: Look\n    tme_limit: 5m"))
    bad2 = tmp_path / "b.yaml"
    bad2.write_text(GOOD.replace("adapter: litellm", "adapter: nope"))
    good = tmp_path / "c.yaml"
    good.write_text(GOOD)
    r = run_ircon("playbook", "lint", str(tmp_path), str(tmp_path / "missing.yaml"))
    assert r.returncode == 1
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3, lines
    assert any(line.startswith(f"{bad1}:12: steps[0].tme_limit") for line in lines)
    assert any(line.startswith(f"{bad2}:25: unknown adapter 'nope'") for line in lines)
    assert "3 file(s), 3 error(s)" in r.stderr
    r = run_ircon("playbook", "lint", str(good), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    r = run_ircon("playbook", "lint", "playbooks")
    assert r.returncode == 0, r.stdout
