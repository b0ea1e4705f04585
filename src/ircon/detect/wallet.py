"""Denial of wallet (AML.T0034, LLM10:2025): spend per key and per team far above
its own baseline, in tumbling windows of ``window_seconds``.

``observe_batch`` takes many events at once: the batch is grouped by key (and by
team), each group's window boundaries are found by bisection and a window's spend
is summed in one C-level pass. Spend only grows inside a window (counts and costs
are not negative), so the thresholds are tested once per window at its end; only a
window that crosses one is walked event by event to find the crossing event.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from functools import partial, reduce
from operator import add, itemgetter
from typing import Any, cast

from ircon.detect import accel, keyed_batch
from ircon.detect.base import BuildContext, KeyedState, finding
from ircon.detect.rules import Rule
from ircon.model.finding import Finding
from ircon.model.telemetry import TelemetryEvent

NAME = "wallet"
_ALPHA = 0.3
_MIN_BASELINE_WINDOWS = 3


class _Spend:
    __slots__ = ("base_cost", "base_tokens", "cost", "reported", "start", "tokens", "windows")

    def __init__(self) -> None:
        self.start = -1.0
        self.tokens = 0
        self.cost = 0.0
        self.base_tokens = 0.0
        self.base_cost = 0.0
        self.windows = 0
        self.reported = False


class WalletDetector:
    name = NAME

    def __init__(self, rule: Rule | None, ctx: BuildContext) -> None:
        cfg = ctx.cfg
        self.rule = rule
        self.window = cfg.window_seconds
        self.factor = cfg.spend_factor
        self.min_tokens = cfg.spend_min_tokens
        self.new_tokens = cfg.spend_new_key_tokens
        params = rule.params if rule else {}
        self.min_cost = float(params.get("min_cost", 5.0))
        self.new_cost = float(params.get("new_key_cost", 50.0))
        idle = max(cfg.idle_seconds, cfg.window_seconds * 2)
        self.keys: KeyedState[_Spend] = KeyedState(_Spend, max_keys=cfg.max_keys, idle=idle)
        self.teams: KeyedState[_Spend] = KeyedState(_Spend, max_keys=cfg.max_keys, idle=idle)

    def observe(self, event: TelemetryEvent) -> list[Finding]:
        if self.rule is None:
            return []
        tokens = (event.prompt_tokens or 0) + (event.completion_tokens or 0)
        cost = event.cost or 0.0
        if not tokens and not cost:
            return []
        out: list[Finding] = []
        now = event.ts
        f = self._add(self.keys.get(event.actor(), now), now, tokens, cost, event, "key")
        if f is not None:
            out.append(f)
        if event.team:
            f = self._add(self.teams.get(event.team, now), now, tokens, cost, event, "team")
            if f is not None:
                out.append(f)
        return out

    def _roll(self, st: _Spend, now: float) -> None:
        """Start the window ``now`` falls in (``now`` is a window or more past the start)."""
        elapsed = int((now - st.start) // self.window)
        decay = (1 - _ALPHA) ** max(0, elapsed - 1)
        if st.windows == 0:
            st.base_tokens, st.base_cost = float(st.tokens), st.cost
        else:
            st.base_tokens = (1 - _ALPHA) * st.base_tokens + _ALPHA * st.tokens
            st.base_cost = (1 - _ALPHA) * st.base_cost + _ALPHA * st.cost
        st.base_tokens *= decay
        st.base_cost *= decay
        st.windows += elapsed
        st.start += elapsed * self.window
        st.tokens, st.cost, st.reported = 0, 0.0, False

    def _add(self, st: _Spend, now: float, tokens: int, cost: float, event: TelemetryEvent,
             scope: str) -> Finding | None:
        if st.start < 0:
            st.start = now
        elif now - st.start >= self.window:
            self._roll(st, now)
        st.tokens += tokens
        st.cost += cost
        if st.reported:
            return None
        return self._check(st, event, scope)

    def _over(self, st: _Spend) -> bool:
        """Is the spend so far in this window over a threshold?"""
        has_base = st.windows >= _MIN_BASELINE_WINDOWS
        return (st.tokens >= self.min_tokens and (
            st.tokens >= self.factor * max(st.base_tokens, 1.0) if has_base
            else st.tokens >= self.new_tokens)) or (st.cost >= self.min_cost and (
                st.cost >= self.factor * max(st.base_cost, 0.01) if has_base
                else st.cost >= self.new_cost))

    def _check(self, st: _Spend, event: TelemetryEvent, scope: str) -> Finding | None:
        if not self._over(st):
            return None
        st.reported = True
        return self._report(event, scope, st.tokens, st.cost, st.base_tokens, st.base_cost,
                            st.windows)

    def _report(self, event: TelemetryEvent, scope: str, tokens: int, cost: float,
                base_tokens: float, base_cost: float, windows: int) -> Finding:
        """The finding for spend over a threshold (the window's state at the crossing)."""
        has_base = windows >= _MIN_BASELINE_WINDOWS
        rule = self.rule
        assert rule is not None
        ratio = tokens / max(base_tokens, 1.0) if has_base else None
        who = event.team if scope == "team" else event.actor()
        return finding(
            event, detector=NAME, rule_id=rule.id, title=f"{rule.title} ({scope} {who})",
            score=rule.score if has_base else rule.score - 0.1, severity=rule.severity,
            atlas=rule.atlas, owasp=rule.owasp, details={
                "scope": scope, "tokens": tokens, "cost": round(cost, 6),
                "baseline_tokens": round(base_tokens, 1) if has_base else None,
                "baseline_cost": round(base_cost, 6) if has_base else None,
                "ratio": None if ratio is None else round(ratio, 2), "window_s": self.window,
            },
        )

    def flush(self) -> list[Finding]:
        return []

    # ------------------------------------------------------------------ batches

    def observe_batch(self, events: Sequence[TelemetryEvent]) -> list[tuple[int, Finding]]:
        """``observe`` of each event in turn (see ``base.BatchDetector``)."""
        if self.rule is None or not events:
            return []
        cols = keyed_batch.columns(events)
        spend: _SpendColumns
        if cols.spend_packed is not None:
            # read with the columns, every value one the C steps take: the Python
            # columns are made only if a key is left to Python after all
            packed, chosen = cols.spend_packed
            spend = _SpendColumns(cols, packed)
        else:
            totals = None if accel.fast is None else accel.fast.spend_totals(
                cols.prompt_tokens, cols.completion_tokens, cols.costs)
            if totals is not None:
                # C sums and compares in order whatever the values: what the Python
                # steps need to know about them is then never asked
                tokens, costs, chosen = totals
                spend = _SpendColumns(cols, None, tokens, costs)
            else:
                tokens, costs, plain, growing = _spend_columns(cols)
                spend = _SpendColumns(cols, None, tokens, costs, [plain, growing])
                chosen = ([i for i, (t, c) in enumerate(zip(tokens, costs, strict=True))
                           if t or c] if 0 in tokens else None)
        ts = cols.ts
        out: list[tuple[int, Finding]] = []
        run = partial(self._run_all, ts=ts, spend=spend, events=events, out=out,
                      ascending=cols.ascending, packed_ts=cols.ts_packed)
        touch = keyed_batch.touch
        if chosen is not None:  # events without spend are not looked at
            sel = chosen
            keys = [cols.actors[i] for i in sel]
            sel_ts = [ts[i] for i in sel]
            run([(st, [sel[j] for j in idx])
                 for st, idx in touch(self.keys, keyed_batch.group(keys), keys, sel_ts)], "key")
        else:
            sel = None
            run(touch(self.keys, cols.groups, cols.actors, ts), "key")
        teams: list[Any] = cols.teams  # None where an event has no team
        if sel is None and cols.team_groups is not None:  # every event has a team
            run(touch(self.teams, cols.team_groups, teams, ts), "team")
        elif any(teams):
            tsel = [i for i in (range(len(events)) if sel is None else sel) if teams[i]]
            tkeys = [teams[i] for i in tsel]
            tts = [ts[i] for i in tsel]
            run([(st, [tsel[j] for j in idx])
                 for st, idx in touch(self.teams, keyed_batch.group(tkeys), tkeys, tts)],
                "team")
        if len(out) > 1:
            out.sort(key=itemgetter(0))  # stable: an event's key finding before its team's
        return out

    def _run_all(self, pairs: list[tuple[_Spend, list[int]]], scope: str, *, ts: list[float],
                 spend: _SpendColumns, events: Sequence[TelemetryEvent],
                 out: list[tuple[int, Finding]], ascending: bool,
                 packed_ts: bytes | None) -> None:
        """``_run`` of each (state, positions) in turn; with the accelerator, one C call
        for all of them, and ``_run`` only for those it leaves to Python."""
        if accel.fast is not None:
            crossings, rest = accel.fast.spend_batch(
                pairs, packed_ts, spend.packed, ts, spend.tokens, spend.costs, self.window,
                _ALPHA, _MIN_BASELINE_WINDOWS, self.factor, self.min_tokens, self.new_tokens,
                self.min_cost, self.new_cost)
            for i, *snapshot in crossings:
                out.append((i, self._report(events[i], scope, *snapshot)))
            pairs = [pairs[k] for k in rest]
        if pairs:
            tokens, costs = spend.lists()
            for st, idx in pairs:
                self._run(st, idx, ts, tokens, costs, spend.facts, events, scope, out,
                          ascending)

    def _run(self, st: _Spend, idx: list[int], ts: list[float], tokens: list[int],
             costs: list[float], facts: list[bool], events: Sequence[TelemetryEvent],
             scope: str, out: list[tuple[int, Finding]], ascending: bool = True) -> None:
        """The events ``idx`` of one key (team), one window at a time. ``facts``:
        ``plain`` and ``growing`` of the batch (see ``_spend_columns``), or empty
        until a Python step needs them."""
        if not facts:
            facts[:] = [all(type(t) is int for t in tokens), _growing(tokens, costs)]
        plain, growing = facts
        n = len(idx)
        times: Sequence[float] = ts
        at: Sequence[int] = idx
        if not ascending:
            times, at = list(map(ts.__getitem__, idx)), range(n)
        for a, b in keyed_batch.window_runs(st, times, at, ascending, self.window, self._roll):
            self._spend(st, idx if b - a == n else idx[a:b], tokens, costs, plain, growing,
                        events, scope, out)

    def _spend(self, st: _Spend, sel: list[int], tokens: list[int], costs: list[float],
               plain: bool, growing: bool, events: Sequence[TelemetryEvent], scope: str,
               out: list[tuple[int, Finding]]) -> None:
        """Events ``sel``, all in the current window of ``st``."""
        reported = st.reported
        if reported or growing:
            tok0, cost0 = st.tokens, st.cost
            st.tokens = _add_all(map(tokens.__getitem__, sel), tok0, plain)
            st.cost = _add_all(map(costs.__getitem__, sel), cost0, False)
            if reported or not self._over(st):
                return
            st.tokens, st.cost = tok0, cost0  # crossed inside: find the event
        for k, i in enumerate(sel):
            st.tokens += tokens[i]
            st.cost += costs[i]
            f = self._check(st, events[i], scope)
            if f is not None:
                out.append((i, f))
                rest = sel[k + 1:]
                st.tokens = _add_all(map(tokens.__getitem__, rest), st.tokens, plain)
                st.cost = _add_all(map(costs.__getitem__, rest), st.cost, False)
                return


class _SpendColumns:
    """The spend of a batch's events, as the C steps read it (``packed``, from the
    columns) and as the Python steps do (``tokens``, ``costs``: made on first need
    when packed). ``facts``: ``plain`` and ``growing`` (see ``_spend_columns``), or
    empty until a Python step needs them."""

    __slots__ = ("cols", "costs", "facts", "packed", "tokens")

    def __init__(self, cols: keyed_batch.Columns, packed: bytes | None,
                 tokens: list[Any] | None = None, costs: list[float] | None = None,
                 facts: list[bool] | None = None) -> None:
        self.cols = cols
        self.packed = packed
        self.tokens = tokens
        self.costs = costs
        self.facts = [] if facts is None else facts

    def lists(self) -> tuple[list[Any], list[float]]:
        if self.tokens is None or self.costs is None:
            tokens, costs, plain, growing = _spend_columns(self.cols)
            self.tokens, self.costs, self.facts[:] = tokens, costs, [plain, growing]
        return self.tokens, self.costs


def _growing(tokens: list[Any], costs: list[Any]) -> bool:
    """No spend is negative (nor NaN): within a window spend only grows."""
    tsum, csum = sum(tokens), sum(costs)
    return min(tokens) >= 0 and min(costs) >= 0 and tsum == tsum and csum == csum


def _spend_columns(cols: keyed_batch.Columns) -> tuple[list[Any], list[float], bool, bool]:
    """Tokens ``(p or 0) + (c or 0)`` and costs ``c or 0.0`` of each event; whether
    the tokens are all ints (``plain``) and whether spend only grows (``growing``)."""
    pts: list[Any] = cols.prompt_tokens  # ints, or None where not reported
    cts: list[Any] = cols.completion_tokens
    try:  # all ints (what the sources produce): ``(p or 0) + (c or 0)`` is ``p + c``
        plain = type(sum(pts)) is int and type(sum(cts)) is int
    except TypeError:  # a None
        plain = False
    tokens = (list(map(add, pts, cts)) if plain else
              [(p or 0) + (c or 0) for p, c in zip(pts, cts, strict=True)])
    plain = plain or all(type(t) is int for t in tokens)
    costs = (cast("list[float]", cols.costs) if None not in cols.costs
             else [c or 0.0 for c in cols.costs])
    return tokens, costs, plain, _growing(tokens, costs)


# Before 3.12, sum() adds floats one after the other in a C double, exactly as ``+=``
# in a loop would; since 3.12 it compensates rounding, so the loop's sum needs reduce().
_SUM_IN_ORDER = sys.version_info < (3, 12)


def _add_all(values: Iterator[Any], start: Any, ints: bool) -> Any:
    """``start + v0 + v1 + ...`` added left to right, as a loop of ``+=`` would."""
    if ints or _SUM_IN_ORDER:
        return sum(values, start)
    return reduce(add, values, start)


def from_context(ctx: BuildContext) -> WalletDetector:
    rules = ctx.rules_for(NAME)
    return WalletDetector(rules[0] if rules else None, ctx)
