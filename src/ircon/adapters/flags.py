"""Circuit breakers: turn a feature off (and on again) in Unleash or in a flagd flag file.

Unleash: ``POST /api/admin/projects/{project}/features/{name}/environments/{env}/off|on``
with the admin token in ``Authorization``; the state before is read from
``GET /api/admin/projects/{project}/features/{name}`` so undo restores it.

flagd: the JSON flag file (``{"flags": {NAME: {"state", "variants",
"defaultVariant", "targeting"}}}``) is rewritten atomically; the flag's
previous definition is kept in the run for undo.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from ircon.adapters import atomic
from ircon.adapters.base import Adapter, Context, Plan, Result
from ircon.adapters.http import display_auth, reply_result, send
from ircon.adapters.params import ActionSpec, ParamError, ParamSpec
from ircon.adapters.settings import FlagsSettings, HttpAuth

MAX_FLAG_JSON = 256 * 1024  # a flag definition kept for undo


class FlagsAdapter(Adapter):
    type_name: ClassVar[str] = "flags"
    settings: FlagsSettings
    ACTIONS = (
        ActionSpec("disable", "turn a feature off (circuit breaker)",
                   (ParamSpec("flag", "flag", "flag name"),), destructive=True, idempotent=True,
                   undo="restore the flag's previous state"),
        ActionSpec("enable", "turn a feature on again",
                   (ParamSpec("flag", "flag", "flag name"),), destructive=False, idempotent=True,
                   undo="restore the flag's previous state"),
    )

    # --- Unleash -------------------------------------------------------------------
    def _auth(self) -> HttpAuth:
        s = self.settings
        if s.api_token:
            return s.model_copy(update={"headers": {**s.headers, "Authorization": s.api_token}})
        return s

    def _feature_url(self, flag: str) -> str:
        s = self.settings
        return (f"{(s.url or '').rstrip('/')}/api/admin/projects/{quote(s.project, safe='')}"
                f"/features/{quote(flag, safe='')}")

    def _switch_url(self, flag: str, on: bool) -> str:
        env = quote(self.settings.environment, safe="")
        return f"{self._feature_url(flag)}/environments/{env}/{'on' if on else 'off'}"

    # --- plan ------------------------------------------------------------------------
    def build(self, spec: ActionSpec, values: dict[str, Any], plan: Plan, ctx: Context) -> None:
        s = self.settings
        flag = values["flag"]
        on = spec.name == "enable"
        if s.backend == "unleash":
            if not s.url:
                raise ParamError(f"adapters.{self.name}.url is not set (the Unleash server)")
            plan.method = "POST"
            plan.url = self._switch_url(flag, on)
            plan.headers = display_auth(self._auth())
            plan.summary = f"{'enable' if on else 'disable'} {flag} in " \
                           f"{s.project}/{s.environment} (Unleash)"
        else:
            if not s.path:
                raise ParamError(f"adapters.{self.name}.path is not set (the flagd file)")
            plan.file = s.path
            plan.change = self._flagd_change(on)
            plan.summary = f"{'enable' if on else 'disable'} {flag} in {s.path} (flagd)"

    def _flagd_change(self, on: bool) -> dict[str, Any]:
        s = self.settings
        if on:
            return ({"defaultVariant": s.on_variant, "state": "ENABLED"} if s.on_variant
                    else {"state": "ENABLED"})
        if s.off_variant:
            return {"defaultVariant": s.off_variant, "state": "ENABLED", "targeting": "(removed)"}
        return {"state": "DISABLED"}

    # --- execute ---------------------------------------------------------------------
    def execute(self, plan: Plan) -> Result:
        flag = plan.private["values"]["flag"]
        on = plan.action == "enable"
        if self.settings.backend == "unleash":
            return self._unleash(plan.action, flag, on, plan.summary)
        return self._flagd(plan.action, flag, on, plan.summary)

    def _unleash(self, action: str, flag: str, on: bool, summary: str) -> Result:
        s = self.settings
        before = send(self, "GET", self._feature_url(flag), headers={}, idempotent=True,
                      settings=s, auth=self._auth())
        prev = _unleash_state(before.data, s.environment) if before.ok else None
        reply = send(self, "POST", self._switch_url(flag, on), headers={}, idempotent=True,
                     settings=s, auth=self._auth())
        details: dict[str, Any] = {}
        undo = None
        if prev is None:
            details["undo_unavailable"] = "could not read the flag's state first: " + (
                before.error or f"no environment {s.environment} in the answer")
        else:
            details["previous_enabled"] = prev
            undo = {"flag": flag, "enabled": prev}
        return reply_result(action, reply, summary, details=details,
                            undo=undo if reply.ok else None)

    def _flagd(self, action: str, flag: str, on: bool, summary: str) -> Result:
        path = Path(self.settings.path or "")
        try:
            with atomic.locked(path):
                atomic.clean_stale(path)
                doc = _load_flagd(path)
                flags = doc["flags"]
                if flag not in flags or not isinstance(flags[flag], dict):
                    return Result.failed(action, f"flag {flag!r} is not defined in {path}")
                prev = copy.deepcopy(flags[flag])
                new = copy.deepcopy(prev)
                change = self._flagd_change(on)
                if "defaultVariant" in change:
                    variants = new.get("variants") or {}
                    if change["defaultVariant"] not in variants:
                        return Result.failed(action, f"flag {flag!r} has no variant "
                                             f"{change['defaultVariant']!r}")
                    new["defaultVariant"] = change["defaultVariant"]
                new["state"] = change["state"]
                if change.get("targeting"):
                    new.pop("targeting", None)
                flags[flag] = new
                atomic.write_atomic(path, _dump(doc))
        except atomic.FileEditError as exc:
            return Result.failed(action, str(exc))
        except OSError as exc:
            return Result.failed(action, f"cannot rewrite {path}: {exc.strerror or exc}")
        undo: dict[str, Any] | None = {"flag": flag, "previous": prev}
        if len(json.dumps(prev)) > MAX_FLAG_JSON:
            undo = None
        return Result(ok=True, action=action, summary=summary, undo=undo,
                      details={"previous_state": prev.get("state"),
                               "previous_default": prev.get("defaultVariant")})

    # --- undo ------------------------------------------------------------------------
    def undo(self, result: Result, ctx: Context) -> Result:
        u = result.undo or {}
        flag = u.get("flag")
        if not isinstance(flag, str):
            return super().undo(result, ctx)
        s = self.settings
        if s.backend == "unleash":
            on = bool(u.get("enabled"))
            reply = send(self, "POST", self._switch_url(flag, on), headers={}, idempotent=True,
                         settings=s, auth=self._auth())
            return reply_result("undo", reply, f"{flag} {'on' if on else 'off'} again")
        path = Path(s.path or "")
        try:
            with atomic.locked(path):
                atomic.clean_stale(path)
                doc = _load_flagd(path)
                doc["flags"][flag] = u["previous"]
                atomic.write_atomic(path, _dump(doc))
        except atomic.FileEditError as exc:
            return Result.failed("undo", str(exc))
        except OSError as exc:
            return Result.failed("undo", f"cannot rewrite {path}: {exc.strerror or exc}")
        return Result(ok=True, action="undo", summary=f"{flag} restored in {path}")


def _load_flagd(path: Path) -> dict[str, Any]:
    text = atomic.read_text(path)
    if text is None:
        raise atomic.FileEditError(f"{path} does not exist")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise atomic.FileEditError(f"{path} is not valid JSON ({exc}); left untouched") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("flags"), dict):
        raise atomic.FileEditError(f"{path} has no \"flags\" object; left untouched")
    return doc


def _dump(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _unleash_state(data: Any, env: str) -> bool | None:
    if not isinstance(data, dict):
        return None
    for e in data.get("environments") or []:
        if isinstance(e, dict) and e.get("name") == env and isinstance(e.get("enabled"), bool):
            return bool(e["enabled"])
    return None
