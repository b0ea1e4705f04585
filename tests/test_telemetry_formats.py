"""Normalization of every supported telemetry format into TelemetryEvent."""

from __future__ import annotations

import dataclasses
import json

import orjson
import pytest

from ircon.model.telemetry import Message, RequestParams, TelemetryEvent
from ircon.sources.telemetry import (
    Skipped,
    detect_format,
    normalize,
    normalize_all,
    parse_line,
    parse_line_all,
)
from tests import telemetry_support as ts


def _roles(ev: TelemetryEvent) -> list[str]:
    return [m.role for m in ev.messages]


def test_litellm_standard_logging_payload() -> None:
    ev = parse_line(orjson.dumps(ts.litellm_standard()), origin="gw.jsonl", lineno=7)
    assert isinstance(ev, TelemetryEvent)
    assert ev.format == "litellm"
    assert ev.request_id == "chatcmpl-5f0b7a9e-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
    assert ev.ts == pytest.approx(1767225600.25)
    assert ev.latency_ms == pytest.approx(1500.0)
    assert ev.model == "gpt-4o-mini"
    assert ev.key == ts.KEY_HASH and ev.key_alias == "svc-support-bot"
    assert ev.user == "u-1842" and ev.end_user == "customer-7731"
    assert ev.team == "team-support" and ev.ip == "203.0.113.7"
    assert ev.prompt_tokens == 142 and ev.completion_tokens == 45
    assert ev.cost == pytest.approx(0.00041)
    assert ev.status == "success"
    assert ev.params == RequestParams(temperature=0.0, max_tokens=4096, n=3, logprobs=True,
                                      top_logprobs=20, logit_bias_size=2, stream=False)
    assert _roles(ev) == ["system", "user", "assistant", "tool"]
    assert ev.messages[0].content == ts.SYSTEM
    assert ev.messages[1].content == "Where is my order 7731?"  # image part dropped
    assert ev.messages[2].content == 'lookup_order({"id": 7731})'
    assert ev.messages[3].content == ts.TOOL_OUTPUT
    assert ev.response == "Your order 7731 has shipped."
    assert (ev.origin, ev.line) == ("gw.jsonl", 7)
    assert ev.last_user_text == "Where is my order 7731?"


def test_litellm_wrapped_and_failure() -> None:
    ev = parse_line(orjson.dumps({"standard_logging_object": ts.litellm_failure()}))
    assert isinstance(ev, TelemetryEvent)
    assert ev.status == "failure" and ev.response == "" and ev.completion_tokens == 0


def test_litellm_spend_logs_row() -> None:
    ev = normalize(ts.litellm_spend_log(), origin="spend.jsonl", line=2)
    assert ev.format == "litellm" and ev.request_id == "chatcmpl-0a1b2c3d-spend"
    assert ev.ts == pytest.approx(1767261600.0)  # 2026-01-01T10:00:00Z
    assert ev.latency_ms == pytest.approx(2500.0)
    assert ev.model == "gpt-4o"  # the public model group the key holder asked for
    assert ev.key == ts.KEY_HASH and ev.key_alias == "research-notebook"
    assert ev.user == "u-77" and ev.team == "team-research"
    assert ev.end_user == "alice@corp"  # from the request body's ``user``
    assert ev.ip == "198.51.100.23"
    assert ev.cost == pytest.approx(0.00231)
    assert ev.prompt_tokens == 800 and ev.completion_tokens == 112
    # The messages column is "{}"; the prompt comes from proxy_server_request.
    assert ev.messages == (Message("user", "Summarize this paper."),)
    assert ev.response == "Here is the summary."
    assert ev.params.temperature == 0.7 and ev.params.max_tokens == 512


