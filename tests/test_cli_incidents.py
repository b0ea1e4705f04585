"""The incident commands of the command-line contract."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_ircon


def test_incident_lifecycle(db_path: Path) -> None:
    r = run_ircon("incident", "new", "--title", "Jailbreak wave on support bot",
                  "--severity", "SEV2", "--kind", "jailbreak", "--json", db=db_path)
    assert r.returncode == 0, r.stderr
    iid = json.loads(r.stdout)["id"]
    assert iid.startswith("IR-") and iid.endswith("-0001")
    assert run_ircon("incident", "note", iid, "keys k1..k9 rotated", db=db_path).returncode == 0
    assert run_ircon("incident", "status", iid, "acknowledged", "--reason", "on it",
                     db=db_path).returncode == 0
    shown = json.loads(run_ircon("incident", "show", iid, "--json", db=db_path).stdout)
    assert shown["incident"]["id"] == iid and shown["incident"]["status"] == "acknowledged"
    kinds = [e["kind"] for e in shown["journal"]]
    assert kinds == ["incident.opened", "note", "status"]
    assert all(e["actor"] == "tester@ci" for e in shown["journal"])
    assert shown["journal"][0]["ts"].endswith("Z") and shown["journal"][0]["ts"][:4].isdigit()
    listed = json.loads(run_ircon("incidents", "list", "--json", db=db_path).stdout)
    assert [i["id"] for i in listed] == [iid] and listed[0]["entries"] == 3


def test_bad_usage_exits_2(db_path: Path) -> None:
    r = run_ircon("incident", "new", "--title", "x", "--severity", "SEV9", db=db_path)
    assert r.returncode == 2
    r = run_ircon("incident", "new", "--title", "   ", db=db_path)
    assert r.returncode == 2 and "title" in r.stderr


def test_hostile_title_is_printed_inert(db_path: Path) -> None:
    evil = "[bold red]x[/] \x1b]0;pwned\x07 \x1b[2J \u202eevil"
    r = run_ircon("incident", "new", "--title", evil, "--json", db=db_path)
    iid = json.loads(r.stdout)["id"]
    for args in (("incidents", "list"), ("incident", "show", iid)):
        out = run_ircon(*args, db=db_path).stdout
        assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
        assert "[bold red]x[/]" in out or "[bold red]x[/…" in out  # literal, not markup


def test_markdown_export_is_inert(db_path: Path, tmp_path: Path) -> None:
    r = run_ircon("incident", "new", "--title", "t", "--json", db=db_path)
    iid = json.loads(r.stdout)["id"]
    hostile = "```\n<script>alert(1)</script> {{ 7*7 }}\x1b[31m"
    run_ircon("incident", "note", iid, hostile, db=db_path)
    out = tmp_path / "j.md"
    assert run_ircon("journal", "export", iid, "--format", "md", "-o", str(out),
                     db=db_path).returncode == 0
    md = out.read_text()
    assert "\x1b" not in md and "\\u001b[31m" in md
    # The note sits in a fence longer than any backtick run inside it.
    assert "````json" in md and "{{ 7*7 }}" in md


def test_commands_not_built_yet_say_so(db_path: Path) -> None:
    # Every command in the contract parses; none pretends to work.
    r = run_ircon("--help")
    assert r.returncode == 0
    for cmd in ("incident", "incidents", "journal", "alerts", "scan", "playbook", "act",
                "postmortem", "evidence", "stix", "drill", "demo", "watch", "policies",
                "config", "secrets"):
        assert cmd in r.stdout
