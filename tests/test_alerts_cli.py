"""`ircon alerts pull|list` as a user runs them (real subprocess, real Alertmanager)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.alerts_support import HOSTILE_LABELS, FakeAM, am_alert, fake_am  # noqa: F401
from tests.conftest import run_ircon
from tests.services import free_port


def test_pull_list_resolve_against_real_alertmanager(alertmanager, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = alertmanager.url
    alertmanager.post_alerts([
        {"labels": {"alertname": "LLMJailbreakSpike", "model": "gpt-x", "severity": "critical"},
         "annotations": {"summary": "jailbreak rate > 5%"}},
        {"labels": {"alertname": "LLMJailbreakSpike", "model": "gpt-y"}},
    ])
    r = run_ircon("alerts", "pull", "--alertmanager", url, "--json", db=db_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] and out["counts"]["new"] == 2 and out["counts"]["incidents_opened"] == 1
    assert out["sources"]["alertmanager"]["complete"] is True

    r = run_ircon("alerts", "pull", "--alertmanager", url, db=db_path)
    assert r.returncode == 0, r.stderr
    assert "new: 0  updated: 0  resolved: 0  unchanged: 2" in r.stdout

    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    alertmanager.post_alerts([{"labels": {"alertname": "LLMJailbreakSpike", "model": "gpt-y"},
                               "endsAt": past}])
    r = run_ircon("alerts", "pull", "--alertmanager", url, db=db_path)
    assert r.returncode == 0, r.stderr
    assert "resolved: 1" in r.stdout and "RESOLVED" in r.stdout

    r = run_ircon("alerts", "list", "--json", db=db_path)
    rows = json.loads(r.stdout)
    assert [(x["labels"]["model"], x["status"]) for x in rows] == [
        ("gpt-x", "firing"), ("gpt-y", "resolved")
    ]
    assert rows[0]["severity"] == "SEV2" and rows[0]["incident"] == rows[1]["incident"]
    r = run_ircon("alerts", "list", "--status", "firing", db=db_path)
    assert r.returncode == 0 and "LLMJailbreakSpike" in r.stdout and "resolved" not in r.stdout


def test_webhook_file_and_stdin(shared_dir: Path, db_path: Path) -> None:
    sample = shared_dir / "samples" / "alertmanager-webhook-v4.jsonl"
    r = run_ircon("alerts", "pull", "--webhook-file", str(sample), "--json", db=db_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["counts"]["new"] == 1 and out["new"][0]["fingerprint"] == "2b94efc2ca307ce7"
    assert out["new"][0]["status"] == "resolved"
    r = run_ircon("alerts", "pull", "--webhook-file", "-", "--source", "archive",
                  input=sample.read_text() + "garbage line\n", db=db_path)
    assert r.returncode == 0, r.stderr
    assert "new: 1" in r.stdout and "stdin line 3: not JSON" in " ".join(r.stderr.split())
    rows = json.loads(run_ircon("alerts", "list", "--json", db=db_path).stdout)
    assert sorted(x["source"] for x in rows) == ["alertmanager", "archive"]


def test_failing_source_exits_1_after_storing_the_others(
    shared_dir: Path, db_path: Path, tmp_path: Path, fake_am: FakeAM,  # noqa: F811
) -> None:
    fake_am.alerts = [am_alert({"alertname": "Good", "model": "m"})]
    cfg = tmp_path / "ircon.toml"
    dead = f"http://127.0.0.1:{free_port()}"
    cfg.write_text(
        f'[[sources]]\ntype = "alertmanager"\nname = "good"\nurl = "{fake_am.url}"\n\n'
        f'[[sources]]\ntype = "alertmanager"\nname = "dead"\nurl = "{dead}"\ntimeout = 2\n'
    )
    r = run_ircon("--config", str(cfg), "alerts", "pull", db=db_path)
    assert r.returncode == 1
    err = " ".join(r.stderr.split())
    assert "source dead failed: cannot connect" in err and "Traceback" not in err
    assert "new: 1" in r.stdout
    rows = json.loads(run_ircon("alerts", "list", "--json", db=db_path).stdout)
    assert [x["source"] for x in rows] == ["good"]

    fake_am.mode = "malformed"
    sample = shared_dir / "samples" / "alertmanager-webhook-v4.jsonl"
    r = run_ircon("--config", str(cfg), "alerts", "pull", "--source", "good", "--json", db=db_path)
    assert r.returncode == 1 and "malformed JSON" in " ".join(r.stderr.split())
    assert json.loads(r.stdout)["sources"]["good"]["ok"] is False
    rows = json.loads(run_ircon("alerts", "list", "--json", db=db_path).stdout)
    assert rows[0]["status"] == "firing"  # a failed pull resolves nothing

    r = run_ircon("--config", str(cfg), "alerts", "pull", "--alertmanager", dead,
                  "--webhook-file", str(sample), db=db_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    rows = json.loads(run_ircon("alerts", "list", "--json", db=db_path).stdout)
    assert len(rows) == 2  # the webhook's alert was stored despite the dead source


def test_hostile_labels_are_shown_escaped(fake_am: FakeAM, db_path: Path) -> None:  # noqa: F811
    fake_am.alerts = [am_alert(HOSTILE_LABELS, summary="\x1b]0;pwned\x07")]
    r = run_ircon("alerts", "pull", "--alertmanager", fake_am.url, db=db_path)
    assert r.returncode == 0, r.stderr
    r2 = run_ircon("alerts", "list", db=db_path)
    for out in (r.stdout, r2.stdout):
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\e[31m" in r.stdout or "\\e[31m" in r2.stdout
    assert len(r2.stdout) < 20_000  # the 1 MB label never reaches the screen


def test_usage_errors_exit_2(db_path: Path, tmp_path: Path) -> None:
    r = run_ircon("alerts", "pull", "--alertmanager", "ftp://x", db=db_path)
    assert r.returncode == 2 and "http:// or https://" in r.stderr
    r = run_ircon("alerts", "pull", "--webhook-file", str(tmp_path / "nope.jsonl"), db=db_path)
    assert r.returncode == 2 and "no such file" in " ".join(r.stderr.split())
    r = run_ircon("alerts", "pull", "--source", "ghost", db=db_path)
    assert r.returncode == 2 and "no source named ghost" in " ".join(r.stderr.split())
    r = run_ircon("alerts", "pull", db=db_path)
    assert r.returncode == 2 and "no alert source to pull" in " ".join(r.stderr.split())
    r = run_ircon("alerts", "list", db=db_path)
    assert r.returncode == 0 and "no alerts" in r.stdout
