"""Alertmanager silences: create (``POST /api/v2/silences``) and expire
(``DELETE /api/v2/silence/{id}``), the one being the other's undo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from ircon.adapters.base import Adapter, Context, Plan, Result
from ircon.adapters.http import display_auth, reply_result, send
from ircon.adapters.params import ActionSpec, ParamError, ParamSpec, parse_duration
from ircon.adapters.settings import AlertmanagerSettings


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AlertmanagerAdapter(Adapter):
    type_name: ClassVar[str] = "alertmanager"
    settings: AlertmanagerSettings
    ACTIONS = (
        ActionSpec("silence", "silence alerts matching the matchers for a while",
                   (ParamSpec("matchers", "matchers", 'like alertname="X",model="m"'),
                    ParamSpec("duration", "duration", "how long (default from config)",
                              required=False),
                    ParamSpec("comment", "text", "why (the incident id is added)",
                              required=False)),
                   destructive=False, idempotent=False, undo="DELETE /api/v2/silence/{id}"),
        ActionSpec("expire", "expire a silence now",
                   (ParamSpec("silence_id", "silence_id", "the silence's id"),),
                   destructive=False, idempotent=True, undo=None),
    )

    def _base(self) -> str:
        return self.settings.url.rstrip("/")

    def build(self, spec: ActionSpec, values: dict[str, Any], plan: Plan, ctx: Context) -> None:
        s = self.settings
        plan.headers = {"Content-Type": "application/json", **display_auth(s)}
        if spec.name == "silence":
            secs = values.get("duration") or parse_duration("default_duration",
                                                            s.default_duration)
            limit = parse_duration("max_duration", s.max_duration)
            if secs > limit:
                raise ParamError(f"duration: longer than the configured maximum "
                                 f"({s.max_duration}); adapters.{self.name}.max_duration")
            comment = values.get("comment") or "silenced during incident response"
            if ctx.incident:
                comment = f"[{ctx.incident}] {comment}"
            comment += " (ircon)"
            plan.method = "POST"
            plan.url = self._base() + "/api/v2/silences"
            # startsAt/endsAt are fixed at execution; the plan shows the length.
            plan.body = {"matchers": values["matchers"], "startsAt": "<now>",
                         "endsAt": f"<now + {secs}s>", "createdBy": ctx.actor,
                         "comment": comment}
            plan.summary = f"silence {plan.params['matchers']} for {secs}s"
            plan.private["silence"] = (values["matchers"], secs, ctx.actor, comment)
        else:
            plan.method = "DELETE"
            plan.url = self._base() + f"/api/v2/silence/{values['silence_id']}"
            plan.summary = f"expire silence {values['silence_id']}"

    def execute(self, plan: Plan) -> Result:
        s = self.settings
        if plan.action == "silence":
            matchers, secs, actor, comment = plan.private["silence"]
            now = datetime.now(UTC)
            body = {"matchers": matchers, "startsAt": _iso(now),
                    "endsAt": _iso(now + timedelta(seconds=secs)), "createdBy": actor,
                    "comment": comment}
            # Creating a silence is not idempotent (a retry could leave two), so no retries.
            reply = send(self, "POST", plan.url or "", headers={}, body=body, idempotent=False,
                         settings=s, auth=s)
            sid = reply.data.get("silenceID") if isinstance(reply.data, dict) else None
            if reply.ok and not isinstance(sid, str):
                return Result.failed("silence", "Alertmanager answered without a silenceID",
                                     output=reply.text, status_code=reply.status)
            return reply_result("silence", reply, f"silence {sid} until {body['endsAt']}",
                                details={"silence_id": sid, "ends_at": body["endsAt"]},
                                undo={"silence_id": sid} if reply.ok else None)
        reply = send(self, "DELETE", plan.url or "", headers={}, idempotent=True, settings=s,
                     auth=s)
        return reply_result("expire", reply, "silence expired")

    def undo(self, result: Result, ctx: Context) -> Result:
        sid = (result.undo or {}).get("silence_id")
        if result.action != "silence" or not sid:
            return super().undo(result, ctx)
        reply = send(self, "DELETE", self._base() + f"/api/v2/silence/{quote(sid, safe='')}",
                     headers={},
                     idempotent=True, settings=self.settings, auth=self.settings)
        return reply_result("undo", reply, f"silence {sid} expired")
