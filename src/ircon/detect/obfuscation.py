"""Obfuscation and smuggling: invisible Unicode, encoded payloads, homoglyphs.

Each check starts with a test that costs a few tens of nanoseconds on ordinary
text (``str.isascii``, the longest token) and only then looks closer.
Encoded blobs are decoded and the decoded text is judged by the jailbreak and
injection rule packs, so "base64 in a code review" (an image, a fixture)
is not a finding while a base64 "ignore all previous instructions" is.
"""

from __future__ import annotations

import base64
import binascii
import re

from ircon.detect.base import (
    BuildContext,
    TextGate,
    current_turn,
    excerpt,
    finding,
    windows,
)
from ircon.detect.patterns import words_of
from ircon.detect.rules import PatternSet, Rule, btokens, utf8
from ircon.model.finding import Finding
from ircon.model.telemetry import TelemetryEvent

NAME = "obfuscation"
_TAGS = re.compile("[\U000e0000-\U000e007f]+")
_ZERO_WIDTH = re.compile(
    "[\u200b\u2060-\u2064\u180e]|(?<=[A-Za-z])[\u200c\u200d\ufeff](?=[A-Za-z])")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_HEX = re.compile(r"(?:0x)?[0-9A-Fa-f]{32,}")
# Any character one of the Unicode checks cares about: one scan decides whether to look closer.
_SUSPECT_CLASS = ("\U000e0000-\U000e007f\u200b-\u200d\u2060-\u2064\u180e\ufeff"
                  "\u202a-\u202e\u2066-\u2069\u0370-\u03ff\u0400-\u04ff")
_SUSPECT = re.compile("[" + _SUSPECT_CLASS + "]")
# The same characters listed, for the batched gate's literal matcher.
_SUSPECT_CHARS = "".join(
    chr(c) for lo, hi in re.findall("(.)-(.)", _SUSPECT_CLASS) for c in range(ord(lo), ord(hi) + 1)
) + re.sub("(.)-(.)", "", _SUSPECT_CLASS)
_MIXED = re.compile(
    "[A-Za-z][\u0370-\u03ff\u0400-\u04ff]|[\u0370-\u03ff\u0400-\u04ff][A-Za-z]")
_MAX_BLOBS = 8  # decoded per field; more blobs than this is itself suspicious enough
_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm")


def _printable_text(raw: bytes) -> str | None:
    """``raw`` as text when it reads like text (not an image, not key material)."""
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not s:
        return None
    good = sum(1 for c in s if c.isprintable() or c in "\n\t\r")
    letters = sum(1 for c in s if c.isalpha() or c == " ")
    if good < 0.95 * len(s) or letters < 0.6 * len(s) or " " not in s:
        return None
    return s


