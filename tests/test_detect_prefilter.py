"""The literals a rule regex needs (``prefilter.Requirement``): a test that may let a
regex run in vain, but never rules out a text the regex matches."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ircon.detect.prefilter import Requirement, requirements
from ircon.detect.rules import PatternSet, btokens, folded_tree, load_rules
from tests.test_detect_gates import _texts

RULES = load_rules([])
WORDS = sorted({w for r in RULES for w in r.keywords if w.isascii()} | {"DAN", "AI", "sk", "KEY"})


def _requirement(pattern: str) -> Requirement:
    return Requirement(folded_tree(re.compile(pattern, re.IGNORECASE)))


def _needs(pattern: str) -> list[set[frozenset[str]]]:
    """Per top-level alternative, its needs (each: one of these literals)."""
    req = _requirement(pattern)
    return [{frozenset(n) for n in alt} for alt in req.alternatives] if req.useful else []


def _n(*needs: set[str]) -> set[frozenset[str]]:
    return {frozenset(n) for n in needs}


def test_literal_runs_groups_and_repeats() -> None:
    assert _needs(r"\bignore\s+(?:all\s+)?previous\b") == [_n({"ignore"}, {"previous"})]
    # a required repeat needs its body; an optional one (or a lookaround) needs nothing
    assert _needs(r"(?:abc)+x?(?:def)*(?=ghi)jkl") == [_n({"abc"}, {"jkl"})]
    # runs shorter than three characters are too common to rule anything out
    assert _needs(r"an?\s+ai") == []
    # Case folds first: the literals are those of lowercased text.
    assert _needs(r"IGNORE") == [_n({"ignore"})]


def test_alternations() -> None:
    # the top-level alternatives each keep their own needs ...
    assert _needs(r"du\s+bist\s+frei|tu\s+es\s+libre") == [_n({"bist"}, {"frei"}),
                                                          _n({"libre"})]
    # ... as do those of the one alternation of a sequence ...
    assert _needs(r"you\s+are\s+(?:evil|unhinged)") == [_n({"you"}, {"are"}, {"evil"}),
                                                        _n({"you"}, {"are"}, {"unhinged"})]
    # ... otherwise an alternation needs one literal of each branch ...
    assert _needs(r"you\s+are\s+(?:evil|unhinged)\s+(?:now|today)") == [
        _n({"you"}, {"are"}, {"evil", "unhinged"}, {"now", "today"})]
    # ... and nothing when a branch needs nothing
    assert _needs(r"you\s+are\s+(?:evil|a)\s+(?:now|today)") == [
        _n({"you"}, {"are"}, {"now", "today"})]
    # an alternative that needs nothing makes the whole test useless
    assert not _requirement(r"ignore\s+previous|\d{3}").useful


def test_possible_is_false_only_without_a_needed_literal() -> None:
    req = _requirement(r"\bignore\s+(?:all\s+)?previous\b|\bforget\s+everything\b")
    assert req.possible("please ignore the previous mail")  # the regex fails; allowed
    assert req.possible("forget everything")
    assert not req.possible("please ignore this")
    assert not req.possible("")


def test_the_shipped_rules_have_useful_requirements() -> None:
    prompt = PatternSet(r for r in RULES if r.detector in ("jailbreak", "injection"))
    reqs = requirements([folded_tree(rx) or folded_tree(rx, loose=True)
                         for rx in (r.compiled() for r in prompt.rules)])
    assert sum(r is not None for r in reqs) >= 0.9 * len(reqs)


def _checked() -> list[tuple[str, re.Pattern[str], Requirement]]:
    out = []
    for rule in RULES:
        rx = rule.compiled()
        if rx is not None and rx.flags & re.IGNORECASE:
            exact = folded_tree(rx)
            req = Requirement(exact if exact is not None else folded_tree(rx, loose=True))
            if req.useful:
                out.append((rule.id, rx, req))
    return out


CHECKED = _checked()


def _sound(text: str) -> None:
    """Every rule whose regex matches ``text`` is possible for it."""
    assert text.isascii()
    low = text.lower()
    for rid, rx, req in CHECKED:
        if not req.possible(low):
            assert rx.search(text) is None, (rid, text[:120])


def test_no_rule_is_ruled_out_where_it_matches_on_the_labelled_prompts() -> None:
    for text in _texts():
        if text.isascii():
            _sound(text)
            _sound(text.upper())
    for r in RULES:
        for text in (*r.examples, *r.counterexamples):
            if text.isascii():
                _sound(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.text(
    alphabet=st.characters(max_codepoint=127), max_size=8)), max_size=40),
    st.randoms(use_true_random=False))
def test_no_rule_is_ruled_out_where_it_matches_on_generated_text(
        parts: list[str], rnd: random.Random) -> None:
    _sound(" ".join(p.upper() if rnd.random() < 0.3 else p for p in parts))


# Small regexes built from the constructs the requirements read, against random text
# over a small alphabet (so that matches are frequent): never a match ruled out.
_ATOMS = ["abc", "ab", "b", "c", r"\s+", r"\w", r"[ab]", "(?:abc|cab)", "(?:a|bca)",
          "(?:bb)?", "(?:cab)+", "(?:ab){2}", r"\b", "(?=ab)", "(?<!c)", "a*", "(?:abc|b)"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_ATOMS), min_size=1, max_size=6),
                min_size=1, max_size=3),
       st.lists(st.text(alphabet="abcABC \n", max_size=30), min_size=1, max_size=8))
def test_requirements_of_generated_regexes_are_sound(
        alts: list[list[str]], texts: list[str]) -> None:
    pattern = "|".join("".join(a) for a in alts)
    rx = re.compile(pattern, re.IGNORECASE)
    req = Requirement(folded_tree(rx))
    for text in texts:
        if rx.search(text) is not None:
            assert req.possible(text.lower()), (pattern, text)


def test_the_scan_finds_the_same_with_and_without_requirements() -> None:
    """Rules run through ``PatternSet.scan`` find the same with the test as without."""
    pset = PatternSet(r for r in RULES if r.detector in ("jailbreak", "injection"))
    plain = PatternSet(r for r in RULES if r.detector in ("jailbreak", "injection"))
    plain._needs = [None] * len(plain.rules)
    texts = [t for t in _texts() if t.isascii()]
    assert sum(r is not None for r in pset._needs) > 0
    for text in texts:
        words = btokens(text)
        got = [(h.rule.id, h.start, h.end) for h in pset.scan(text, words, skip_quoted=True)]
        want = [(h.rule.id, h.start, h.end) for h in plain.scan(text, words, skip_quoted=True)]
        assert got == want, text[:120]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.text(
    alphabet=st.characters(max_codepoint=127), max_size=6)), max_size=30))
def test_the_c_test_of_needs_is_the_python_one(parts: list[str]) -> None:
    from ircon.detect import accel

    if accel.fast is None:
        return
    low = " ".join(parts).lower()
    for _rid, _rx, req in CHECKED:
        got = req.possible(low)
        saved, accel.fast = accel.fast, None
        try:
            assert req.possible(low) is got
        finally:
            accel.fast = saved
    # non-ASCII literals are never in ASCII text; malformed input is refused
    assert accel.fast.needs_met("abc", ((("\u00e9bc",), ("abc",)),)) is False
    assert accel.fast.needs_met("abc", ((("\u00e9bc", "bc"), ("abc",)),)) is True
    with pytest.raises(TypeError):
        accel.fast.needs_met("abc", ((("abc", 1),),))  # type: ignore[arg-type]
