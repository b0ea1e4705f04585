"""HTTP for adapters: one bounded call with auth from secret references, and the
generic ``http`` adapter (a configured method + URL + JSON body with placeholders).

Every failure mode (refused, reset, timeout, 4xx, 5xx, redirect, unreadable
body) becomes a reply with ``ok=False`` and the cause in words; retries happen
only when the caller says the call is idempotent.
"""

from __future__ import annotations

import base64
import functools
import ssl
import time
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx

from ircon.adapters.base import MASK, Adapter, Context, Plan, Result, excerpt, mask_values
from ircon.adapters.params import ActionSpec, ParamError, ParamSpec
from ircon.adapters.placeholders import Missing, fill, fill_json
from ircon.adapters.settings import CommonSettings, HttpAuth, HttpSettings
from ircon.secrets import SecretError, resolve

MAX_BODY = 1024 * 1024  # bytes of a response read; the rest is not downloaded
RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass
class HttpReply:
    ok: bool
    status: int | None
    text: str
    data: Any
    error: str | None
    attempts: int


def display_auth(auth: HttpAuth, token_header: tuple[str, str | None] | None = None) -> dict:
    """Auth headers as a plan shows them: names, never values."""
    out: dict[str, str] = {}
    if auth.bearer_token:
        out["Authorization"] = f"Bearer {MASK}"
    elif auth.basic_user:
        out["Authorization"] = f"Basic {MASK}"
    if token_header and token_header[1]:
        out[token_header[0]] = MASK if token_header[0] != "Authorization" else f"Bearer {MASK}"
    for k in auth.headers:
        out[k] = MASK
    return out


def resolve_auth(adapter: Adapter, auth: HttpAuth) -> dict[str, str]:
    """Real auth headers; every value is registered for redaction. SecretError propagates."""
    out: dict[str, str] = {}
    if auth.bearer_token:
        tok = resolve(auth.bearer_token)
        adapter.remember_secret(tok)
        out["Authorization"] = f"Bearer {tok}"
    elif auth.basic_user:
        pw = resolve(auth.basic_password) if auth.basic_password else ""
        adapter.remember_secret(pw)
        cred = base64.b64encode(f"{auth.basic_user}:{pw}".encode()).decode()
        adapter.remember_secret(cred)
        out["Authorization"] = f"Basic {cred}"
    for k, ref in auth.headers.items():
        v = resolve(ref)
        adapter.remember_secret(v)
        out[k] = v
    return out


@functools.lru_cache(maxsize=8)
def _tls(verify: bool | str) -> ssl.SSLContext:
    """One TLS context per trust setting: building one loads the CA store (tens of ms)."""
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - httpx depends on certifi
        return ssl.create_default_context()


def _where(method: str, url: str) -> str:
    u = urlsplit(url)
    return f"{method} {u.scheme}://{u.netloc}{u.path}"


def send(
    adapter: Adapter,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: Any = None,
    query: dict[str, str] | None = None,
    idempotent: bool = False,
    settings: CommonSettings,
    auth: HttpAuth | None = None,
) -> HttpReply:
    """One call (plus retries when idempotent) with every failure turned into a reply."""
    try:
        real = dict(headers)
        if auth is not None:
            real.update(resolve_auth(adapter, auth))
    except SecretError as exc:
        return HttpReply(False, None, "", None, f"cannot read a secret: {exc}", 0)
    verify: bool | str = True
    if auth is not None:
        verify = auth.ca_file or auth.verify_tls
    try:
        tls = _tls(verify)
    except (OSError, ssl.SSLError) as exc:
        return HttpReply(False, None, "", None, f"cannot load the CA file {verify}: {exc}", 0)
    timeout = httpx.Timeout(settings.timeout)
    attempts = 1 + (settings.retries if idempotent else 0)
    reply = HttpReply(False, None, "", None, "not attempted", 0)
    red = adapter.redactor()
    for attempt in range(1, attempts + 1):
        reply = _once(method, url, real, body, query, timeout, tls)
        reply.attempts = attempt
        if reply.error:
            reply.error = red.text(reply.error)
        reply.text = red.text(reply.text)
        retryable = (reply.status is None or reply.status in RETRY_STATUSES) and not reply.ok
        if reply.ok or not retryable or attempt == attempts:
            break
        time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
    return reply


