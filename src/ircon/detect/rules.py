"""Rule packs: YAML data that the pattern detectors run.

A pack is a YAML file with optional ``defaults`` and a list of ``rules``. The
packs shipped in ``ircon/detect/rules/`` load first; packs in the configured
rules directory load after them, so a rule with the same id replaces the
shipped one (``enabled: false`` turns it off) and new ids extend the set.

Each rule has keywords: whole lowercase words of which at least one must
occur in a text before its regexes run. That gate is a set intersection, so
the thousands of benign requests a second cost one tokenization each, and
the regexes (checked here to be free of nested quantifiers, and given bounded
input) run only on the few texts that could match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ircon.detect import wordfreq
from ircon.detect.prefilter import requirements
from ircon.model.severity import SEVERITIES

BUNDLED = Path(__file__).resolve().parent / "rules"
MAX_PATTERN_CHARS = 4000
APPLIES = ("prompt", "tool", "response")
_ATLAS_RE = re.compile(r"AML\.T\d{4}(?:\.\d{3})?")
_OWASP_RE = re.compile(r"LLM\d{2}:\d{4}")
_FIELDS = {
    "id", "description", "category", "detector", "severity", "score", "atlas", "owasp",
    "patterns", "keywords", "applies_to", "params", "examples", "counterexamples",
    "enabled", "languages", "title", "literals", "requires",
}


class RuleError(ValueError):
    """A rule pack problem, naming the file, the rule and the fix."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    description: str
    category: str
    detector: str
    severity: str
    score: float
    atlas: tuple[str, ...]
    owasp: tuple[str, ...]
    patterns: tuple[str, ...] = ()
    keywords: frozenset[str] = frozenset()
    literals: tuple[str, ...] = ()  # case-sensitive substrings that also open the gate
    requires: frozenset[str] = frozenset()  # and one of these words must be present too
    applies_to: tuple[str, ...] = ("prompt",)
    params: dict[str, Any] = field(default_factory=dict)
    examples: tuple[str, ...] = ()
    counterexamples: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    origin: str = ""

    def compiled(self) -> re.Pattern[str] | None:
        if not self.patterns:
            return None
        flags = 0 if self.params.get("case_sensitive") else re.IGNORECASE
        return re.compile("|".join(f"(?:{p})" for p in self.patterns), flags)


# ---------------------------------------------------------------- tokenization

# Everything that is not part of a word becomes a space; str.translate with a
# dict table and str.split are the fastest tokenizer CPython offers.
_SEPARATORS = (
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    "\u00a1\u00ab\u00bb\u00bf\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u2013\u2014\u2026"
    "\u00a0\u2009\u202f\u3000"
)
_TOKEN_TABLE = {ord(c): " " for c in _SEPARATORS}


def tokens(text: str) -> set[str]:
    """The lowercase words of ``text`` (apostrophes and hyphens split words)."""
    return set(text.lower().translate(_TOKEN_TABLE).split())


# The same words as UTF-8 bytes, built with C-level byte operations only: a str
# translate with a dict table costs a dict lookup per character, bytes.translate
# a table index. ``set(btokens(t)) == {w.encode("utf-8", "surrogatepass") for w
# in tokens(t)}``: ASCII separators and the ASCII characters ``str.split`` takes
# for whitespace (\x1c-\x1f included) become spaces in the byte table; non-ASCII
# separators and whitespace are replaced before encoding (UTF-8 continuation
# bytes are never ASCII, so words are cut exactly where ``tokens`` cuts them).
_ASCII_BREAKS = "".join(
    c for c in map(chr, range(128)) if c in _SEPARATORS or (c.isspace() and c != " "))
BYTE_TABLE = bytes.maketrans(_ASCII_BREAKS.encode(), b" " * len(_ASCII_BREAKS))
_NON_ASCII_BREAKS = re.compile("[" + "".join(
    re.escape(chr(c)) for c in range(128, 0x110000)
    if chr(c) in _SEPARATORS or chr(c).isspace()) + "]")

_BREAK_LEADS = {chr(c).encode("utf-8")[0] for c in range(128, 0x110000)
                if _NON_ASCII_BREAKS.match(chr(c))}
