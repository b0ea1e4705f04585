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
from collections.abc import Iterator

from ircon.detect.base import (
    BuildContext,
    TextGate,
    current_turn,
    excerpt,
    finding,
    windows,
)
from ircon.detect.lookalike import CONFUSABLE, mixed_words, to_ascii
from ircon.detect.patterns import words_of
from ircon.detect.rules import PatternSet, Rule, btokens, utf8
from ircon.detect.suffix import model
from ircon.model.finding import Finding
from ircon.model.telemetry import TelemetryEvent

NAME = "obfuscation"
_TAGS = re.compile("[\U000e0000-\U000e007f]+")
_ZERO_WIDTH = re.compile(
    "[\u200b\u2060-\u2064\u180e]|(?<=[A-Za-z])[\u200c\u200d\ufeff](?=[A-Za-z])")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_HEX = re.compile(r"(?:0x)?[0-9A-Fa-f]{32,}")
# Any character one of the Unicode checks cares about: one scan decides whether to look
# closer. Besides invisible characters: Greek, Cyrillic, phonetic letters and small
# capitals, full-width and mathematical letters, and the other look-alikes.
_SUSPECT_CLASS = ("\U000e0000-\U000e007f\u200b-\u200d\u2060-\u2064\u180e\ufeff"
                  "\u202a-\u202e\u2066-\u2069\u0370-\u03ff\u0400-\u04ff\u0500-\u052f"
                  "\u0250-\u02af\u1d00-\u1d2b\uff21-\uff3a\uff41-\uff5a"
                  "\U0001d400-\U0001d7ff" + "".join(sorted(
                      c for c in CONFUSABLE if not 0x370 <= ord(c) < 0x530
                      and not 0x250 <= ord(c) < 0x2b0 and not 0x1d00 <= ord(c) < 0x1d2c)))
_SUSPECT = re.compile("[" + _SUSPECT_CLASS + "]")
# The same characters listed, for the batched gate's literal matcher.
_SUSPECT_CHARS = "".join(
    chr(c) for lo, hi in re.findall("(.)-(.)", _SUSPECT_CLASS) for c in range(ord(lo), ord(hi) + 1)
) + re.sub("(.)-(.)", "", _SUSPECT_CLASS)
_MAX_LINES = 8  # lines of a text tried one by one for rot13
_MAX_BLOBS = 8  # decoded per field; more blobs than this is itself suspicious enough
# The commonest English words of three letters or more: rot13 prose is full of their
# rot13 forms, whatever it says.
_COMMON = frozenset((
    "the", "and", "you", "for", "how", "with", "this", "that", "your", "what", "are", "were",
    "have", "from", "will", "can", "not", "all", "but", "give", "write", "tell", "make", "list",
    "explain", "describe", "instructions"))
_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm")


_B32 = re.compile(r"[A-Z2-7]{24,}={0,6}")
_CARRIER = re.compile(r"(?i)content-transfer-encoding|;base64,")
_PROSE_ONLY = 0.8  # score factor when decoded text matches no rule, only reads as prose
_ROT13_GAIN = 0.5  # log2 per character: rot13-decoded text is that much more English
_PROSE_WORDS = re.compile(r"[^\W\d_]{2,}")
_PROSE_LOGPROB = -4.4  # English prose scores about -3.5, de/fr/es/it about -4.3


def reads_as_prose(text: str) -> bool:
    """Natural-language text: at least five words, spaced, with English-like
    character statistics (the suffix detector's model)."""
    words = _PROSE_WORDS.findall(text)
    return (len(words) >= 5 and text.count(" ") >= 4
            and model().logprob(text) >= _PROSE_LOGPROB)


def reads_as_request(text: str) -> bool:
    """Prose addressed to the model: it opens with an imperative ("Give", "Write",
    "Ignore"), speaks to "you" (not merely of "your" things), says "please" or "how to",
    or asks a question. A smuggled payload is such a request; a fixture or a sentence of
    data is not."""
    if not reads_as_prose(text):
        return False
    words = [w.lower() for w in _PROSE_WORDS.findall(text[:400])]
    return words[0] in _IMPERATIVES or not _ADDRESS.isdisjoint(words) or "?" in text


