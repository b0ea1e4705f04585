"""Langfuse observation exports (public API ``/api/public/observations`` rows, UI/blob
exports in camelCase or snake_case).

A model call is a ``GENERATION`` (or ``EMBEDDING``) observation: ``id``, ``traceId``,
``startTime``/``endTime`` (ISO), ``model``, ``modelParameters`` (values often strings),
``input``/``output`` (usually OpenAI-style messages, but any JSON), ``usage``/
``usageDetails`` (``input``/``output`` or ``promptTokens``/``completionTokens``),
``costDetails``/``calculatedTotalCost``, ``level`` (``ERROR`` = failed), ``userId`` and
``metadata`` (LiteLLM's Langfuse logger puts ``user_api_key_hash``/``_alias``/
``_team_id`` there). Other observation types (SPAN, EVENT, TOOL, ...) are not model calls
and are reported as skipped.
"""

from __future__ import annotations

from typing import Any

from ircon.model.telemetry import TelemetryEvent
from ircon.model.text import one_line
from ircon.sources.formats._common import (
    as_count,
    as_float,
    as_id,
    as_ts,
    latency_ms,
    loads_embedded,
    messages_of,
    now,
    params_of,
    response_text,
    safe_key,
)

_TYPES = frozenset(("GENERATION", "EMBEDDING", "SPAN", "EVENT", "AGENT", "TOOL", "CHAIN",
                    "RETRIEVER", "EVALUATOR", "GUARDRAIL"))
_MODEL_CALLS = frozenset(("GENERATION", "EMBEDDING"))


def looks_like(obj: dict[str, Any]) -> bool:
    t = obj.get("type")
    return (type(t) is str and t.upper() in _TYPES
            and ("traceId" in obj or "trace_id" in obj)
            and ("startTime" in obj or "start_time" in obj))


def _get(o: dict[str, Any], camel: str, snake: str) -> Any:
    v = o.get(camel)
    return o.get(snake) if v is None else v


def _tokens(o: dict[str, Any]) -> tuple[int | None, int | None]:
    for details in (_get(o, "usageDetails", "usage_details"),
                    _get(o, "usage", "provided_usage_details")):
        details = loads_embedded(details)
        if type(details) is not dict or not details:
            continue
        g = details.get
        inp = as_count(g("input") if g("input") is not None else
                       g("promptTokens", g("prompt_tokens", g("input_tokens"))))
        out = as_count(g("output") if g("output") is not None else
                       g("completionTokens", g("completion_tokens", g("output_tokens"))))
        if inp is not None or out is not None:
            return inp, out
    return None, None


def _cost(o: dict[str, Any]) -> float | None:
    cd = loads_embedded(_get(o, "costDetails", "cost_details"))
    if type(cd) is dict and cd.get("total") is not None:
        return as_float(cd["total"])
    for k in ("calculatedTotalCost", "totalCost", "total_cost"):
        c = as_float(o.get(k))
        if c is not None:
            return c
    return None


def to_events(obj: dict[str, Any], origin: str, line: int) -> list[TelemetryEvent]:
    otype = str(obj.get("type", "")).upper()
    if otype not in _MODEL_CALLS:
        raise ValueError(f"langfuse {one_line(otype, 20)} observation is not a model call")
    g = obj.get
    meta = loads_embedded(g("metadata"))
    if type(meta) is not dict:
        meta = {}
    mg = meta.get
    start = as_ts(_get(obj, "startTime", "start_time"))
    end = as_ts(_get(obj, "endTime", "end_time"))
    lat = latency_ms(start, end)
    if lat is None:
        secs = as_float(g("latency"))  # the API reports latency in seconds
        lat = secs * 1000.0 if secs is not None and secs >= 0 else None
    end_user = as_id(_get(obj, "userId", "user_id")) or as_id(mg("user_id")) \
        or as_id(mg("end_user"))
    prompt_tokens, completion_tokens = _tokens(obj)
    level = g("level")
    return [TelemetryEvent(
        request_id=as_id(g("id")) or f"{origin}:{line}",
        ts=start if start is not None else (end if end is not None else now()),
        format="langfuse",
        model=as_id(g("model")) or as_id(_get(obj, "providedModelName", "provided_model_name")),
        key=safe_key(mg("user_api_key_hash") or mg("hashed_user_api_key")),
        user=as_id(mg("user_api_key_user_id")) or end_user,
        team=as_id(mg("user_api_key_team_id")) or as_id(mg("user_api_key_team_alias")),
        ip=as_id(mg("requester_ip_address")),
        messages=messages_of(loads_embedded(g("input"))),
        response=response_text(loads_embedded(g("output"))),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=_cost(obj),
        params=params_of(loads_embedded(_get(obj, "modelParameters", "model_parameters"))),
        status="failure" if type(level) is str and level.upper() == "ERROR" else "success",
        latency_ms=lat,
        origin=origin,
        line=line,
        key_alias=as_id(mg("user_api_key_alias")),
        end_user=end_user,
    )]
