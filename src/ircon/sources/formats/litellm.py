"""LiteLLM proxy logs.

Two shapes, both from LiteLLM's public docs:

* ``StandardLoggingPayload`` — the ``kwargs["standard_logging_object"]`` every callback
  receives (``id``, ``call_type``, ``startTime``/``endTime`` as epoch seconds, ``model``,
  ``metadata.user_api_key_hash``/``_alias``/``_team_id``/``_user_id``, ``end_user``,
  ``requester_ip_address``, ``messages``, ``response``, ``prompt_tokens``,
  ``completion_tokens``, ``response_cost``, ``model_parameters``, ``status``). Accepted bare
  or wrapped as ``{"standard_logging_object": {...}}``.
* ``LiteLLM_SpendLogs`` rows (the proxy database table, as exported or returned by
  ``/spend/logs``): ``request_id``, ``api_key`` (hashed), ``startTime``/``endTime`` (ISO),
  ``spend``, ``user``, ``team_id``, ``end_user``, ``requester_ip_address``, ``metadata``,
  ``messages``/``response``/``proxy_server_request`` (JSON columns, possibly as strings).
"""

from __future__ import annotations

from typing import Any

from ircon.model.telemetry import TelemetryEvent
from ircon.sources.formats._common import (
    EPOCH_S_MAX,
    ID_MAX,
    INF,
    as_count,
    as_float,
    as_id,
    as_ts,
    dget,
    latency_ms,
    loads_embedded,
    messages_of,
    now,
    params_of,
    response_text,
    safe_key,
)


def looks_like(obj: dict[str, Any]) -> bool:
    if "standard_logging_object" in obj:
        return True
    return "call_type" in obj and ("startTime" in obj or "model_parameters" in obj)


def _status(v: Any, error: Any) -> str:
    if type(v) is str and v:
        s = v.lower()
        if s in ("success", "failure"):
            return s
        return "failure" if s in ("error", "failed", "fail") else "success"
    return "failure" if error else "success"


def to_events(obj: dict[str, Any], origin: str, line: int) -> list[TelemetryEvent]:
    slo = obj.get("standard_logging_object")
    if type(slo) is dict:
        obj = slo
    elif slo is not None:
        raise ValueError("standard_logging_object is not an object")
    if "spend" in obj or "api_key" in obj or "request_id" in obj:
        return [_spend_log(obj, origin, line)]
    return [_standard(obj, origin, line)]


_NO_META: dict[str, Any] = {}


