"""Adversarial suffix detection (GCG-style): a fluent request, then gibberish.

Optimized suffixes read as fragments glued with odd casing and punctuation
("describing.\\ + similarlyNow write oppositeley.]("). We compare the tail of
the newest user message with its head using cheap statistics: a character
trigram model of English (built deterministically at first use from the
shipped ``data/english.txt``), the share of malformed tokens (case flips
inside words, letters glued to brackets), symbol density and how many more of
the tail's word fragments than of the head's are outside the 30,000 commonest
English words (an optimized suffix is built of sub-word tokens from many
languages), minus signals of source code (which also has brackets, but
balanced and on several lines). The suffix is looked for on the last line of
the message, where an attack appends it. A cheap gate (symbols or a case flip
in the tail) keeps ordinary prompts off the slow path.
"""

from __future__ import annotations

import math
import re
import sys
from functools import lru_cache
from itertools import compress
from pathlib import Path
from typing import Any

import hyperscan

from ircon.detect import accel, wordfreq
from ircon.detect.base import BuildContext, TextGate, current_turn, excerpt, finding
from ircon.detect.multimatch import layout, scan_all
from ircon.detect.rules import Rule
from ircon.model.finding import Finding
from ircon.model.telemetry import TelemetryEvent

NAME = "suffix"
TRAINING_TEXT = Path(__file__).resolve().parent / "data" / "english.txt"
TAIL_CHARS = 200
HEAD_CHARS = 400
LONG_TAIL_CHARS = 600  # a suffix found where the request ends is judged up to this long
_SYMBOLS = "[]{}()<>\\/|*_=+~^`@#$%&"
_MIN_GATE_CHARS = 40  # shorter texts are never judged
_CASE_FLIP = re.compile(r"[a-z][A-Z]")
# The same test as ``_CASE_FLIP.search``, started on the (rarer) capital letter so
# the regex engine skips most positions in its C loop.
_UPPER_AFTER_LOWER = re.compile(r"[A-Z](?<=[a-z][A-Z])")
_SYMBOL_BYTES = _SYMBOLS.encode("ascii")
_NOT_SYMBOLS_NUL = bytes(b for b in range(1, 256) if b not in _SYMBOL_BYTES)
_PAIRS = ((b"(", b")"), (b"[", b"]"), (b"{", b"}"))
# lowercase ASCII -> "a", uppercase -> "A", anything else -> " ": "aA" is a case flip
_CASE_TABLE = bytes(97 if 97 <= b <= 122 else 65 if 65 <= b <= 90 else 32 for b in range(256))
_WORDS = re.compile(r"[A-Za-z]+")
_CODE = re.compile(
    r"\b(?:def|return|function|const|let|var|import|class|public|void|int|printf|console|"
    r"lambda|elif|fn|impl|SELECT|FROM|WHERE)\b|=>|==|!=|:=|\+=|->\s*\w+\s*[:{]|;\s*$|;\s*\n|\)\s*\{|"
    r"\w\(\w*\)|\w\.\w+\(|```|^\s{2,}\S|&&|\|\||::|\\[a-z]+\{|\$\w|\$\(|\(\?[:=!]|\^\(",
    re.MULTILINE)
_BLOB = re.compile(r"[A-Za-z0-9+/=_-]{20,}")
_GLUED = re.compile(r"[A-Za-z][\]\[(){}\\]|[\]\[(){}\\][A-Z]")


def _symbol_class(ch: str) -> str:
    if "a" <= ch <= "z":
        return ch
    if "A" <= ch <= "Z":
        return ch.lower()
    if ch.isspace():
        return " "
    if ch.isdigit():
        return "0"
    if ch in ".,!?;:'\"-":
        return "."
    if ch in _SYMBOLS:
        return "#"
    return "x"


_CLASS_TABLE = {i: _symbol_class(chr(i)) for i in range(128)}
_SUM_IN_ORDER = sys.version_info < (3, 12)
_NORMALIZED = "".join(sorted(set(_CLASS_TABLE.values()) | {"x"}))  # what normalize emits


def normalize(text: str) -> str:
    """Text mapped onto the model's small alphabet."""
    s = text.translate(_CLASS_TABLE)
    if not s.isascii():
        s = "".join(c if ord(c) < 128 else "x" for c in s)
    return " ".join(s.split())


