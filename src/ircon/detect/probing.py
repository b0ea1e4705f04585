"""Probing and model extraction (AML.T0040, AML.T0024): per-key traffic shape.

Per key, a tumbling window counts requests and the request parameters that
make a model cheap to copy (logprobs / top_logprobs, large logit_bias, n>1,
temperature 0 with large max_tokens). A key's own baseline is an EWMA of its
past windows. Prompt statistics (distinct ratio, shared skeletons, coverage)
are kept only for keys busy enough to be judged, so a flood of one-off keys
costs a few dozen bytes each and is evicted when idle.

``observe_batch`` takes many events at once: the batch is grouped by key, each
key's window boundaries are found by bisection, and the work of an event that is
only read when a key is judged (its extraction-likeness, its prompt statistics) is
deferred: kept as the event's parameters / prompt and folded in bulk when the key
is judged, when its window closes, or when enough is pending. Most windows are never
judged, so most of that work never happens; the answers are the same.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Sequence
from functools import partial
from itertools import compress
from operator import attrgetter, is_not, itemgetter
from typing import cast

from ircon.detect import accel, keyed_batch
from ircon.detect.base import BuildContext, KeyedState, finding
from ircon.detect.rules import Rule
from ircon.model.finding import Finding
from ircon.model.telemetry import Message, RequestParams, TelemetryEvent

NAME = "probing"
_ALPHA = 0.3  # EWMA weight of the newest window in the baseline
_MIN_BASELINE_WINDOWS = 3
_RECENT = 64  # prompts remembered per busy key for distinct/template statistics
_COVERAGE_CAP = 4096  # distinct prompt hashes remembered per busy key
_SKELETON_CAP = 256  # distinct prefixes (suffixes) counted per busy key and window
_new_counter = Counter.__new__
_DIGITS = re.compile(r"\d+")
# Deferred work per key is folded in once this much is pending: memory stays bounded.
_PENDING_CAP = 256


class _KeyState:
    __slots__ = ("baseline", "busy", "count", "early", "extraction", "reported", "start",
                 "unjudged", "windows")

    def __init__(self) -> None:
        self.start = -1.0
        self.count = 0
        self.extraction = 0
        self.baseline = 0.0
        self.windows = 0
        self.reported = 0  # bit set of what was already reported in this window
        self.busy: _BusyState | None = None
        # The messages of this window's requests from the ``min_requests // 2``-th on,
        # while the key has no prompt statistics: they are made from these when it is
        # judged (most keys that get this far are not), or when this holds more than
        # ``_PENDING_CAP``; dropped when the window closes.
        self.early: list[tuple[Message, ...]] | None = None
        # parameters of this window's events not yet counted into ``extraction``
        # (batched path; counted when the key is judged)
        self.unjudged: list[RequestParams] | None = None


class _BusyState:
    """Prompt statistics of a key with enough traffic to be judged."""

    __slots__ = ("busy_windows", "distinct", "pending", "prefixes", "recent", "suffixes",
                 "total", "unskeletoned")

    def __init__(self) -> None:
        self.recent: deque[int] = deque(maxlen=_RECENT)
        # Counter() runs a Python __init__ that, without arguments, leaves an empty dict:
        # created directly, a key that turns busy every window costs less
        self.prefixes: Counter[str] = _new_counter(Counter)
        self.suffixes: Counter[str] = _new_counter(Counter)
        self.distinct: set[int] = set()
        self.total = 0
        self.busy_windows = 0
        # Batched path, in arrival order: messages of this window's requests not yet
        # folded into the statistics above, then prompts folded into all but the
        # prefix/suffix counts (those are only read by the template test, and cleared
        # when the window closes)
        self.pending: list[tuple[Message, ...]] = []
        self.unskeletoned: list[str] = []

    def settle(self, skeletons: bool = True) -> None:
        """Fold the pending prompts in, as one event at a time would have; without
        ``skeletons`` the prefix/suffix counts may be left behind (in
        ``unskeletoned``, counted by ``count_skeletons``)."""
        if self.pending:
            self._fold()
        if skeletons and self.unskeletoned:
            self.count_skeletons()

    def count_skeletons(self) -> None:
        pres, sufs = skeletons_of(self.unskeletoned)
        self.unskeletoned = []
        _count_capped(self.prefixes, pres)
        _count_capped(self.suffixes, sufs)

    def skeleton_bound(self) -> int:
        """At least the top prefix (suffix) count once everything is counted."""
        return max(sum(self.prefixes.values()), sum(self.suffixes.values())) + len(
            self.unskeletoned) + len(self.pending)

    def _fold(self) -> None:
        prompts = last_user_texts(self.pending)
        self.pending = []
        hashes = list(map(hash, prompts))
        self.recent.extend(hashes)
        self.total += len(hashes)
        distinct = self.distinct
        if len(distinct) + len(hashes) <= _COVERAGE_CAP:
            distinct.update(hashes)
        else:
            for h in hashes:
                if len(distinct) >= _COVERAGE_CAP:
                    break
                distinct.add(h)
        if self.unskeletoned:
            self.unskeletoned.extend(prompts)
        else:
            self.unskeletoned = prompts
        if len(self.unskeletoned) > _PENDING_CAP:
            self.count_skeletons()


def _count_capped(counts: Counter[str], items: list[str]) -> None:
    """``counts[x] += 1`` for each item, a new x only while fewer than
    ``_SKELETON_CAP`` are counted."""
    if len(counts) + len(items) <= _SKELETON_CAP or (
            len(counts) + len(set(items).difference(counts)) <= _SKELETON_CAP):
        counts.update(items)
        return
    for n, x in enumerate(items):
        if len(counts) >= _SKELETON_CAP:
            counts.update(filter(counts.__contains__, items[n:]))
            return
        counts[x] = counts.get(x, 0) + 1


def _busy(st: _KeyState) -> _BusyState:
    """The key's prompt statistics, made when it has none from the messages kept in
    ``early`` (folded in when read, in arrival order)."""
    busy = st.busy
    if busy is None:
        busy = st.busy = _BusyState()
        if st.early:
            busy.pending = st.early
        st.early = None
    return busy


_RATE, _EXTRACT, _TEMPLATE, _COVERAGE = 1, 2, 4, 8


def skeleton(prompt: str) -> tuple[str, str]:
    """Prefix and suffix signatures of a prompt, digits masked, case folded."""
    p = prompt[:28].lower()
    s = prompt[-16:].lower()
    if not p.isalpha():
        # a search is cheaper than a substitution that finds nothing
        if _DIGITS.search(p) is not None:
            p = _DIGITS.sub("#", p)
        if _DIGITS.search(s) is not None:
            s = _DIGITS.sub("#", s)
    return p, s


_HEAD = itemgetter(slice(None, 28))
_TAIL = itemgetter(slice(-16, None))
_SEP, _MARK = "\x00", "\x01"
_ASCII_DIGITS = str.maketrans(dict.fromkeys("0123456789", _MARK))
def _lower_all(texts: list[str]) -> list[str]:
    joined = _SEP.join(texts)
    # lower() is per character except for a capital sigma (final form by context)
    if "\u03a3" in joined or joined.count(_SEP) != len(texts) - 1:
        return [t.lower() for t in texts]
    return joined.lower().split(_SEP)


def _mask_all(texts: list[str]) -> list[str]:
    """``_DIGITS.sub("#", t)`` of every text.

    ASCII texts (the usual case) are joined and their digits turned to a mark in one
    ``translate``, runs of marks collapsed with ``replace``: C loops over the lot.
    Other texts go through the expression one by one (``translate`` with a table for
    all of Unicode's digits costs a dictionary look-up per character).
    """
    plain = list(map(str.isascii, texts))
    if False not in plain:
        return _mask_ascii(texts)
    if True not in plain:
        return [_DIGITS.sub("#", t) for t in texts]
    masked = iter(_mask_ascii(list(compress(texts, plain))))
    return [next(masked) if a else _DIGITS.sub("#", t)
            for a, t in zip(plain, texts, strict=True)]


def _mask_ascii(texts: list[str]) -> list[str]:
    joined = _SEP.join(texts)
    if _MARK in joined or joined.count(_SEP) != len(texts) - 1:
        return [_DIGITS.sub("#", t) for t in texts]
    marked = joined.translate(_ASCII_DIGITS)
    if _MARK not in marked:
        return texts
    double = _MARK + _MARK
    while double in marked:
        marked = marked.replace(double, _MARK)
    return marked.replace(_MARK, "#").split(_SEP)


def skeletons_of(prompts: list[str]) -> tuple[list[str], list[str]]:
    """``skeleton`` of every prompt, as two lists, with C-level work over the list."""
    if len(prompts) < 8:
        pairs = list(map(skeleton, prompts))
        return [p for p, _ in pairs], [s for _, s in pairs]
    pres = _lower_all(list(map(_HEAD, prompts)))
    sufs = _lower_all(list(map(_TAIL, prompts)))
    alpha = list(map(str.isalpha, pres))
    masked_pres = _mask_all(pres)  # an all-letters prefix has no digit: unchanged
    masked_sufs = _mask_all(sufs)
    if True in alpha:  # the suffix of an all-letters prefix is left as it is
        masked_sufs = [s if a else m for a, s, m in zip(alpha, sufs, masked_sufs, strict=True)]
    return masked_pres, masked_sufs


_LOGPROBS = attrgetter("logprobs")
_TOP_LOGPROBS = attrgetter("top_logprobs")
_LOGIT_BIAS = attrgetter("logit_bias_size")
_TEMPERATURE = attrgetter("temperature")
_N = attrgetter("n")


_not_none = partial(is_not, None)


def _more_than_one(n: int | None) -> bool:
    return (n or 1) > 1
_ROLE = attrgetter("role")
_CONTENT = attrgetter("content")
_LAST = itemgetter(-1)


def last_user_text(messages: tuple[Message, ...]) -> str:
    """``TelemetryEvent.last_user_text`` of an event with these messages."""
    for m in reversed(messages):
        if m.role == "user":
            return m.content
    return ""


def last_user_texts(messages: list[tuple[Message, ...]]) -> list[str]:
    """``last_user_text`` of each. With the accelerator in C, fetching the next few
    tuples' objects ahead (a window's pending requests are long out of cache); else
    C-level ``map`` work when each ends with a user turn."""
    if accel.fast is not None:
        return cast("list[str]", accel.fast.last_user_texts(messages))
    if len(messages) >= 8 and all(messages):
        last = list(map(_LAST, messages))
        if list(map(_ROLE, last)).count("user") == len(last):
            return list(map(_CONTENT, last))
    return list(map(last_user_text, messages))


class ProbingDetector:
    name = NAME

    def __init__(self, rules: dict[str, Rule], ctx: BuildContext) -> None:
        cfg = ctx.cfg
        self.rules = rules
        self.window = cfg.window_seconds
        self.min_requests = cfg.min_requests
        self.rate_factor = cfg.rate_factor
        self.state: KeyedState[_KeyState] = KeyedState(
            _KeyState, max_keys=cfg.max_keys,
            idle=max(cfg.idle_seconds, cfg.window_seconds * 2))
        ex = rules.get("probe.extraction")
        params = ex.params if ex else {}
        self.ex_fraction = float(params.get("min_fraction", 0.6))
        self.ex_top = int(params.get("top_logprobs", 5))
        self.ex_bias = int(params.get("logit_bias", 20))
        self.ex_max_tokens = int(params.get("max_tokens", 2048))
        tp = rules.get("probe.templated")
        self.tpl_fraction = float(tp.params.get("min_fraction", 0.7)) if tp else 0.7
        cv = rules.get("probe.coverage")
        self.cov_ratio = float(cv.params.get("min_distinct_ratio", 0.97)) if cv else 0.97
        self.cov_min = int(cv.params.get("min_requests", 200)) if cv else 200

    def _extraction_like(self, p: RequestParams) -> bool:
        if (p.top_logprobs or 0) >= self.ex_top or p.logit_bias_size >= self.ex_bias:
            return True
        weak = 0
        if p.logprobs or (p.top_logprobs or 0) > 0:
            weak += 1
        if (p.n or 1) > 1:
            weak += 1
        if p.temperature == 0 and (p.max_tokens or 0) >= self.ex_max_tokens:
            weak += 1
        if p.logit_bias_size > 0:
            weak += 1
        return weak >= 2

    def observe(self, event: TelemetryEvent) -> list[Finding]:
        now = event.ts
        st = self.state.get(event.actor(), now)
        if st.start < 0:
            st.start = now
        elif now - st.start >= self.window:
            self._close(st, now)
        st.count = c = st.count + 1
        p = event.params
        if (p.logprobs or p.top_logprobs or p.logit_bias_size or (p.n or 1) > 1
                or p.temperature == 0) and self._extraction_like(p):
            st.extraction += 1
        busy = st.busy
        if busy is None and c >= self.min_requests // 2:
            early = st.early
            if c < self.min_requests and (early is None or len(early) < _PENDING_CAP):
                if early is None:
                    early = st.early = []
                early.append(event.messages)
            else:
                busy = _busy(st)
        if busy is not None:
            if busy.pending or busy.unskeletoned:  # left by a batch: earlier prompts first
                busy.settle()
            prompt = event.last_user_text
            h = hash(prompt)
            busy.recent.append(h)
            pre, suf = skeleton(prompt)
            counts = busy.prefixes
            if len(counts) < 256 or pre in counts:
                counts[pre] = counts.get(pre, 0) + 1
            counts = busy.suffixes
            if len(counts) < 256 or suf in counts:
                counts[suf] = counts.get(suf, 0) + 1
            busy.total += 1
            if len(busy.distinct) < _COVERAGE_CAP:
                busy.distinct.add(h)
        # Judge at min_requests, then every time the count doubles: timely and cheap.
        if c >= self.min_requests and (c == self.min_requests or (c & (c - 1)) == 0):
            return self._judge(event, st)
        return []

    def _close(self, st: _KeyState, now: float) -> None:
        elapsed = int((now - st.start) // self.window)
        if st.windows == 0:
            st.baseline = float(st.count)
        else:
            st.baseline = (1 - _ALPHA) * st.baseline + _ALPHA * st.count
        # empty windows in between pull the baseline down
        st.baseline *= (1 - _ALPHA) ** max(0, elapsed - 1)
        st.windows += elapsed
        st.start += elapsed * self.window
        if st.busy is not None:
            self._close_busy(st)
        st.early = None
        st.count = 0
        st.extraction = 0
        st.unjudged = None
        st.reported = 0

    def _close_busy(self, st: _KeyState) -> None:
        """The prompt statistics of a busy key whose window closes (``st.count`` is the
        closing window's count): kept and folded in when the key stayed busy, else
        dropped."""
        busy = st.busy
        assert busy is not None
        if st.count >= self.min_requests:
            busy.busy_windows += 1
            busy.settle(skeletons=False)  # this window's skeletons are cleared below
        else:
            # quiet again: drop the prompt statistics (the C steps do only this)
            st.busy = None
        busy.prefixes.clear()
        busy.suffixes.clear()
        busy.unskeletoned = []

    def _judge(self, event: TelemetryEvent, st: _KeyState) -> list[Finding]:
        if st.unjudged:
            st.extraction += self._count_extraction(st.unjudged)
        st.unjudged = None
        out: list[Finding] = []
        c = st.count
        rule = self.rules.get("probe.rate")
        if (rule and not st.reported & _RATE and st.windows >= _MIN_BASELINE_WINDOWS
                and c >= self.rate_factor * max(st.baseline, 1.0)):
            st.reported |= _RATE
            out.append(self._make(event, rule, min(1.0, rule.score + 0.05 * c / max(
                st.baseline, 1.0) / self.rate_factor), {
                "requests": c, "baseline": round(st.baseline, 2), "window_s": self.window}))
        rule = self.rules.get("probe.extraction")
        if rule and not st.reported & _EXTRACT and st.extraction >= self.ex_fraction * c:
            st.reported |= _EXTRACT
            out.append(self._make(event, rule, rule.score, {
                "requests": c, "extraction_like": st.extraction, "window_s": self.window}))
        busy = _busy(st) if st.busy is None and st.early else st.busy
        if busy is None or not (busy.recent or busy.pending):
            return out
        # Prompts a batch left pending are folded in only when a test needs them; each
        # test below is first tried on what bounds it (the top skeleton count cannot
        # exceed the prompts counted; the total is known without folding).
        rule = self.rules.get("probe.templated")
        if (rule and not st.reported & _TEMPLATE and len(event.last_user_text) <= 300
                and busy.skeleton_bound() >= self.tpl_fraction * c):
            busy.settle()
            distinct = len(set(busy.recent)) / len(busy.recent)
        else:
            distinct = 0.0
        if distinct >= 0.8:
            assert rule is not None
            for counts, where in ((busy.prefixes, "prefix"), (busy.suffixes, "suffix")):
                top, k = counts.most_common(1)[0] if counts else ("", 0)
                if k >= self.tpl_fraction * c and len(top) >= 8:
                    st.reported |= _TEMPLATE
                    out.append(self._make(event, rule, rule.score, {
                        "requests": c, "shared": where, "skeleton": top,
                        "distinct_ratio": round(distinct, 3)}, campaign=f"template:{top}"))
                    break
        rule = self.rules.get("probe.coverage")
        if (rule and not st.reported & _COVERAGE and busy.busy_windows >= 1
                and busy.total + len(busy.pending) >= self.cov_min):
            busy.settle(skeletons=False)
        if (rule and not st.reported & _COVERAGE and busy.total >= self.cov_min
                and busy.busy_windows >= 1
                and len(busy.distinct) >= self.cov_ratio * min(busy.total, _COVERAGE_CAP)
                and len(event.last_user_text) <= 400):
            st.reported |= _COVERAGE
            out.append(self._make(event, rule, rule.score, {
                "requests": busy.total, "distinct": len(busy.distinct),
                "busy_windows": busy.busy_windows}))
        return out

    def _make(self, event: TelemetryEvent, rule: Rule, score: float,
              details: dict[str, object], campaign: str | None = None) -> Finding:
        return finding(
            event, detector=NAME, rule_id=rule.id, title=rule.title, score=score,
            severity=rule.severity, atlas=rule.atlas, owasp=rule.owasp,
            campaign=campaign, details=details,
        )

    def flush(self) -> list[Finding]:
        return []

    def _count_extraction(self, params: list[RequestParams]) -> int:
        # the per-event screen, a field at a time over the list (C loops): usually
        # nothing passes it and nothing more is needed
        if not (any(map(_LOGPROBS, params)) or any(map(_TOP_LOGPROBS, params))
                or any(map(_LOGIT_BIAS, params)) or 0 in list(map(_TEMPERATURE, params))
                or any(map(_more_than_one, filter(_not_none, map(_N, params))))):
            return 0
        n = 0
        for p in params:
            if (p.logprobs or p.top_logprobs or p.logit_bias_size or (p.n or 1) > 1
                    or p.temperature == 0) and self._extraction_like(p):
                n += 1
        return n

    # ------------------------------------------------------------------ batches

    def observe_batch(self, events: Sequence[TelemetryEvent]) -> list[tuple[int, Finding]]:
        """``observe`` of each event in turn (see ``base.BatchDetector``).

        Per key, one window at a time: what is only read when the key is judged is
        deferred, the parameters of the window's events (counted into ``extraction``)
        and, once the key is busy, their messages (prompt statistics). A window that
        closes inside the batch below ``min_requests`` needs only its count: all it
        would have deferred is dropped when it closes. A window in which the key is
        judged goes through ``_run_judged``. The accelerator does the same steps for
        all keys in one call, except that it screens the parameters at once (in C,
        reading them costs less than keeping them).
        """
        if not events:
            return []
        cols = keyed_batch.columns(events)
        ts = cols.ts
        messages = cols.messages
        out: list[tuple[int, Finding]] = []
        in_order = cols.ascending
        window = self.window
        mr = self.min_requests
        half = mr // 2
        pairs = keyed_batch.touch(self.state, cols.groups, cols.actors, ts)
        if accel.fast is not None:
            # the per-key steps below, in C, for every key at once; the numbers of
            # the keys it leaves to Python (a value C does not treat as Python does)
            rest = accel.fast.probe_batch(self, pairs, cols.ts_packed, cols.screens, ts,
                                          cols.params_listed, messages, events, _busy,
                                          window, _ALPHA, mr, _PENDING_CAP, out)
            pairs = [pairs[k] for k in rest]
        params = cols.params if pairs else []  # listed only for the Python steps
        for st, idx in pairs:
            n = len(idx)
            # the time of the key's j-th event is times[at[j]]: in an ordered batch the
            # batch's own column (no per-key copy), else a copy checked for order
            at: Sequence[int]
            if in_order:
                times, at, asc = ts, idx, True
            else:
                times = list(map(ts.__getitem__, idx))
                at, asc = range(n), keyed_batch.ascending(times)
            for a, b in keyed_batch.window_runs(st, times, at, asc, window, self._close):
                c0 = st.count
                c1 = c0 + b - a
                if c1 >= mr and (c0 < mr or c1 >= 1 << c0.bit_length()):
                    self._run_judged(st, idx, a, b, events, params, messages, out)
                elif b == n or c1 >= mr:
                    sel = idx if b - a == n else idx[a:b]
                    pend = st.unjudged
                    if pend is None and b - a == 1:  # a one-off key: no list kept for it
                        p = params[idx[a]]
                        if (p.logprobs or p.top_logprobs or p.logit_bias_size
                                or (p.n or 1) > 1 or p.temperature == 0) and (
                                    self._extraction_like(p)):
                            st.extraction += 1
                    elif pend is None:
                        st.unjudged = list(map(params.__getitem__, sel))
                    else:
                        pend.extend(map(params.__getitem__, sel))
                        if len(pend) > _PENDING_CAP:
                            st.extraction += self._count_extraction(pend)
                            st.unjudged = None
                    busy = st.busy
                    if busy is None and c1 >= half:
                        early = st.early
                        if early is None:
                            early = st.early = []
                        early.extend(map(messages.__getitem__,
                                         idx[a + max(0, half - c0 - 1):b]))
                        if len(early) > _PENDING_CAP:
                            _busy(st).settle()
                    elif busy is not None:
                        busy.pending.extend(map(messages.__getitem__, sel))
                        if len(busy.pending) > _PENDING_CAP:
                            busy.settle()
                    st.count = c1
                else:  # closes quiet inside the batch: only the count is ever read
                    st.count = c1
        if len(out) > 1:
            out.sort(key=itemgetter(0))  # stable: one event's findings keep their order
        return out

    def _run_judged(self, st: _KeyState, idx: list[int], a: int, b: int,
                    events: Sequence[TelemetryEvent], params: list[RequestParams],
                    messages: list[tuple[Message, ...]],
                    out: list[tuple[int, Finding]]) -> None:
        """Events ``idx[a:b]`` of one key, all in its current window, in which the key is
        judged (at ``min_requests``, then at every power of two)."""
        c0 = st.count
        c1 = c0 + b - a
        mr = self.min_requests
        judged: list[int] = []  # counts at which the key is judged
        if c0 < mr:
            judged.append(mr)
        p = 1 << max(c0, mr).bit_length()  # the next power of two
        while p <= c1:
            judged.append(p)
            p <<= 1
        busy = st.busy
        first_busy = a if busy is not None else a + max(0, mr // 2 - c0 - 1)
        if busy is None:
            busy = _busy(st)  # judged at mr or later: statistics from mr // 2
        pos = a
        for c in judged:
            k = a + c - c0 - 1
            self._defer(st, busy, idx[pos:k + 1], idx[max(pos, first_busy):k + 1], params,
                        messages)
            pos = k + 1
            st.count = c
            i = idx[k]
            for f in self._judge(events[i], st):
                out.append((i, f))
        self._defer(st, busy, idx[pos:b], idx[max(pos, first_busy):b], params, messages)
        st.count = c1

    def _defer(self, st: _KeyState, busy: _BusyState, sel: list[int], busy_sel: list[int],
               params: list[RequestParams], messages: list[tuple[Message, ...]]) -> None:
        if sel:
            pend = st.unjudged
            if pend is None:
                pend = st.unjudged = []
            pend.extend(map(params.__getitem__, sel))
            if len(pend) > _PENDING_CAP:
                st.extraction += self._count_extraction(pend)
                st.unjudged = None
        if busy_sel:
            busy.pending.extend(map(messages.__getitem__, busy_sel))
            if len(busy.pending) > _PENDING_CAP:
                busy.settle()


def from_context(ctx: BuildContext) -> ProbingDetector:
    return ProbingDetector({r.id: r for r in ctx.rules_for(NAME)}, ctx)
