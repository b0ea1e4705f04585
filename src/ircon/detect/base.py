"""The detector protocol, bounded per-key state and the registry of detectors.

A detector consumes normalized ``TelemetryEvent``s one at a time and returns
``Finding``s. Detectors are pure: no store, no I/O beyond what their factory
was handed. Anything they remember is kept per key in a ``KeyedState``, whose
size is bounded whatever the number of keys an attacker rotates through.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from ircon.detect import accel
from ircon.model.finding import Evidence, Finding
from ircon.model.telemetry import TelemetryEvent

if TYPE_CHECKING:
    from ircon.detect.rules import Rule
    from ircon.detect.settings import DetectConfig

EXCERPT_CHARS = 160  # evidence excerpts stay short: they end up on screens and in alerts


@runtime_checkable
class Detector(Protocol):
    """One family of detection. ``flush`` reports what is pending at end of input."""

    name: str

    def observe(self, event: TelemetryEvent) -> list[Finding]: ...

    def flush(self) -> list[Finding]: ...


# A detector may also say ``turn_pure = True``: its findings for an event depend only
# on ``current_turn(event)`` and are made with ``finding`` about that event alone. The
# detector set then scans a recent turn once (see ``turnmemo``).


@runtime_checkable
class BatchDetector(Protocol):
    """A detector that can also take many events at once (the fast path).

    ``observe_batch(events)`` leaves the detector in the same state and returns the same
    findings as ``observe(events[0])``, ``observe(events[1])``, ... in turn, each paired
    with the index of the event whose ``observe`` would have returned it, in that order.
    ``observe`` stays the simple reference; the batch path replaces a Python call chain
    per event with C-level work over the whole list.
    """

    def observe_batch(self, events: Sequence[TelemetryEvent]) -> list[tuple[int, Finding]]: ...


@dataclass(slots=True)
class BuildContext:
    """What a detector factory gets: the config and the loaded rule packs."""

    cfg: DetectConfig
    rules: list[Rule] = field(default_factory=list)
    system_prompts: list[str] = field(default_factory=list)

    def rules_for(self, detector: str) -> list[Rule]:
        off = set(self.cfg.disabled)
        return [r for r in self.rules if r.detector == detector and r.id not in off]


@dataclass(frozen=True, slots=True)
class TextGate:
    """What a detector of new-turn prompt text needs to see before it can find
    anything. The detector set merges the gates of its detectors and, for an event
    whose new text has none of it, does not call them at all: one pass of C-level
    byte operations stands in for a handful of detectors on ordinary traffic.

    A gate must be a superset test: if ``observe`` could return a finding for an
    event, some new-turn text of it satisfies the gate. Texts longer than
    ``max_chars`` are always handed to the detectors (they examine windows).
    """

    words: frozenset[bytes] = frozenset()  # any of these words (``btokens``) opens it
    # (anchor, other): a word of each opens it; the batched gate searches the anchors
    pairs: tuple[tuple[frozenset[bytes], frozenset[bytes]], ...] = ()
    rot13_words: frozenset[bytes] = frozenset()  # two of these open it
    pivot_bytes: bytes = b""  # any of these bytes (UTF-8) opens it ...
    # ... unless the byte has finders here and none of them finds anything in the text
    pivot_finders: tuple[tuple[int, re.Pattern[str]], ...] = ()
    literals: tuple[str, ...] = ()  # what the finders find, for the batched gate
    long_word: int = 0  # a word of at least this many bytes opens it (0: off)
    suspect: re.Pattern[str] | None = None  # a match of this in non-ASCII text opens it
    check: Callable[[str], bool] | None = None  # a cheap test of its own; True opens it
    check_bytes: bytes | None = None  # ``check`` can only be true if one of these is present
    check_fast: Callable[[str], bool] | None = None  # ``check`` in C, when it is built
    # ``check`` over many texts at once (the batched gate), given the texts, their UTF-8
    # (``surrogatepass``) and that UTF-8 joined by NULs: the same answers, C-level work
    check_many: Callable[[list[str], list[bytes], bytes], list[bool]] | None = None
    suspect_chars: str = ""  # every character ``suspect`` matches (batched gate)
    max_chars: int = 0


class Gated(Protocol):
    def text_gate(self) -> TextGate | None: ...


DetectorFactory = Callable[[BuildContext], Detector]

# name -> "module:factory". Adding a detector is one module and one line here.
REGISTRY: dict[str, str] = {
    "jailbreak": "ircon.detect.jailbreak:from_context",
    "injection": "ircon.detect.injection:from_context",
    "obfuscation": "ircon.detect.obfuscation:from_context",
    "suffix": "ircon.detect.suffix:from_context",
    "leakage": "ircon.detect.leakage:from_context",
    "probing": "ircon.detect.probing:from_context",
    "wallet": "ircon.detect.wallet:from_context",
}
# Campaign correlation consumes the other detectors' findings, not events;
# the pipeline wires it after everything in REGISTRY.
CAMPAIGN = "campaign"


def build(name: str, ctx: BuildContext) -> Detector:
    modname, _, fn = REGISTRY[name].partition(":")
    factory: DetectorFactory = getattr(importlib.import_module(modname), fn)
    return factory(ctx)


S = TypeVar("S")


class KeyedState(Generic[S]):
    """Per-key state with idle eviction and a hard cap on the number of keys.

    The dict is kept in last-touched order (a touched key is moved to the end),
    so both evictions only ever look at the front: O(1) amortized per event.
    ``now`` is event time, so replaying old files behaves like live traffic.
    """

    __slots__ = ("_d", "_factory", "idle", "max_keys")

    def __init__(self, factory: Callable[[], S], *, max_keys: int, idle: float) -> None:
        self._d: dict[str, tuple[float, S]] = {}
        self._factory = factory
        self.max_keys = max_keys
        self.idle = idle

    def get(self, key: str, now: float) -> S:
        d = self._d
        hit = d.pop(key, None)
        state = self._factory() if hit is None else hit[1]
        d[key] = (now, state)
        if hit is None or len(d) > self.max_keys:
            self._evict(now)
        return state

    def peek(self, key: str) -> S | None:
        hit = self._d.get(key)
        return None if hit is None else hit[1]

    def _evict(self, now: float) -> None:
        d = self._d
        horizon = now - self.idle
        while len(d) > self.max_keys:
            del d[next(iter(d))]
        while d:
            first = next(iter(d))
            if d[first][0] >= horizon:
                break
            del d[first]

    def __len__(self) -> int:
        return len(self._d)

    def items(self) -> Iterator[tuple[str, S]]:
        for k, (_, s) in list(self._d.items()):
            yield k, s


def windows(text: str, limit: int) -> tuple[tuple[int, str], ...]:
    """The parts of ``text`` that are examined, with their offsets.

    A megabyte prompt costs no more than ``limit`` characters: the head and the
    tail are kept (instructions and suffixes live there), the middle skipped.
    """
    n = len(text)
    if n <= limit:
        return ((0, text),)
    half = limit // 2
    return ((0, text[:half]), (n - half, text[n - half:]))


T = TypeVar("T")


def _slot_maker(cls: type[Any]) -> Callable[..., Any] | None:
    """A C maker of ``cls`` instances from one value per field, in order (see
    ``_fast.SlotMaker``): a frozen dataclass's own ``__init__`` costs several times
    the rest of a finding's making. None without the accelerator."""
    fast = accel.fast
    return None if fast is None else fast.SlotMaker(cls, [f.name for f in fields(cls)])


