"""OpenTelemetry GenAI spans exported as JSON.

Accepted containers: OTLP/JSON (``resourceSpans`` -> ``scopeSpans`` -> ``spans`` with
attribute lists of ``{"key", "value": {"stringValue"|"intValue"|...}}``, as the collector's
file exporter writes them, one batch per line), a single OTLP span, the Python SDK's
``span.to_json()`` shape (``context``, ``start_time`` ISO, attribute map), or a flat map of
``gen_ai.*`` attributes. One line can hold many spans; spans without ``gen_ai.*``
attributes (HTTP, DB, ...) and tool-execution spans are ignored.

Attribute names: the current GenAI semantic conventions (``gen_ai.provider.name``,
``gen_ai.usage.input_tokens``/``output_tokens``, ``gen_ai.input.messages``,
``gen_ai.output.messages``, ``gen_ai.system_instructions``) and the older ones
(``gen_ai.system``, ``gen_ai.usage.prompt_tokens``/``completion_tokens``,
``gen_ai.prompt``/``gen_ai.completion`` as JSON, the indexed ``gen_ai.prompt.0.content``
form, and ``gen_ai.content.prompt``/``completion`` span events).
"""

from __future__ import annotations

from typing import Any

from ircon.model.telemetry import Message, Role, TelemetryEvent
from ircon.sources.formats._common import (
    as_count,
    as_float,
    as_id,
    as_int,
    as_ts,
    latency_ms,
    loads_embedded,
    message,
    messages_of,
    now,
    params_of,
    response_text,
    safe_key,
    text_of,
)

_MAX_DEPTH = 32
_NOT_MODEL_CALLS = frozenset(("execute_tool", "create_agent"))


def looks_like(obj: dict[str, Any]) -> bool:
    if "resourceSpans" in obj:
        return True
    a = obj.get("attributes")
    if type(a) is dict or type(a) is list:
        return "spanId" in obj or "context" in obj or "name" in obj or "span_id" in obj
    return any(k.startswith("gen_ai.") for k in obj)


def _any_value(v: Any, depth: int = 0) -> Any:
    """An OTLP/JSON AnyValue as a plain Python value."""
    if type(v) is not dict:
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return as_int(v["intValue"])  # int64 is a string in OTLP/JSON
    if "doubleValue" in v:
        return as_float(v["doubleValue"])
    if "boolValue" in v:
        return v["boolValue"]
    if depth >= _MAX_DEPTH:
        return None
    if "arrayValue" in v:
        vals = v["arrayValue"].get("values") if type(v["arrayValue"]) is dict else None
        return [_any_value(x, depth + 1) for x in vals] if type(vals) is list else []
    if "kvlistValue" in v:
        vals = v["kvlistValue"].get("values") if type(v["kvlistValue"]) is dict else None
        return _attributes(vals, depth + 1)
    return None


def _attributes(a: Any, depth: int = 0) -> dict[str, Any]:
    if type(a) is dict:
        return a
    out: dict[str, Any] = {}
    if type(a) is list:
        for kv in a:
            if type(kv) is dict and type(kv.get("key")) is str:
                out[kv["key"]] = _any_value(kv.get("value"), depth)
    return out


def _is_model_call(attrs: dict[str, Any]) -> bool:
    if attrs.get("gen_ai.operation.name") in _NOT_MODEL_CALLS:
        return False
    return any(k.startswith("gen_ai.") for k in attrs)


def _first(attrs: dict[str, Any], *names: str) -> Any:
    for n in names:
        v = attrs.get(n)
        if v is not None and v != "":
            return v
    return None


def _indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """``gen_ai.prompt.0.role``/``.content`` ... (OpenLLMetry's flat form) as message dicts."""
    rows: dict[int, dict[str, Any]] = {}
    plen = len(prefix)
    for k, v in attrs.items():
        if not k.startswith(prefix):
            continue
        idx, _, field = k[plen:].partition(".")
        if not (idx.isascii() and idx.isdigit()) or not field or "." in field or len(idx) > 6:
            continue
        rows.setdefault(int(idx), {})[field] = v
    return [rows[i] for i in sorted(rows)]


_EVENT_ROLES: dict[str, Role] = {
    "gen_ai.system.message": "system", "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool",
}


def _prompt(attrs: dict[str, Any], events: list[tuple[str, dict[str, Any]]]) -> tuple[Message, ...]:
    out: list[Message] = []
    si = attrs.get("gen_ai.system_instructions")
    if si is not None:
        text = text_of(loads_embedded(si))
        if text:
            out.append(message("system", text))
    for name in ("gen_ai.input.messages", "gen_ai.prompt"):
        if attrs.get(name) is not None:
            return (*out, *messages_of(loads_embedded(attrs[name])))
    rows = _indexed(attrs, "gen_ai.prompt.")
    if rows:
        return (*out, *messages_of(rows))
    for ename, eattrs in events:
        if ename == "gen_ai.content.prompt":
            out.extend(messages_of(loads_embedded(eattrs.get("gen_ai.prompt"))))
        elif ename in _EVENT_ROLES:
            content = eattrs.get("content")
            if content is not None:
                out.append(message(_EVENT_ROLES[ename], text_of(loads_embedded(content))))
    return tuple(out)


