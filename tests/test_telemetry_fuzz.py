"""Property tests: no input makes the telemetry reader raise or lose line numbering."""

from __future__ import annotations

import time
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ircon.model.telemetry import TelemetryEvent
from ircon.sources.telemetry import Skipped, _Lines, parse_line, parse_line_all
from tests import telemetry_support as ts

FORMATS = ("auto", "litellm", "otel", "openai", "langfuse")
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# Keys the normalizers look at, so generated objects reach deep into every format.
KEYS = st.sampled_from([
    "id", "call_type", "startTime", "endTime", "model", "metadata", "messages", "response",
    "model_parameters", "status", "user_api_key_hash", "standard_logging_object", "api_key",
    "spend", "request_id", "proxy_server_request", "resourceSpans", "scopeSpans", "spans",
    "attributes", "key", "value", "stringValue", "intValue", "arrayValue", "kvlistValue",
    "values", "events", "name", "gen_ai.input.messages", "gen_ai.prompt", "gen_ai.prompt.0.role",
    "gen_ai.prompt.0.content", "gen_ai.completion", "gen_ai.output.messages", "parts", "type",
    "traceId", "input", "output", "usage", "usageDetails", "modelParameters", "request",
    "body", "headers", "choices", "message", "content", "role", "tool_calls", "function",
    "arguments", "text", "custom_id", "logit_bias", "logprobs", "temperature", "n",
    "max_tokens", "top_logprobs", "stream", "user", "end_user", "level", "tool_result",
])
SCALARS = (st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
           | st.sampled_from(["GENERATION", "user", "tool", "text", "2026-01-01T00:00:00Z",
                              "sk-abc", "Bearer x", "[1,2]", '{"a":1}', "ERROR", "1e400"]))
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS | st.text(max_size=8),
                                                                inner, max_size=6),
    max_leaves=40,
)


def _check(r: object) -> None:
    if isinstance(r, list):
        assert r and all(isinstance(e, TelemetryEvent) for e in r)
        for e in r:
            assert isinstance(e.ts, float) and isinstance(e.response, str)
            assert all(isinstance(m.content, str) for m in e.messages)
            orjson.dumps([m.content for m in e.messages] + [e.response])  # valid UTF-8
    else:
        assert isinstance(r, Skipped) and r.reason


@FAST
@given(st.binary(max_size=2000), st.sampled_from(FORMATS))
def test_arbitrary_bytes_never_raise(data: bytes, fmt: str) -> None:
    _check(parse_line_all(data, fmt, origin="f", lineno=1))


@FAST
@given(st.dictionaries(KEYS, JSON, max_size=10), st.sampled_from(FORMATS))
def test_arbitrary_objects_never_raise(obj: dict[str, Any], fmt: str) -> None:
    _check(parse_line_all(orjson.dumps(obj), fmt, origin="f", lineno=1))


BUILDERS = [ts.litellm_standard, ts.litellm_spend_log, ts.otel_otlp_batch,
            ts.otel_legacy_sdk_span, ts.langfuse_generation, ts.openai_chat_log,
            ts.openai_responses_log]


@FAST
@given(st.sampled_from(BUILDERS), st.data())
def test_mutated_real_records_never_raise(builder: Any, data: st.DataObject) -> None:
    rec = builder()
    # Replace a few values, at any depth, by arbitrary JSON.
    for _ in range(data.draw(st.integers(1, 4))):
        node: Any = rec
        for _depth in range(data.draw(st.integers(0, 4))):
            if isinstance(node, dict) and node:
                child = node[data.draw(st.sampled_from(sorted(node)))]
            elif isinstance(node, list) and node:
                child = node[data.draw(st.integers(0, len(node) - 1))]
            else:
                break
            if not isinstance(child, dict | list):
                break
            node = child
        if isinstance(node, dict) and node:
            node[data.draw(st.sampled_from(sorted(node)))] = data.draw(JSON)
        elif isinstance(node, list) and node:
            node[data.draw(st.integers(0, len(node) - 1))] = data.draw(JSON)
    _check(parse_line_all(orjson.dumps(rec), "auto", origin="f", lineno=1))


@FAST
@given(st.text(max_size=300))
def test_arbitrary_prompt_text_survives_exactly(text: str) -> None:
    rec = ts.litellm_standard()
    rec["messages"] = [{"role": "user", "content": text}]
    try:
        line = orjson.dumps(rec)
    except orjson.JSONEncodeError:  # lone surrogates: written as escapes by other writers
        return
    ev = parse_line(line)
    assert isinstance(ev, TelemetryEvent) and ev.last_user_text == text


@FAST
@given(st.lists(st.binary(max_size=300).filter(lambda b: b"\n" not in b), max_size=30),
       st.lists(st.integers(1, 400), min_size=1, max_size=30), st.integers(64, 512))
def test_line_splitting_is_chunking_independent(lines: list[bytes], cuts: list[int],
                                                cap: int) -> None:
    data = b"".join(ln + b"\n" for ln in lines)
    splitter = _Lines(cap)
    out: list[tuple[int, bytes]] = []
    skipped: list[tuple[int, str]] = []
    pos, i = 0, 0
    while pos < len(data):
        step = cuts[i % len(cuts)]
        splitter.feed(data[pos:pos + step], out, skipped)
        pos += step
        i += 1
    splitter.flush(out)
    want = [(n, ln.removesuffix(b"\r")) for n, ln in enumerate(lines, 1) if len(ln) <= cap]
    assert out == want
    assert [n for n, _ in skipped] == [n for n, ln in enumerate(lines, 1) if len(ln) > cap]


def test_megabyte_prompts_and_pathological_nesting_are_bounded_in_time() -> None:
    rec = ts.litellm_standard()
    rec["messages"] = [{"role": "user", "content": "\u202e" * 2_000_000}]
    # Just under orjson's depth limit, inside the message content and the response.
    nested = b"[" * 1000 + b'"x"' + b"]" * 1000
    rec2 = orjson.dumps(ts.litellm_standard()).replace(
        b'"response":{', b'"response":' + nested + b',"r0":{', 1)
    rec2 = rec2.replace(b'"messages":[', b'"messages":[{"role":"user","content":'
                        + nested + b"},", 1)
    for line in (orjson.dumps(rec), rec2, b'{"a":' * 600 + b"1" + b"}" * 600):
        t = time.perf_counter()
        r = parse_line(line)
        assert time.perf_counter() - t < 2.0
        assert isinstance(r, TelemetryEvent | Skipped)
    assert isinstance(parse_line(rec2), TelemetryEvent)  # deep content is cut, not fatal