def test_otel_otlp_batch_current_conventions() -> None:
    line = orjson.dumps(ts.otel_otlp_batch())
    events = parse_line_all(line, origin="otlp.jsonl", lineno=1)
    assert isinstance(events, list) and len(events) == 2  # the HTTP span is not a model call
    ev, failed = events
    assert ev.format == "otel" and ev.request_id == "chatcmpl-otel-1"
    assert ev.ts == pytest.approx(1767225600.0) and ev.latency_ms == pytest.approx(1250.0)
    assert ev.model == "gpt-4o"
    assert ev.prompt_tokens == 97 and ev.completion_tokens == 52
    assert ev.params.temperature == 0.2 and ev.params.max_tokens == 300 and ev.params.n == 2
    assert ev.end_user == "customer-12" and ev.user == "customer-12"
    assert ev.ip == "192.0.2.44"
    assert _roles(ev) == ["system", "user", "assistant", "tool"]
    assert ev.messages[0].content == ts.SYSTEM
    assert ev.messages[2].content == 'get_weather({"city":"Paris"})'
    assert ts.TOOL_OUTPUT in ev.messages[3].content
    assert ev.response == "Rainy, 12 C."
    assert ev.status == "success"
    assert failed.status == "failure" and failed.model == "gpt-4o-mini"
    assert failed.latency_ms == pytest.approx(30000.0)
    # parse_line gives the first span of a batch.
    first = parse_line(line)
    assert isinstance(first, TelemetryEvent) and first.request_id == "chatcmpl-otel-1"


def test_otel_older_conventions_indexed_sdk_json() -> None:
    ev = normalize(ts.otel_legacy_sdk_span())
    assert ev.format == "otel"
    assert ev.request_id == "0x1a2b3c4d5e6f7081"
    assert ev.ts == pytest.approx(1767258000.0) and ev.latency_ms == pytest.approx(800.0)
    assert ev.model == "gpt-3.5-turbo"
    assert ev.prompt_tokens == 41 and ev.completion_tokens == 6
    assert ev.params.temperature == 1.0 and ev.params.max_tokens == 64
    assert ev.params.stream is True
    assert _roles(ev) == ["system", "user", "tool"]
    assert ev.messages[2].content == ts.TOOL_OUTPUT
    assert ev.response == "I can't share that."
    assert ev.key == ts.KEY_HASH and ev.team == "team-support"
    assert ev.key_alias == "svc-support-bot"


def test_otel_older_conventions_json_prompt() -> None:
    ev = normalize(ts.otel_prompt_json_span())
    assert ev.messages == (Message("user", "Write a haiku"),)
    assert ev.response == "Autumn moon rises"
    assert ev.prompt_tokens == 12 and ev.completion_tokens == 5
    assert ev.latency_ms == pytest.approx(500.0)