def _once(
    method: str, url: str, headers: dict[str, str], body: Any, query: dict[str, str] | None,
    timeout: httpx.Timeout, verify: Any,
) -> HttpReply:
    where = _where(method, url)
    try:
        with httpx.Client(timeout=timeout, verify=verify, follow_redirects=False) as client:
            kwargs: dict[str, Any] = {"headers": headers, "params": query}
            if body is not None:
                kwargs["json"] = body
            with client.stream(method, url, **kwargs) as r:
                raw = bytearray()
                for chunk in r.iter_bytes():
                    raw += chunk
                    if len(raw) >= MAX_BODY:
                        break
                status = r.status_code
    except httpx.ConnectTimeout:
        return HttpReply(False, None, "", None, f"{where}: no connection within "
                         f"{timeout.connect}s (timeout)", 0)
    except httpx.TimeoutException:
        return HttpReply(False, None, "", None, f"{where}: no answer within "
                         f"{timeout.read}s (timeout)", 0)
    except httpx.ConnectError as exc:
        return HttpReply(False, None, "", None, f"{where}: cannot connect ({_short(exc)})", 0)
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        return HttpReply(False, None, "", None,
                         f"{where}: connection closed or reset by the server ({_short(exc)})", 0)
    except httpx.HTTPError as exc:
        return HttpReply(False, None, "", None, f"{where}: {type(exc).__name__}: {_short(exc)}",
                         0)
    text = bytes(raw).decode("utf-8", errors="replace")
    data: Any = None
    if text.strip():
        import json

        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # the body is the server's: any nesting
            data = None
    if 200 <= status < 300:
        return HttpReply(True, status, excerpt(text), data, None, 0)
    if 300 <= status < 400:
        return HttpReply(False, status, excerpt(text), data,
                         f"{where}: HTTP {status} redirect (not followed; check the URL)", 0)
    return HttpReply(False, status, excerpt(text), data,
                     f"{where}: HTTP {status}: {excerpt(text.strip(), 300) or '(empty body)'}", 0)


def _short(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__)[:300]


def reply_result(action: str, reply: HttpReply, summary: str, **kw: Any) -> Result:
    if reply.ok:
        return Result(ok=True, action=action, summary=summary, output=reply.text,
                      status_code=reply.status, attempts=reply.attempts, **kw)
    return Result.failed(action, reply.error or "failed", output=reply.text,
                         status_code=reply.status, attempts=reply.attempts)


def url_segment(value: str) -> str:
    """``value`` percent-encoded for a URL path. A value of only dots is refused: ``.`` and
    ``..`` are path steps (clients and servers resolve them), so ``/users/{id}/disable``
    with ``..`` would call ``/disable`` — another endpoint than the one configured."""
    if value and not value.strip("."):
        raise ParamError(f"{value!r} is not allowed in a URL path (it would move up the path)")
    return quote(value, safe="")


class HttpAdapter(Adapter):
    """A configured call: ``call`` with the declared parameters, and its undo if configured."""

    type_name: ClassVar[str] = "http"
    settings: HttpSettings

    def actions(self) -> dict[str, ActionSpec]:
        s = self.settings
        params = tuple(
            ParamSpec(n, k, required=n not in s.optional) for n, k in s.params.items()
        )
        undo = f"{s.undo_method} {s.undo_url}" if s.undo_method and s.undo_url else None
        return {"call": ActionSpec("call", s.description or f"{s.method} {s.url}", params,
                                   destructive=s.destructive, idempotent=s.idempotent,
                                   undo=undo)}

    def _request(self, method: str, url_t: str, body_t: Any, values: dict[str, Any]
                 ) -> tuple[str, dict[str, str], Any]:
        try:
            url = fill(url_t, values, encode=url_segment)
        except Missing as m:
            raise ParamError(f"{m.args[0]}: required by the URL") from None
        headers: dict[str, str] = {}
        for k, t in self.settings.static_headers.items():
            try:
                v = fill(t, values)
            except Missing:
                continue
            if any(c in v for c in "\r\n\x00"):
                raise ParamError(f"header {k}: a value may not contain line breaks")
            headers[k] = v
        body = fill_json(body_t, values) if body_t is not None else None
        return url, headers, body

    def build(self, spec: ActionSpec, values: dict[str, Any], plan: Plan, ctx: Context) -> None:
        s = self.settings
        url, headers, body = self._request(s.method, s.url, s.body, values)
        sens = plan.private["sensitive"]
        plan.method = s.method
        plan.url = mask_values(url, sens)
        plan.headers = {**mask_values(headers, sens), **display_auth(s)}
        plan.body = mask_values(body, sens)
        plan.summary = f"{s.method} {_where(s.method, plan.url or url)}"
        plan.private["request"] = (url, headers, body)

    def execute(self, plan: Plan) -> Result:
        s = self.settings
        url, headers, body = plan.private["request"]
        for v in plan.private["sensitive"]:
            self.remember_secret(v)
        reply = send(self, s.method, url, headers=headers, body=body, idempotent=s.idempotent,
                     settings=s, auth=s)
        undo = None
        if s.undo_method and s.undo_url:
            # Only non-sensitive values are kept for undo; a sensitive one makes undo
            # impossible after the fact (it would have to be stored).
            sens_names = [p.name for p in self.action("call").params if p.sensitive]
            undo = {"values": {k: v for k, v in plan.private["values"].items()
                               if k not in sens_names}}
        return reply_result("call", reply, f"{s.method} done (HTTP {reply.status})",
                            undo=undo if reply.ok else None)

    def undo(self, result: Result, ctx: Context) -> Result:
        s = self.settings
        if not (s.undo_method and s.undo_url) or not result.undo:
            return super().undo(result, ctx)
        values = dict(result.undo.get("values", {}))
        try:
            url, headers, body = self._request(s.undo_method, s.undo_url, s.undo_body, values)
        except ParamError as exc:
            return Result.failed("undo", f"cannot build the undo call: {exc}")
        reply = send(self, s.undo_method, url, headers=headers, body=body, idempotent=True,
                     settings=s, auth=s)
        return reply_result("undo", reply, f"{s.undo_method} undo done (HTTP {reply.status})")
