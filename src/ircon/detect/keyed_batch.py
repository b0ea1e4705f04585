"""Per-key bookkeeping for detectors that take a batch of events at once.

The windowed detectors (probing, wallet) keep state per actor in a ``KeyedState``.
Batched, they group the batch by key once and work on each key's events in bulk;
this module does the parts they share:

* ``columns(events)``: the fields of the events as lists, their new-turn texts,
  the application's prompts and the grouping of the batch by actor, computed once
  per batch (the gate and the detectors of one set are handed the same list), in
  one C pass with the accelerator, else with C-level ``map``/``attrgetter`` work;
* ``touch(state, ...)``: the per-key states the events would have got from
  ``KeyedState.get`` one event at a time, leaving the ``KeyedState`` exactly as those
  calls would (order, timestamps, idle and capacity evictions).
"""

from __future__ import annotations

import sys
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate, islice
from operator import attrgetter, is_, itemgetter, le
from typing import Protocol, TypeVar, cast

from ircon.detect import accel
from ircon.detect.base import APP_ROLES, KeyedState, current_turn
from ircon.model.telemetry import Message, RequestParams, TelemetryEvent

S = TypeVar("S")

_TS = attrgetter("ts")
_KEY = attrgetter("key")
_TEAM = attrgetter("team")
_PARAMS = attrgetter("params")
_MESSAGES = attrgetter("messages")
_RESPONSE = attrgetter("response")
_PROMPT_TOKENS = attrgetter("prompt_tokens")
_COMPLETION_TOKENS = attrgetter("completion_tokens")
_COST = attrgetter("cost")
_LAST = itemgetter(-1)


def actors(events: Sequence[TelemetryEvent]) -> list[str]:
    """``event.actor()`` of every event, without a Python call per event when every
    event has a key (the usual case)."""
    keys = list(map(_KEY, events))
    if all(keys):
        return keys
    return [k or e.user or e.ip or "unknown" for k, e in zip(keys, events, strict=True)]


def group(keys: list[str]) -> dict[str, list[int]]:
    """Positions of each distinct key, keys in order of first occurrence."""
    if accel.fast is not None:
        return accel.fast.group(keys)
    out: defaultdict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        out[k].append(i)
    return out


def ascending(ts: Sequence[float]) -> bool:
    return all(map(le, ts, islice(ts, 1, None)))


def turn_texts(events: Sequence[TelemetryEvent]) -> tuple[list[str], list[int]]:
    """The new-turn texts of ``events`` (as ``current_turn``) and the index of the
    event each belongs to. Events of the usual shape - one new caller message last -
    give their text in event order; other events' texts follow."""
    texts: list[str] = []
    more: list[tuple[int, str]] = []
    append = texts.append
    app_roles = APP_ROLES
    for i, ev in enumerate(events):
        ms = ev.messages
        if ms:
            last = ms[-1]
            # the last message is the only new one: it follows an answer, or it is
            # alone, or after the application's own prompt only
            if last.role == "user" and (
                    len(ms) == 1 or ms[-2].role == "assistant"
                    or (len(ms) == 2 and ms[0].role in app_roles)):
                append(last.content)  # "" when empty: matches nothing
                continue
            more.extend((i, content) for _x, _r, content in current_turn(ev))
        append("")
    owners = list(range(len(texts)))
    if more:
        owners.extend(i for i, _t in more)
        texts.extend(t for _i, t in more)
    return texts, owners


def protected(events: Sequence[TelemetryEvent]) -> tuple[list[str], list[int]]:
    """The contents of the application's own messages (``APP_ROLES``) in ``events``,
    and the index of the event each belongs to."""
    pairs = [(m.content, i) for i, e in enumerate(events) for m in e.messages
             if m.role in APP_ROLES]
    return [c for c, _i in pairs], [i for _c, i in pairs]


_COLUMN_LISTS = ("ts", "actors", "teams", "_params", "messages", "responses",
                 "_prompt_tokens", "_completion_tokens", "_costs", "turn_texts", "turn_owners",
                 "protected", "protected_owners")