_NOT_BREAK_LEADS = bytes(b for b in range(256) if b not in _BREAK_LEADS)


def utf8(text: str) -> bytes:
    """``text`` as UTF-8; lone surrogates (hostile input) are kept, not rejected."""
    return text.encode("utf-8", "surrogatepass")


def word_bytes(text: str) -> bytes:
    """``text`` lowercased, as UTF-8, with every word break turned into a space:
    ``word_bytes(t).split() == btokens(t)``."""
    low = text.lower()
    if low.isascii():
        return low.encode("ascii").translate(BYTE_TABLE)
    raw = utf8(low)
    # Only a text holding a lead byte of some non-ASCII break can hold one.
    if not raw.translate(None, _NOT_BREAK_LEADS):
        return raw.translate(BYTE_TABLE)
    return utf8(_NON_ASCII_BREAKS.sub(" ", low)).translate(BYTE_TABLE)


def btokens(text: str) -> list[bytes]:
    """The words of ``tokens(text)`` as UTF-8 bytes, in text order, with repeats."""
    return word_bytes(text).split()


# ---------------------------------------------------------------- case-folded regexes

# Characters outside ASCII that a caseless Unicode regex takes for an ASCII letter.
# (A test checks the list against every code point.)
CASELESS_ASCII_TWINS = {0x130: "i", 0x131: "i", 0x17F: "s", 0x212A: "k"}


def _twins(c: int) -> list[int]:
    """The lowercase ASCII characters a caseless regex literal ``c`` matches."""
    if c < 128:
        return [ord(chr(c).lower())]
    twin = CASELESS_ASCII_TWINS.get(c)
    return [ord(twin)] if twin else []


def _fold_items(items: Any) -> list[tuple[Any, Any]] | None:
    """The members of a character class for lowercase ASCII text: each letter and
    each range with its lowercase ASCII twins added."""
    from re import _constants as C  # type: ignore[attr-defined]

    out: list[tuple[Any, Any]] = []
    for op, av in items:
        out.append((op, av))
        if op == C.LITERAL:
            out.extend((C.LITERAL, t) for t in _twins(av) if t != av)
        elif op == C.RANGE:
            lo, hi = av
            out.extend((C.LITERAL, c + 32) for c in range(max(lo, 65), min(hi, 90) + 1))
            out.extend((C.LITERAL, ord(t)) for c, t in CASELESS_ASCII_TWINS.items()
                       if lo <= c <= hi)
        elif op not in (C.NEGATE, C.CATEGORY):
            return None
    return out


def _fold(items: Any, loose: bool = False) -> bool:
    """Rewrite a parsed caseless regex in place into one that, without the caseless
    flag, matches lowercase ASCII text exactly where the original matches the text
    before lowercasing. False when it holds something this does not handle. With
    ``loose``, a case-sensitive group ("(?-i:DAN)") becomes caseless like the rest:
    the result then matches wherever the original does, and maybe elsewhere."""
    from re import _constants as C  # type: ignore[attr-defined]

    for k, (op, av) in enumerate(items):
        if op == C.LITERAL:
            twins = _twins(av)
            if len(twins) == 1:
                items[k] = (C.LITERAL, twins[0])
            # no ASCII twin: it matches no ASCII text either way
        elif op == C.NOT_LITERAL:
            twins = _twins(av)
            if len(twins) != 1:
                return False
            items[k] = (C.NOT_LITERAL, twins[0])
        elif op == C.IN:
            folded = _fold_items(av)
            if folded is None:
                return False
            items[k] = (C.IN, folded)
        elif op == C.BRANCH:
            if not all(_fold(alt, loose) for alt in av[1]):
                return False
        elif op == C.SUBPATTERN:
            group, add, remove, sub = av
            if (add | remove) & C.SRE_FLAG_IGNORECASE:
                if not loose:
                    return False
                items[k] = (op, (group, add & ~C.SRE_FLAG_IGNORECASE,
                                 remove & ~C.SRE_FLAG_IGNORECASE, sub))
            if not _fold(sub, loose):
                return False
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            if not _fold(av[2], loose):
                return False
        elif op in (C.ASSERT, C.ASSERT_NOT):
            if not _fold(av[1], loose):
                return False
        elif op == C.ATOMIC_GROUP:
            if not _fold(av, loose):
                return False
        elif op not in (C.AT, C.ANY, C.CATEGORY, C.GROUPREF):
            return False
    return True


