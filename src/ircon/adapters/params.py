"""Typed action parameters: strict validation of attacker-reachable values.

A parameter may come from an alert label or a prompt, so every kind has a
narrow grammar and a length cap checked before any pattern matching (a 1 MB
string costs one ``len``). Errors quote the value only through ``one_line``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ircon.model.text import one_line

HARD_CAP = 65536  # no parameter of any kind is longer than this


class ParamError(ValueError):
    """A parameter value was refused; the message names the parameter and the rule."""


@dataclass(frozen=True)
class Kind:
    name: str
    help: str
    check: Callable[[str, str], Any]  # (param name, raw value) -> normalized value
    sensitive: bool = False  # shown masked in plans, journal and screen


def _quote(v: str) -> str:
    return one_line(v, 60)


def _base(name: str, v: str, cap: int) -> str:
    if len(v) > cap:
        raise ParamError(f"{name}: too long ({len(v)} characters; at most {cap})")
    if "\x00" in v:
        raise ParamError(f"{name}: contains a NUL character")
    return v


def _regex_kind(rx: str, cap: int, what: str) -> Callable[[str, str], Any]:
    pat = re.compile(rx)

    def check(name: str, v: str) -> str:
        _base(name, v, cap)
        if not v:
            raise ParamError(f"{name}: must not be empty")
        if not pat.fullmatch(v):
            raise ParamError(f"{name}: {_quote(v)} is not a valid {what}")
        return v

    return check


_ID = r"[A-Za-z0-9_.@:+=/][A-Za-z0-9_.@:+=/-]*"  # no leading dash: never an option
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"


def _dns_subdomain(name: str, v: str) -> str:
    _base(name, v, 253)
    if not re.fullmatch(_DNS_LABEL + r"(\." + _DNS_LABEL + r")*", v):
        raise ParamError(
            f"{name}: {_quote(v)} is not a valid Kubernetes name "
            "(lower-case letters, digits, '-' and '.', starting and ending alphanumeric)"
        )
    return v


def _dns_label(name: str, v: str) -> str:
    _base(name, v, 63)
    if not re.fullmatch(_DNS_LABEL, v):
        raise ParamError(f"{name}: {_quote(v)} is not a valid Kubernetes namespace")
    return v


def _integer(name: str, v: str) -> int:
    _base(name, v, 12)
    if not re.fullmatch(r"[0-9]{1,10}", v):
        raise ParamError(f"{name}: {_quote(v)} is not a non-negative integer")
    n = int(v)
    if n > 2_000_000_000:
        raise ParamError(f"{name}: {n} is too large")
    return n


_DUR = re.compile(r"(?:(\d{1,4})w)?(?:(\d{1,5})d)?(?:(\d{1,6})h)?(?:(\d{1,7})m)?(?:(\d{1,9})s)?")


def parse_duration(name: str, v: str) -> int:
    """'2h', '90m', '1h30m', '7d' -> seconds."""
    _base(name, v, 32)
    m = _DUR.fullmatch(v.strip())
    if not v.strip() or not m or not any(m.groups()):
        raise ParamError(f"{name}: {_quote(v)} is not a duration (like 30m, 2h, 1h30m, 7d)")
    w, d, h, mi, s = (int(g or 0) for g in m.groups())
    secs = (((w * 7 + d) * 24 + h) * 60 + mi) * 60 + s
    if secs <= 0:
        raise ParamError(f"{name}: the duration must be longer than zero")
    return secs


def _text(name: str, v: str) -> str:
    _base(name, v, 4096)
    bad = [c for c in v if (ord(c) < 0x20 and c not in "\n\t") or ord(c) == 0x7F]
    if bad:
        raise ParamError(f"{name}: contains control characters ({one_line(''.join(bad[:5]))})")
    return v


def _pattern(name: str, v: str) -> str:
    _base(name, v, 4096)
    if not v.strip():
        raise ParamError(f"{name}: must contain something other than white space")
    bad = [c for c in v if ord(c) < 0x20 or ord(c) == 0x7F or c in "\u2028\u2029\x85"]
    if bad:
        raise ParamError(
            f"{name}: contains line breaks or control characters "
            f"({one_line(''.join(bad[:5]))}); a blocklist entry is one line"
        )
    return v


def _uuid(name: str, v: str) -> str:
    _base(name, v, 64)
    if not re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                        r"[0-9a-fA-F]{12}", v):
        raise ParamError(f"{name}: {_quote(v)} is not a silence id (a UUID)")
    return v.lower()


# --- matchers: alertname="X",model="m" -----------------------------------------------

_M_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_M_OPS = ("=~", "!~", "!=", "=")


def parse_matchers(name: str, v: str) -> list[dict[str, Any]]:
    """Alertmanager matchers -> API objects {name, value, isRegex, isEqual}."""
    _base(name, v, 8192)
    s = v.strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1]
    out: list[dict[str, Any]] = []
    i, n = 0, len(s)

    def fail(msg: str) -> ParamError:
        return ParamError(
            f"{name}: {msg} in {_quote(v)} (expected like alertname=\"X\",model=\"m\")")

    while True:
        while i < n and s[i] in " \t":
            i += 1
        m = _M_NAME.match(s, i)
        if not m:
            raise fail("a label name is missing")
        label = m.group(0)
        i = m.end()
        while i < n and s[i] == " ":
            i += 1
        op = next((o for o in _M_OPS if s.startswith(o, i)), None)
        if op is None:
            raise fail(f"no operator after {label}")
        i += len(op)
        while i < n and s[i] == " ":
            i += 1
        if i < n and s[i] == '"':
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise fail("an unterminated quote")
                c = s[i]
                if c == "\\" and i + 1 < n:
                    nxt = s[i + 1]
                    buf.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                    i += 2
                    continue
                if c == '"':
                    i += 1
                    break
                buf.append(c)
                i += 1
            value = "".join(buf)
        else:
            j = i
            while j < n and s[j] not in ',"{} \t':
                j += 1
            value = s[i:j]
            i = j
        if any(ord(c) < 0x20 and c not in "\t\n" for c in value):
            raise fail("control characters")
        is_regex = op in ("=~", "!~")
        if is_regex:
            try:
                re.compile(value)
            except re.error as exc:
                raise fail(f"a bad regular expression for {label} ({exc})") from None
        out.append({"name": label, "value": value, "isRegex": is_regex,
                    "isEqual": op in ("=", "=~")})
        if len(out) > 32:
            raise fail("more than 32 matchers")
        while i < n and s[i] in " \t":
            i += 1
        if i >= n:
            break
        if s[i] != ",":
            raise fail(f"unexpected {one_line(s[i])!r}")
        i += 1
        if i >= n or not s[i:].strip():
            break  # a trailing comma is allowed, as in Alertmanager
    # A silence whose matchers all match the empty string would silence everything.
    if all(_matches_empty(m) for m in out):
        raise ParamError(
            f"{name}: at least one matcher must not match the empty label value "
            "(a silence like that would mute every alert)"
        )
    return out


def _matches_empty(m: dict[str, Any]) -> bool:
    hit = re.fullmatch(m["value"], "") is not None if m["isRegex"] else m["value"] == ""
    return hit if m["isEqual"] else not hit


def format_matchers(ms: list[dict[str, Any]]) -> str:
    def q(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    ops = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
    return ",".join(f"{m['name']}{ops[(m['isRegex'], m['isEqual'])]}{q(m['value'])}" for m in ms)


def _model_list(name: str, v: str) -> list[str]:
    _base(name, v, 4096)
    items = [x.strip() for x in v.split(",") if x.strip()]
    if not items:
        raise ParamError(f"{name}: give at least one model name (comma-separated)")
    check = _regex_kind(_ID, 256, "model name")
    return [check(name, x) for x in items]


def _key_id(name: str, v: str) -> str:
    _base(name, v, 512)
    if not v or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]*", v):
        raise ParamError(
            f"{name}: not a virtual key or key hash (letters, digits, '_', '.', ':', '-')"
        )
    return v


def key_display(v: str) -> str:
    """A virtual key as it may be shown: never the key itself, only a tail and its hash."""
    if v.startswith("sk-"):
        return f"sk-…{v[-4:]} (sha256:{hashlib.sha256(v.encode()).hexdigest()[:16]})"
    return v if len(v) <= 24 else v[:16] + "…"


def key_hash(v: str) -> str:
    """LiteLLM stores sha256(key) as the token; its admin API accepts either form."""
    return hashlib.sha256(v.encode()).hexdigest() if v.startswith("sk-") else v


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("key_id", "virtual key (sk-...) or its hash; shown masked", _key_id, sensitive=True),
        Kind("user_id", "end-user id", _regex_kind(_ID, 256, "user id")),
        Kind("team_id", "team id", _regex_kind(_ID, 256, "team id")),
        Kind("identifier", "an id (letters, digits, _ . @ : + = / -)",
             _regex_kind(_ID, 256, "identifier")),
        Kind("model", "model name, e.g. openai/gpt-4o-2024-08-06",
             _regex_kind(_ID, 256, "model name")),
        Kind("model_list", "comma-separated model names", _model_list),
        Kind("flag", "feature flag name", _regex_kind(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*", 100,
                                                      "flag name")),
        Kind("deployment", "Kubernetes deployment name", _dns_subdomain),
        Kind("namespace", "Kubernetes namespace", _dns_label),
        Kind("integer", "non-negative integer", _integer),
        Kind("duration", "duration like 30m, 2h, 1h30m, 7d", parse_duration),
        Kind("matchers", 'Alertmanager matchers like alertname="X",model="m"', parse_matchers),
        Kind("silence_id", "Alertmanager silence id (UUID)", _uuid),
        Kind("pattern", "one line of text to block (no line breaks or control characters)",
             _pattern),
        Kind("text", "free text (no control characters but newline and tab)", _text),
    )
}


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: str
    help: str = ""
    required: bool = True
    minimum: int | None = None
    maximum: int | None = None

    @property
    def sensitive(self) -> bool:
        return KINDS[self.kind].sensitive


@dataclass(frozen=True)
class ActionSpec:
    name: str
    help: str
    params: tuple[ParamSpec, ...] = ()
    destructive: bool = True
    idempotent: bool = False
    undo: str | None = None  # how it is undone, in words; None: it cannot be

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)


def validate(spec: ActionSpec, raw: dict[str, str]) -> dict[str, Any]:
    """Check every given value against its kind; refuse unknown and missing ones."""
    problems: list[str] = []
    out: dict[str, Any] = {}
    for key in raw:
        if spec.param(key) is None:
            known = ", ".join(p.name for p in spec.params) or "none"
            problems.append(f"{one_line(key, 40)}: unknown parameter of {spec.name} "
                            f"(parameters: {known})")
    for p in spec.params:
        if p.name not in raw:
            if p.required:
                problems.append(f"{p.name}: required ({KINDS[p.kind].help})")
            continue
        value = raw[p.name]
        if not isinstance(value, str):
            problems.append(f"{p.name}: must be text")
            continue
        if len(value) > HARD_CAP:
            problems.append(f"{p.name}: too long ({len(value)} characters)")
            continue
        try:
            v = KINDS[p.kind].check(p.name, value)
        except ParamError as exc:
            problems.append(str(exc))
            continue
        if isinstance(v, int):
            if p.minimum is not None and v < p.minimum:
                problems.append(f"{p.name}: at least {p.minimum}")
                continue
            if p.maximum is not None and v > p.maximum:
                problems.append(f"{p.name}: at most {p.maximum}")
                continue
        out[p.name] = v
    if problems:
        raise ParamError("; ".join(problems))
    return out


def display(spec: ActionSpec, values: dict[str, Any]) -> dict[str, Any]:
    """Values as they may be journaled and shown (sensitive kinds masked)."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        p = spec.param(k)
        if p is not None and p.kind == "key_id":
            out[k] = key_display(str(v))
        elif p is not None and p.kind == "matchers":
            out[k] = format_matchers(v)
        elif p is not None and p.kind == "model_list":
            out[k] = ",".join(v)
        else:
            out[k] = v
    return out


def sensitive_values(spec: ActionSpec, raw: dict[str, str]) -> list[str]:
    # A key given by its hash (as gateways log it) is no credential: redacting it would
    # also blank the undo data, which holds that same hash.
    return [str(raw[p.name]) for p in spec.params if p.sensitive and p.name in raw
            and not (p.kind == "key_id" and not str(raw[p.name]).startswith("sk-"))]
