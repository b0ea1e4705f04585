"""Unusable databases: a clear message and exit code, nothing overwritten."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import run_ircon


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_corrupt_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.db"
    bad.write_bytes(b"this is not sqlite at all\x00" * 100)
    before = digest(bad)
    r = run_ircon("incidents", "list", db=bad)
    assert r.returncode == 1
    assert "not an ircon database" in r.stderr and "Traceback" not in r.stderr
    assert digest(bad) == before


def test_sqlite_file_with_damaged_pages(tmp_path: Path) -> None:
    db = tmp_path / "damaged.db"
    assert run_ircon("incident", "new", "--title", "x", db=db).returncode == 0
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db.read_bytes())
    for i in range(100, len(data), 7):  # keep the header, wreck the pages
        data[i] = 0xFF
    db.write_bytes(bytes(data))
    for f in (tmp_path / "damaged.db-wal", tmp_path / "damaged.db-shm"):
        f.unlink(missing_ok=True)
    before = digest(db)
    r = run_ircon("journal", "verify", db=db)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "corrupt" in r.stderr or "malformed" in r.stderr or "not a database" in r.stderr
    assert digest(db) == before


def test_read_only_database(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    assert run_ircon("incident", "new", "--title", "x", db=db).returncode == 0
    url = f"sqlite:///file:{db}?mode=ro&uri=true"
    r = run_ircon("incident", "new", "--title", "y", db=url)  # type: ignore[arg-type]
    assert r.returncode == 1 and "read-only" in r.stderr and "Traceback" not in r.stderr
    listed = run_ircon("incidents", "list", "--json", db=url)  # type: ignore[arg-type]
    assert listed.returncode == 0 and '"x"' in listed.stdout


def test_unreadable_file(tmp_path: Path) -> None:
    db = tmp_path / "secret.db"
    assert run_ircon("incident", "new", "--title", "x", db=db).returncode == 0
    if os.getuid() == 0:
        # root reads every file: use a directory in the way instead.
        target = tmp_path / "dir.db"
        target.mkdir()
        r = run_ircon("incidents", "list", db=target)
        assert r.returncode == 1 and "directory" in r.stderr
        return
    db.chmod(0)
    r = run_ircon("incidents", "list", db=db)
    assert r.returncode == 1 and "permission" in r.stderr


def test_locked_database_gives_up_with_a_message(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    assert run_ircon("incident", "new", "--title", "x", db=db).returncode == 0
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3,sys,time;c=sqlite3.connect(sys.argv[1],isolation_level=None);"
         "c.execute('BEGIN EXCLUSIVE');print('held',flush=True);time.sleep(30)", str(db)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        t = time.monotonic()
        r = run_ircon("incident", "note", "IR-" + str(time.gmtime().tm_year) + "-0001", "hi",
                      db=db, env={"IRCON_BUSY_TIMEOUT_MS": "500"})
        assert r.returncode == 1 and "locked" in r.stderr and "Traceback" not in r.stderr
        assert time.monotonic() - t < 20
    finally:
        holder.kill()
        holder.wait()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    assert run_ircon("incident", "new", "--title", "x", db=db).returncode == 0
    conn = sqlite3.connect(db)
    conn.execute("UPDATE ircon_meta SET value='999' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    before = digest(db)
    r = run_ircon("incidents", "list", db=db)
    assert r.returncode == 1 and "newer" in r.stderr and "upgrade ircon" in r.stderr
    assert digest(db) == before


def test_unknown_incident_is_usage_error(tmp_path: Path) -> None:
    r = run_ircon("incident", "show", "IR-1999-0042", db=tmp_path / "x.db")
    assert r.returncode == 2 and "no incident IR-1999-0042" in r.stderr
