"""The typed LiteLLM decode (``formats/litellm_fast``) against the generic path.

The typed path must either give exactly the event the generic path gives for the same
line, or decline (None) so that the generic path runs. Events are compared by ``repr``,
which also tells ``1`` from ``1.0`` and ``0.0`` from ``-0.0``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ircon.model.telemetry import TelemetryEvent
from ircon.sources.formats import _common, langfuse, openai, otel
from ircon.sources.formats import litellm as litellm_mod
from ircon.sources.formats import litellm_fast as fast
from ircon.sources.telemetry import Skipped, _parse_generic, parse_line, parse_line_all
from tests import telemetry_support as ts

NOW = 1_767_000_000.5
FORMATS = ("auto", "litellm", "otel", "openai", "langfuse")
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def fixed_now() -> Iterator[None]:
    """Records without usable times are stamped with the reading time; pin it so that
    the two paths can be compared."""
    with ExitStack() as stack:
        for mod in (_common, litellm_mod, langfuse, openai, otel):
            stack.enter_context(mock.patch.object(mod, "now", lambda: NOW))
        yield


def generic(line: bytes | str, fmt: str = "auto") -> TelemetryEvent | Skipped:
    r = _parse_generic(line, fmt, "f.jsonl", 7)
    return r[0] if type(r) is list else r  # type: ignore[return-value]


def agree(line: bytes | str) -> TelemetryEvent | None:
    """The typed event of ``line`` (None when declined), after checking it equals the
    generic path's result, and that ``parse_line`` gives that same result for every
    format name."""
    with fixed_now():
        ev = fast.event(line, "f.jsonl", 7)
        want = generic(line)
        if ev is not None:
            assert isinstance(want, TelemetryEvent), want
            assert repr(ev) == repr(want)
        for fmt in FORMATS:
            got = parse_line(line, fmt, origin="f.jsonl", lineno=7)
            assert repr(got) == repr(generic(line, fmt)), fmt
            all_ = parse_line_all(line, fmt, origin="f.jsonl", lineno=7)
            want_all = _parse_generic(line, fmt, "f.jsonl", 7)
            assert repr(all_) == repr(want_all), fmt
    return ev


def plain_record(i: int = 1) -> dict[str, Any]:
    """A standard logging record with plain chat messages and a one-choice answer, the
    shape the typed decode reads without falling back to raw messages."""
    rec = ts.litellm_standard()
    rec["messages"] = [{"role": "system", "content": ts.SYSTEM},
                       {"role": "user", "content": f"Where is my order {i}?"},
                       {"role": "tool", "tool_call_id": "c1", "content": ts.TOOL_OUTPUT,
                        "name": "lookup"}]
    return rec


def takes_plain_decode(line: bytes) -> bool:
    """Whether the first, fully typed decode produced the event (no raw fallback)."""
    try:
        return fast._event(fast._decode_plain(line), "f.jsonl", 7) is not None
    except Exception:
        return False


# --- every record shape of the test support module -----------------------------------------

BUILDERS: list[Callable[[], dict[str, Any]]] = [
    ts.litellm_standard, ts.litellm_failure, ts.litellm_spend_log, ts.otel_otlp_batch,
    ts.otel_legacy_sdk_span, ts.otel_prompt_json_span, ts.langfuse_generation,
    ts.langfuse_span, ts.openai_chat_log, ts.openai_responses_log, ts.openai_batch_output,
    plain_record,
]
LITELLM_STANDARD = {ts.litellm_standard, ts.litellm_failure, plain_record}


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_every_support_shape_agrees(builder: Callable[[], dict[str, Any]]) -> None:
    rec = builder()
    for line in (orjson.dumps(rec), orjson.dumps({"standard_logging_object": rec}),
                 orjson.dumps(rec).decode()):
        ev = agree(line)
        if builder in LITELLM_STANDARD:
            assert ev is not None, "the typed path declined a standard logging record"
        elif builder is ts.litellm_spend_log or b"standard_logging_object" not in (
                line if isinstance(line, bytes) else line.encode()):
            assert ev is None  # other formats and spend-log rows are left alone


def test_plain_records_take_the_typed_decode() -> None:
    line = orjson.dumps(plain_record())
    assert takes_plain_decode(line)
    ev = agree(line)
    assert ev is not None and [m.role for m in ev.messages] == ["system", "user", "tool"]
    assert ev.messages[2].name == "lookup"
    assert ev.response == "Your order 7731 has shipped."
    # Tool calls and content parts: the raw decode, with the generic message reader.
    line = orjson.dumps(ts.litellm_standard())
    assert not takes_plain_decode(line)
    ev = agree(line)
    assert ev is not None and "lookup_order(" in ev.prompt_text


def test_detection_follows_key_presence() -> None:
    rec = plain_record()
    del rec["startTime"]
    assert agree(orjson.dumps(rec)) is not None  # model_parameters still marks LiteLLM
    del rec["model_parameters"]
    assert agree(orjson.dumps(rec)) is None
    rec["startTime"] = None  # present, even if null
    assert agree(orjson.dumps(rec)) is not None
    del rec["call_type"]
    assert agree(orjson.dumps(rec)) is None
    for marker in ("spend", "api_key", "request_id"):
        rec = plain_record()
        rec[marker] = None
        assert agree(orjson.dumps(rec)) is None
        assert agree(orjson.dumps({"standard_logging_object": rec})) is None
    # A null wrapper leaves the outer object as the record.
    assert agree(orjson.dumps({**plain_record(), "standard_logging_object": None})) is not None
    assert agree(orjson.dumps({"standard_logging_object": [1]})) is None


@pytest.mark.parametrize("raw", [
    b'"\\ud800"', b'"\xff"', b'"\xed\xa0\x80"', b"1e400", b"-1e400", b"NaN", b"Infinity",
    b"123456789012345678901234567890", b"18446744073709551615", b"-9223372036854775809",
    b"9223372036854775808", b"1.0", b"-0.0", b"0", b"-1", b"true", b'""', b'"  "', b"[]",
    b"{}", b'{"role":"user"}', b'"1767225600"', b'"2026-01-01T00:00:00Z"',
    b"[" * 1100 + b"]" * 1100,
])
@pytest.mark.parametrize("field", [
    "id", "startTime", "endTime", "model", "prompt_tokens", "response_cost", "status",
    "end_user", "messages", "response", "metadata", "model_parameters", "error_str",
    "response_time", "unrelated",
])
def test_odd_json_values_agree(field: str, raw: bytes) -> None:
    line = orjson.dumps(plain_record())
    assert line.startswith(b"{")
    agree(b"{" + orjson.dumps(field) + b":" + raw + b"," + line[1:])  # first occurrence
    agree(line[:-1] + b"," + orjson.dumps(field) + b":" + raw + b"}")  # last one wins


EDGE_VALUES: list[Any] = [
    "", " ", None, 0, -1, 1, 7.0, -0.0, 0.5, True, False, 2**63 - 1, 2**63, 2**64, -(2**63) - 1,
    10**30, 1e300, 5e-324, 1e11, 99_999_999_999, 1_767_225_600_000, "1767225600",
    "2026-01-01T00:00:00", "12", "x" * 256, "x" * 257, "é" * 256, "sk-live-1", "Bearer t",
    "abc-def", "USER", "human", "user", "success", "ERROR", [], {}, [1], {"a": 1},
    [{"type": "text", "text": "hi"}], '{"1": 2}',
]
_ANSWER_PATH = ("response", "choices", 0, "message")


def _paths() -> list[tuple[Any, ...]]:
    paths: list[tuple[Any, ...]] = [(k,) for k in TOP if k != "call_type"]
    paths += [("metadata", k) for k in META]
    paths += [("model_parameters", k) for k in PARAMS]
    paths += [("messages", i, k) for i in (0, 2) for k in MSG]
    paths += [(*_ANSWER_PATH, k) for k in ANSWER]
    paths += [("response", "choices"), ("response", "choices", 0)]
    return paths


def test_edge_values_in_every_field_agree() -> None:
    """Each value at each field the typed path reads, set and (for dict members) dropped;
    integers beyond 64 bits, empty strings, bounds of the declared types."""
    base = plain_record()
    typed = 0
    for path in _paths():
        for value in [*EDGE_VALUES, KeyError]:
            rec = copy.deepcopy(base)
            parent = rec
            for k in path[:-1]:
                parent = parent[k]
            if value is KeyError:
                if not isinstance(parent, dict):
                    continue
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = value
            line = json.dumps(rec, ensure_ascii=False).encode()
            typed += agree(line) is not None
    assert typed > len(_paths()) * len(EDGE_VALUES) // 3


def test_empty_identities_at_both_places_are_missing() -> None:
    for empty in ("", None):
        rec = plain_record()
        rec.update(id=empty, litellm_call_id=empty, model=empty, model_group=empty,
                   end_user=empty, requester_ip_address=empty)
        for k in META:
            rec["metadata"][k] = empty
        ev = agree(orjson.dumps(rec))
        assert ev is not None and ev.request_id == "f.jsonl:7"
        assert (ev.model, ev.key, ev.user, ev.team, ev.ip, ev.key_alias, ev.end_user) \
            == (None,) * 7


# --- hypothesis: wrong types, missing fields, odd nesting ----------------------------------

SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.floats(min_value=1e9, max_value=2e18) | st.integers(0, 2**63 + 5)
           | st.text(max_size=12) | st.text(min_size=250, max_size=260)
           | st.sampled_from(["", "success", "failure", "Error", "user", "system", "tool",
                              "human", "USER", "sk-live-abc", "Bearer abc", "1767225600.5",
                              "2026-01-01T00:00:00Z", "[1,2]", '{"a":1}', "true", "-3"]))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["role", "content", "name", "type", "text", "tool_calls",
                         "function_call", "choices", "message", "1", "x"]),
        inner, max_size=4),
    max_leaves=12,
)
TOP = ["id", "litellm_call_id", "call_type", "startTime", "endTime", "response_time",
       "model", "model_group", "metadata", "end_user", "requester_ip_address", "messages",
       "response", "prompt_tokens", "completion_tokens", "response_cost", "status",
       "error_str", "model_parameters", "spend", "api_key", "request_id"]
META = ["user_api_key_hash", "user_api_key", "user_api_key_alias", "user_api_key_team_id",
        "user_api_key_team_alias", "user_api_key_user_id", "user_api_key_end_user_id",
        "requester_ip_address"]
PARAMS = ["temperature", "max_tokens", "max_completion_tokens", "max_output_tokens",
          "max_new_tokens", "n", "logprobs", "top_logprobs", "logit_bias", "stream"]
MSG = ["role", "content", "name", "tool_calls", "function_call"]
ANSWER = ["content", "tool_calls", "function_call"]


def _mutate(d: dict[str, Any], keys: list[str], data: st.DataObject, label: str) -> None:
    for k in data.draw(st.lists(st.sampled_from(keys), max_size=3, unique=True),
                       label=f"{label} replaced"):
        d[k] = data.draw(VALUES, label=f"{label}.{k}")
    for k in data.draw(st.lists(st.sampled_from(keys), max_size=3, unique=True),
                       label=f"{label} dropped"):
        d.pop(k, None)


@SETTINGS
@given(st.data())
def test_mutated_records_agree(data: st.DataObject) -> None:
    rec = copy.deepcopy(data.draw(st.sampled_from(
        [plain_record(), ts.litellm_standard(), ts.litellm_failure()]), label="base"))
    _mutate(rec, TOP, data, "record")
    for field, keys in (("metadata", META), ("model_parameters", PARAMS)):
        if isinstance(rec.get(field), dict) and data.draw(st.booleans(), label=field):
            _mutate(rec[field], keys, data, field)
    msgs = rec.get("messages")
    if isinstance(msgs, list) and msgs and data.draw(st.booleans(), label="messages"):
        i = data.draw(st.integers(0, len(msgs) - 1), label="message")
        if isinstance(msgs[i], dict):
            _mutate(msgs[i], MSG, data, f"messages[{i}]")
    resp = rec.get("response")
    if isinstance(resp, dict) and data.draw(st.booleans(), label="response"):
        choices = resp.get("choices")  # may itself be a mutated value of any type
        choice = choices[0] if isinstance(choices, list) and choices else None
        if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
            _mutate(choice["message"], ANSWER, data, "answer")
        if data.draw(st.booleans(), label="two choices"):
            resp["choices"] = [choice, choice]
    if data.draw(st.booleans(), label="wrapped"):
        rec = {"standard_logging_object": rec, "kwargs": data.draw(VALUES)}
    # The standard library writes integers of any size (orjson stops at 64 bits).
    agree(json.dumps(rec, ensure_ascii=False).encode())


@SETTINGS
@given(st.sampled_from([*TOP, "standard_logging_object"]), st.binary(max_size=12),
       st.booleans())
def test_spliced_bytes_agree(field: str, raw: bytes, last: bool) -> None:
    """Arbitrary bytes as a field's value: mostly invalid JSON, sometimes odd JSON."""
    line = orjson.dumps(plain_record())
    key = orjson.dumps(field)
    agree(line[:-1] + b"," + key + b":" + raw + b"}" if last
          else b"{" + key + b":" + raw + b"," + line[1:])


def test_mutations_mostly_take_the_typed_path() -> None:
    """The comparisons above are not vacuous: ordinary variations stay on the typed path."""
    taken = 0
    for i in range(50):
        rec = plain_record(i)
        rec["model_parameters"] = {"temperature": i % 3, "max_tokens": None,
                                   "max_completion_tokens": 100 + i, "logprobs": i % 2,
                                   "stream": bool(i % 2)}
        rec["prompt_tokens"] = None if i % 5 == 0 else i
        rec["startTime"] = 1_767_225_600 + i  # an integer epoch
        rec["metadata"]["user_api_key_hash"] = ts.RAW_KEY if i % 4 == 0 else ts.KEY_HASH
        if i % 3 == 0:
            rec["response"] = "plain completion text"
        taken += agree(orjson.dumps(rec)) is not None
    assert taken == 50