def folded_tree(rx: re.Pattern[str] | None, *, loose: bool = False) -> Any:
    """The parsed form of ``ascii_folded(rx, loose=loose)`` (an ``re._parser``
    SubPattern, flags in its ``state``), or None."""
    from re import _parser  # type: ignore[attr-defined]

    if rx is None or not rx.flags & re.IGNORECASE:
        return None
    try:
        parsed = _parser.parse(rx.pattern, rx.flags)
        if not _fold(parsed.data, loose):
            return None
    except (re.error, TypeError, ValueError, IndexError):
        return None
    parsed.state.flags = (parsed.state.flags & ~(re.IGNORECASE | re.UNICODE)) | re.ASCII
    return parsed


def ascii_folded(rx: re.Pattern[str] | None, *, loose: bool = False
                 ) -> re.Pattern[str] | None:
    """For a caseless regex: the same regex for lowercased ASCII text, without the
    caseless flag (a caseless Unicode match costs several times more per position).
    ``ascii_folded(rx).finditer(t.lower())`` gives the spans of ``rx.finditer(t)``
    for every ASCII ``t`` (tested). None when there is nothing to gain or the regex
    holds a construct this does not rewrite. With ``loose`` (see ``_fold``) it may
    also match where ``rx`` does not: a test that rules ``rx`` out, not its answer."""
    from re import _compiler  # type: ignore[attr-defined]

    parsed = folded_tree(rx, loose=loose)
    if parsed is None:
        return None
    try:
        return _compiler.compile(parsed, parsed.state.flags)
    except (re.error, TypeError, ValueError, IndexError):
        return None


def _check_keyword(word: str) -> bool:
    return bool(word) and word == word.lower() and tokens(word) == {word}


# ---------------------------------------------------------------- regex safety

def _walk_repeats(
    items: Any, depth_unbounded: int, path: str, problems: list[str]
) -> None:
    """Reject a repeat nested in a repeat unless each inner repeat is followed,
    inside the group, by something it cannot match (then the split is forced
    and matching stays linear)."""
    from re import _constants as C  # type: ignore[attr-defined]

    seq = list(items)
    for op, av in seq:
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            _lo, hi, sub = av
            inner = _repeats_in(sub)
            if (hi == C.MAXREPEAT or hi > 16) and _ambiguous_branch(sub):
                problems.append(f"{path}: a repeated alternation whose branches can overlap")
            if inner and hi != 1:
                if hi == C.MAXREPEAT or hi > 16:
                    problems.append(
                        f"{path}: a repeated group contains a repeat (nested quantifier)")
                else:
                    for j, (iop, _iav) in enumerate(list(sub)):
                        if iop in (C.MAX_REPEAT, C.MIN_REPEAT) and _iav[1] > 1 \
                                and _iav[0] != _iav[1]:
                            # the item after the last one is the group's first (next round)
                            body = list(sub)
                            nxt = body[(j + 1) % len(body)]
                            if len(body) == 1 or not _disjoint(_iav[2], nxt):
                                problems.append(
                                    f"{path}: a repeat inside a repeated group is not followed "
                                    "by a separator it cannot match (ambiguous split)")
            _walk_repeats(sub, depth_unbounded + 1, path, problems)
        elif op == C.SUBPATTERN:
            _walk_repeats(av[-1], depth_unbounded, path, problems)
        elif op == C.BRANCH:
            for alt in av[1]:
                _walk_repeats(alt, depth_unbounded, path, problems)
        elif op in (C.ASSERT, C.ASSERT_NOT):
            _walk_repeats(av[1], depth_unbounded, path, problems)


