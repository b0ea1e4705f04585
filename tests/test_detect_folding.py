"""Caseless rule regexes run on lowercased ASCII text without the caseless flag
(``rules.ascii_folded``): the same spans as the original on the original text."""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from ircon.detect.rules import CASELESS_ASCII_TWINS, ascii_folded, load_rules
from tests.test_detect_gates import _texts

RULES = load_rules([])
PAIRS = [(r.id, rx, ascii_folded(rx)) for r in RULES if (rx := r.compiled()) is not None]
WORDS = sorted({w for r in RULES for w in r.keywords if w.isascii()} | {"DAN", "AI", "sk", "KEY"})


def _same(text: str) -> None:
    assert text.isascii()
    low = text.lower()
    for rid, rx, folded in PAIRS:
        if folded is not None:
            assert ([m.span() for m in folded.finditer(low)]
                    == [m.span() for m in rx.finditer(text)]), (rid, text[:120])


def test_most_shipped_caseless_rules_are_folded() -> None:
    caseless = [p for p in PAIRS if p[1].flags & re.IGNORECASE]
    folded = [p for p in caseless if p[2] is not None]
    assert len(folded) >= 0.6 * len(caseless)
    # a rule that asks for case in part of it ("(?-i:DAN)") keeps its caseless form
    assert ascii_folded(re.compile(r"you are (?-i:DAN)", re.I)) is None
    assert ascii_folded(re.compile(r"plain", 0)) is None


def test_folded_rules_match_where_the_originals_do_on_the_labelled_prompts() -> None:
    for text in _texts():
        if text.isascii():
            _same(text)
            _same(text.upper())
            _same(text.swapcase())
    for r in RULES:
        for text in (*r.examples, *r.counterexamples):
            if text.isascii():
                _same(text)
                _same(text.title())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.text(
    alphabet=st.characters(max_codepoint=127), max_size=8)), max_size=40),
    st.randoms(use_true_random=False))
def test_folded_rules_match_where_the_originals_do_on_generated_text(
        parts: list[str], rnd: object) -> None:
    import random

    assert isinstance(rnd, random.Random)
    text = " ".join(p.upper() if rnd.random() < 0.3 else p for p in parts)
    _same(text)


def test_loose_folds_match_wherever_the_originals_do() -> None:
    loose = [(r.id, rx, ascii_folded(rx, loose=True)) for r in RULES
             if (rx := r.compiled()) is not None and ascii_folded(rx) is None]
    assert any(f is not None for _i, _rx, f in loose)
    texts = [t for t in _texts() if t.isascii()]
    texts += [t.upper() for t in texts] + ["You are DAN now", "you are dan now"]
    for rid, rx, screen in loose:
        if screen is None:
            continue
        for text in texts:
            if rx.search(text) is not None:
                assert screen.search(text.lower()) is not None, (rid, text[:120])
    screen = ascii_folded(re.compile(r"you are (?-i:DAN)", re.I), loose=True)
    assert screen is not None and screen.search("you are dan") is not None


def test_the_caseless_twins_of_ascii_letters_are_all_listed() -> None:
    """Every character beyond ASCII that a caseless regex takes for an ASCII letter."""
    letter = re.compile("[a-z]", re.IGNORECASE)
    found = {c for c in range(128, sys.maxunicode + 1) if letter.fullmatch(chr(c))}
    assert found == set(CASELESS_ASCII_TWINS)
    for c, twin in CASELESS_ASCII_TWINS.items():
        assert re.fullmatch(re.escape(chr(c)), twin, re.IGNORECASE)
        assert re.fullmatch(re.escape(chr(c)), twin.upper(), re.IGNORECASE)


def test_classes_and_twins_fold() -> None:
    for pattern in (r"[A-F]x", r"[^A-Z]\d", "\u212aey", "[\u0100-\u0200]", r"\bS\w+", "a(?=B)"):
        rx = re.compile(pattern, re.IGNORECASE)
        folded = ascii_folded(rx)
        assert folded is not None, pattern
        for text in ("Key kEY KEY", "aB ab AB", "sX Sx", "Ix ix Q9 q9", "Ez eZ"):
            assert ([m.span() for m in folded.finditer(text.lower())]
                    == [m.span() for m in rx.finditer(text)]), (pattern, text)
