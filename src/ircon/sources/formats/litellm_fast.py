"""LiteLLM ``standard_logging_object`` lines decoded straight into typed structs.

The bulk of gateway telemetry is LiteLLM callback records, and for them the generic path
(``orjson.loads`` to dicts, then ``litellm.to_events``) spends most of its time building
dicts and looking keys up in them. Here msgspec decodes only the fields ircon reads into
``Struct``s (every other field is skipped without building objects) and the event is
built from attribute reads.

Correctness rests on one rule: this path either returns exactly the event the generic
path would return for the same line, or ``None``, and the caller then runs the generic
path. Anything that is not a plain, well-typed record is refused rather than handled:

* fields are typed as what orjson would produce (``_Scalar``), so a value of another
  shape fails validation; integers outside int64 are refused too, because orjson decodes
  them as floats where msgspec keeps them exact;
* lines msgspec rejects (invalid UTF-8 or lone surrogates in a field read here, NaN,
  1e400, nesting deeper than msgspec allows) go to the generic path, which repairs what
  it can and reports the rest;
* format detection mirrors ``litellm.looks_like`` (key presence, via ``UNSET``), and
  ``LiteLLM_SpendLogs`` rows are left to the generic path;
* ``messages`` and ``response`` are kept raw: a typed decode handles plain chat
  messages and single-choice answers, anything else is decoded with orjson and given
  to the generic ``messages_of`` / ``response_text``.

``_event`` mirrors ``litellm._standard`` statement by statement; keep the two in step
(tests/test_telemetry_fast*.py check that both give equal events).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
import orjson
from msgspec import UNSET, Raw, Struct, UnsetType

from ircon.model.telemetry import Message, RequestParams, TelemetryEvent
from ircon.sources.formats import _common
from ircon.sources.formats._common import (
    _NO_PARAMS,
    _ROLES,
    EPOCH_S_MAX,
    ID_MAX,
    as_bool,
    as_float,
    loads_embedded,
    messages_of,
    response_text,
    safe_key,
)
from ircon.sources.formats.litellm import _status

# Where ``_standard`` has an inline check for the documented type (its fast branch), the
# field is declared with that check as the type, so the decode itself does it; a value
# the check would refuse fails validation and the line goes to the generic path, whose
# converters handle it. JSON integers are accepted for floats (msgspec converts them as
# ``as_float``/``as_ts`` do).
_Id = Annotated[str, msgspec.Meta(max_length=ID_MAX)] | None  # len() in code points
_Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | None
_EpochS = Annotated[float, msgspec.Meta(gt=0.0, lt=EPOCH_S_MAX)] | None
# Fields read through a converter: what orjson gives for a JSON scalar. Integers beyond
# int64 fail validation (orjson would decode them as floats).
_Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_Scalar = _Int | float | str | bool | None


# Fields are declared in the order LiteLLM writes them: msgspec looks a key up starting
# after the field matched last, so payload order makes most lookups hit at once.


class _Meta(Struct, gc=False):
    user_api_key_hash: _Id = None
    user_api_key: _Id = None
    user_api_key_alias: _Id = None
    user_api_key_team_id: _Id = None
    user_api_key_user_id: _Id = None
    user_api_key_team_alias: _Id = None
    user_api_key_end_user_id: _Id = None
    requester_ip_address: _Id = None


class _Params(Struct, gc=False):
    temperature: float | None = None  # finite, as ``as_float`` would return it
    max_tokens: _Count = None
    # ``params_of`` reads these with ``dict.get(k, default)``: present-but-null stops the
    # fallback chain, so presence is kept apart from null.
    max_completion_tokens: _Count | UnsetType = UNSET
    max_output_tokens: _Count | UnsetType = UNSET
    max_new_tokens: _Count = None
    n: _Count = None
    logprobs: _Scalar = None  # a bool, or a count in legacy completions
    top_logprobs: _Count = None
    logit_bias: Any = None  # only its size is kept
    stream: bool | None = None


class _Msg(Struct, gc=False):
    role: str | None = None
    content: str | None = None
    name: str | None = None
    tool_calls: Raw | UnsetType = UNSET  # presence only: such messages are not plain
    function_call: Raw | UnsetType = UNSET


class _AnswerMsg(Struct, gc=False):
    content: str | None = None
    tool_calls: Any = None  # only truth values are read
    function_call: Any = None


class _Choice(Struct, gc=False):
    message: _AnswerMsg | None = None


class _Answer(Struct, gc=False):
    choices: list[_Choice] | UnsetType = UNSET


class _Record(Struct, gc=False):
    id: _Id = None
    litellm_call_id: _Id = None
    call_type: Raw | UnsetType = UNSET  # presence only (format detection)
    response_cost: float | None = None  # always finite: msgspec refuses 1e400
    status: _Scalar = None
    prompt_tokens: _Count = None
    completion_tokens: _Count = None
    startTime: _EpochS | UnsetType = UNSET
    endTime: _EpochS = None
    response_time: _Scalar = None
    model: _Id = None
    model_group: _Id = None
    metadata: _Meta | None = None
    end_user: _Id = None
    requester_ip_address: _Id = None
    messages: list[_Msg] | UnsetType | None = UNSET
    response: _Answer | str | UnsetType | None = UNSET
    error_str: Any = None  # only its truth value is read
    model_parameters: _Params | UnsetType | None = UNSET
    # Markers of a LiteLLM_SpendLogs row: left to the generic path.
    spend: Raw | UnsetType = UNSET
    api_key: Raw | UnsetType = UNSET
    request_id: Raw | UnsetType = UNSET
    standard_logging_object: _Record | UnsetType | None = UNSET


class _RawRecord(_Record, gc=False):
    """The same record with ``messages`` and ``response`` kept as raw JSON, for records
    whose messages or answer are not plain (tool calls, content parts, many choices)."""

    messages: Raw | UnsetType = UNSET  # type: ignore[assignment]
    response: Raw | UnsetType = UNSET  # type: ignore[assignment]
    standard_logging_object: _RawRecord | UnsetType | None = UNSET


class _NotPlain(Exception):
    """Messages or answer of a shape the typed decode does not cover."""


_decode_plain = msgspec.json.Decoder(_Record).decode
_decode_raw = msgspec.json.Decoder(_RawRecord).decode
_decode_messages = msgspec.json.Decoder(list[_Msg] | None).decode
_decode_answer = msgspec.json.Decoder(_Answer | str | None).decode
_DecodeError = msgspec.DecodeError
_ValidationError = msgspec.ValidationError
# Where msgspec says a validation failed: "... - at `$.messages[1].content`".
_IN_MESSAGES_OR_ANSWER = re.compile(
    r"`\$(?:\.standard_logging_object)?\.(?:messages|response)[.\[`]")
_NO_META = _Meta()


def event(line: bytes | str, origin: str, lineno: int) -> TelemetryEvent | None:
    """The event of a LiteLLM standard logging line, or None when this path does not
    apply (another format, a spend-log row, odd types or shapes, JSON msgspec refuses).
    Never raises."""
    # First with messages and answer typed (plain chat traffic); if they are of another
    # shape, once more with both raw (the rest has to be plain).
    try:
        return _event(_decode_plain(line), origin, lineno)
    except _NotPlain:
        return _event_raw(line, origin, lineno)
    except _ValidationError as e:
        # Only a message or the answer being of another shape is worth a second decode;
        # any other refusal would recur (only a cost question: both paths are exact).
        if _IN_MESSAGES_OR_ANSWER.search(str(e)):
            return _event_raw(line, origin, lineno)
        return None
    except Exception:  # whatever the cause: the generic path decides
        return None


def _event_raw(line: bytes | str, origin: str, lineno: int) -> TelemetryEvent | None:
    try:
        return _event(_decode_raw(line), origin, lineno)
    except Exception:  # whatever the cause: the generic path decides
        return None


def _event(r: _Record, origin: str, line: int) -> TelemetryEvent | None:
    # Format detection as ``litellm.looks_like`` + ``to_events`` do it, on key presence.
    slo = r.standard_logging_object
    if slo is UNSET:
        if r.call_type is UNSET or (r.startTime is UNSET and r.model_parameters is UNSET):
            return None
    elif slo is not None:
        r = slo
    if r.spend is not UNSET or r.api_key is not UNSET or r.request_id is not UNSET:
        return None

    # From here statement for statement ``litellm._standard``; see there for the reasons.
    meta = r.metadata
    if meta is None:
        meta = _NO_META
    # The declared types did the inline checks of ``_standard``; what is left is its
    # handling of null, empty and missing values.
    start = r.startTime
    if start is UNSET:
        start = None
    end = r.endTime
    if start is not None and end is not None and end >= start:
        lat: float | None = (end - start) * 1000.0
    else:
        rt = as_float(r.response_time)
        lat = rt * 1000.0 if rt is not None and rt >= 0 else None
    status: Any = r.status
    if status != "success" and status != "failure":
        status = _status(status, r.error_str)
    # ``x or y`` then ``as_id``: an empty string counts as missing.
    end_user = r.end_user or meta.user_api_key_end_user_id or None
    key = meta.user_api_key_hash or meta.user_api_key
    if key is not None and not key.isalnum():
        key = safe_key(key)

    # Plain chat messages (string content, a known role, no tool calls) and a one-choice
    # answer are read here; other shapes raise _NotPlain (typed decode) or go through
    # the generic helpers (raw decode).
    ms: Any = r.messages
    if type(ms) is list:
        messages: tuple[Message, ...] = _plain(ms)
    elif ms is UNSET or ms is None:
        messages = ()
    else:
        messages = _raw_messages(ms)
    a: Any = r.response
    if type(a) is _Answer:
        choices = a.choices
        if type(choices) is not list or len(choices) != 1:
            raise _NotPlain
        msg = choices[0].message
        if msg is None:
            raise _NotPlain
        response = msg.content
        if response is None or msg.tool_calls or msg.function_call:
            raise _NotPlain
    elif type(a) is str:
        response = a
    elif a is UNSET or a is None:
        response = ""
    else:
        response = _raw_response(a)

    return TelemetryEvent(
        r.id or r.litellm_call_id or f"{origin}:{line}",
        start if start is not None else (end if end is not None else _common.now()),
        "litellm", r.model or r.model_group or None, key,
        meta.user_api_key_user_id or end_user,
        meta.user_api_key_team_id or meta.user_api_key_team_alias or None,
        r.requester_ip_address or meta.requester_ip_address or None, messages, response,
        r.prompt_tokens, r.completion_tokens, r.response_cost, _params(r.model_parameters),
        status, lat, origin, line, meta.user_api_key_alias or None, end_user,
    )


def _plain(ms: list[Any]) -> tuple[Message, ...]:
    """Typed messages (``_Msg``) as ``Message``s; ``_NotPlain`` for any shape the generic path
    must read (no text content, an unknown role, tool or function calls)."""
    out: list[Message] = []
    for m in ms:
        c = m.content
        role = _ROLES.get(m.role)
        if c is None or role is None or m.tool_calls is not UNSET \
                or m.function_call is not UNSET:
            raise _NotPlain
        out.append(Message(role, c, m.name or None))
    return tuple(out)


def _raw_messages(raw: Raw) -> tuple[Message, ...]:
    """Messages kept raw: plain ones by the typed decode, any other shape the generic
    way, from the same JSON."""
    try:
        ms = _decode_messages(raw)
        if ms is None:
            return ()
        return _plain(ms)
    except (_DecodeError, _NotPlain):
        return messages_of(orjson.loads(memoryview(raw)))


def _raw_response(raw: Raw) -> str:
    try:
        a = _decode_answer(raw)
        if a is None:
            return ""
        if type(a) is str:
            return a
        choices = a.choices
        if type(choices) is list and len(choices) == 1:
            msg = choices[0].message
            if msg is not None:
                c = msg.content
                if c is not None and not msg.tool_calls and not msg.function_call:
                    return c
    except _DecodeError:
        pass
    return response_text(orjson.loads(memoryview(raw)))


def _params(p: Any) -> RequestParams:
    # ``params_of`` with the type checks done by the decode; an empty object gives
    # all-None values, which equal ``_NO_PARAMS``.
    if p is None or p is UNSET:
        return _NO_PARAMS
    max_tokens: Any = p.max_tokens
    if max_tokens is None:
        max_tokens = p.max_completion_tokens
        if max_tokens is UNSET:
            max_tokens = p.max_output_tokens
            if max_tokens is UNSET:
                max_tokens = p.max_new_tokens
    lp = p.logprobs
    top = p.top_logprobs
    if lp is None or type(lp) is bool:
        logprobs = lp
    elif type(lp) is int:
        logprobs = lp > 0
        if top is None and lp > 0:
            top = lp  # legacy completions: logprobs=N asks for the top N
    else:
        logprobs = as_bool(lp)
    lb = p.logit_bias
    if type(lb) is str:
        lb = loads_embedded(lb)
    return RequestParams(p.temperature, max_tokens, p.n,
                         logprobs, top, len(lb) if type(lb) is dict else 0,
                         p.stream)