def _repeats_in(items: Any) -> bool:
    from re import _constants as C  # type: ignore[attr-defined]

    for op, av in items:
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and av[1] > 1 \
                and av[0] != av[1]:
            return True
        if op == C.SUBPATTERN and _repeats_in(av[-1]):
            return True
        if op == C.BRANCH and any(_repeats_in(a) for a in av[1]):
            return True
    return False


def _ambiguous_branch(items: Any) -> bool:
    """True when a branch in ``items`` has alternatives not told apart by a first literal."""
    from re import _constants as C  # type: ignore[attr-defined]

    for op, av in items:
        if op == C.BRANCH:
            firsts = []
            for alt in av[1]:
                a = list(alt)
                if not a or a[0][0] != C.LITERAL:
                    return True
                firsts.append(a[0][1])
            if len(set(firsts)) != len(firsts):
                return True
        elif op == C.SUBPATTERN and _ambiguous_branch(av[-1]):
            return True
    return False


def _charclass(items: Any) -> str | frozenset[str] | None:
    """A coarse class for one-item subpatterns: 'word', 'space', 'nonspace' or a char set."""
    from re import _constants as C  # type: ignore[attr-defined]

    lst = list(items)
    if len(lst) != 1:
        return None
    op, av = lst[0]
    if op == C.LITERAL:
        return frozenset(chr(av))
    if op == C.IN:
        if len(av) == 1 and av[0][0] == C.CATEGORY:
            return {C.CATEGORY_WORD: "word", C.CATEGORY_SPACE: "space",
                    C.CATEGORY_NOT_SPACE: "nonspace"}.get(av[0][1])
        chars: set[str] = set()
        if any(o == C.CATEGORY for o, _a in av):
            # e.g. [\w']: a word class plus literals; only its relation to spaces is known
            if all((o == C.CATEGORY and a == C.CATEGORY_WORD)
                   or (o == C.LITERAL and not chr(a).isspace()) for o, a in av):
                return "nonspace"
            return None
        for o, a in av:
            if o == C.LITERAL:
                chars.add(chr(a))
            elif o == C.RANGE and a[1] - a[0] < 256:
                chars.update(chr(c) for c in range(a[0], a[1] + 1))
            else:
                return None
        return frozenset(chars)
    return None


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _disjoint(rep_body: Any, nxt: tuple[Any, Any]) -> bool:
    from re import _constants as C  # type: ignore[attr-defined]

    a = _charclass(rep_body)
    op, av = nxt
    b = _charclass(av[2]) if op in (C.MAX_REPEAT, C.MIN_REPEAT) else _charclass([nxt])
    if a is None or b is None:
        return False
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return a.isdisjoint(b)
    if isinstance(a, str) and isinstance(b, str):
        return {a, b} in ({"word", "space"}, {"nonspace", "space"})
    cls, chars = (a, b) if isinstance(a, str) else (b, a)
    assert isinstance(chars, frozenset)
    if cls == "space":
        return not any(c.isspace() for c in chars)
    if cls == "word":
        return not any(_is_word(c) for c in chars)
    return all(c.isspace() for c in chars)  # nonspace


def regex_problems(pattern: str) -> list[str]:
    """Why ``pattern`` is unsafe or invalid (empty list: fine)."""
    from re import _parser as P  # type: ignore[attr-defined]

    if len(pattern) > MAX_PATTERN_CHARS:
        return [f"pattern longer than {MAX_PATTERN_CHARS} characters"]
    try:
        re.compile(pattern)
        parsed = P.parse(pattern)
    except re.error as exc:
        return [f"invalid regex: {exc}"]
    problems: list[str] = []
    _walk_repeats(parsed, 0, "pattern", problems)
    if "(?=" in pattern or ("(?<" in pattern and "(?<P" not in pattern):
        pass  # lookarounds are fine as long as their bodies are linear (checked above)
    return problems


# ---------------------------------------------------------------- loading

