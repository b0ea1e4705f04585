"""The keyword-gated regex detector that the jailbreak and injection families share."""

from __future__ import annotations

from ircon.detect.base import BuildContext, TextGate, current_turn, excerpt, finding, windows
from ircon.detect.rules import PatternSet, Rule, btokens
from ircon.model.finding import Finding
from ircon.model.telemetry import TelemetryEvent

_MEMO_SIZE = 8
_memo: list[tuple[str, list[bytes]]] = []


def words_of(text: str) -> list[bytes]:
    """``btokens(text)``, remembered for the last few texts by identity: several
    detectors look at the same message of the same event one after another."""
    for t, w in reversed(_memo):
        if t is text:
            return w
    w = btokens(text)
    remember_words(text, w)
    return w


def remember_words(text: str, words: list[bytes]) -> None:
    """Let ``words_of(text)`` answer ``words`` (computed elsewhere) without recomputing."""
    if len(_memo) >= _MEMO_SIZE:
        del _memo[0]
    _memo.append((text, words))


class PatternDetector:
    """Runs one family's rules over the new prompt and tool messages of each event."""

    indirect_atlas = ("AML.T0051.001",)
    turn_pure = True  # findings depend only on the new turn (see ``turnmemo``)

    def __init__(self, name: str, rules: list[Rule], *, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.prompt_rules = PatternSet(r for r in rules if "prompt" in r.applies_to)
        self.tool_rules = PatternSet(r for r in rules if "tool" in r.applies_to)

    def scan_text(self, text: str, role: str) -> list[tuple[Rule, int, int]]:
        """(rule, start, end) of each rule matching ``text`` as a ``role`` message."""
        pset = self.tool_rules if role == "tool" else self.prompt_rules
        if not pset:
            return []
        out: list[tuple[Rule, int, int]] = []
        seen: set[str] = set()
        for off, part in windows(text, self.limit):
            words = words_of(part) if off == 0 and len(part) == len(text) else btokens(part)
            for hit in pset.scan(part, words, off, skip_quoted=True):
                if hit.rule.id not in seen:
                    seen.add(hit.rule.id)
                    out.append((hit.rule, hit.start, hit.end))
        return out

    def observe(self, event: TelemetryEvent) -> list[Finding]:
        out: list[Finding] = []
        for idx, role, content in current_turn(event):
            for rule, start, end in self.scan_text(content, role):
                indirect = role == "tool" and self.name == "injection"
                out.append(finding(
                    event, detector=self.name, rule_id=rule.id,
                    title=("Indirect injection in tool output: " if indirect else "") + rule.title,
                    score=rule.score, severity=rule.severity,
                    atlas=self.indirect_atlas + tuple(a for a in rule.atlas
                                                      if not a.startswith("AML.T0051"))
                    if indirect else rule.atlas,
                    owasp=rule.owasp,
                    evidence=(excerpt(f"messages[{idx}].content", content, start, end),),
                    campaign=f"rule:{rule.id}",
                    details={"role": role, "category": rule.category, "indirect": indirect},
                ))
        return out

    def text_gate(self) -> TextGate:
        pw, pp, pb = self.prompt_rules.gate_summary()
        tw, tp, tb = self.tool_rules.gate_summary()
        return TextGate(words=pw | tw, pairs=pp + tp, pivot_bytes=pb + tb, max_chars=self.limit,
                        pivot_finders=self.prompt_rules.literal_finders()
                        + self.tool_rules.literal_finders(),
                        literals=self.prompt_rules.literals() + self.tool_rules.literals())

    def flush(self) -> list[Finding]:
        return []


def from_rules(name: str, ctx: BuildContext) -> PatternDetector:
    return PatternDetector(name, ctx.rules_for(name), limit=ctx.cfg.max_field_chars)
