"""LiteLLM proxy admin API: block keys, teams and end users, limit a key, roll a model back.

Endpoint shapes follow the proxy's management API: ``POST /key/block`` and
``/key/unblock`` take ``{"key": ...}`` (a key or its sha256 token), ``POST
/key/update`` takes the key and the fields to change, ``GET /key/info?key=``
returns ``{"info": {...}}``, ``POST /team/block|unblock`` take ``{"team_id"}``,
``POST /customer/block|unblock`` take ``{"user_ids": [...]}``, ``GET
/model/info?litellm_model_id=`` returns ``{"data": [{"litellm_params": ...}]}``
and ``PATCH /model/{id}/update`` changes a deployment. Every call carries the
``litellm-changed-by`` header so the proxy's audit log names the responder.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from ircon.adapters.base import Adapter, Context, Plan, Result
from ircon.adapters.http import display_auth, reply_result, send, url_segment
from ircon.adapters.params import ActionSpec, ParamError, ParamSpec, key_display, key_hash
from ircon.adapters.settings import HttpAuth, LitellmSettings

CHANGED_BY = "litellm-changed-by"
LIMIT_FIELDS = {"rpm": "rpm_limit", "tpm": "tpm_limit", "parallel": "max_parallel_requests",
                "models": "models"}


def _key(help_: str = "virtual key (sk-...) or its hashed token") -> ParamSpec:
    return ParamSpec("key", "key_id", help_)


class LitellmAdapter(Adapter):
    type_name: ClassVar[str] = "litellm"
    settings: LitellmSettings
    ACTIONS = (
        ActionSpec("block-key", "block a virtual key: every request with it is refused",
                   (_key(),), destructive=True, idempotent=True, undo="POST /key/unblock"),
        ActionSpec("unblock-key", "unblock a virtual key", (_key(),), destructive=False,
                   idempotent=True, undo="POST /key/block"),
        ActionSpec("limit-key", "set rate/parallel limits or allowed models on a key",
                   (_key(), ParamSpec("rpm", "integer", "requests per minute", required=False),
                    ParamSpec("tpm", "integer", "tokens per minute", required=False),
                    ParamSpec("parallel", "integer", "max parallel requests", required=False),
                    ParamSpec("models", "model_list", "allowed models (comma-separated)",
                              required=False)),
                   destructive=True, idempotent=True,
                   undo="POST /key/update with the limits read before the change"),
        ActionSpec("block-team", "block a team: all its keys are refused",
                   (ParamSpec("team", "team_id", "team id"),), destructive=True,
                   idempotent=True, undo="POST /team/unblock"),
        ActionSpec("unblock-team", "unblock a team", (ParamSpec("team", "team_id", "team id"),),
                   destructive=False, idempotent=True, undo="POST /team/block"),
        ActionSpec("block-user", "block an end user (customer): their requests are refused",
                   (ParamSpec("user", "user_id", "end-user id"),), destructive=True,
                   idempotent=True, undo="POST /customer/unblock"),
        ActionSpec("unblock-user", "unblock an end user",
                   (ParamSpec("user", "user_id", "end-user id"),), destructive=False,
                   idempotent=True, undo="POST /customer/block"),
        ActionSpec("switch-model", "point a model deployment at another model (roll back)",
                   (ParamSpec("model_id", "identifier", "deployment id (model_info.id)"),
                    ParamSpec("target", "model", "model to serve, e.g. openai/gpt-4o-2024-08-06")),
                   destructive=True, idempotent=True,
                   undo="PATCH /model/{id}/update back to the model read before the change"),
    )

    # --- plumbing ----------------------------------------------------------------
    def _auth(self) -> HttpAuth:
        s = self.settings
        return s.model_copy(update={"bearer_token": s.master_key or s.bearer_token})

    def _url(self, path: str) -> str:
        return self.settings.url.rstrip("/") + path

    def _headers(self, ctx: Context) -> dict[str, str]:
        actor = "".join(c for c in ctx.actor if c.isprintable())[:200]
        return {CHANGED_BY: actor, "Content-Type": "application/json"}

    def _call(self, method: str, path: str, body: Any, ctx: Context, *, idempotent: bool = True,
              query: dict[str, str] | None = None) -> Any:
        return send(self, method, self._url(path), headers=self._headers(ctx), body=body,
                    query=query, idempotent=idempotent, settings=self.settings,
                    auth=self._auth())

    # --- plan ----------------------------------------------------------------------
    def build(self, spec: ActionSpec, values: dict[str, Any], plan: Plan, ctx: Context) -> None:
        a = spec.name
        shown: Any
        if a in ("block-key", "unblock-key"):
            path = "/key/block" if a == "block-key" else "/key/unblock"
            body: Any = {"key": values["key"]}
            shown = {"key": key_display(values["key"])}
            plan.summary = f"{'block' if a == 'block-key' else 'unblock'} key " \
                           f"{key_display(values['key'])}"
        elif a == "limit-key":
            changes = {LIMIT_FIELDS[k]: values[k] for k in LIMIT_FIELDS if k in values}
            if not changes:
                raise ParamError("limit-key: give at least one of rpm, tpm, parallel, models")
            path = "/key/update"
            body = {"key": values["key"], **changes}
            shown = {"key": key_display(values["key"]), **changes}
            plan.summary = f"limit key {key_display(values['key'])}: " + ", ".join(
                f"{k}={v}" for k, v in changes.items())
        elif a in ("block-team", "unblock-team"):
            path = "/team/block" if a == "block-team" else "/team/unblock"
            body = shown = {"team_id": values["team"]}
            plan.summary = f"{a.split('-')[0]} team {values['team']}"
        elif a in ("block-user", "unblock-user"):
            path = "/customer/block" if a == "block-user" else "/customer/unblock"
            body = shown = {"user_ids": [values["user"]]}
            plan.summary = f"{a.split('-')[0]} end user {values['user']}"
        elif a == "switch-model":
            path = f"/model/{url_segment(values['model_id'])}/update"
            body = shown = {"litellm_params": {"model": values["target"]}}
            plan.summary = f"deployment {values['model_id']} -> {values['target']}"
        else:  # pragma: no cover - ACTIONS and this switch are kept in step
            raise ParamError(f"unknown action {a}")
        method = "PATCH" if a == "switch-model" else "POST"
        plan.method = method
        plan.url = self._url(path)
        plan.headers = {**self._headers(ctx), **display_auth(self._auth())}
        plan.body = shown
        plan.private["call"] = (method, path, body)

    # --- execute -------------------------------------------------------------------
    def execute(self, plan: Plan) -> Result:
        a = plan.action
        values = plan.private["values"]
        ctx: Context = plan.private["ctx"]
        method, path, body = plan.private["call"]
        for v in plan.private["sensitive"]:
            self.remember_secret(v)
        undo: dict[str, Any] | None = None
        details: dict[str, Any] = {}
        if a in ("block-key", "unblock-key"):
            undo = {"key_hash": key_hash(values["key"])}
        elif a in ("block-team", "unblock-team"):
            undo = {"team_id": values["team"]}
        elif a in ("block-user", "unblock-user"):
            undo = {"user_id": values["user"]}
        elif a == "limit-key":
            before = self._call("GET", "/key/info", None, ctx,
                                query={"key": key_hash(values["key"])})
            info = (before.data or {}).get("info") if isinstance(before.data, dict) else None
            if before.ok and isinstance(info, dict):
                prev = {f: info.get(f) for f in body if f != "key"}
                undo = {"key_hash": key_hash(values["key"]), "previous": prev}
                details["previous"] = prev
            else:
                details["undo_unavailable"] = (
                    "could not read the key's limits before the change: "
                    + (before.error or "no info in the answer"))
        elif a == "switch-model":
            before = self._call("GET", "/model/info", None, ctx,
                                query={"litellm_model_id": values["model_id"]})
            prev_model = _model_of(before.data) if before.ok else None
            if prev_model:
                undo = {"model_id": values["model_id"], "previous": prev_model}
                details["previous"] = prev_model
            else:
                details["undo_unavailable"] = (
                    "could not read the deployment's model before the change: "
                    + (before.error or "deployment not found in /model/info"))
        reply = self._call(method, path, body, ctx, idempotent=True)
        res = reply_result(a, reply, plan.summary, undo=undo if reply.ok else None,
                           details=details)
        return res

    # --- undo ----------------------------------------------------------------------
    def undo(self, result: Result, ctx: Context) -> Result:
        u = result.undo or {}
        a = result.action
        if not u:
            return super().undo(result, ctx)
        call: tuple[str, str, Any]
        if a == "block-key":
            call = ("POST", "/key/unblock", {"key": u["key_hash"]})
        elif a == "unblock-key":
            call = ("POST", "/key/block", {"key": u["key_hash"]})
        elif a == "block-team":
            call = ("POST", "/team/unblock", {"team_id": u["team_id"]})
        elif a == "unblock-team":
            call = ("POST", "/team/block", {"team_id": u["team_id"]})
        elif a == "block-user":
            call = ("POST", "/customer/unblock", {"user_ids": [u["user_id"]]})
        elif a == "unblock-user":
            call = ("POST", "/customer/block", {"user_ids": [u["user_id"]]})
        elif a == "limit-key":
            call = ("POST", "/key/update", {"key": u["key_hash"], **u["previous"]})
        elif a == "switch-model":
            call = ("PATCH", f"/model/{quote(u['model_id'], safe='')}/update",
                    {"litellm_params": {"model": u["previous"]}})
        else:
            return super().undo(result, ctx)
        reply = self._call(call[0], call[1], call[2], ctx, idempotent=True)
        return reply_result("undo", reply, f"{call[0]} {call[1]}")


def _model_of(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    rows = data.get("data")
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        return None
    params = rows[0].get("litellm_params")
    model = params.get("model") if isinstance(params, dict) else None
    return model if isinstance(model, str) else None