class CharModel:
    """A character trigram model with add-k smoothing over a ~30 symbol alphabet."""

    def __init__(self, text: str, k: float = 0.1) -> None:
        s = " " + normalize(text) + " "
        alphabet = set(s) | {"#", "x", "0", "."}
        self.v = len(alphabet)
        self.k = k
        tri: dict[str, int] = {}
        bi: dict[str, int] = {}
        for i in range(len(s) - 2):
            t = s[i: i + 3]
            tri[t] = tri.get(t, 0) + 1
            bi[t[:2]] = bi.get(t[:2], 0) + 1
        self.tri = tri
        self.bi = bi
        self.vocab = frozenset(w.lower() for w in _WORDS.findall(text) if len(w) >= 2)
        self._floor = math.log2(k / (k * self.v))
        # Every trigram ``normalize`` can produce, scored once: scoring a text is then
        # one C-level pass of lookups (the same terms, added in the same order).
        v = self.v
        self._table = {
            (a, b, c): math.log2((tri.get(a + b + c, 0) + k) / (bi.get(a + b, 0) + k * v))
            for a in _NORMALIZED for b in _NORMALIZED for c in _NORMALIZED}
        # The same table in C, where its sum is the same: before 3.12, sum() adds
        # floats one after the other in a double (since, it compensates rounding).
        self._trigrams = None if accel.fast is None or not _SUM_IN_ORDER else (
            accel.fast.Trigrams(_NORMALIZED, [self._table[(a, b, c)] for a in _NORMALIZED
                                              for b in _NORMALIZED for c in _NORMALIZED]))

    def logprob(self, text: str) -> float:
        """Mean log2 probability per character (higher is more English-like)."""
        s = " " + normalize(text) + " "
        n = len(s) - 2
        if n <= 0:
            return 0.0
        if self._trigrams is not None and accel.fast is not None:
            got = self._trigrams.mean(s)
            if got is not None:
                return float(got)
        try:
            return sum(map(self._table.__getitem__, zip(s, s[1:], s[2:], strict=False))) / n
        except KeyError:  # a character outside the normalized alphabet (not expected)
            pass
        tri, bi, k, v = self.tri, self.bi, self.k, self.v
        total = 0.0
        for i in range(n):
            t = s[i: i + 3]
            total += math.log2((tri.get(t, 0) + k) / (bi.get(t[:2], 0) + k * v))
        return total / n