def _completion(attrs: dict[str, Any], events: list[tuple[str, dict[str, Any]]]) -> str:
    for name in ("gen_ai.output.messages", "gen_ai.completion"):
        if attrs.get(name) is not None:
            return response_text(loads_embedded(attrs[name]))
    rows = _indexed(attrs, "gen_ai.completion.")
    if rows:
        return response_text(rows)
    texts = [response_text(loads_embedded(e.get("gen_ai.completion", e.get("message"))))
             for n, e in events
             if n in ("gen_ai.content.completion", "gen_ai.choice")]
    return "\n".join(t for t in texts if t)


def _is_error(status: Any, attrs: dict[str, Any]) -> bool:
    if attrs.get("error.type"):
        return True
    if type(status) is not dict:
        return False
    code = status.get("code", status.get("status_code"))
    if type(code) is int:
        return code == 2
    return type(code) is str and code.upper() in ("ERROR", "STATUS_CODE_ERROR", "2")


def _events_of(raw: Any) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if type(raw) is list:
        for e in raw:
            if type(e) is dict and type(e.get("name")) is str:
                out.append((e["name"], _attributes(e.get("attributes"))))
    return out


def _span_event(span: dict[str, Any], origin: str, line: int) -> TelemetryEvent | None:
    attrs = _attributes(span.get("attributes"))
    if not _is_model_call(attrs):
        return None
    ctx = span.get("context")
    span_id = span.get("spanId") or (ctx.get("span_id") if type(ctx) is dict else None)
    start = as_ts(span.get("startTimeUnixNano") or span.get("start_time")
                  or span.get("timestamp"))
    end = as_ts(span.get("endTimeUnixNano") or span.get("end_time"))
    events = _events_of(span.get("events"))
    a = attrs.get
    end_user = as_id(_first(attrs, "user.id", "enduser.id", "gen_ai.user.id"))
    params = params_of({
        "temperature": a("gen_ai.request.temperature"),
        "max_tokens": a("gen_ai.request.max_tokens"),
        "n": a("gen_ai.request.choice.count"),
        "logprobs": a("gen_ai.request.logprobs"),
        "top_logprobs": a("gen_ai.request.top_logprobs"),
        "logit_bias": a("gen_ai.request.logit_bias"),
        "stream": _first(attrs, "gen_ai.request.stream", "llm.is_streaming"),
    })
    return TelemetryEvent(
        request_id=as_id(a("gen_ai.response.id")) or as_id(span_id) or f"{origin}:{line}",
        ts=start if start is not None else (end if end is not None else now()),
        format="otel",
        model=as_id(_first(attrs, "gen_ai.request.model", "gen_ai.response.model")),
        key=safe_key(_first(attrs, "metadata.user_api_key_hash", "user_api_key_hash")),
        user=as_id(a("metadata.user_api_key_user_id")) or end_user,
        team=as_id(_first(attrs, "metadata.user_api_key_team_id", "user_api_key_team_id")),
        ip=as_id(_first(attrs, "client.address", "metadata.requester_ip_address",
                        "http.client_ip")),
        messages=_prompt(attrs, events),
        response=_completion(attrs, events),
        prompt_tokens=as_count(_first(attrs, "gen_ai.usage.input_tokens",
                                      "gen_ai.usage.prompt_tokens")),
        completion_tokens=as_count(_first(attrs, "gen_ai.usage.output_tokens",
                                          "gen_ai.usage.completion_tokens")),
        cost=as_float(a("gen_ai.usage.cost")),
        params=params,
        status="failure" if _is_error(span.get("status"), attrs) else "success",
        latency_ms=latency_ms(start, end),
        origin=origin,
        line=line,
        key_alias=as_id(a("metadata.user_api_key_alias")),
        end_user=end_user,
    )


def _otlp_spans(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    rs = obj.get("resourceSpans")
    if type(rs) is not list:
        raise ValueError("resourceSpans is not a list")
    for r in rs:
        if type(r) is not dict:
            continue
        scopes = r.get("scopeSpans", r.get("instrumentationLibrarySpans"))
        if type(scopes) is not list:
            continue
        for sc in scopes:
            ss = sc.get("spans") if type(sc) is dict else None
            if type(ss) is list:
                spans.extend(s for s in ss if type(s) is dict)
    return spans


def to_events(obj: dict[str, Any], origin: str, line: int) -> list[TelemetryEvent]:
    if "resourceSpans" in obj:
        spans = _otlp_spans(obj)
    elif "attributes" in obj:
        spans = [obj]
    else:  # a flat map of attributes, times alongside
        spans = [{"attributes": obj, "start_time": obj.get("start_time", obj.get("timestamp")),
                  "end_time": obj.get("end_time")}]
    out = [ev for ev in (_span_event(s, origin, line) for s in spans) if ev is not None]
    if not out:
        raise ValueError("no GenAI spans (gen_ai.* attributes) in the record")
    return out
