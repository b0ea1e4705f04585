"""Leakage in model responses: canaries, system prompt fragments, secrets, PII.

Responses are not tokenized: secret rules open on literal prefixes ("AKIA",
"-----BEGIN"), PII rules on a run of digits or an "@", system prompt
fragments on a handful of substring probes. Only then do regexes and
validators (Luhn, IBAN mod-97, distinct counts) run.
"""

from __future__ import annotations

from pathlib import Path

from ircon.detect.base import BuildContext, excerpt, finding, windows
from ircon.detect.rules import PatternSet, Rule
from ircon.model.finding import Evidence, Finding
from ircon.model.telemetry import TelemetryEvent

NAME = "leakage"
_ANCHOR_LEN = 16
_MAX_PROTECTED = 256  # distinct system prompts whose probes are remembered
_PROTECTED_ROLES = frozenset(("system", "developer"))


def mask(value: str) -> str:
    """A recognizable but useless form of a secret: its first 4 characters and length."""
    value = value[:200]
    keep = 4 if len(value) >= 12 else 0
    return value[:keep] + "*" * (len(value) - keep)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    s = value.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    num = "".join(str(int(c, 36)) for c in moved)
    return int(num) % 97 == 1


def _anchors(text: str, count: int, min_chars: int) -> tuple[str, ...]:
    """Substrings such that a verbatim copy of a long part of ``text`` contains one.

    Probes of 16 characters every ``step`` characters; with few probes allowed,
    long prompts get sparser probes (long leaks still hit several).
    """
    text = text.strip()
    if len(text) < min_chars:
        return ()
    step = max(min_chars - _ANCHOR_LEN, (len(text) - _ANCHOR_LEN) // max(count, 1) + 1)
    out = []
    for pos in range(0, len(text) - _ANCHOR_LEN + 1, step):
        a = text[pos: pos + _ANCHOR_LEN]
        if a.strip() and len(set(a)) > 4:
            out.append(a)
        if len(out) >= count:
            break
    return tuple(out)


def _common_run(protected: str, response: str, anchor_at: int, anchor: str) -> tuple[int, int]:
    """Extend an anchor hit in ``response`` to the longest verbatim run shared with
    ``protected`` (bounded walk)."""
    p = protected.find(anchor)
    if p < 0:
        return anchor_at, anchor_at + len(anchor)
    a, b = anchor_at, anchor_at + len(anchor)
    pa, pb = p, p + len(anchor)
    limit = 4096
    while a > 0 and pa > 0 and response[a - 1] == protected[pa - 1] and limit:
        a, pa, limit = a - 1, pa - 1, limit - 1
    while b < len(response) and pb < len(protected) and response[b] == protected[pb] and limit:
        b, pb, limit = b + 1, pb + 1, limit - 1
    return a, b


class LeakageDetector:
    name = NAME

    def __init__(self, rules: list[Rule], canaries: list[str], system_prompts: list[str],
                 limit: int) -> None:
        self.by_id = {r.id: r for r in rules}
        self.patterns = PatternSet(r for r in rules if "response" in r.applies_to)
        self.canaries = [c for c in canaries if c]
        self.limit = limit
        sp = self.by_id.get("leak.system_prompt")
        self.min_chars = int(sp.params.get("min_chars", 48)) if sp else 48
        self.n_anchors = int(sp.params.get("anchors", 12)) if sp else 12
        self.configured = [(s, _anchors(s, self.n_anchors * 2, self.min_chars))
                           for s in system_prompts if s.strip()]
        self._anchor_cache: dict[str, tuple[str, ...]] = {}

    def _anchors_for(self, text: str) -> tuple[str, ...]:
        got = self._anchor_cache.get(text)
        if got is None:
            if len(self._anchor_cache) >= _MAX_PROTECTED:
                self._anchor_cache.clear()
            got = _anchors(text, self.n_anchors, self.min_chars)
            self._anchor_cache[text] = got
        return got

    def _quiet(self, event: TelemetryEvent, resp: str) -> bool:
        """True when ``resp`` (examined whole) holds no canary, no anchor of a
        protected prompt and opens no rule gate: the common case, checked with
        C-level substring searches and no per-rule Python work."""
        if self.canaries and any(map(resp.__contains__, self.canaries)):
            return False
        if "leak.system_prompt" in self.by_id:
            has = resp.__contains__
            for m in event.messages:
                if m.role in _PROTECTED_ROLES and m.content and any(
                        map(has, self._anchors_for(m.content))):
                    return False
            for _prompt, anchors in self.configured:
                if any(map(has, anchors)):
                    return False
        return not (self.patterns and self.patterns.candidates(None, resp))

    def observe(self, event: TelemetryEvent) -> list[Finding]:
        resp = event.response
        if not resp or (len(resp) <= self.limit and self._quiet(event, resp)):
            return []
        out: list[Finding] = []
        for off, part in windows(resp, self.limit):
            out.extend(self._scan(event, resp, part, off))
        return out

    def _scan(self, event: TelemetryEvent, full: str, text: str, off: int) -> list[Finding]:
        out: list[Finding] = []
        canary = self.by_id.get("leak.canary")
        if canary is not None:
            for c in self.canaries:
                pos = text.find(c)
                if pos >= 0:
                    out.append(self._make(event, canary, full, off + pos, off + pos + len(c),
                                          {"canary": "configured canary"}))
                    break
        sp = self.by_id.get("leak.system_prompt")
        if sp is not None:
            out.extend(self._system_prompt(event, sp, full, text, off))
        if self.patterns:
            for hit in self.patterns.scan(text, None, 0):
                f = self._validated(event, hit.rule, full, text, off, hit.start, hit.end)
                if f is not None:
                    out.append(f)
        return out

    def _system_prompt(self, event: TelemetryEvent, rule: Rule, full: str, text: str,
                       off: int) -> list[Finding]:
        protected: list[tuple[str, tuple[str, ...]]] = [
            (m.content, self._anchors_for(m.content))
            for m in event.messages if m.role in _PROTECTED_ROLES and m.content
        ]
        protected.extend(self.configured)
        for prompt, anchors in protected:
            for anchor in anchors:
                pos = text.find(anchor)
                if pos < 0:
                    continue
                a, b = _common_run(prompt, text, pos, anchor)
                if b - a >= self.min_chars:
                    share = min(1.0, (b - a) / max(len(prompt.strip()), 1))
                    return [self._make(event, rule, full, off + a, off + b, {
                        "chars": b - a, "share_of_prompt": round(share, 3)},
                        score=min(1.0, rule.score + 0.15 * share))]
        return []

    def _validated(self, event: TelemetryEvent, rule: Rule, full: str, text: str, off: int,
                   start: int, end: int) -> Finding | None:
        validator = rule.params.get("validator")
        if validator is None:
            return self._make(event, rule, full, off + start, off + end, {})
        rx = self.patterns._regex[self.patterns.rules.index(rule)]
        if rx is None:
            return None
        need = int(rule.params.get("min_count", 1))
        seen: list[tuple[int, int]] = []
        values: set[str] = set()
        for n, m in enumerate(rx.finditer(text, start)):
            if n >= 256:
                break
            v = m.group()
            if validator == "luhn":
                digits = "".join(c for c in v if c.isdigit())
                if not (13 <= len(digits) <= 19 and luhn_ok(digits)) or len(set(digits)) < 3:
                    continue
                v = digits
            elif validator == "iban" and not iban_ok(v):
                continue
            if v not in values:
                values.add(v)
                seen.append((m.start(), m.end()))
            if len(values) >= need and validator != "distinct":
                break
        if len(values) < need:
            return None
        s, e = seen[0]
        return self._make(event, rule, full, off + s, off + e, {"count": len(values)})

    def _make(self, event: TelemetryEvent, rule: Rule, full: str, start: int, end: int,
              details: dict[str, object], score: float | None = None) -> Finding:
        if rule.id == "leak.system_prompt" or rule.id.startswith("inj."):
            ev = excerpt("response", full, start, end)
        else:
            # Secrets, PII and canaries are never copied into a finding: the
            # evidence shows where they are and what they look like, masked.
            ev = Evidence(field="response", start=start, end=end,
                          excerpt=mask(full[start:end]))
        return finding(
            event, detector=NAME, rule_id=rule.id, title=rule.title,
            score=rule.score if score is None else score, severity=rule.severity,
            atlas=rule.atlas, owasp=rule.owasp, evidence=(ev,),
            campaign=f"rule:{rule.id}", details=details,
        )

    def flush(self) -> list[Finding]:
        return []


def read_system_prompts(paths: list[str], base: Path | None = None) -> list[str]:
    """Texts of the configured system prompt files (a missing file is skipped)."""
    out = []
    for p in paths:
        path = Path(p).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            out.append(path.read_text(encoding="utf-8", errors="replace")[:200_000])
        except OSError:
            continue
    return out


def from_context(ctx: BuildContext) -> LeakageDetector:
    return LeakageDetector(ctx.rules_for(NAME), list(ctx.cfg.canaries), ctx.system_prompts,
                           ctx.cfg.max_field_chars)
