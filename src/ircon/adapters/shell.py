"""Commands as argv lists — never a shell — with a controlled environment,
working directory, timeout and bounded output; and the ``shell`` adapter.

Each ``{param}`` fills exactly one argv item. A value that would stand alone
as an argv item may not start with ``-`` (it would be read as an option)
unless the configured argv puts it after a ``--`` item.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Any, ClassVar

from ircon.adapters.base import Adapter, Context, Plan, Result, excerpt, mask_values
from ircon.adapters.params import ActionSpec, ParamError, ParamSpec
from ircon.adapters.placeholders import Missing, fill, is_whole, names
from ircon.adapters.settings import ShellSettings
from ircon.secrets import SecretError, resolve

BASE_ENV_KEYS = ("PATH", "HOME", "USER", "LOGNAME", "TZ")


@dataclass
class ProcResult:
    exit_code: int | None
    stdout: str
    stderr: str
    dropped: int  # bytes of output beyond the cap, counted but not kept
    timed_out: bool
    error: str | None  # could not start, or killed
    seconds: float


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: nothing of ircon's own (tokens, DB URLs) leaks to a command."""
    env = {k: os.environ[k] for k in BASE_ENV_KEYS if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env["LANG"] = env["LC_ALL"] = "C.UTF-8"
    env.update(extra or {})
    return env


def run_argv(argv: list[str], *, env: dict[str, str], cwd: str | None, timeout: float,
             max_output: int) -> ProcResult:
    """Run ``argv`` (no shell), kill its whole process group on timeout, keep bounded output."""
    t0 = time.monotonic()
    for item in argv:
        if "\x00" in item:
            return ProcResult(None, "", "", 0, False, "an argument contains a NUL byte", 0.0)
    private_dir = None
    if cwd is None:
        private_dir = tempfile.mkdtemp(prefix="ircon-act-")
        cwd = private_dir
    try:
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, cwd=cwd, shell=False, start_new_session=True, close_fds=True,
            )
        except FileNotFoundError:
            return ProcResult(None, "", "", 0, False, f"command not found: {argv[0]}",
                              time.monotonic() - t0)
        except PermissionError:
            return ProcResult(None, "", "", 0, False, f"not executable: {argv[0]}",
                              time.monotonic() - t0)
        except OSError as exc:
            return ProcResult(None, "", "", 0, False, f"cannot start {argv[0]}: {exc.strerror}",
                              time.monotonic() - t0)
        bufs: dict[str, bytearray] = {"out": bytearray(), "err": bytearray()}
        dropped = [0]

        def pump(stream: IO[bytes], key: str) -> None:
            buf = bufs[key]
            while True:
                chunk = stream.read(65536)
                if not chunk:
                    return
                room = max_output - len(buf)
                if room > 0:
                    buf += chunk[:room]
                dropped[0] += max(0, len(chunk) - max(room, 0))

        threads = [threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
                   threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True)]
        for t in threads:
            t.start()
        timed_out = False
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
        for t in threads:
            t.join(5)
        for s in (proc.stdout, proc.stderr):
            if s is not None:
                s.close()
        code = proc.returncode
        err = f"timed out after {timeout:g}s; the command was killed" if timed_out else None
        if code is not None and code < 0 and not timed_out:
            err = f"killed by signal {-code}"
        return ProcResult(code, bufs["out"].decode("utf-8", "replace"),
                          bufs["err"].decode("utf-8", "replace"), dropped[0], timed_out, err,
                          time.monotonic() - t0)
    finally:
        if private_dir:
            shutil.rmtree(private_dir, ignore_errors=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(2)
            return
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def fill_argv(template: list[str], values: dict[str, Any], *, optional: set[str]) -> list[str]:
    """Placeholders filled, one argv item each; items needing a left-out optional value dropped.

    An item that starts with a placeholder and comes out starting with '-' is refused unless
    it follows '--': the dash came from a value, and the program would read it as an option.
    """
    out: list[str] = []
    after_dashdash = False
    for i, item in enumerate(template):
        try:
            filled = fill(item, values)
        except Missing as m:
            if m.args[0] in optional:
                continue
            raise ParamError(f"{m.args[0]}: required") from None
        # A dash the configured item itself begins with ("--ip={ip}") is the operator's.
        if (i > 0 and filled.startswith("-") and not item.startswith("-")
                and not after_dashdash):
            who = is_whole(item) or ", ".join(names(item)) or item
            raise ParamError(
                f"{who}: a value starting with '-' would be read as an option; refused"
            )
        if item == "--":
            after_dashdash = True
        out.append(filled)
    return out


def proc_result(action: str, pr: ProcResult, summary: str, red: Any, **kw: Any) -> Result:
    text = pr.stdout + (("\n[stderr]\n" + pr.stderr) if pr.stderr.strip() else "")
    if pr.dropped:
        text += f"\n… ({pr.dropped} more bytes of output not kept)"
    text = red.text(excerpt(text))
    if pr.error:
        return Result.failed(action, red.text(pr.error), output=text, exit_code=pr.exit_code)
    if pr.exit_code != 0:
        tail = red.text(pr.stderr.strip().splitlines()[-1][:300]) if pr.stderr.strip() else ""
        return Result.failed(action, f"exit status {pr.exit_code}" + (f": {tail}" if tail else ""),
                             output=text, exit_code=pr.exit_code)
    return Result(ok=True, action=action, summary=summary, output=text, exit_code=0, **kw)


def resolve_binary(name: str) -> str:
    """An absolute path for the plan, so the preview shows exactly what will run."""
    if os.sep in name:
        return name
    return shutil.which(name) or name


class ShellAdapter(Adapter):
    type_name: ClassVar[str] = "shell"
    settings: ShellSettings

    def actions(self) -> dict[str, ActionSpec]:
        s = self.settings
        params = tuple(ParamSpec(n, k, required=n not in s.optional) for n, k in s.params.items())
        undo = "run " + " ".join(s.undo_argv) if s.undo_argv else None
        return {"run": ActionSpec("run", s.description or "run " + " ".join(s.argv), params,
                                  destructive=s.destructive, idempotent=s.idempotent, undo=undo)}

    def _env(self) -> tuple[dict[str, str], dict[str, str]]:
        s = self.settings
        shown = {**s.env, **{k: "********" for k in s.secret_env}}
        return shown, dict(s.env)

    def build(self, spec: ActionSpec, values: dict[str, Any], plan: Plan, ctx: Context) -> None:
        s = self.settings
        if "{" in s.argv[0].replace("{{", ""):
            # The program itself never comes from a parameter.
            raise ParamError(f"adapters.{self.name}.argv[0] may not contain a placeholder")
        argv = fill_argv(s.argv, values, optional=set(s.optional))
        argv[0] = resolve_binary(argv[0])
        sens = plan.private["sensitive"]
        plan.argv = mask_values(argv, sens)
        shown_env, _ = self._env()
        plan.change = {"env": shown_env, "cwd": s.cwd or "(private temporary directory)"} \
            if (shown_env or s.cwd) else None
        plan.summary = "run " + os.path.basename(argv[0])
        plan.private["argv"] = argv

    def _run(self, argv: list[str], action: str, summary: str, **kw: Any) -> Result:
        s = self.settings
        try:
            secret_env = {}
            for k, ref in s.secret_env.items():
                secret_env[k] = resolve(ref)
                self.remember_secret(secret_env[k])
        except SecretError as exc:
            return Result.failed(action, f"cannot read a secret: {exc}")
        env = base_env({**s.env, **secret_env})
        attempts = 1 + (s.retries if self.action("run").idempotent else 0)
        res = Result.failed(action, "not run")
        for n in range(1, attempts + 1):
            pr = run_argv(argv, env=env, cwd=s.cwd, timeout=s.timeout, max_output=s.max_output)
            res = proc_result(action, pr, summary, self.redactor(), **kw)
            res.attempts = n
            # Only a timeout or a failure to start is worth another try.
            if res.ok or not (pr.timed_out or pr.exit_code is None):
                break
        return res

    def execute(self, plan: Plan) -> Result:
        for v in plan.private["sensitive"]:
            self.remember_secret(v)
        s = self.settings
        undo = None
        if s.undo_argv:
            sens = {p.name for p in self.action("run").params if p.sensitive}
            vals = plan.private["values"]
            if not sens & set(vals):
                undo = {"values": vals}
        res = self._run(plan.private["argv"], "run", plan.summary, undo=undo)
        if not res.ok:
            res.undo = None
        return res

    def undo(self, result: Result, ctx: Context) -> Result:
        s = self.settings
        if not s.undo_argv or not result.undo:
            return super().undo(result, ctx)
        try:
            argv = fill_argv(s.undo_argv, result.undo.get("values", {}),
                             optional=set(s.optional))
        except ParamError as exc:
            return Result.failed("undo", f"cannot build the undo command: {exc}")
        argv[0] = resolve_binary(argv[0])
        return self._run(argv, "undo", "undo command ran")