@lru_cache(maxsize=1)
def model() -> CharModel:
    return CharModel(TRAINING_TEXT.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Common English words (lowercase): the commonest of pyspellchecker's English
    list (drawn from film subtitles), the words of the training text (all there is
    without the list), and the everyday words of programming that subtitles lack
    ("bytes", "json", "dict"), taken from the running Python's own names."""
    return wordfreq.common_english() | model().vocab | _technical_words()


def _technical_words() -> frozenset[str]:
    import builtins
    import keyword

    names = [*sys.stdlib_module_names, *dir(builtins), *keyword.kwlist]
    return frozenset(f for n in names for f in _fragments(n.replace("_", " ")))


# Between a lower- and an uppercase letter; a plain replacement string keeps sub() in C.
_SPLIT_FLIPS = re.compile(r"(?<=[a-z])(?=[A-Z])")


_WORDS3 = re.compile(r"[a-z]{3,}")
_HAS_SYMBOL = re.compile("[" + re.escape(_SYMBOLS) + "]")


def _fragments(text: str) -> list[str]:
    """Word fragments of three or more letters, split at case flips, lowercase."""
    if text.isascii():
        # lowercased after the split, the same fragments found in one pass: ASCII
        # lowercase keeps every letter where it was (elsewhere, a character can
        # lowercase to an ASCII letter, as the Kelvin sign does)
        return _WORDS3.findall(_SPLIT_FLIPS.sub(" ", text).lower())
    return [w.lower() for w in _WORDS.findall(_SPLIT_FLIPS.sub(" ", text)) if len(w) >= 3]


def _weird(token: str) -> bool:
    """A token that is neither a word, a number, nor ordinary punctuation around a word."""
    if _CASE_FLIP.search(token):
        return True
    return _symbolic(token)


def _symbolic(token: str) -> bool:
    """A symbol and a letter in one token (not a link)."""
    return (_HAS_SYMBOL.search(token) is not None and any(map(str.isalpha, token))
            and not token.startswith(("http", "www")))


def _symbol_count(text: str) -> int:
    """How many of ``_SYMBOLS`` ``text`` holds (ASCII all: counted in its UTF-8)."""
    raw = text.encode("utf-8", "surrogatepass")
    return len(raw) - len(raw.translate(None, _SYMBOL_BYTES))


_SUFFIX_START = re.compile(r"[" + re.escape(_SYMBOLS) + r"]")
_MIN_HEAD = 24  # characters of request before a suffix can start
_MIN_TAIL_WORDS = 6


def _suffix_start(text: str) -> int | None:
    """Where the candidate suffix of a short text starts when the request ends at a
    symbol: the word holding the first symbol after ``_MIN_HEAD`` characters, if at
    least ``_MIN_TAIL_WORDS`` words follow from there; else None."""
    m = _SUFFIX_START.search(text, _MIN_HEAD)
    if m is None:
        return None
    start = text.rfind(" ", 0, m.start()) + 1
    start = start if start >= _MIN_HEAD else m.start()
    return start if len(text[start:].split()) >= _MIN_TAIL_WORDS else None


def code_hits(context: str) -> int:
    """Signals of source code in the last 2,000 characters of ``context``."""
    return len(_CODE.findall(context[-2000:]))


def features(text: str, at: int | None = None, context: str | None = None,
             hits: int | None = None) -> dict[str, float]:
    """Statistics of head versus tail of ``text`` (exposed for the quality bench).
    A short text is split at ``at`` when given, else in the middle; a long one is
    split at ``at`` when given (the head is what precedes it, the tail at most
    ``LONG_TAIL_CHARS`` from there), else its tail is its last ``TAIL_CHARS``.
    Signals of source code are counted in ``context`` (the whole message that
    ``text`` ends) when given; ``hits`` is ``code_hits`` of that, if known."""
    m = model()
    if len(text) <= TAIL_CHARS + 40:
        # short text: the request is the first half, the candidate suffix the second
        cut = len(text) // 2 if at is None else at
        head, tail = text[:cut], text[cut:]
    elif at is not None:
        head, tail = text[max(0, at - HEAD_CHARS):at], text[at:at + LONG_TAIL_CHARS]
    else:
        tail = text[-TAIL_CHARS:]
        head = text[: min(HEAD_CHARS, len(text) - TAIL_CHARS)]
    vocab = vocabulary()
    fast = accel.fast
    if fast is not None and tail.isascii() and head.isascii():
        (tail, ntoks, nweird, nflips, nsyms, newlines, *counts, nglued, nfrags,
         noov) = fast.suffix_tail(tail, vocab)
        head_nfrags, head_noov = fast.suffix_frags(head, vocab)
    else:
        (tail, ntoks, nweird, nflips, nsyms, newlines, counts, nglued, nfrags,
         noov) = _tail_counts(tail, vocab)
        head_frags = _fragments(head)
        head_nfrags = len(head_frags)
        head_noov = sum(1 for w in head_frags if w not in vocab)
    n = max(ntoks, 1)
    weird = nweird / n
    flips = nflips / n
    syms = nsyms / max(len(tail), 1)
    oov = noov / max(nfrags, 1)
    head_oov = head_noov / max(head_nfrags, 1)
    if hits is None:
        hits = code_hits(text if context is None else context)
    code = min(1.0, hits / 3) + (0.5 if newlines >= 2 else 0)
    unmatched = brackets = 0
    for k in range(0, 8, 2):  # (), [], {}, <>
        a, b = counts[k], counts[k + 1]
        brackets += a + b
        unmatched += abs(a - b)
    imbalance = unmatched / brackets if brackets else 0.0
    return {
        "lp_head": m.logprob(head), "lp_tail": m.logprob(tail), "weird": weird, "flips": flips,
        "symbols": syms, "oov": oov, "head_oov": head_oov,
        # more rare fragments in the tail than in the request (a few fragments say little)
        "oov_gain": max(0.0, oov - head_oov) if nfrags >= 3 else 0.0,
        "code": code,
        "imbalance": imbalance,
        "unmatched": float(min(unmatched, 4)), "balanced": float(brackets >= 2 and unmatched == 0),
        "glued": nglued / n,
    }


def _tail_counts(tail: str, vocab: frozenset[str]) -> tuple[Any, ...]:
    """What ``features`` counts in a tail: the tail with its encoded blobs blanked
    (those are judged by the obfuscation detector), its tokens, odd tokens, case flips,
    symbols, newlines, the counts of ( ) [ ] { } < >, letters glued to brackets, word
    fragments and those not in ``vocab``. (``_fast.suffix_tail`` counts the same in
    an ASCII tail.)"""
    tail = _BLOB.sub(" ", tail)
    toks = tail.split()
    nflips = len(_CASE_FLIP.findall(tail))
    nsyms = _symbol_count(tail)
    # a token holds a case flip only if the tail does (no flip spans a space), and a
    # symbol only if the tail does
    nweird = (sum(map(_weird, toks)) if nflips
              else sum(map(_symbolic, toks)) if nsyms else 0)
    frags = _fragments(tail)
    counts = [tail.count(c) for c in "()[]{}<>"]
    return (tail, len(toks), nweird, nflips, nsyms, tail.count("\n"), counts,
            len(_GLUED.findall(tail)), len(frags), sum(1 for w in frags if w not in vocab))


def score(f: dict[str, float]) -> float:
    """Combine the statistics into 0..1. Weights were set by hand on the shipped
    evaluation set (attacks vs code and markup hard negatives) and checked on its
    held-out part; case flips inside words, letters glued to unmatched brackets
    and a tail of rarer fragments than its request carry most of the weight;
    source-code signals pull the score down."""
    if f["lp_head"] < -4.6:  # the head itself is not English prose: no fluent prefix
        return 0.0
    drop = max(0.0, f["lp_head"] - f["lp_tail"])
    z = (3.0 * f["flips"] + 2.0 * f["weird"] + 1.5 * f["imbalance"] + 0.25 * f["unmatched"]
         + 1.5 * f["glued"] + 0.8 * drop + 2.0 * f["oov_gain"] - 2.5 * f["code"]
         - 1.0 * f["balanced"] - 2.2)
    return 1.0 / (1.0 + math.exp(-z))


def gate_many(texts: list[str], utf8: list[bytes], joined: bytes | None = None) -> list[bool]:
    """``SuffixDetector.gate`` of every text (``utf8``: their UTF-8; ``joined``: that
    UTF-8 joined by NULs, if at hand), with C-level passes over the joined tails
    instead of a Python call chain per text."""
    n = len(texts)
    if max(map(len, texts), default=0) <= TAIL_CHARS:
        tails = utf8
        buf = b"\x00".join(tails) if joined is None else joined
    else:
        tails = [u if len(t) <= TAIL_CHARS else t[-TAIL_CHARS:].encode("utf-8", "surrogatepass")
                 for t, u in zip(texts, utf8, strict=True)]
        buf = b"\x00".join(tails)
    if buf.count(b"\x00") != n - 1:  # a text holds NUL: the joined form cannot be split
        return [SuffixDetector.gate(t) for t in texts]
    # the symbols of each tail: a few bytes each, most texts none
    syms = buf.translate(None, _NOT_SYMBOLS_NUL).split(b"\x00")
    cand = [j for j in compress(range(n), syms) if len(texts[j]) >= _MIN_GATE_CHARS]
    if not cand:
        return [False] * n
    # case flips, searched in the candidates' tails only
    flips = [tails[j] for j in cand]
    flipped: set[int] = set()
    _starts, bounds = layout(map(len, flips))
    scan_all(_flip_db(), b"\x00".join(flips), bounds, 0, lambda _pid, k: flipped.add(k))
    out = [False] * n
    cache = _UNEVEN
    for k, j in enumerate(cand):
        if k in flipped:
            out[j] = True  # a case flip glued inside a word
            continue
        sym = syms[j]
        if len(sym) >= 3:
            uneven = cache.get(sym)
            if uneven is None:
                if len(cache) >= 4096:
                    cache.clear()
                uneven = cache[sym] = any(sym.count(o) != sym.count(c) for o, c in _PAIRS)
            out[j] = uneven  # unbalanced brackets among enough symbols
    return out


@lru_cache(maxsize=1)
def _flip_db() -> hyperscan.Database:
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=[b"[a-z][A-Z]"], ids=[0], elements=1, flags=[0])
    return db


