"""Denial of wallet (AML.T0034, LLM10:2025): spend per key and per team far above
its own baseline, in tumbling windows of ``window_seconds``."""

from __future__ import annotations

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

    def _add(self, st: _Spend, now: float, tokens: int, cost: float, event: TelemetryEvent,
             scope: str) -> Finding | None:
        if st.start < 0:
            st.start = now
        elif now - st.start >= self.window:
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
        st.tokens += tokens
        st.cost += cost
        if st.reported:
            return None
        has_base = st.windows >= _MIN_BASELINE_WINDOWS
        by_tokens = st.tokens >= self.min_tokens and (
            st.tokens >= self.factor * max(st.base_tokens, 1.0) if has_base
            else st.tokens >= self.new_tokens)
        by_cost = st.cost >= self.min_cost and (
            st.cost >= self.factor * max(st.base_cost, 0.01) if has_base
            else st.cost >= self.new_cost)
        if not (by_tokens or by_cost):
            return None
        st.reported = True
        rule = self.rule
        assert rule is not None
        ratio = st.tokens / max(st.base_tokens, 1.0) if has_base else None
        who = event.team if scope == "team" else event.actor()
        return finding(
            event, detector=NAME, rule_id=rule.id, title=f"{rule.title} ({scope} {who})",
            score=rule.score if has_base else rule.score - 0.1, severity=rule.severity,
            atlas=rule.atlas, owasp=rule.owasp, details={
                "scope": scope, "tokens": st.tokens, "cost": round(st.cost, 6),
                "baseline_tokens": round(st.base_tokens, 1) if has_base else None,
                "baseline_cost": round(st.base_cost, 6) if has_base else None,
                "ratio": None if ratio is None else round(ratio, 2), "window_s": self.window,
            },
        )

    def flush(self) -> list[Finding]:
        return []


def from_context(ctx: BuildContext) -> WalletDetector:
    rules = ctx.rules_for(NAME)
    return WalletDetector(rules[0] if rules else None, ctx)