class ObfuscationDetector:
    name = NAME

    def __init__(self, rules: dict[str, Rule], judges: list[PatternSet], limit: int) -> None:
        self.rules = rules
        self.judges = [j for j in judges if j]
        self.limit = limit
        gate: set[str] = set()
        for j in self.judges:
            gate |= j.gate_words
        # rot13 text shows up as rot13 forms of the words the judges look for.
        self.rot13_gate = frozenset(
            utf8(w.translate(_ROT13)) for w in gate if w.isascii()) - {utf8(w) for w in gate}

    def _judge(self, text: str) -> Rule | None:
        words = btokens(text)
        for j in self.judges:
            for hit in j.scan(text, words):
                return hit.rule
        return None

    def observe(self, event: TelemetryEvent) -> list[Finding]:
        out: list[Finding] = []
        for idx, role, content in current_turn(event):
            field = f"messages[{idx}].content"
            for off, part in windows(content, self.limit):
                out.extend(self._scan(event, field, content, part, off, role))
        return out

    def _scan(self, event: TelemetryEvent, field: str, full: str, text: str, off: int,
              role: str) -> list[Finding]:
        out: list[Finding] = []
        if not text.isascii() and _SUSPECT.search(text) is not None:
            out.extend(self._invisible(event, field, full, text, off))
            out.extend(self._homoglyph(event, field, full, text, off))
        words = words_of(text) if off == 0 and len(text) == len(full) else btokens(text)
        rule = self.rules.get("obf.encoded")
        if rule is not None and words:
            if max(map(len, words)) >= 24 and (text.isascii() or max(
                    len(w.decode("utf-8", "surrogatepass")) for w in words) >= 24):
                out.extend(self._encoded(event, field, full, text, off, rule))
            if self.rot13_gate and len(self.rot13_gate.intersection(words)) >= 2:
                decoded = text.translate(_ROT13)
                judged = self._judge(decoded)
                if judged is not None:
                    out.append(self._make(event, rule, field, full, off, off + len(text),
                                          "rot13", decoded, judged))
        return out

    def _make(self, event: TelemetryEvent, rule: Rule, field: str, full: str, start: int,
              end: int, encoding: str, decoded: str, judged: Rule) -> Finding:
        return finding(
            event, detector=NAME, rule_id=rule.id, title=f"{rule.title}: {encoding}",
            score=rule.score, severity=rule.severity, atlas=rule.atlas, owasp=rule.owasp,
            evidence=(excerpt(field, full, start, end),), campaign=f"rule:{judged.id}:{encoding}",
            details={"encoding": encoding, "decoded": decoded[:200], "decoded_rule": judged.id},
        )

    def _encoded(self, event: TelemetryEvent, field: str, full: str, text: str, off: int,
                 rule: Rule) -> list[Finding]:
        min_b64 = int(rule.params.get("min_base64", 24))
        min_hex = int(rule.params.get("min_hex", 32))
        tried = 0
        for rx, kind in ((_HEX, "hex"), (_B64, "base64")):
            for m in rx.finditer(text):
                blob = m.group()
                if tried >= _MAX_BLOBS:
                    return []
                tried += 1
                raw: bytes | None = None
                if kind == "hex" and len(blob) >= min_hex:
                    digits = blob[2:] if blob.startswith("0x") else blob
                    try:
                        raw = binascii.unhexlify(digits[: len(digits) // 2 * 2])
                    except (binascii.Error, ValueError):
                        raw = None
                elif kind == "base64" and len(blob) >= min_b64:
                    padded = blob + "=" * (-len(blob) % 4)
                    try:
                        raw = (base64.urlsafe_b64decode(padded) if ("-" in blob or "_" in blob)
                               else base64.b64decode(padded, validate=True))
                    except (binascii.Error, ValueError):
                        raw = None
                if raw is None:
                    continue
                decoded = _printable_text(raw)
                if decoded is None:
                    continue
                judged = self._judge(decoded)
                if judged is not None:
                    return [self._make(event, rule, field, full, off + m.start(), off + m.end(),
                                       kind, decoded, judged)]
        return []

    def _invisible(self, event: TelemetryEvent, field: str, full: str, text: str,
                   off: int) -> list[Finding]:
        rule = self.rules.get("obf.invisible")
        if rule is None:
            return []
        tags = _TAGS.search(text)
        detail: dict[str, object] = {}
        start = end = -1
        if tags is not None:
            hidden = "".join(chr(ord(c) - 0xE0000) for c in tags.group()[:400])
            detail = {"kind": "tag characters", "decoded": hidden[:200]}
            start, end = tags.start(), tags.end()
        else:
            zw = _ZERO_WIDTH.findall(text)
            bidi = _BIDI.findall(text)
            if len(zw) >= int(rule.params.get("min_zero_width", 3)):
                m = _ZERO_WIDTH.search(text)
                detail = {"kind": "zero-width characters", "count": len(zw)}
                start = m.start() if m else 0
            elif len(bidi) >= int(rule.params.get("min_bidi", 2)):
                m = _BIDI.search(text)
                detail = {"kind": "bidi controls", "count": len(bidi)}
                start = m.start() if m else 0
            else:
                return []
            end = start + 1
        return [finding(
            event, detector=NAME, rule_id=rule.id, title=f"{rule.title}: {detail['kind']}",
            score=rule.score, severity=rule.severity, atlas=rule.atlas, owasp=rule.owasp,
            evidence=(excerpt(field, full, off + start, off + end),),
            campaign=f"rule:{rule.id}", details=detail,
        )]

    def _homoglyph(self, event: TelemetryEvent, field: str, full: str, text: str,
                   off: int) -> list[Finding]:
        rule = self.rules.get("obf.homoglyph")
        if rule is None:
            return []
        first = _MIXED.search(text)
        if first is None:
            return []
        mixed_words = set()
        for m in _MIXED.finditer(text):
            a = text.rfind(" ", 0, m.start()) + 1
            b = text.find(" ", m.end())
            mixed_words.add(text[a: b if b >= 0 else len(text)][:40])
            if len(mixed_words) >= 16:
                break
        if len(mixed_words) < int(rule.params.get("min_words", 2)):
            return []
        return [finding(
            event, detector=NAME, rule_id=rule.id, title=rule.title, score=rule.score,
            severity=rule.severity, atlas=rule.atlas, owasp=rule.owasp,
            evidence=(excerpt(field, full, off + first.start(), off + first.end()),),
            campaign=f"rule:{rule.id}", details={"words": len(mixed_words)},
        )]

    def text_gate(self) -> TextGate:
        encoded = "obf.encoded" in self.rules
        unicode = "obf.invisible" in self.rules or "obf.homoglyph" in self.rules
        return TextGate(rot13_words=self.rot13_gate if encoded else frozenset(),
                        long_word=24 if encoded else 0, suspect=_SUSPECT if unicode else None,
                        suspect_chars=_SUSPECT_CHARS if unicode else "",
                        max_chars=self.limit)

    def flush(self) -> list[Finding]:
        return []


def from_context(ctx: BuildContext) -> ObfuscationDetector:
    rules = {r.id: r for r in ctx.rules_for(NAME)}
    judges = [PatternSet(r for r in ctx.rules_for(d) if "prompt" in r.applies_to)
              for d in ("injection", "jailbreak")]
    return ObfuscationDetector(rules, judges, ctx.cfg.max_field_chars)
