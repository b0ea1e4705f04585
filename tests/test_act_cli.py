"""`ircon act` end to end: the real command in a subprocess, real files and loopback APIs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ircon.store import incidents, open_store
from tests.adapters_support import MASTER_KEY, FakeLiteLLM
from tests.conftest import run_ircon

KEY = "sk-live-CliVictimKey000111"


@pytest.fixture
def proxy() -> Iterator[FakeLiteLLM]:
    p = FakeLiteLLM()
    p.add_key(KEY)
    yield p
    p.close()


@pytest.fixture
def conf(tmp_path: Path, proxy: FakeLiteLLM) -> Path:
    path = tmp_path / "ircon.toml"
    path.write_text(f"""
[adapters.gw]
type = "litellm"
url = "{proxy.url}"
master_key = "env:LITELLM_MASTER_KEY"
timeout = 2
require_approval = true

[adapters.bl]
type = "guardrail"
path = "{tmp_path / 'blocklist.txt'}"
description = "gateway suffix blocklist"
""")
    return path


ENV = {"LITELLM_MASTER_KEY": MASTER_KEY}


def act(conf: Path, db: Path, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return run_ircon("--config", str(conf), "act", *args, db=db, input=input, env=ENV)


def _incident(db: Path, severity: str = "SEV3") -> str:
    s = open_store(str(db))
    try:
        return str(incidents.create(s, "jailbreak wave", severity=severity)["id"])
    finally:
        s.close()


def test_help_lists_actions_and_parameters(conf, db_path):
    r = act(conf, db_path, "gw", "--help")
    assert r.returncode == 0, r.stderr
    for word in ("block-key", "limit-key", "block-team", "block-user", "-p key=<key_id>",
                 "-p rpm=<integer> (optional)", "switch-model", "undo: POST /key/unblock"):
        assert word in r.stdout, word
    r = act(conf, db_path, "bl", "--help", "--json")
    info = json.loads(r.stdout)
    assert [a["name"] for a in info["actions"]] == ["block-pattern", "unblock-pattern"]
    r = act(conf, db_path, "nope", "--help")
    assert r.returncode == 2 and "no adapter instance 'nope'" in r.stderr and "gw" in r.stderr


def test_dry_run_plans_and_executes_nothing(conf, db_path, tmp_path, proxy):
    r = act(conf, db_path, "gw", "block-key", "-p", f"key={KEY}", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "PLANNED" in r.stdout and "/key/block" in r.stdout
    assert proxy.requests == []
    r = act(conf, db_path, "bl", "block-pattern", "-p", "pattern=evil suffix", "--dry-run",
            "--json")
    out = json.loads(r.stdout)
    assert out["status"] == "dry-run" and out["plan"]["change"] == {"add": "evil suffix"}
    assert not (tmp_path / "blocklist.txt").exists()
    for text in (r.stdout, r.stderr):
        assert KEY not in text and MASTER_KEY not in text


@pytest.mark.parametrize("params", [["-p", "key=$(reboot)"], ["-p", "key"],
                                    ["-p", "key=--kubeconfig=/etc/x", "-p", "bogus=1"]])
def test_bad_parameters_exit_2(conf, db_path, proxy, params):
    r = act(conf, db_path, "gw", "block-key", *params, "--yes")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert proxy.requests == []


def test_confirmation_prompt(conf, db_path, tmp_path):
    r = act(conf, db_path, "bl", "block-pattern", "-p", "pattern=p1", input="n\n")
    assert r.returncode == 1 and "not confirmed" in r.stderr
    assert "change" in r.stdout and "[y/N]" in r.stderr
    assert not (tmp_path / "blocklist.txt").exists()
    r = act(conf, db_path, "bl", "block-pattern", "-p", "pattern=p1", input="y\n")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "blocklist.txt").read_text() == "p1\n"
    assert "DONE" in r.stdout and "--undo" in r.stdout


def test_success_undo_and_journal(conf, db_path, proxy):
    inc = _incident(db_path)
    r = act(conf, db_path, "gw", "block-key", "-p", f"key={KEY}", "--incident", inc, "--yes",
            "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] and out["incident"] == inc and out["undo_available"]
    r = act(conf, db_path, "gw", "--undo", str(out["run_id"]), "--yes")
    assert r.returncode == 0, r.stderr
    assert "UNDONE" in r.stdout
    assert [x.path for x in proxy.requests] == ["/key/block", "/key/unblock"]
    r = act(conf, db_path, "gw", "--undo", str(out["run_id"]), "--yes")
    assert r.returncode == 2 and "undone" in r.stderr
    exp = run_ircon("journal", "export", inc, "--format", "jsonl", db=db_path)
    assert exp.returncode == 0, exp.stderr
    kinds = [json.loads(line)["kind"] for line in exp.stdout.splitlines() if line.strip()]
    assert kinds.count("action.request") == 1 and kinds.count("action.undo") == 2


def test_failure_exits_1_with_the_cause_and_leaks_no_secret(conf, db_path, proxy, tmp_path):
    inc = _incident(db_path)
    proxy.close()
    r = act(conf, db_path, "gw", "block-user", "-p", "user=u1", "--incident", inc, "--yes")
    assert r.returncode == 1
    assert "FAILED" in r.stdout and "cannot connect" in r.stderr
    outputs = [r.stdout, r.stderr]
    r = act(conf, db_path, "gw", "block-key", "-p", f"key={KEY}", "--incident", inc, "--yes",
            "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["ok"] is False
    outputs += [r.stdout, r.stderr]
    for fmt in ("jsonl", "md"):
        exp = run_ircon("journal", "export", inc, "--format", fmt, db=db_path)
        assert exp.returncode == 0, exp.stderr
        outputs.append(exp.stdout)
    blob = "\n".join(outputs).encode() + b"".join(
        p.read_bytes() for p in db_path.parent.glob("ircon.db*"))
    for secret in (MASTER_KEY, KEY):
        assert secret.encode() not in blob
    assert b"action.result" in blob


def test_two_person_rule_on_the_command_line(conf, db_path, proxy):
    inc = _incident(db_path, "SEV1")
    r = act(conf, db_path, "gw", "block-team", "-p", "team=t1", "--incident", inc, "--yes")
    assert r.returncode == 2 and "two-person rule" in " ".join(r.stderr.split())
    assert proxy.requests == []
    r = act(conf, db_path, "gw", "block-team", "-p", "team=t1", "--incident", inc, "--yes",
            "--approved-by", "bob@ops")
    assert r.returncode == 0, r.stderr
    assert proxy.teams["t1"]["blocked"]