class Columns:
    """What the batched detectors read of a batch (see ``columns``): the events'
    fields as lists, the new-turn texts (``turn_texts``) and the application's own
    prompts (``protected``), each with the index of its event, the grouping by actor
    (``groups``) and by team (``team_groups``, None unless every event has a team),
    and whether the times ascend. With the C accelerator they are read in one pass
    over the events, each event's objects touched while they are in cache, and what
    its window steps read is also packed there: the times as doubles (``ts_packed``),
    each event's spend (``spend_packed``, see ``_fast.columns``) and the extraction
    screen of its parameters (``screens``). The columns only those are made of
    (``params``, ``prompt_tokens``, ``completion_tokens``, ``costs``) are then listed
    only when a Python step asks for them."""

    __slots__ = ("_completion_tokens", "_costs", "_params", "_prompt_tokens", "actors",
                 "ascending", "events", "groups", "messages", "protected", "protected_owners",
                 "responses", "screens", "spend_packed", "team_groups", "teams", "ts",
                 "ts_packed", "turn_owners", "turn_texts")

    def __init__(self, events: Sequence[TelemetryEvent]) -> None:
        self.events = tuple(events)
        self.ts: list[float]
        self.actors: list[str]
        self.teams: list[str | None]
        self.messages: list[tuple[Message, ...]]
        self.responses: list[str]
        # listed on demand (see the properties below)
        self._params: list[RequestParams] | None = None
        self._prompt_tokens: list[int | None] | None = None
        self._completion_tokens: list[int | None] | None = None
        self._costs: list[float | None] | None = None
        self.turn_texts: list[str]
        self.turn_owners: list[int]
        self.protected: list[str]
        self.protected_owners: list[int]
        self.groups: dict[str, list[int]]
        self.team_groups: dict[str, list[int]] | None
        # the times as C doubles, for the accelerator's window steps (None without it,
        # or when a time is not a float)
        self.ts_packed: bytes | None = None
        # (tokens as int64 then costs as doubles, positions of the events with spend or
        # None for all), None when a value is one the C steps leave to Python
        self.spend_packed: tuple[bytes, list[int] | None] | None = None
        self.screens: bytes | None = None  # per event: 1 passes the screen, 0 not, 2 unknown
        if accel.fast is not None:
            (self.ts, self.actors, self.teams, self._params, self.messages, self.responses,
             self._prompt_tokens, self._completion_tokens, self._costs, self.turn_texts,
             self.turn_owners, self.protected, self.protected_owners, self.groups, asc,
             self.team_groups, self.ts_packed, self.spend_packed,
             self.screens) = accel.fast.columns(events, APP_ROLES, APP_ROLES, current_turn)
            # None: times other than floats, which Python compares
            self.ascending = ascending(self.ts) if asc is None else asc
        else:
            self.ts = list(map(_TS, events))
            self.actors = actors(events)
            self.teams = list(map(_TEAM, events))
            self.messages = list(map(_MESSAGES, events))
            self.responses = list(map(_RESPONSE, events))
            self.turn_texts, self.turn_owners = turn_texts(events)
            self.protected, self.protected_owners = protected(events)
            self.groups = group(self.actors)
            self.ascending = ascending(self.ts)
            # the grouping by team when every event has one (else the wallet picks
            # the events with a team first)
            teams = self.teams
            self.team_groups = group(cast("list[str]", teams)) if all(teams) else None

    @property
    def params(self) -> list[RequestParams]:
        if self._params is None:
            self._params = list(map(_PARAMS, self.events))
        return self._params

    @property
    def params_listed(self) -> list[RequestParams] | None:
        """``params`` if listed already, else None (the C steps read the events)."""
        return self._params

    @property
    def prompt_tokens(self) -> list[int | None]:
        if self._prompt_tokens is None:
            self._prompt_tokens = list(map(_PROMPT_TOKENS, self.events))
        return self._prompt_tokens

    @property
    def completion_tokens(self) -> list[int | None]:
        if self._completion_tokens is None:
            self._completion_tokens = list(map(_COMPLETION_TOKENS, self.events))
        return self._completion_tokens

    @property
    def costs(self) -> list[float | None]:
        if self._costs is None:
            self._costs = list(map(_COST, self.events))
        return self._costs


# The columns of the latest batch. The events themselves are kept and compared by
# identity, so a list refilled with other events is never mistaken for the last one.
_memo: Columns | None = None


def columns(events: Sequence[TelemetryEvent]) -> Columns:
    global _memo
    memo = _memo
    if (memo is not None and len(memo.events) == len(events)
            and (accel.fast.same_items(memo.events, events) if accel.fast is not None
                 else all(map(is_, memo.events, events)))):
        return memo
    memo = _memo = Columns(events)
    return memo


def forget() -> None:
    """Drop the remembered batch (it holds its events)."""
    global _memo
    memo, _memo = _memo, None
    if memo is not None and accel.fast is not None and sys.getrefcount(memo) == 2:
        # nobody else holds the columns: empty them with their objects fetched ahead
        accel.fast.release([x for x in (getattr(memo, name) for name in _COLUMN_LISTS)
                            if x is not None])