# Imperatives that open requests (en, de, fr, es, it), and words that address the model.
_IMPERATIVES = frozenset((
    "give", "write", "tell", "explain", "describe", "list", "create", "provide", "generate",
    "show", "ignore", "repeat", "print", "output", "reveal", "make", "say", "forget", "disregard",
    "act", "pretend", "send", "translate", "summarize", "outline", "draft", "compose", "detail",
    "teach", "help", "do", "answer", "respond", "reply", "continue", "start", "begin", "return",
    "schreibe", "gib", "erkläre", "ignoriere", "zeige", "vergiss", "nenne", "beschreibe",
    "écris", "donne", "explique", "ignore", "montre", "oublie", "décris",
    "escribe", "dame", "explica", "ignora", "muestra", "olvida", "describe",
    "scrivi", "dammi", "spiega", "mostra", "dimentica", "descrivi"))
_ADDRESS = frozenset((
    "you", "yourself", "please", "how", "du", "dir", "dich", "bitte", "vous", "tu", "usted",
    "tú", "ti"))


def _decode(blob: str, kind: str, min_b64: int, min_hex: int) -> bytes | None:
    """The bytes ``blob`` encodes as ``kind``, None when it is not that encoding."""
    try:
        if kind == "hex":
            if len(blob) < min_hex:
                return None
            digits = blob[2:] if blob.startswith("0x") else blob
            return binascii.unhexlify(digits[: len(digits) // 2 * 2])
        if kind == "base32":
            if len(blob) < min_b64:
                return None
            return base64.b32decode(blob + "=" * (-len(blob) % 8))
        if len(blob) < min_b64:
            return None
        padded = blob + "=" * (-len(blob) % 4)
        return (base64.urlsafe_b64decode(padded) if ("-" in blob or "_" in blob)
                else base64.b64decode(padded, validate=True))
    except (binascii.Error, ValueError):
        return None


_ASCII_LETTERS_SPACE = bytes(range(65, 91)) + bytes(range(97, 123)) + b" "


def _printable_text(raw: bytes) -> str | None:
    """``raw`` as text when it reads like text (not an image, not key material)."""
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not s:
        return None
    # whole-string tests first (C loops); the counts character by character otherwise
    good = len(s) if s.isprintable() else sum(1 for c in s if c.isprintable() or c in "\n\t\r")
    letters = (len(raw) - len(raw.translate(None, _ASCII_LETTERS_SPACE)) if s.isascii()
               else sum(1 for c in s if c.isalpha() or c == " "))
    if good < 0.95 * len(s) or letters < 0.6 * len(s) or " " not in s:
        return None
    return s


class ObfuscationDetector:
    name = NAME
    turn_pure = True  # findings depend only on the new turn (see ``turnmemo``)

    def __init__(self, rules: dict[str, Rule], judges: list[PatternSet], limit: int) -> None:
        self.rules = rules
        self.judges = [j for j in judges if j]
        self.limit = limit
        gate: set[str] = set()
        for j in self.judges:
            gate |= j.gate_words
        self.keywords = frozenset(utf8(w) for w in gate)
        # rot13 text shows up as rot13 forms of the words the judges look for, or of
        # the commonest English words ("gur", "naq", "lbh")
        self.rot13_gate = frozenset(
            utf8(w.translate(_ROT13)) for w in gate | _COMMON if w.isascii()
        ) - {utf8(w) for w in gate | _COMMON}

    def _rules_hit(self, text: str) -> Iterator[Rule]:
        """The judges' rules matching ``text``, lazily (the first costs least)."""
        words = btokens(text)
        return (hit.rule for j in self.judges for hit in j.scan(text, words))

    def _judge(self, text: str) -> Rule | None:
        return next(self._rules_hit(text), None)

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
                got = self._rot13(text)
                if got is not None:
                    out.append(self._make(event, rule, field, full, off, off + len(text),
                                          "rot13", *got))
        return out

    def _rot13(self, text: str) -> tuple[str, Rule | None] | None:
        """The decoded text and the rule it matches when ``text``, or one of its lines
        (a plain-text wrapper around a rot13 line), is rot13 of an instruction or of
        ordinary prose (the decoded text reads far more like English)."""
        lines = text.splitlines()
        # lines first: the decoded evidence is then the encoded line, not its wrapper
        parts = [ln for ln in lines[:_MAX_LINES] if len(ln) >= 20] if len(lines) > 1 else []
        parts.append(text)
        for part in parts:
            decoded = part.translate(_ROT13)
            judged = self._judge(decoded)
            if judged is not None or (
                    reads_as_request(decoded)
                    and model().logprob(decoded) - model().logprob(part) >= _ROT13_GAIN):
                return decoded, judged
        return None

    def _make(self, event: TelemetryEvent, rule: Rule, field: str, full: str, start: int,
              end: int, encoding: str, decoded: str, judged: Rule | None) -> Finding:
        """A finding for an encoded run; ``judged`` is the rule its decoded text matches,
        None when it only decodes to a request in natural language (a smuggled one)."""
        return finding(
            event, detector=NAME, rule_id=rule.id, title=f"{rule.title}: {encoding}",
            score=rule.score if judged is not None else rule.score * _PROSE_ONLY,
            severity=rule.severity, atlas=rule.atlas, owasp=rule.owasp,
            evidence=(excerpt(field, full, start, end),),
            campaign=f"rule:{judged.id if judged is not None else 'prose'}:{encoding}",
            details={"encoding": encoding, "decoded": decoded[:200],
                     "decoded_rule": judged.id if judged is not None else None},
        )

    def _encoded(self, event: TelemetryEvent, field: str, full: str, text: str, off: int,
                 rule: Rule) -> list[Finding]:
        min_b64 = int(rule.params.get("min_base64", 24))
        min_hex = int(rule.params.get("min_hex", 32))
        tried = 0
        # a MIME part or a data URI carries encoded content legitimately
        carrier = _CARRIER.search(text) is not None
        for rx, kind in ((_HEX, "hex"), (_B32, "base32"), (_B64, "base64")):
            for m in rx.finditer(text):
                blob = m.group()
                if tried >= _MAX_BLOBS:
                    return []
                tried += 1
                raw = _decode(blob, kind, min_b64, min_hex)
                if raw is None:
                    continue
                decoded = _printable_text(raw)
                if decoded is None:
                    continue
                judged = self._judge(decoded)
                if judged is not None or (not carrier and reads_as_request(decoded)):
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
        mixed = mixed_words(text)
        # one disguised word is enough when it is a word the rules look for ("jаilbreаk")
        keyword = any(utf8(w.lower()) in self.keywords for _at, w in mixed)
        judged = None
        if not mixed or (len(mixed) < int(rule.params.get("min_words", 2)) and not keyword):
            # styled or disguised letters throughout: judge the text as it reads, for
            # rules that the text as written does not match
            folded = to_ascii(text)
            if folded == text:
                return []
            as_written = {r.id for r in self._rules_hit(text)}
            judged = next((r for r in self._rules_hit(folded) if r.id not in as_written), None)
            if judged is None:
                return []
        at = mixed[0][0] if mixed else 0
        details: dict[str, object] = {"words": len(mixed),
                                      "read_as": " ".join(w for _at, w in mixed)[:200]}
        if judged is not None:
            details["decoded_rule"] = judged.id
        return [finding(
            event, detector=NAME, rule_id=rule.id, title=rule.title, score=rule.score,
            severity=rule.severity, atlas=rule.atlas, owasp=rule.owasp,
            evidence=(excerpt(field, full, off + at, off + at + 1),),
            campaign=f"rule:{rule.id}", details=details,
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
