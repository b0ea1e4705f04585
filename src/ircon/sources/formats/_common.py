"""Conversions shared by the format modules: numbers, times, identities, messages.

Every value here comes from a log line an attacker may have shaped (prompts,
``user`` params, metadata), so converters accept any JSON type and return
``None`` (or an empty string) rather than raising, and strings used as
identities are bounded.
"""

from __future__ import annotations

import hashlib
import math
import time
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from ircon.model.telemetry import Message, RequestParams, Role

T = TypeVar("T")

def message(role: Role, content: str, name: str | None = None) -> Message:
    return Message(role, content, name)


# --- scalars ------------------------------------------------------------------------------

ID_MAX = 256  # identities (keys, users, IPs, models) become dict keys in the detectors


def as_id(v: Any) -> str | None:
    """A bounded identity string; over-long values keep a prefix plus a digest so that
    distinct long values stay distinct."""
    t = type(v)
    if t is str:
        if not v:
            return None
        if len(v) <= ID_MAX:
            return v
        digest = hashlib.sha256(v.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return f"{v[:ID_MAX - 18]}~{digest}"
    if t is int:
        return str(v)
    return None


def safe_key(v: Any) -> str | None:
    """The key identifier to keep. Gateways log a hash; if a raw secret key (``sk-...`` or a
    bearer header) slipped into the log, keep only its SHA-256, which is also how LiteLLM
    derives ``user_api_key_hash`` from a virtual key, so the two correlate."""
    if type(v) is not str:
        return as_id(v)
    c = v[:1]
    if c in ("s", "b", "B") and c:
        if v[:7].lower() == "bearer ":
            v = v[7:].strip()
            if not v:
                return None
            return hashlib.sha256(v.encode("utf-8", "surrogatepass")).hexdigest()
        if v.startswith(("sk-", "sk_")):
            return hashlib.sha256(v.encode("utf-8", "surrogatepass")).hexdigest()
    return v if 0 < len(v) <= ID_MAX else as_id(v)


def as_float(v: Any) -> float | None:
    t = type(v)
    if t is float:
        return v if math.isfinite(v) else None
    if t is int:
        return float(v)
    if t is str and 0 < len(v) <= 64:
        try:
            f = float(v)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def as_int(v: Any) -> int | None:
    t = type(v)
    if t is int:
        return v
    if t is float:
        return int(v) if math.isfinite(v) and v.is_integer() else None
    if t is str and 0 < len(v) <= 32:
        try:
            return int(v)
        except ValueError:
            f = as_float(v)
            return int(f) if f is not None and f.is_integer() else None
    return None


def as_count(v: Any) -> int | None:
    """A non-negative count (tokens, n, max_tokens)."""
    i = as_int(v)
    return i if i is not None and i >= 0 else None


def as_bool(v: Any) -> bool | None:
    t = type(v)
    if t is bool:
        return v
    if t is str:
        s = v.strip().lower()
        if s in ("true", "1", "yes"):
            return True
        if s in ("false", "0", "no"):
            return False
        return None
    if t is int:
        return v != 0
    return None


EPOCH_S_MAX = 1e11  # above this an epoch number is in ms, us or ns (see ``as_ts``)
INF = math.inf


def as_ts(v: Any) -> float | None:
    """Seconds since the epoch from epoch seconds/ms/us/ns (number or numeric string) or an
    ISO 8601 string (naive means UTC)."""
    t = type(v)
    if t is str:
        if not v or len(v) > 64:
            return None
        c = v[0]
        if c.isdigit() and ("-" not in v[1:] and ":" not in v):
            return as_ts(as_float(v))
        try:
            dt = datetime.fromisoformat(v.replace(" ", "T", 1) if "T" not in v else v)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    if t is int or t is float:
        f = float(v)
        if not math.isfinite(f) or f <= 0:
            return None
        if f > 1e17:
            return f / 1e9
        if f > 1e14:
            return f / 1e6
        if f > EPOCH_S_MAX:
            return f / 1e3
        return f
    return None


def latency_ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start) * 1000.0


def now() -> float:
    return time.time()


def loads_embedded(v: Any) -> Any:
    """Some exporters store structured values (messages, metadata) as JSON strings."""
    if type(v) is str and v[:1] in ("[", "{"):
        try:
            return orjson.loads(v)
        except orjson.JSONDecodeError:
            return v
    return v


def dumps_text(v: Any) -> str:
    try:
        return orjson.dumps(v).decode()
    except (TypeError, orjson.JSONEncodeError):
        return ""


def dget(d: Any, key: str) -> Any:
    """``d[key]`` when ``d`` is a dict, else None."""
    return d.get(key) if type(d) is dict else None


# --- messages -----------------------------------------------------------------------------

_ROLES: dict[str, Role] = {
    "system": "system", "user": "user", "assistant": "assistant", "tool": "tool",
    "developer": "developer",
    # function results (OpenAI legacy), ipython (Llama), tool_result: all tool output that
    # reached the model, where indirect prompt injection lives.
    "function": "tool", "ipython": "tool", "tool_result": "tool",
    "model": "assistant", "ai": "assistant", "bot": "assistant", "human": "user",
}

