"""`ircon journal verify` finds every edit, deletion, insertion and reordering."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ircon.store import incidents, open_store
from ircon.store.journal import append
from tests.conftest import run_ircon


@pytest.fixture
def journal_db(db_path: Path) -> Path:
    store = open_store(str(db_path))
    for t in ("first", "second"):
        inc = incidents.create(store, f"{t} incident", severity="SEV2")
        for i in range(5):
            append(store, inc["id"], "note", {"text": f"{t} note {i}"})
    store.close()
    return db_path


def raw(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER journal_entry_no_update")
    conn.execute("DROP TRIGGER journal_entry_no_delete")
    return conn


def verify_json(db: Path) -> tuple[int, dict]:
    r = run_ircon("journal", "verify", "--json", db=db)
    return r.returncode, json.loads(r.stdout)


def test_intact(journal_db: Path) -> None:
    code, rep = verify_json(journal_db)
    assert code == 0 and rep["ok"] and rep["incidents"] == 2 and rep["entries"] == 12
    r = run_ircon("journal", "verify", db=journal_db)
    assert "12 entries verified" in r.stdout


def test_database_refuses_update_and_delete(journal_db: Path) -> None:
    conn = sqlite3.connect(journal_db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE journal_entry SET body='{}' WHERE seq=2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM journal_entry WHERE seq=6")


@pytest.mark.parametrize(
    ("sql", "seq", "reason"),
    [
        ("UPDATE journal_entry SET body='{\"text\":\"forged\"}' WHERE incident_id=1 AND seq=3",
         3, "edited"),
        ("UPDATE journal_entry SET actor='mallory@x' WHERE incident_id=1 AND seq=2", 2, "edited"),
        ("UPDATE journal_entry SET ts='2020-01-01T00:00:00.000000Z' WHERE incident_id=1 AND seq=4",
         4, "edited"),
        ("DELETE FROM journal_entry WHERE incident_id=1 AND seq=3", 3, "missing"),
        ("DELETE FROM journal_entry WHERE incident_id=1 AND seq=6", 6, "removed from the end"),
        ("UPDATE journal_entry SET seq=seq+100 WHERE incident_id=1 AND seq=2", 2, "missing"),
    ],
)
def test_detects_tampering(journal_db: Path, sql: str, seq: int, reason: str) -> None:
    raw(journal_db).execute(sql)
    code, rep = verify_json(journal_db)
    assert code == 1 and not rep["ok"]
    [problem] = rep["problems"]
    assert problem["incident"].endswith("-0001")
    assert problem["seq"] == seq
    assert reason in problem["reason"]
    human = run_ircon("journal", "verify", db=journal_db)
    assert human.returncode == 1 and "IR-" in human.stderr and f"entry {seq}" in human.stderr


def test_detects_reordering(journal_db: Path) -> None:
    conn = raw(journal_db)
    # Swap the content of entries 2 and 3 while keeping seq order: hashes no longer chain.
    rows = {r[0]: r[1:] for r in conn.execute(
        "SELECT seq, ts, actor, kind, body, prev_hash, hash FROM journal_entry "
        "WHERE incident_id=1 AND seq IN (2, 3)")}
    for seq, other in ((2, 3), (3, 2)):
        conn.execute(
            "UPDATE journal_entry SET ts=?, actor=?, kind=?, body=?, prev_hash=?, hash=? "
            "WHERE incident_id=1 AND seq=?", (*rows[other], seq))
    code, rep = verify_json(journal_db)
    assert code == 1 and rep["problems"][0]["seq"] == 2


def test_detects_insertion(journal_db: Path) -> None:
    conn = raw(journal_db)
    # A forged entry squeezed in with a valid-looking seq, shifting the rest
    # (in two steps, to get past the unique (incident, seq) constraint).
    conn.execute("UPDATE journal_entry SET seq=seq+1000 WHERE incident_id=1 AND seq>=3")
    conn.execute("UPDATE journal_entry SET seq=seq-999 WHERE incident_id=1 AND seq>=1000")
    conn.execute(
        "INSERT INTO journal_entry (incident_id, seq, ts, actor, kind, body, prev_hash, hash) "
        "SELECT incident_id, 3, ts, actor, kind, '{\"text\":\"forged\"}', hash, hash "
        "FROM journal_entry WHERE incident_id=1 AND seq=2"
    )
    conn.execute("UPDATE journal_head SET count=count+1 WHERE incident_id=1")
    code, rep = verify_json(journal_db)
    assert code == 1 and rep["problems"][0]["seq"] == 3


def test_detects_removed_tail_and_head_tamper(journal_db: Path) -> None:
    conn = raw(journal_db)
    conn.execute("DELETE FROM journal_entry WHERE incident_id=2 AND seq>=5")
    code, rep = verify_json(journal_db)
    assert code == 1 and rep["problems"][0]["incident"].endswith("-0002")
    assert "removed" in rep["problems"][0]["reason"]


def test_export_verifies_on_its_own(journal_db: Path, tmp_path: Path) -> None:
    for fmt in ("json", "jsonl"):
        out = tmp_path / f"j.{fmt}"
        r = run_ircon("journal", "export", "IR-" + _year(journal_db) + "-0001", "--format", fmt,
                      "-o", str(out), db=journal_db)
        assert r.returncode == 0, r.stderr
        ok = run_ircon("journal", "verify", "--file", str(out), "--json", db=journal_db)
        assert ok.returncode == 0 and json.loads(ok.stdout)["entries"] == 6
        text = out.read_text().replace("first note 2", "first note X")
        out.write_text(text)
        bad = run_ircon("journal", "verify", "--file", str(out), db=journal_db)
        assert bad.returncode == 1 and "entry 4" in bad.stderr


def _year(db: Path) -> str:
    return sqlite3.connect(db).execute("SELECT year FROM incident LIMIT 1").fetchone()[0].__str__()
