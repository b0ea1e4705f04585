"""Plain OpenAI request/response logs, as gateways and proxies write them.

Shapes: ``{"request": {<API body>}, "response": {<API body>}}`` with optional top-level
context (``timestamp``, ``key_id``, ``user``, ``team``, ``ip``, ``latency_ms``,
``status_code``); the same with ``{"request": {"headers", "body"}, "response": {"status",
"body"}}``; and Batch API lines (``{"custom_id", "body"}`` inputs and ``{"custom_id",
"response": {"status_code", "body"}}`` outputs). Bodies may be Chat Completions, legacy
Completions (``prompt``/``choices[].text``) or the Responses API (``input``,
``instructions``, ``output``). A raw API key in an ``Authorization`` header is never kept:
only its SHA-256 is.
"""

from __future__ import annotations

from typing import Any

from ircon.model.telemetry import Message, TelemetryEvent
from ircon.sources.formats._common import (
    as_count,
    as_float,
    as_id,
    as_int,
    as_ts,
    dget,
    loads_embedded,
    message,
    messages_of,
    now,
    params_of,
    response_text,
    safe_key,
    text_of,
)


def looks_like(obj: dict[str, Any]) -> bool:
    if type(obj.get("request")) is dict and ("response" in obj or "error" in obj):
        return True
    return "custom_id" in obj and ("body" in obj or "response" in obj)


def _first(d: dict[str, Any], *names: str) -> Any:
    for n in names:
        v = d.get(n)
        if v is not None and v != "":
            return v
    return None


def _split(part: Any) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(body, lower-cased headers, status) of a request or response record."""
    part = loads_embedded(part)
    if type(part) is not dict:
        return {}, {}, None
    status = part.get("status_code", part.get("status"))
    headers: dict[str, Any] = {}
    if "body" in part and ("headers" in part or "status_code" in part or "status" in part
                           or "url" in part or "method" in part or len(part) == 1):
        h = part.get("headers")
        if type(h) is dict:
            headers = {str(k).lower(): v for k, v in list(h.items())[:200]}
        body = loads_embedded(part["body"])
        return (body if type(body) is dict else {}), headers, status
    return part, headers, None


def _prompt(body: dict[str, Any]) -> tuple[Message, ...]:
    msgs = messages_of(_first(body, "messages", "input", "prompt"))
    instructions = text_of(body.get("instructions"))
    return (message("system", instructions), *msgs) if instructions else msgs


def _status(code: Any, obj: dict[str, Any], resp: dict[str, Any]) -> str:
    c = as_int(code)
    if c is not None and c >= 400:
        return "failure"
    if obj.get("error") or resp.get("error"):
        return "failure"
    s = resp.get("status")
    return "failure" if s in ("failed", "incomplete", "cancelled") else "success"


def to_events(obj: dict[str, Any], origin: str, line: int) -> list[TelemetryEvent]:
    req: dict[str, Any] = {}
    req_headers: dict[str, Any] = {}
    if "custom_id" in obj and "request" not in obj:
        if "body" in obj:  # a Batch API input line
            req, req_headers, _ = _split({"body": obj["body"]})
        resp, _, code = _split(obj.get("response"))
    else:
        req, req_headers, _ = _split(obj.get("request"))
        resp, _, code = _split(obj.get("response"))
    if not req and not resp:
        raise ValueError("neither request nor response holds an API body")
    code = _first(obj, "status_code", "status") if code is None else code
    usage = resp.get("usage")
    if type(usage) is not dict:
        usage = {}
    end_user = as_id(_first(req, "user", "safety_identifier")) or as_id(obj.get("end_user"))
    auth = req_headers.get("authorization") or req_headers.get("api-key") \
        or req_headers.get("x-api-key")
    xff = req_headers.get("x-forwarded-for")
    ip = as_id(_first(obj, "ip", "client_ip", "remote_addr", "client_address"))
    if ip is None and type(xff) is str:
        ip = as_id(xff.split(",", 1)[0].strip())
    ts = as_ts(_first(obj, "timestamp", "ts", "time", "created_at", "start_time",
                      "startTime"))
    if ts is None:
        ts = as_ts(resp.get("created") or resp.get("created_at")) or now()
    meta = req.get("metadata")
    return [TelemetryEvent(
        request_id=as_id(_first(obj, "request_id", "id", "custom_id"))
        or as_id(resp.get("id")) or f"{origin}:{line}",
        ts=ts,
        format="openai",
        model=as_id(req.get("model")) or as_id(resp.get("model")),
        key=safe_key(_first(obj, "key_hash", "api_key_hash", "key_id", "api_key_id", "key",
                            "api_key")) or safe_key(auth if type(auth) is str else None),
        user=as_id(_first(obj, "user", "user_id")) or end_user,
        team=as_id(_first(obj, "team", "team_id")) or as_id(dget(meta, "team")),
        ip=ip,
        messages=_prompt(req),
        response=response_text(resp),
        prompt_tokens=as_count(_first(usage, "prompt_tokens", "input_tokens")),
        completion_tokens=as_count(_first(usage, "completion_tokens", "output_tokens")),
        cost=as_float(obj.get("cost")),
        params=params_of(req),
        status=_status(code, obj, resp),
        latency_ms=as_float(_first(obj, "latency_ms", "duration_ms", "elapsed_ms")),
        origin=origin,
        line=line,
        key_alias=as_id(_first(obj, "key_alias", "key_name")),
        end_user=end_user,
    )]