_MAKE_FINDING: Callable[..., Finding] | None = _slot_maker(Finding)
_MAKE_EVIDENCE: Callable[..., Evidence] | None = _slot_maker(Evidence)


def _maker(made: Callable[..., T] | None, cls: Callable[..., T]) -> Callable[..., T]:
    """``made`` while the accelerator is on (callers read ``accel.fast`` when they run),
    else the class itself."""
    return made if made is not None and accel.fast is not None else cls


def excerpt(field_name: str, text: str, start: int, end: int) -> Evidence:
    """Evidence for ``text[start:end]`` with a little context, bounded in length."""
    span = end - start
    if span >= EXCERPT_CHARS:
        a, b = start, start + EXCERPT_CHARS
    else:
        pad = (EXCERPT_CHARS - span) // 2
        a = max(0, start - pad)
        b = min(len(text), end + pad)
    return _maker(_MAKE_EVIDENCE, Evidence)(field_name, start, end, text[a:b])


def finding(
    event: TelemetryEvent, *, detector: str, rule_id: str, title: str, score: float,
    severity: str, atlas: tuple[str, ...], owasp: tuple[str, ...],
    evidence: tuple[Evidence, ...] = (), request_ids: tuple[str, ...] | None = None,
    campaign: str | None = None, details: Mapping[str, object] | None = None,
) -> Finding:
    """A finding attributed to ``event``'s identity (key, user, team, IP, model)."""
    # positional, the fields in order (see ``_slot_maker``)
    return _maker(_MAKE_FINDING, Finding)(
        detector, rule_id, title, max(0.0, min(1.0, score)),
        severity, atlas, owasp,
        (event.request_id,) if request_ids is None else request_ids,
        event.key, event.user, event.team, event.ip, event.model, event.ts,
        evidence, campaign, (), dict(details) if details else {},
    )


def attributed(f: Finding, event: TelemetryEvent) -> Finding:
    """``f`` (a finding of ``finding`` about one event) about ``event`` instead: its
    identity and time; the rest, ``details`` copied, unchanged."""
    return _maker(_MAKE_FINDING, Finding)(
        f.detector, f.rule_id, f.title, f.score, f.severity_hint, f.atlas, f.owasp,
        (event.request_id,), event.key, event.user, event.team, event.ip, event.model,
        event.ts, f.evidence, f.campaign, f.members, dict(f.details),
    )


# The application's own prompts: not the caller's input, and what must not leak.
APP_ROLES = frozenset(("system", "developer"))
_NOT_CALLER = frozenset(("system", "developer", "assistant"))
# The last event asked about and its answer, as one tuple: replacing it is a single
# reference store, so a reader never pairs one event with another's messages.
_turn_memo: tuple[TelemetryEvent | None, list[tuple[int, str, str]]] = (None, [])


def current_turn(event: TelemetryEvent) -> list[tuple[int, str, str]]:
    """(index, role, content) of the messages that are new in this request
    (remembered for the latest event: every prompt detector asks for it).

    Chat clients resend the whole history; earlier turns were judged when they
    were sent. The new input is everything after the last assistant message.
    System and developer prompts belong to the application, not the caller.
    """
    global _turn_memo
    memo = _turn_memo
    if memo[0] is event:
        return memo[1]
    out: list[tuple[int, str, str]] = []
    for i, m in enumerate(event.messages):  # one pass: an assistant message restarts the turn
        role = m.role
        if role == "assistant":
            out = []
        elif role not in _NOT_CALLER and m.content:
            out.append((i, role, m.content))
    _turn_memo = (event, out)
    return out
