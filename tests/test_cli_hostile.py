"""Error messages that quote outside text reach the terminal escaped.

Scenario files, journal exports and ids pasted from alerts are written by
someone else; the CLI's error paths print them, so no escape sequence in them
may reach the terminal as a live control sequence.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_ircon

ESC = "\x1b"
HOSTILE = "\x1b[31mred\x1b]0;pwned\x07"


def test_invalid_scenario_problems_are_escaped(tmp_path: Path, db_path: Path) -> None:
    # A YAML key is quoted back in "unknown key" problems; "\e" is YAML for ESC.
    sc = tmp_path / "evil.yaml"
    sc.write_text('name: x\n"\\e[31mevil\\e]0;pwned\\a": 1\n', encoding="utf-8")
    r = run_ircon("drill", str(sc), db=db_path)
    assert r.returncode == 2
    assert "invalid scenario" in r.stderr
    assert ESC not in r.stderr and "\x07" not in r.stderr
    assert "\\e[31mevil\\e]0;pwned\\x07: unknown key" in r.stderr
    assert "\n  " in r.stderr  # the problem list keeps its line breaks


def test_tampered_export_incident_id_is_escaped(tmp_path: Path, db_path: Path) -> None:
    entry = {"incident": "INC-" + HOSTILE, "seq": 1, "ts": "2026-01-01T00:00:00+00:00",
             "actor": "a", "kind": "note", "body": {}, "prev": "0" * 64, "hash": "0" * 64}
    f = tmp_path / "export.jsonl"
    f.write_text(json.dumps(entry) + "\n", encoding="utf-8")
    r = run_ircon("journal", "verify", "--file", str(f), db=db_path)
    assert r.returncode == 1
    assert "TAMPERED INC-" in r.stderr
    assert ESC not in r.stderr and "\x07" not in r.stderr
    assert "\\e[31mred" in r.stderr


def test_library_error_message_is_escaped(db_path: Path) -> None:
    # UnknownIncident reaches the top-level handler, which writes to stderr directly.
    r = run_ircon("incident", "show", "INC-" + HOSTILE, db=db_path)
    assert r.returncode == 2
    assert "no incident" in r.stderr
    assert ESC not in r.stderr and "\x07" not in r.stderr
    assert "\\e[31mred" in r.stderr