# symbol bytes of a tail -> whether its brackets are unbalanced (repeats are common)
_UNEVEN: dict[bytes, bool] = {}


class SuffixDetector:
    name = NAME
    turn_pure = True  # findings depend only on the new turn (see ``turnmemo``)

    def __init__(self, rule: Rule | None, threshold: float) -> None:
        self.rule = rule
        self.threshold = threshold
        vocabulary()  # built once, here rather than on the first event judged

    @staticmethod
    def gate(text: str) -> bool:
        if len(text) < _MIN_GATE_CHARS:
            return False
        tail = text[-TAIL_CHARS:]
        # Symbols are ASCII: counting them in the UTF-8 bytes is exact, and a bytes
        # translate is a table lookup per byte where a str translate is a dict lookup.
        raw = tail.encode("utf-8", "surrogatepass")
        nsym = len(raw) - len(raw.translate(None, _SYMBOL_BYTES))
        if nsym == 0:
            return False
        flip = _UPPER_AFTER_LOWER.search(tail) is not None
        if nsym < 3 and not flip:
            return False
        # Source code: brackets balanced and no case flips glued into words - the two
        # strongest suffix signals are absent, so the statistics cannot reach the threshold.
        if not flip:
            return any(tail.count(o) != tail.count(c) for o, c in ("()", "[]", "{}"))
        return True

    def judge(self, text: str, at_least: float | None = None
              ) -> tuple[float, dict[str, float]] | None:
        """The best score of ``text``'s splits and its statistics, or None when the text
        is not judged; with ``at_least``, also None when no split can score that much.
        """
        if not self.gate(text):
            return None
        whole = text = text[-(HEAD_CHARS + TAIL_CHARS) * 4:].rstrip()
        # A suffix is appended to the request's line: in a text of several lines
        # (pasted code, a document) only the last line is judged, and code on the
        # lines above counts as code.
        nl = text.rfind("\n")
        if nl >= 0:
            text = text[nl + 1:]
            if len(text.split()) < _MIN_TAIL_WORDS:
                return None
        # The splits are first scored as if the context held no code: signals of
        # code only lower a score, so when neither split reaches ``at_least`` that
        # way, the (costlier) count of them is not needed.
        short = len(text) <= TAIL_CHARS + 40
        # a tail of a few words is too little to judge ("(profit/revenue ratio))?")
        judged = not (short and len(text[len(text) // 2:].split()) < _MIN_TAIL_WORDS)
        splits = [features(text, None, whole, 0)]
        # the text is also split where its request meets the first symbol: a suffix
        # shorter than half a short text, or longer than the tail of a long one,
        # is then judged whole
        at = _suffix_start(text)
        if at is not None and (at != len(text) // 2 if short
                               else at < len(text) - TAIL_CHARS):
            splits.append(features(text, at, whole, 0))
        if at_least is not None and max(
                score(splits[0]) if judged else 0.0,
                max((score(f) for f in splits[1:]), default=0.0)) < at_least:
            return None
        hits = code_hits(whole)  # the same context for both splits
        if hits:
            extra = min(1.0, hits / 3)
            for f in splits:
                f["code"] += extra  # what ``features`` adds for ``hits``
        best = splits[0]
        best_score = score(best) if judged else 0.0
        for f in splits[1:]:
            s = score(f)
            if s > best_score:
                best, best_score = f, s
        return best_score, best

    def observe(self, event: TelemetryEvent) -> list[Finding]:
        rule = self.rule
        if rule is None:
            return []
        out: list[Finding] = []
        for idx, role, content in current_turn(event):
            if role != "user":
                continue
            got = self.judge(content, self.threshold)
            if got is None or got[0] < self.threshold:
                continue
            s, f = got
            start = max(0, len(content) - TAIL_CHARS)
            sig = normalize(content[-48:]).replace(" ", "")
            out.append(finding(
                event, detector=NAME, rule_id=rule.id, title=rule.title,
                score=min(1.0, rule.score * 0.5 + s * 0.5), severity=rule.severity,
                atlas=rule.atlas, owasp=rule.owasp,
                evidence=(excerpt(f"messages[{idx}].content", content, start, len(content)),),
                campaign=f"suffix:{sig}",
                details={k: round(v, 3) for k, v in f.items()} | {"suffix_score": round(s, 3)},
            ))
        return out

    def text_gate(self) -> TextGate:
        if self.rule is None:
            return TextGate()
        return TextGate(check=self.gate, check_bytes=_SYMBOL_BYTES, check_many=gate_many,
                        check_fast=None if accel.fast is None else accel.fast.SuffixGate(
                            TAIL_CHARS, _MIN_GATE_CHARS, _SYMBOL_BYTES))

    def flush(self) -> list[Finding]:
        return []


def from_context(ctx: BuildContext) -> SuffixDetector:
    rules = ctx.rules_for(NAME)
    return SuffixDetector(rules[0] if rules else None, ctx.cfg.suffix_threshold)