def _as_tuple(v: Any, what: str, where: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return tuple(v)
    raise RuleError(f"{where}: {what} must be a string or a list of strings")


def _rule_from(raw: dict[str, Any], defaults: dict[str, Any], where: str) -> Rule | None:
    merged = {**defaults, **raw}
    unknown = set(merged) - _FIELDS
    if unknown:
        raise RuleError(f"{where}: unknown field(s) {sorted(unknown)} — allowed: {sorted(_FIELDS)}")
    rid = merged.get("id")
    if not isinstance(rid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{1,80}", rid):
        raise RuleError(f"{where}: id must be lowercase letters, digits, '.', '_' or '-'")
    where = f"{where} (rule {rid})"
    if merged.get("enabled", True) is False:
        return None
    for req in ("description", "category", "detector"):
        if not isinstance(merged.get(req), str) or not merged[req]:
            raise RuleError(f"{where}: '{req}' is required")
    sev = merged.get("severity", "SEV3")
    if sev not in SEVERITIES:
        raise RuleError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    score = merged.get("score", 0.8)
    if not isinstance(score, int | float) or not 0 < float(score) <= 1:
        raise RuleError(f"{where}: score must be a number in (0, 1]")
    atlas = _as_tuple(merged.get("atlas"), "atlas", where)
    owasp = _as_tuple(merged.get("owasp"), "owasp", where)
    if not atlas or not all(_ATLAS_RE.fullmatch(a) for a in atlas):
        raise RuleError(f"{where}: atlas must list technique ids like AML.T0054")
    if not all(_OWASP_RE.fullmatch(o) for o in owasp):
        raise RuleError(f"{where}: owasp ids carry their edition, e.g. LLM01:2025")
    patterns = _as_tuple(merged.get("patterns"), "patterns", where)
    for p in patterns:
        probs = regex_problems(p)
        if probs:
            raise RuleError(f"{where}: {'; '.join(probs)} in {p[:80]!r}")
    keywords = _as_tuple(merged.get("keywords"), "keywords", where)
    bad = [k for k in keywords if not _check_keyword(k)]
    if bad:
        raise RuleError(f"{where}: keywords must be single lowercase words: {bad[:5]}")
    literals = _as_tuple(merged.get("literals"), "literals", where)
    if any(len(x) < 1 or len(x) > 64 for x in literals):
        raise RuleError(f"{where}: literals must be 1 to 64 characters long")
    params = merged.get("params") or {}
    if not isinstance(params, dict):
        raise RuleError(f"{where}: params must be a mapping")
    if params.get("gate") not in (None, "digits"):
        raise RuleError(f"{where}: params.gate can only be 'digits'")
    requires = _as_tuple(merged.get("requires"), "requires", where)
    bad = [k for k in requires if not _check_keyword(k)]
    if bad:
        raise RuleError(f"{where}: requires must be single lowercase words: {bad[:5]}")
    if patterns and not keywords and not literals and params.get("gate") is None:
        raise RuleError(
            f"{where}: pattern rules need keywords (whole words) or literals (substrings) "
            "that gate the regex")
    applies = _as_tuple(merged.get("applies_to", ["prompt"]), "applies_to", where)
    if not applies or any(a not in APPLIES for a in applies):
        raise RuleError(f"{where}: applies_to must be among {', '.join(APPLIES)}")
    return Rule(
        id=rid, title=str(merged.get("title") or merged["description"]).strip()[:120],
        description=str(merged["description"]).strip(), category=merged["category"],
        detector=merged["detector"], severity=sev, score=float(score), atlas=atlas, owasp=owasp,
        patterns=patterns, keywords=frozenset(keywords), literals=literals,
        requires=frozenset(requires), applies_to=applies, params=params,
        examples=_as_tuple(merged.get("examples"), "examples", where),
        counterexamples=_as_tuple(merged.get("counterexamples"), "counterexamples", where),
        languages=_as_tuple(merged.get("languages"), "languages", where), origin=where,
    )


def load_pack(path: Path) -> tuple[list[Rule], set[str]]:
    """Rules of one pack file, and the ids it disables."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"{path}: cannot read rule pack: {exc.strerror or exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from exc
    if doc is None:
        return [], set()
    if not isinstance(doc, dict) or not isinstance(doc.get("rules", []), list):
        raise RuleError(f"{path}: a rule pack is a mapping with a 'rules' list")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise RuleError(f"{path}: defaults must be a mapping")
    out: list[Rule] = []
    off: set[str] = set()
    for i, raw in enumerate(doc.get("rules", [])):
        where = f"{path}: rules[{i}]"
        if not isinstance(raw, dict):
            raise RuleError(f"{where}: each rule is a mapping")
        rule = _rule_from(raw, defaults, where)
        if rule is None:
            off.add(str(raw.get("id")))
        else:
            out.append(rule)
    return out, off


def pack_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def load_rules(extra_dirs: Iterable[Path] = ()) -> list[Rule]:
    """Shipped packs, then each extra directory; later ids replace earlier ones."""
    by_id: dict[str, Rule] = {}
    for directory in (BUNDLED, *extra_dirs):
        for path in pack_files(directory):
            rules, off = load_pack(path)
            for r in rules:
                by_id[r.id] = r
            for rid in off:
                by_id.pop(rid, None)
    # one read of the word lists for every gate word (see ``_commonness``)
    wordfreq.per_million(w for r in by_id.values() for w in (*r.keywords, *r.requires))
    return list(by_id.values())


# ---------------------------------------------------------------- matching

# A text opens a pair gate when it holds a word of each set (anchor, other).
WordPair = tuple[frozenset[bytes], frozenset[bytes]]

_DIGIT_RUN = re.compile(r"\d\d\d")
_NON_DIGITS = bytes(b for b in range(256) if not 48 <= b <= 57)
_QUOTES = "'\"\u2018\u2019\u201c\u201d\u00ab\u00bb`"


def _quoted(text: str, start: int, end: int) -> bool:
    """Is the match wrapped in quotes as a mention ('users typed "ignore previous
    instructions"')? Not when a modal or "to" puts the quoted words to use ('an AI
    that can "do anything now"', 'you must "ignore all rules"')."""
    before = text[start - 1] if start > 0 else ""
    if not before or before not in _QUOTES:
        return False
    tail = text[end: end + 3]
    if not (any(q in tail for q in _QUOTES) and len(text) - end > 0):
        return False
    lead = text[max(0, start - 25): start - 1].split()
    return not (lead and lead[-1].lower() in _PUT_TO_USE)


# "... try to get a model to <match>": an attack described, not one aimed at the reader.
_DESCRIBED = re.compile(
    r"\b(?:get|gets|getting|got|make|makes|making|made|trick|tricks|tricking|tricked|force|"
    r"forces|forcing|forced|convince|convinces|convincing|persuade|persuades|persuading|cause|"
    r"causes|causing|manipulate|manipulates|manipulating)\s+(?:an?|the|other)\s+(?:\w+\s+)?"
    r"(?:models?|ais?|llms?|chatbots?|assistants?|bots?|systems?)\s+(?:into\s+|to\s+)$",
    re.IGNORECASE)


def _described(text: str, start: int) -> bool:
    """Does the match follow "get a model to" and its kin (a description of an
    attack: "prompts like DAN try to get a model to ignore its guidelines")?"""
    if start <= 0 or not text[start - 1].isspace():
        return False
    lead = max(0, start - 60)
    # what the regex ends with ("to", "into", then spaces), tested first: it rarely holds
    if text[lead:start].rstrip()[-2:].lower() != "to":
        return False
    return _DESCRIBED.search(text, lead, start) is not None


# Words that, right before a quoted phrase, make it something to do, not a mention.
_PUT_TO_USE = frozenset(("can", "could", "will", "would", "must", "shall", "should", "may",
                         "might", "to", "always", "now", "please"))


@lru_cache(maxsize=1)
def _byte_rank() -> dict[int, int]:
    """How common each byte is in ordinary text (the shipped English sample)."""
    sample = Path(__file__).resolve().parent / "data" / "english.txt"
    try:
        data = sample.read_bytes()
    except OSError:
        data = b"etaoinshrdlu etaoin shrdlu"
    counts = dict.fromkeys(range(256), 0)
    for b in data:
        counts[b] += 1
    return counts


_UNLISTED = 0.05  # per million: names, jargon and other words the lists do not hold


def _commonness(words: Iterable[bytes]) -> float:
    """How often a text holds one of ``words``: the sum of their frequencies per
    million words of conversation (a word no list holds still counts a little)."""
    freq = wordfreq.per_million(w.decode("utf-8", "surrogatepass") for w in words)
    return sum(f + _UNLISTED for f in freq.values())


def _pivot(raw: bytes) -> int:
    """The rarest byte of ``raw``: any string containing ``raw`` contains it.
    ASCII bytes are preferred: they are whole characters, see ``any_of``."""
    rank = _byte_rank()
    ascii_bytes = [b for b in raw if b < 128]
    return min(ascii_bytes or raw, key=lambda b: rank[b])


def any_of(literals: Iterable[str], pivot: str | None = None) -> re.Pattern[str]:
    """A regex that finds any of ``literals``. With ``pivot`` (a character each
    literal contains), every branch starts at that character and checks what comes
    before it with a lookbehind, so the regex engine looks for that one character
    with its fast literal search instead of trying every position."""
    alts = []
    for lit in sorted(set(literals)):
        k = lit.find(pivot) if pivot else -1
        if pivot is None or k <= 0:
            alts.append(re.escape(lit))
        else:
            alts.append(re.escape(pivot) + "(?<=" + re.escape(lit[: k + 1]) + ")"
                        + re.escape(lit[k + 1:]))
    return re.compile("|".join(alts))


@dataclass(slots=True)
class Hit:
    rule: Rule
    start: int
    end: int


class PatternSet:
    """A set of keyword-gated regex rules, matched together over one text.

    Gates are checked without looking at every rule: keywords through one set
    intersection with the text's words (``btokens``); literals through one
    ``bytes.translate`` that keeps only the rarest byte of each literal (for
    ordinary text that leaves nothing, and only the literals of the bytes that
    remain are searched); the digits gate through a count of ASCII digits.
    """

    __slots__ = (
        "_digit_min",
        "_digit_rules",
        "_folded",
        "_gate",
        "_lit_delete",
        "_lit_pivots",
        "_lit_rx",
        "_needs",
        "_regex",
        "_requires",
        "_screens",
        "gate_bytes",
        "gate_words",
        "rules",
    )

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = [r for r in rules if r.patterns]
        self._regex = [r.compiled() for r in self.rules]
        self._folded = [ascii_folded(rx) for rx in self._regex]
        # where a rule cannot be folded exactly: a looser fold that rules it out
        self._screens = [ascii_folded(rx, loose=True) if f is None else None
                         for rx, f in zip(self._regex, self._folded, strict=True)]
        # the literals each fold needs: most candidates that cannot match are skipped
        self._needs = requirements([folded_tree(rx, loose=f is None)
                                    for rx, f in zip(self._regex, self._folded, strict=True)])
        self._gate: dict[bytes, list[int]] = {}
        self._requires = [frozenset(utf8(w) for w in r.requires) if r.requires else None
                          for r in self.rules]
        self._lit_pivots: dict[int, list[tuple[str, int]]] = {}
        for i, r in enumerate(self.rules):
            for w in r.keywords:
                self._gate.setdefault(utf8(w), []).append(i)
            for lit in r.literals:
                self._lit_pivots.setdefault(_pivot(utf8(lit)), []).append((lit, i))
        self._lit_delete = bytes(b for b in range(256) if b not in self._lit_pivots)
        self._lit_rx = {b: any_of((lit for lit, _i in v), chr(b) if b < 128 else None)
                        for b, v in self._lit_pivots.items()}
        self._digit_rules = [(i, int(r.params.get("min_digits", 3)))
                             for i, r in enumerate(self.rules) if r.params.get("gate") == "digits"]
        self._digit_min = min((m for _i, m in self._digit_rules), default=0)
        self.gate_bytes = frozenset(self._gate)
        self.gate_words = frozenset(w.decode("utf-8", "surrogatepass") for w in self._gate)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def literal_finders(self) -> tuple[tuple[int, re.Pattern[str]], ...]:
        """(pivot byte, regex finding any literal of that byte's group), per group."""
        return tuple(self._lit_rx.items())

    def literals(self) -> tuple[str, ...]:
        """Every literal whose presence opens a rule (the finders' literals)."""
        return tuple(lit for v in self._lit_pivots.values() for lit, _i in v)

    def gate_summary(self) -> tuple[frozenset[bytes], tuple[WordPair, ...], bytes]:
        """What a text must contain for any rule of this set to have a chance.

        Words: any of them opens (the keywords of rules without ``requires``).
        Pairs ``(anchor, other)``: a word of each (a rule with ``requires`` needs one
        of its keywords and one of its required words; the rarer list is the anchor,
        which the batched gate searches for). Bytes: the pivot byte of each literal,
        and the digits when a rule has a digits gate."""
        words: set[bytes] = set()
        by_other: dict[frozenset[bytes], set[bytes]] = {}
        for i, r in enumerate(self.rules):
            kw = frozenset(utf8(w) for w in r.keywords)
            req = self._requires[i]
            if req is None:
                words |= kw
                continue
            anchor, other = (kw, req) if _commonness(kw) <= _commonness(req) else (req, kw)
            by_other.setdefault(other, set()).update(anchor)
        pairs = tuple((frozenset(a), o) for o, a in by_other.items())
        pivots = bytes(sorted(self._lit_pivots))
        if self._digit_rules:
            pivots += b"0123456789"
        return frozenset(words), pairs, pivots

    def candidates(self, words: list[bytes] | None, text: str = "") -> list[int]:
        """Rules whose gate opens: one of their keywords is in ``words`` (``btokens``
        of ``text``) and, if they have ``requires``, one of those too; or one of their
        literals is in ``text``; or ``text`` has enough digits for a digits gate."""
        idx: set[int] = set()
        if words:
            wordset = set(words)  # membership in a list is a walk of it
            hit = self.gate_bytes.intersection(wordset)
            if hit:
                gate, req = self._gate, self._requires
                for w in hit:
                    for i in gate[w]:
                        if i not in idx:
                            r = req[i]
                            if r is None or not r.isdisjoint(wordset):
                                idx.add(i)
        if text and (self._lit_pivots or self._digit_rules):
            raw = utf8(text)
            if self._lit_pivots:
                present = raw.translate(None, self._lit_delete)
                if present:
                    # Only the literals of the pivot bytes present, each group with one
                    # regex search anchored on its pivot.
                    for b in set(present):
                        if self._lit_rx[b].search(text) is not None:
                            for lit, i in self._lit_pivots[b]:
                                if lit in text:
                                    idx.add(i)
            if self._digit_rules:
                digits = len(raw.translate(None, _NON_DIGITS))
                if digits >= self._digit_min and _DIGIT_RUN.search(text) is not None:
                    idx.update(i for i, least in self._digit_rules if digits >= least)
        return sorted(idx) if idx else []

    def scan(self, text: str, words: list[bytes] | None, offset: int = 0,
             *, skip_quoted: bool = False) -> Iterator[Hit]:
        """First match of each candidate rule in ``text`` (offsets shifted by ``offset``).

        With ``skip_quoted``, a match wrapped in quotes is a mention ("users typed
        'ignore previous instructions'"), not a use, and the next match is tried.
        """
        low = text.lower() if text.isascii() else None  # same offsets
        for i in self.candidates(words, text):
            rx = self._regex[i]
            if rx is None:
                continue
            if low is not None:
                need = self._needs[i]
                if need is not None and not need.possible(low):
                    continue  # a literal every match holds is missing
            folded = self._folded[i]
            if low is not None:
                screen = self._screens[i]
                if screen is not None and screen.search(low) is None:
                    continue  # not even the looser form matches
            found = (folded.finditer(low) if folded is not None and low is not None
                     else rx.finditer(text))
            for n, m in enumerate(found):
                if skip_quoted and (_quoted(text, m.start(), m.end())
                                    or _described(text, m.start())):
                    if n >= 3:
                        break
                    continue
                yield Hit(self.rules[i], m.start() + offset, m.end() + offset)
                break