def test_otel_span_events_and_flat_attributes() -> None:
    span = {"spanId": "s1", "name": "chat", "start_time": "2026-01-01T00:00:00Z",
            "attributes": {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4"},
            "events": [{"name": "gen_ai.content.prompt",
                        "attributes": {"gen_ai.prompt": '[{"role":"user","content":"hi"}]'}},
                       {"name": "gen_ai.content.completion",
                        "attributes": {"gen_ai.completion": '[{"role":"assistant",'
                                                            '"content":"hello"}]'}}]}
    ev = normalize(span)
    assert ev.messages == (Message("user", "hi"),) and ev.response == "hello"
    flat = {"gen_ai.request.model": "m", "gen_ai.prompt": "plain text prompt",
            "gen_ai.usage.input_tokens": "7", "timestamp": 1767225600123}
    ev = normalize(flat)
    assert ev.format == "otel" and ev.prompt_tokens == 7
    assert ev.messages == (Message("user", "plain text prompt"),)
    assert ev.ts == pytest.approx(1767225600.123)


def test_otel_without_genai_spans_is_skipped() -> None:
    rec = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"spanId": "1", "name": "GET /", "attributes": [
            {"key": "http.request.method", "value": {"stringValue": "GET"}}]},
        {"spanId": "2", "name": "execute_tool", "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}}]}]}]}]}
    r = parse_line(orjson.dumps(rec), origin="o", lineno=3)
    assert isinstance(r, Skipped) and r.line == 3 and "GenAI" in r.reason


def test_langfuse_generation() -> None:
    ev = normalize(ts.langfuse_generation())
    assert ev.format == "langfuse" and ev.request_id == "obs-7f3a"
    assert ev.ts == pytest.approx(1767341700.0) and ev.latency_ms == pytest.approx(3000.0)
    assert ev.model == "claude-3-5-sonnet"
    assert ev.params == RequestParams(temperature=0.0, max_tokens=8192, top_logprobs=5,
                                      stream=False)
    assert ev.prompt_tokens == 512 and ev.completion_tokens == 64
    assert ev.cost == pytest.approx(0.00246)
    assert ev.end_user == "customer-31" and ev.key == ts.KEY_HASH
    assert ev.team == "team-support" and ev.ip == "203.0.113.9"
    # An Anthropic tool_result block inside a user message becomes a "tool" message.
    assert _roles(ev) == ["system", "user", "tool"]
    assert ev.messages[2].content == ts.TOOL_OUTPUT
    assert ev.response == "The ticket reports a login failure."


def test_langfuse_error_level_and_string_columns() -> None:
    rec = ts.langfuse_generation()
    rec.update(level="ERROR", input="just a prompt", usage=None,
               usageDetails={"promptTokens": 3, "completionTokens": 0})
    del rec["costDetails"]
    rec["calculatedTotalCost"] = 0.5
    ev = normalize(rec)
    assert ev.status == "failure" and ev.messages == (Message("user", "just a prompt"),)
    assert ev.prompt_tokens == 3 and ev.cost == 0.5


def test_langfuse_span_is_not_a_model_call() -> None:
    r = parse_line(orjson.dumps(ts.langfuse_span()), origin="lf", lineno=4)
    assert isinstance(r, Skipped) and "SPAN observation is not a model call" in r.reason


def test_openai_chat_log_keeps_no_raw_key() -> None:
    line = orjson.dumps(ts.openai_chat_log())
    ev = parse_line(line)
    assert isinstance(ev, TelemetryEvent) and ev.format == "openai"
    assert ev.key == ts.RAW_KEY_SHA256
    assert ts.RAW_KEY not in repr(ev) and ts.RAW_KEY[3:] not in repr(ev)
    assert ev.ip == "198.51.100.7"
    assert ev.user == "user-5531" == ev.end_user
    assert ev.ts == pytest.approx(1767441600.0) and ev.latency_ms == 812.5
    assert ev.params == RequestParams(temperature=1.3, max_tokens=1024, n=5, logprobs=True,
                                      top_logprobs=10, logit_bias_size=1)
    assert _roles(ev) == ["developer", "user", "tool"]  # legacy "function" is tool output
    assert ev.messages[2].name == "search"
    assert ev.response == "Salut !\nBonjour !"
    assert ev.prompt_tokens == 30 and ev.completion_tokens == 8
    assert ev.request_id == "chatcmpl-oa-1"


def test_openai_responses_api() -> None:
    ev = normalize(ts.openai_responses_log())
    assert ev.format == "openai"
    assert _roles(ev) == ["system", "user", "assistant", "tool"]
    assert ev.messages[1].content == "Check my calendar"
    assert ev.messages[2].content == "calendar({})"
    assert ev.messages[3].content == ts.TOOL_OUTPUT
    assert ev.response == "You are free at 3pm."
    assert ev.params.max_tokens == 200
    assert ev.prompt_tokens == 77 and ev.completion_tokens == 9
    assert ev.ts == pytest.approx(1767441700.0)


def test_openai_batch_output_error() -> None:
    ev = normalize(ts.openai_batch_output())
    assert ev.status == "failure" and ev.request_id == "batch_req_1"


@pytest.mark.parametrize(("builder", "fmt"), [
    (ts.litellm_standard, "litellm"), (ts.litellm_spend_log, "litellm"),
    (ts.otel_otlp_batch, "otel"), (ts.otel_legacy_sdk_span, "otel"),
    (ts.otel_prompt_json_span, "otel"), (ts.langfuse_generation, "langfuse"),
    (ts.openai_chat_log, "openai"), (ts.openai_responses_log, "openai"),
    (ts.openai_batch_output, "openai"),
])
def test_detect_format(builder, fmt: str) -> None:
    assert detect_format(builder()) == fmt
    assert normalize_all(builder(), fmt)  # an explicit, matching format works too


def test_detect_unknown_and_explicit_mismatch() -> None:
    assert detect_format({"hello": "world"}) is None
    r = parse_line(b'{"hello": "world", "n": 1}', origin="x", lineno=9)
    assert isinstance(r, Skipped) and r.reason.startswith("unknown format")
    assert "hello" in r.reason
    r = parse_line(orjson.dumps(ts.litellm_standard()), "otel")
    assert isinstance(r, Skipped) and "looks like litellm, not otel" in r.reason
    with pytest.raises(ValueError, match="unknown format name"):
        normalize({"a": 1}, "splunk")


def test_string_lines_and_python_json_quirks() -> None:
    rec = ts.litellm_standard()
    rec["response_cost"] = float("nan")
    line = json.dumps(rec)  # Python's json writes NaN; orjson alone would refuse it
    ev = parse_line(line)
    assert isinstance(ev, TelemetryEvent) and ev.cost is None


def test_events_are_plain_model_instances() -> None:
    ev = normalize(ts.litellm_standard())
    assert type(ev) is TelemetryEvent and type(ev.messages[0]) is Message
    assert type(ev.params) is RequestParams
    rebuilt = TelemetryEvent(**{f.name: getattr(ev, f.name)
                                for f in dataclasses.fields(TelemetryEvent)})
    assert rebuilt == ev
    assert dataclasses.replace(ev, model="x").model == "x"


def test_positional_construction_matches_model_field_order() -> None:
    # The normalizers build events positionally (for speed); this pins the order.
    assert [f.name for f in dataclasses.fields(TelemetryEvent)][:20] == [
        "request_id", "ts", "format", "model", "key", "user", "team", "ip", "messages",
        "response", "prompt_tokens", "completion_tokens", "cost", "params", "status",
        "latency_ms", "origin", "line", "key_alias", "end_user"]
    assert [f.name for f in dataclasses.fields(RequestParams)] == [
        "temperature", "max_tokens", "n", "logprobs", "top_logprobs", "logit_bias_size",
        "stream"]


def test_identities_are_bounded_and_distinct() -> None:
    a, b = ts.litellm_standard(), ts.litellm_standard()
    a["end_user"] = "x" * 100_000 + "a"
    b["end_user"] = "x" * 100_000 + "b"
    ea, eb = normalize(a), normalize(b)
    assert ea.end_user is not None and eb.end_user is not None
    assert len(ea.end_user) <= 256 and ea.end_user != eb.end_user


def test_raw_key_in_litellm_metadata_is_hashed() -> None:
    rec = ts.litellm_standard()
    rec["metadata"]["user_api_key_hash"] = None
    rec["metadata"]["user_api_key"] = ts.RAW_KEY
    ev = normalize(rec)
    assert ev.key == ts.RAW_KEY_SHA256 and ts.RAW_KEY not in repr(ev)


@pytest.mark.parametrize("content", [
    None, 42, True, {"type": "text", "text": "t"}, [["nested"]], [{"weird": 1}],
    [{"type": "tool_result", "content": {"k": "v"}}], "",
])
def test_odd_message_contents_never_fail(content: object) -> None:
    rec = ts.litellm_standard()
    rec["messages"] = [{"role": "user", "content": content}, {"role": ["x"]}, "bare", 5]
    ev = normalize(rec)
    assert isinstance(ev, TelemetryEvent)


def test_hostile_names_are_safe_in_reasons_and_indexes() -> None:
    r = parse_line(orjson.dumps({"type": "\x1b]8;;http://evil\x07X", "traceId": "t",
                                 "startTime": "2026-01-01T00:00:00Z"}), "langfuse")
    assert isinstance(r, Skipped) and "\x1b" not in r.reason and "\\e" in r.reason
    r = parse_line(orjson.dumps({"\x1b[31mred": 1, "b\u202e": 2}))
    assert isinstance(r, Skipped) and "\x1b" not in r.reason and "\u202e" not in r.reason
    span = ts.otel_legacy_sdk_span()
    span["attributes"]["gen_ai.prompt.\u00b2.content"] = "superscript index"
    ev = normalize(span)
    assert all("superscript" not in m.content for m in ev.messages)