def _standard(o: dict[str, Any], origin: str, line: int) -> TelemetryEvent:
    # The hot path of the whole reader (see bench/bench_telemetry.py): every field is read
    # once, well-formed values pass an inline exact-type check (the converters only see odd
    # ones), fallback keys are looked up only when the primary one is missing, and the
    # event is built positionally (a 20-keyword call costs as much as parsing the line).
    g = o.get
    meta = g("metadata")
    mg = meta.get if type(meta) is dict else _NO_META.get
    # Epoch seconds as floats are the payload's documented type; anything else (ms, numeric
    # or ISO strings, junk) goes through the general converter.
    start = g("startTime")
    if not (type(start) is float and 0.0 < start < EPOCH_S_MAX):
        start = as_ts(start)
    end = g("endTime")
    if not (type(end) is float and 0.0 < end < EPOCH_S_MAX):
        end = as_ts(end)
    if start is not None and end is not None and end >= start:
        lat: float | None = (end - start) * 1000.0
    else:
        rt = as_float(g("response_time"))
        lat = rt * 1000.0 if rt is not None and rt >= 0 else None

    prompt_tokens = g("prompt_tokens")
    if not (type(prompt_tokens) is int and prompt_tokens >= 0):
        prompt_tokens = as_count(prompt_tokens)
    completion_tokens = g("completion_tokens")
    if not (type(completion_tokens) is int and completion_tokens >= 0):
        completion_tokens = as_count(completion_tokens)
    cost = g("response_cost")
    if not (type(cost) is float and -INF < cost < INF):
        cost = as_float(cost)
    status = g("status")
    if status != "success" and status != "failure":
        status = _status(status, g("error_str"))

    # Identities: kept as they are when short strings (the norm), else bounded by
    # ``as_id``. Checked inline: a helper call per identity costs more than the check.
    request_id = g("id") or g("litellm_call_id")
    if not (type(request_id) is str and 0 < len(request_id) <= ID_MAX):
        request_id = as_id(request_id)
    end_user = g("end_user") or mg("user_api_key_end_user_id")
    if not (type(end_user) is str and 0 < len(end_user) <= ID_MAX):
        end_user = as_id(end_user)
    model = g("model") or g("model_group")
    if not (type(model) is str and 0 < len(model) <= ID_MAX):
        model = as_id(model)
    user = mg("user_api_key_user_id")
    if not (type(user) is str and 0 < len(user) <= ID_MAX):
        user = as_id(user) or end_user
    team = mg("user_api_key_team_id") or mg("user_api_key_team_alias")
    if not (type(team) is str and 0 < len(team) <= ID_MAX):
        team = as_id(team)
    ip = g("requester_ip_address") or mg("requester_ip_address")
    if not (type(ip) is str and 0 < len(ip) <= ID_MAX):
        ip = as_id(ip)
    key_alias = mg("user_api_key_alias")
    if not (type(key_alias) is str and 0 < len(key_alias) <= ID_MAX):
        key_alias = as_id(key_alias)
    # LiteLLM logs the key's hash; an alphanumeric value can be neither a raw ``sk-`` key
    # nor a bearer header, so only other values need ``safe_key``'s checks.
    key = mg("user_api_key_hash") or mg("user_api_key")
    if not (type(key) is str and len(key) <= ID_MAX and key.isalnum()):
        key = safe_key(key)

    return TelemetryEvent(
        request_id or f"{origin}:{line}",
        start if start is not None else (end if end is not None else now()),
        "litellm", model, key, user, team, ip,
        messages_of(g("messages")), response_text(g("response")),
        prompt_tokens, completion_tokens, cost, params_of(g("model_parameters")),
        status, lat, origin, line, key_alias, end_user,
    )


def _spend_log(o: dict[str, Any], origin: str, line: int) -> TelemetryEvent:
    g = o.get
    meta = loads_embedded(g("metadata"))
    if type(meta) is not dict:
        meta = {}
    mg = meta.get
    # The request body: prompts live here for ordinary chat traffic; the ``messages``
    # column is often left as "{}".
    body = loads_embedded(g("proxy_server_request"))
    if type(body) is not dict:
        body = {}
    msgs = messages_of(loads_embedded(g("messages")))
    if not msgs:
        msgs = messages_of(loads_embedded(
            body.get("messages") or body.get("input") or body.get("prompt")))
    start = as_ts(g("startTime") or g("start_time"))
    end = as_ts(g("endTime") or g("end_time"))
    lat = latency_ms(start, end)
    if lat is None:
        lat = as_float(g("request_duration_ms"))
    end_user = as_id(g("end_user")) or as_id(body.get("user"))
    error = dget(meta, "error_information")
    return TelemetryEvent(
        request_id=as_id(g("request_id")) or f"{origin}:{line}",
        ts=start if start is not None else (end if end is not None else now()),
        format="litellm",
        model=as_id(g("model_group")) or as_id(g("model")) or as_id(body.get("model")),
        key=safe_key(g("api_key")) or safe_key(mg("user_api_key")),
        user=as_id(g("user")) or as_id(mg("user_api_key_user_id")) or end_user,
        team=as_id(g("team_id")) or as_id(mg("user_api_key_team_id")),
        ip=as_id(g("requester_ip_address")) or as_id(mg("requester_ip_address")),
        messages=msgs,
        response=response_text(loads_embedded(g("response"))),
        prompt_tokens=as_count(g("prompt_tokens")),
        completion_tokens=as_count(g("completion_tokens")),
        cost=as_float(g("spend")),
        params=params_of(body),
        status=_status(g("status"), error),
        latency_ms=lat,
        origin=origin,
        line=line,
        key_alias=as_id(mg("user_api_key_alias")),
        end_user=end_user,
    )