_MAX_DEPTH = 6
_TEXT_TYPES = frozenset(("text", "input_text", "output_text", "refusal", "summary_text"))
_TOOL_RESULT_TYPES = frozenset(("tool_result", "tool_call_response", "function_call_output",
                                "function_response", "mcp_tool_result"))
_TOOL_CALL_TYPES = frozenset(("tool_call", "tool_use", "function_call", "mcp_call"))


def role_of(v: Any) -> Role:
    if type(v) is str:
        r = _ROLES.get(v) or _ROLES.get(v.lower())
        if r is not None:
            return r
    return "other"


def render_call(name: Any, args: Any) -> str:
    """A tool call the model asked for, as one readable line: ``name(arguments)``."""
    n = name if type(name) is str else ""
    a = args if type(args) is str else ("" if args is None else dumps_text(args))
    return f"{n}({a})"


def _tool_calls_text(calls: Any) -> list[str]:
    out: list[str] = []
    if type(calls) is not list:
        return out
    for c in calls:
        if type(c) is not dict:
            continue
        fn = c.get("function")
        if type(fn) is dict:
            out.append(render_call(fn.get("name"), fn.get("arguments")))
        else:
            out.append(render_call(c.get("name"), c.get("arguments", c.get("input"))))
    return out


def _part_text(p: Any, depth: int) -> str:
    """Text of one content part of any of the common shapes (OpenAI, Anthropic, OTel,
    Gemini); non-text parts (images, audio, files) contribute nothing."""
    t = type(p)
    if t is str:
        return p
    if t is not dict or depth > _MAX_DEPTH:
        return "" if t is not int and t is not float else str(p)
    ptype = p.get("type")
    text = p.get("text")
    if type(text) is str and (ptype is None or ptype in _TEXT_TYPES):
        return text
    if ptype in _TEXT_TYPES or ptype in _TOOL_RESULT_TYPES or ptype is None:
        for k in ("content", "output", "response", "result"):
            if k in p:
                v = p[k]
                s = text_of(v, depth + 1)
                # A structured tool result is kept whole: injected text can sit anywhere.
                return s if s or v is None else dumps_text(v)
    if ptype in _TOOL_CALL_TYPES:
        return render_call(p.get("name"), p.get("arguments", p.get("input")))
    fc = p.get("functionCall")
    if type(fc) is dict:
        return render_call(fc.get("name"), fc.get("args"))
    fr = p.get("functionResponse")
    if type(fr) is dict:
        return text_of(fr.get("response"), depth + 1)
    return ""


def text_of(c: Any, depth: int = 0) -> str:
    """Text of a message content: a string, a list of parts, one part, or other JSON."""
    t = type(c)
    if t is str:
        return c
    if c is None:
        return ""
    if t is list:
        if depth > _MAX_DEPTH:
            return ""
        texts = [s for s in (_part_text(p, depth + 1) for p in c) if s]
        return texts[0] if len(texts) == 1 else "\n".join(texts)
    if t is dict:
        return _part_text(c, depth)
    if t is int or t is float or t is bool:
        return dumps_text(c)
    return ""


def _is_tool_result(p: Any) -> bool:
    return type(p) is dict and (p.get("type") in _TOOL_RESULT_TYPES or "functionResponse" in p)


def _message_from_dict(m: dict[str, Any], out: list[Message]) -> None:
    name = m.get("name")
    name = name if type(name) is str and name else None
    if "role" not in m:  # Responses API input items
        mtype = m.get("type")
        if mtype in _TOOL_RESULT_TYPES:
            out.append(message("tool", _part_text(m, 1), name))
            return
        if mtype in _TOOL_CALL_TYPES:
            out.append(message("assistant", _part_text(m, 1)))
            return
    role = role_of(m.get("role"))
    content = m.get("content")
    if content is None and "parts" in m:
        content = m["parts"]  # OpenTelemetry GenAI / Gemini messages
    if type(content) is str and "tool_calls" not in m and "function_call" not in m:
        out.append(message(role, content, name))
        return
    if type(content) is list and any(_is_tool_result(p) for p in content):
        # Tool results carried inside a user/assistant message (Anthropic tool_result
        # blocks, OTel tool_call_response parts) become their own "tool" messages so
        # that injection checks see them as tool output.
        rest: list[Any] = []
        for p in content:
            if _is_tool_result(p):
                tname = p.get("name")
                out.append(message("tool", _part_text(p, 1),
                                   tname if type(tname) is str and tname else None))
            else:
                rest.append(p)
        text = text_of(rest)
        if text:
            out.append(message(role, text, name))
        return
    pieces = [text_of(content)] if content is not None else []
    pieces += _tool_calls_text(m.get("tool_calls"))
    fc = m.get("function_call")
    if type(fc) is dict:
        pieces.append(render_call(fc.get("name"), fc.get("arguments")))
    if "role" not in m and not pieces:
        pieces.append(dumps_text(m))  # an input that is not a message at all (Langfuse)
    out.append(message(role, "\n".join(p for p in pieces if p), name))