def touch(state: KeyedState[S], groups: dict[str, list[int]], keys: list[str],
          ts: list[float]) -> list[tuple[S, list[int]]]:
    """The states ``state.get(keys[i], ts[i])`` for i = 0, 1, ... would hand out, each
    with the positions that got it; ``state`` is left exactly as those calls leave it.

    ``groups`` is ``group(keys)``. Usually the work is per distinct key: the keys those
    calls would evict (see ``_evictions``) are dropped, and each touched key moves to
    the end in the order of its last event, with that event's time. When that cannot
    be settled up front the calls are replayed one by one (a key evicted and seen again
    in the batch then gets its fresh state, as it would).
    """
    d = state._d
    if not d.keys() >= groups.keys():
        evicted = _evictions(state, groups, groups.keys() - d.keys(), ts)
        if evicted is None:
            return _replay(state, keys, ts)
        for k in evicted:
            del d[k]
    factory = state._factory
    if accel.fast is not None and type(groups) is dict and type(ts) is list:
        return accel.fast.move_touched(d, groups, ts, factory)
    pop = d.pop
    out: list[tuple[S, list[int]]] = []
    # keys in the order of their last event: the order the one-by-one calls leave
    names, positions = list(groups), list(groups.values())
    lasts = list(map(_LAST, positions))
    for j in sorted(range(len(lasts)), key=lasts.__getitem__):
        k = names[j]
        idx = positions[j]
        hit = pop(k, None)
        st = factory() if hit is None else hit[1]
        d[k] = (ts[idx[-1]], st)
        out.append((st, idx))
    return out


def _evictions(state: KeyedState[S], groups: dict[str, list[int]], new: set[str],
               ts: list[float]) -> list[str] | None:
    """The keys the ``get`` calls of the batch would evict, when they are all keys held
    before the batch that the batch does not touch; None when that is not certain.

    Only the ``get`` of a key that is not held evicts: first down to ``max_keys``, then
    from the front while the front entry is idle. When the new key at position j
    arrives, the front is the first key held before the batch that the batch has not
    touched before j (those touched moved to the end), or, all of those gone, a key
    touched in the batch, whose time is one of ``ts[:j]``. An eviction that would reach
    a key the batch touches, before or after, is left to the replay.
    """
    d = state._d
    total = sum(ts)
    if total - total != 0:  # a NaN or infinite time: leave the comparisons to the replay
        return None
    idle = state.idle
    cap = state.max_keys
    size = len(d)
    held = iter(d.items())
    front = next(held, None)
    prefix_min: list[float] | None = None
    evicted: list[str] = []
    for j in sorted(groups[k][0] for k in new):
        size += 1
        horizon = ts[j] - idle
        while True:
            while front is not None:  # skip keys touched before j: they sit at the end
                seen = groups.get(front[0])
                if seen is None or seen[0] >= j:
                    break
                front = next(held, None)
            if front is None:
                if size > cap:
                    return None
                if j:
                    if prefix_min is None:
                        prefix_min = list(accumulate(ts, min))
                    if not prefix_min[j - 1] >= horizon:
                        return None
                break
            if size <= cap and front[1][0] >= horizon:
                break
            if front[0] in groups:  # evicted, then seen again: a fresh state
                return None
            evicted.append(front[0])
            size -= 1
            front = next(held, None)
    return evicted


def _replay(state: KeyedState[S], keys: list[str], ts: list[float]) -> list[tuple[S, list[int]]]:
    by_state: dict[int, tuple[S, list[int]]] = {}
    for i, st in enumerate(map(state.get, keys, ts)):
        hit = by_state.get(id(st))
        if hit is None:
            by_state[id(st)] = (st, [i])
        else:
            hit[1].append(i)
    return list(by_state.values())


class Windowed(Protocol):
    start: float  # when the key's current tumbling window began (< 0: none yet)


W = TypeVar("W", bound=Windowed)


def window_runs(st: W, times: Sequence[float], at: Sequence[int], ascending: bool,
                window: float, roll: Callable[[W, float], object]) -> Iterator[tuple[int, int]]:
    """The runs ``[a, b)`` of one key's events (the j-th at ``times[at[j]]``) that fall
    in one tumbling window, rolling the window with ``roll(st, now)`` where the
    per-event code would: at the first event at least ``window`` after ``st.start``.
    The caller handles each run before the next is computed (the roll sees its state).
    With ``ascending`` times the end of a run is found by bisection."""
    n = len(at)
    a = 0
    while a < n:
        now = times[at[a]]
        start = st.start
        if start < 0:
            st.start = start = now
        elif now - start >= window:
            roll(st, now)
            start = st.start
        # the first later event that starts a new window ends the run
        if not ascending:
            b = a + 1
            while b < n and not times[at[b]] - start >= window:
                b += 1
        elif not times[at[-1]] - start >= window:
            b = n
        else:  # the test is monotone in time: bisect, then settle the rounding
            b = bisect_left(at, start + window, a + 1, n, key=times.__getitem__)
            while b > a + 1 and times[at[b - 1]] - start >= window:
                b -= 1
            while b < n and not times[at[b]] - start >= window:
                b += 1
        yield a, b
        a = b
