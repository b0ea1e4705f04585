"""Shell and kubernetes adapters with real subprocesses: no shell, ever; values stay one
argv item; environment, timeout and output are controlled."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from ircon.adapters import runner
from ircon.config import IrconConfig
from ircon.store import incidents
from ircon.store import journal as jr
from tests.adapters_support import kubectl_calls, kubectl_standin

RECORDER = """import json, os, sys
with open(os.environ["ARGV_LOG"], "a") as fh:
    fh.write(json.dumps({"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()})
             + "\\n")
print("recorded", len(sys.argv) - 1, "arguments")
"""

HOSTILE = ["$(touch {m})", "; touch {m}", "`touch {m}`", "| touch {m}", "&& touch {m}",
           "a\ntouch {m}", "' ; touch {m} ; '", "${{IFS}}touch${{IFS}}{m}"]


@pytest.fixture
def rec(tmp_path: Path) -> tuple[Path, Path]:
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    return script, tmp_path / "argv.log"


def _shell_cfg(script: Path, log: Path, **extra: object) -> IrconConfig:
    inst = {"type": "shell", "argv": [sys.executable, str(script), "--user", "{user}",
                                      "--note={note}"],
            "params": {"user": "user_id", "note": "text"}, "optional": ["note"],
            "env": {"ARGV_LOG": str(log)}, "timeout": 10, **extra}
    return IrconConfig.model_validate({"adapters": {"sh": inst}})


def _records(log: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize("template", HOSTILE)
def test_injection_attempts_stay_one_inert_argument(store, tmp_path, rec, template):
    script, log = rec
    marker = tmp_path / "pwned"
    value = template.format(m=marker)
    out = runner.run_action(store, _shell_cfg(script, log), "sh", "run",
                            {"user": "alice", "note": value}, incident=None, actor="a@x")
    assert out.ok, out.error
    [r] = _records(log)
    assert r["argv"] == ["--user", "alice", f"--note={value}"]
    assert not marker.exists()  # no shell ever interpreted the value


@pytest.mark.parametrize("value", ["--kubeconfig=/etc/x", "-rf", "$(reboot)", "a\x00b",
                                   "x" * 1_000_000, "a b"])
def test_hostile_values_in_identifier_positions_are_refused(store, rec, value):
    script, log = rec
    with pytest.raises(runner.ActionInputError):
        runner.run_action(store, _shell_cfg(script, log), "sh", "run", {"user": value},
                          incident=None, actor="a@x")
    assert not log.exists()


def test_environment_and_cwd_are_controlled(store, rec, monkeypatch):
    script, log = rec
    monkeypatch.setenv("IRCON_LEAK_CANARY", "canary-value-91")
    monkeypatch.setenv("SHELL_SECRET", "s3cr3t-shell-value")
    cfg = _shell_cfg(script, log, secret_env={"TOKEN": "env:SHELL_SECRET"})
    out = runner.run_action(store, cfg, "sh", "run", {"user": "bob"}, incident=None,
                            actor="a@x")
    assert out.ok
    [r] = _records(log)
    assert "IRCON_LEAK_CANARY" not in r["env"]
    assert r["env"]["TOKEN"] == "s3cr3t-shell-value"
    assert r["env"]["ARGV_LOG"] == str(log)
    assert "ircon-act-" in r["cwd"] and not os.path.exists(r["cwd"])
    assert r["argv"] == ["--user", "bob"]  # the optional note's item was dropped


def test_secret_printed_by_the_command_is_redacted(store, tmp_path, monkeypatch):
    monkeypatch.setenv("SHELL_SECRET", "s3cr3t-shell-value")
    inc = incidents.create(store, "x")["id"]
    cfg = IrconConfig.model_validate({"adapters": {"sh": {
        "type": "shell", "argv": [sys.executable, "-c",
                                  "import os; print('token is', os.environ['TOKEN'])"],
        "secret_env": {"TOKEN": "env:SHELL_SECRET"}}}})
    out = runner.run_action(store, cfg, "sh", "run", {}, incident=inc, actor="a@x")
    assert out.ok and "token is ********" in out.output
    assert all("s3cr3t" not in e.body for e in jr.entries(store, inc))


def test_timeout_kills_the_process_group_and_fails(store, tmp_path):
    child_pid = tmp_path / "pid"
    code = (f"import subprocess, time, sys; p = subprocess.Popen([sys.executable, '-c', "
            f"'import time; time.sleep(60)']); open({str(child_pid)!r}, 'w').write(str(p.pid)); "
            f"time.sleep(60)")
    cfg = IrconConfig.model_validate({"adapters": {"sh": {
        "type": "shell", "argv": [sys.executable, "-c", code], "timeout": 1.0}}})
    t0 = time.monotonic()
    out = runner.run_action(store, cfg, "sh", "run", {}, incident=None, actor="a@x")
    assert time.monotonic() - t0 < 8
    assert not out.ok and "timed out" in (out.error or "")
    pid = int(child_pid.read_text())
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the command's child survived the timeout")


def test_output_is_capped_and_failure_is_reported(store):
    cfg = IrconConfig.model_validate({"adapters": {"sh": {
        "type": "shell", "argv": [sys.executable, "-c",
                                  "import sys; sys.stdout.write('x' * 5_000_000); "
                                  "sys.stderr.write('boom\\n'); sys.exit(3)"],
        "max_output": 4096}}})
    out = runner.run_action(store, cfg, "sh", "run", {}, incident=None, actor="a@x")
    assert not out.ok and out.error == "exit status 3: boom"
    assert len(out.output) < 10_000 and "not kept" in out.output


def test_missing_binary_and_undo_command(store, rec):
    script, log = rec
    cfg = IrconConfig.model_validate({"adapters": {"sh": {
        "type": "shell", "argv": ["/nonexistent/tool", "{user}"], "params": {"user": "user_id"}}}})
    out = runner.run_action(store, cfg, "sh", "run", {"user": "u"}, incident=None, actor="a@x")
    assert not out.ok and "command not found" in (out.error or "")
    cfg = _shell_cfg(script, log, undo_argv=[sys.executable, str(script), "undo", "{user}"])
    done = runner.run_action(store, cfg, "sh", "run", {"user": "carol"}, incident=None,
                             actor="a@x")
    assert done.ok and done.undo_available
    assert runner.undo_action(store, cfg, done.run_id or 0, actor="a@x").ok
    assert _records(log)[-1]["argv"] == ["undo", "carol"]


# --- kubernetes ----------------------------------------------------------------------


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = kubectl_standin(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return log


def _kcfg(**extra: object) -> IrconConfig:
    return IrconConfig.model_validate({"adapters": {"k8s": {
        "type": "kubernetes", "namespace": "ml", "timeout": 10, **extra}}})


def test_rollback_argv_and_undo(store, kube, tmp_path):
    inc = incidents.create(store, "poisoned model", severity="SEV3")["id"]
    out = runner.run_action(store, _kcfg(context="prod"), "k8s", "rollback",
                            {"deployment": "chat-api", "revision": "4"}, incident=inc,
                            actor="a@x")
    assert out.ok, out.error
    get, undo = kubectl_calls(kube)
    assert get[:3] == ["--context=prod", "--namespace=ml", "get"]
    assert get[-2:] == ["--", "deployment/chat-api"]
    assert undo == ["--context=prod", "--namespace=ml", "rollout", "undo", "--to-revision=4",
                    "--", "deployment/chat-api"]
    plan = json.loads(jr.entries(store, inc)[-2].body)["plan"]
    assert plan["argv"][0] == str(tmp_path / "bin" / "kubectl")
    assert runner.undo_action(store, _kcfg(context="prod"), out.run_id or 0, actor="a@x").ok
    assert kubectl_calls(kube)[-1] == ["--context=prod", "--namespace=ml", "rollout", "undo",
                                       "--to-revision=7", "--", "deployment/chat-api"]


def test_scale_zero_and_undo_restores_replicas(store, kube):
    out = runner.run_action(store, _kcfg(), "k8s", "scale-zero",
                            {"deployment": "agent-runner", "namespace": "tools"},
                            incident=None, actor="a@x")
    assert out.ok
    assert kubectl_calls(kube)[-1] == ["--namespace=tools", "scale", "--replicas=0", "--",
                                       "deployment/agent-runner"]
    assert runner.undo_action(store, _kcfg(), out.run_id or 0, actor="a@x").ok
    assert kubectl_calls(kube)[-1] == ["--namespace=tools", "scale", "--replicas=3", "--",
                                       "deployment/agent-runner"]


@pytest.mark.parametrize("params", [
    {"deployment": "--kubeconfig=/etc/x"}, {"deployment": "x", "namespace": "-n"},
    {"deployment": "$(reboot)"}, {"deployment": "a; rm -rf /"}, {"deployment": "a\nb"},
    {"deployment": "a\x00b"}, {"deployment": "a" * 1_000_000},
    {"deployment": "x", "revision": "-1"}, {"deployment": "x", "revision": "1; id"},
])
def test_kubectl_argument_injection_is_refused(store, kube, params):
    with pytest.raises(runner.ActionInputError):
        runner.run_action(store, _kcfg(), "k8s", "rollback", params, incident=None,
                          actor="a@x")
    assert kubectl_calls(kube) == []


def test_kubectl_failure_is_reported(store, kube, monkeypatch):
    # A file, not an environment variable: kubectl gets a controlled environment.
    (kube.parent / "FAIL").write_text("")
    out = runner.run_action(store, _kcfg(), "k8s", "rollback", {"deployment": "gone"},
                            incident=None, actor="a@x")
    assert not out.ok and "deployments.apps not found" in (out.error or "")
    assert runner.get_run(store, out.run_id or 0)["status"] == "failed"  # type: ignore[index]