def messages_of(v: Any) -> tuple[Message, ...]:
    """Prompt messages from: a list of messages (OpenAI/Anthropic/OTel/Gemini shapes), a
    prompt string, a list of prompt strings, or an object holding ``messages``."""
    t = type(v)
    if t is list:
        out: list[Message] = []
        for m in v:
            tm = type(m)
            if tm is dict:
                # Fast path: a plain text message, the bulk of all traffic. Dict lookups are
                # the main cost here, so a message of just role and content skips the
                # lookups for the keys it cannot hold.
                c = m.get("content")
                r = m.get("role")
                role = _ROLES.get(r) if type(r) is str else None
                if type(c) is str and role is not None:
                    if len(m) == 2:
                        out.append(Message(role, c))
                        continue
                    if "tool_calls" not in m and "function_call" not in m:
                        n = m.get("name")
                        out.append(Message(role, c, n if type(n) is str and n else None))
                        continue
                _message_from_dict(m, out)
            elif tm is str:
                out.append(message("user", m))
            elif tm is list:
                text = text_of(m)
                if text:
                    out.append(message("user", text))
        return tuple(out)
    if t is str:
        return (message("user", v),) if v else ()
    if t is dict:
        if not v:
            return ()
        for k in ("messages", "contents"):
            inner = v.get(k)
            if type(inner) is list:
                msgs = messages_of(inner)
                sys_text = text_of(v.get("system") or v.get("instructions"))
                return (message("system", sys_text), *msgs) if sys_text else msgs
        out = []
        _message_from_dict(v, out)
        return tuple(out)
    return ()


def response_text(v: Any, depth: int = 0) -> str:
    """The model's answer from a completion/chat/Responses/Anthropic/OTel response, a list
    of output messages, or a plain string. Tool calls are rendered as ``name(args)``."""
    t = type(v)
    if t is str:
        return v
    if t is dict:
        choices = v.get("choices")
        if type(choices) is list:
            if len(choices) == 1:  # fast path: one plain chat answer
                msg = choices[0].get("message") if type(choices[0]) is dict else None
                if type(msg) is dict:
                    c = msg.get("content")
                    if type(c) is str and not msg.get("tool_calls") \
                            and not msg.get("function_call"):
                        return c
            return response_text(choices, depth + 1)
        if not v:
            return ""
    if depth > _MAX_DEPTH:
        return ""
    if t is list:
        texts = [s for s in (response_text(x, depth + 1) for x in v) if s]
        return texts[0] if len(texts) == 1 else "\n".join(texts)
    if t is not dict:
        return text_of(v, depth)
    if "message" in v and type(v["message"]) is dict:
        return response_text(v["message"], depth + 1)
    output = v.get("output")
    if type(output) is list:  # OpenAI Responses API
        return response_text(output, depth + 1)
    if "content" in v or "parts" in v or "tool_calls" in v:
        pieces = [text_of(v.get("content", v.get("parts")), depth)]
        pieces += _tool_calls_text(v.get("tool_calls"))
        fc = v.get("function_call")
        if type(fc) is dict:
            pieces.append(render_call(fc.get("name"), fc.get("arguments")))
        return "\n".join(p for p in pieces if p)
    if v.get("type") in _TOOL_CALL_TYPES:
        return render_call(v.get("name"), v.get("arguments", v.get("input")))
    for k in ("text", "output_text", "completion", "output"):
        s = v.get(k)
        if type(s) is str:
            return s
    if v.get("object") in ("list", "embedding") or "data" in v or "error" in v:
        return ""
    return dumps_text(v)


def params_of(d: Any) -> RequestParams:
    """Sampling parameters from a request body / model_parameters / modelParameters map."""
    if type(d) is not dict or not d:
        return _NO_PARAMS
    g = d.get
    # Each value takes the cheap exact-type branch when well formed; the converters
    # handle strings (Langfuse) and anything odd.
    v = g("temperature")
    temperature = v if type(v) is float and -1e9 < v < 1e9 else (
        None if v is None else as_float(v))
    v = g("max_tokens")
    if v is None:
        v = g("max_completion_tokens", g("max_output_tokens", g("max_new_tokens")))
    max_tokens = v if type(v) is int and v >= 0 else (None if v is None else as_count(v))
    v = g("n")
    n = v if type(v) is int and v >= 0 else (None if v is None else as_count(v))
    lp = g("logprobs")
    logprobs = lp if lp is None or type(lp) is bool else (
        lp > 0 if type(lp) is int else as_bool(lp))
    v = g("top_logprobs")
    top = v if v is None or (type(v) is int and v >= 0) else as_count(v)
    if top is None and type(lp) is int and lp > 0:
        top = lp  # legacy completions: logprobs=N asks for the top N
    lb = g("logit_bias")
    if type(lb) is str:
        lb = loads_embedded(lb)
    v = g("stream")
    stream = v if v is None or type(v) is bool else as_bool(v)
    return RequestParams(temperature, max_tokens, n, logprobs, top,
                         len(lb) if type(lb) is dict else 0, stream)


_NO_PARAMS = RequestParams()
