"""Probing and model extraction (AML.T0040, AML.T0024): per-key traffic shape.

Per key, a tumbling window counts requests and the request parameters that
make a model cheap to copy (logprobs / top_logprobs, large logit_bias, n>1,
temperature 0 with large max_tokens). A key's own baseline is an EWMA of its
past windows. Prompt statistics (distinct ratio, shared skeletons, coverage)
are kept only for keys busy enough to be judged, so a flood of one-off keys
costs a few dozen bytes each and is evicted when idle.
"""

from __future__ import annotations

import re
from collections import Counter, deque

from ircon.detect.base import BuildContext, KeyedState, finding
from ircon.detect.rules import Rule
from ircon.model.finding import Finding
from ircon.model.telemetry import TelemetryEvent

NAME = "probing"
_ALPHA = 0.3  # EWMA weight of the newest window in the baseline
_MIN_BASELINE_WINDOWS = 3
_RECENT = 64  # prompts remembered per busy key for distinct/template statistics
_COVERAGE_CAP = 4096  # distinct prompt hashes remembered per busy key
_DIGITS = re.compile(r"\d+")


class _KeyState:
    __slots__ = ("baseline", "busy", "count", "extraction", "reported", "start", "windows")

    def __init__(self) -> None:
        self.start = -1.0
        self.count = 0
        self.extraction = 0
        self.baseline = 0.0
        self.windows = 0
        self.reported = 0  # bit set of what was already reported in this window
        self.busy: _BusyState | None = None


class _BusyState:
    """Prompt statistics of a key with enough traffic to be judged."""

    __slots__ = ("busy_windows", "distinct", "prefixes", "recent", "suffixes", "total")

    def __init__(self) -> None:
        self.recent: deque[int] = deque(maxlen=_RECENT)
        self.prefixes: Counter[str] = Counter()
        self.suffixes: Counter[str] = Counter()
        self.distinct: set[int] = set()
        self.total = 0
        self.busy_windows = 0


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

    def _extraction_like(self, event: TelemetryEvent) -> bool:
        p = event.params
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
                or p.temperature == 0) and self._extraction_like(event):
            st.extraction += 1
        busy = st.busy
        if busy is None and c >= self.min_requests // 2:
            busy = st.busy = _BusyState()
        if busy is not None:
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
        busy = st.busy
        if busy is not None:
            if st.count >= self.min_requests:
                busy.busy_windows += 1
            else:
                st.busy = None  # quiet again: drop the prompt statistics
            busy.prefixes.clear()
            busy.suffixes.clear()
        st.count = 0
        st.extraction = 0
        st.reported = 0

    def _judge(self, event: TelemetryEvent, st: _KeyState) -> list[Finding]:
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
        busy = st.busy
        if busy is None or not busy.recent:
            return out
        rule = self.rules.get("probe.templated")
        n = len(busy.recent)
        distinct = len(set(busy.recent)) / n
        if rule and not st.reported & _TEMPLATE and distinct >= 0.8 and len(
                event.last_user_text) <= 300:
            for counts, where in ((busy.prefixes, "prefix"), (busy.suffixes, "suffix")):
                top, k = counts.most_common(1)[0] if counts else ("", 0)
                if k >= self.tpl_fraction * c and len(top) >= 8:
                    st.reported |= _TEMPLATE
                    out.append(self._make(event, rule, rule.score, {
                        "requests": c, "shared": where, "skeleton": top,
                        "distinct_ratio": round(distinct, 3)}, campaign=f"template:{top}"))
                    break
        rule = self.rules.get("probe.coverage")
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


def from_context(ctx: BuildContext) -> ProbingDetector:
    return ProbingDetector({r.id: r for r in ctx.rules_for(NAME)}, ctx)
