"""The Hyperscan prefilter of the rule packs never changes what a rule finds.

``PatternSet.scan`` skips the regex of a rule the prefilter does not report for an
ASCII text. Prefilter mode over-approximates each regex, so the hits must be
exactly those of running every candidate regex: checked on every shipped rule's
examples and counterexamples, the labelled evaluation set, and random texts built
from the rules' own words, with case changes and Python-only whitespace.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ircon.detect.rules import PatternSet, btokens, load_rules

DATA = Path(__file__).resolve().parent / "data" / "detect"
RULES = [r for r in load_rules([]) if r.patterns]
FILTERED = PatternSet(RULES)
PLAIN = PatternSet(RULES)
PLAIN._prefilter = None  # the reference: every candidate regex runs


def _hits(ps: PatternSet, text: str) -> list[tuple[str, int, int]]:
    return [(h.rule.id, h.start, h.end) for h in ps.scan(text, btokens(text), skip_quoted=True)]


def _corpus() -> list[str]:
    texts = [t for r in RULES for t in (*r.examples, *r.counterexamples)]
    for name in ("attacks", "heldout", "benign"):
        for items in yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8")).values():
            texts.extend(items)
    return texts


def test_the_prefilter_is_built_for_the_shipped_rules() -> None:
    assert FILTERED._prefilter is not None and len(FILTERED._filtered) == len(RULES)


def test_the_prefilter_keeps_every_hit_of_the_corpus() -> None:
    texts = _corpus()
    assert len(texts) > 500
    found = 0
    for text in texts:
        for variant in (text, text.upper(), text.swapcase()):
            expected = _hits(PLAIN, variant)
            assert _hits(FILTERED, variant) == expected, variant
            found += bool(expected)
    assert found > 200  # the comparison is not between two empty lists


_WORDS = sorted({w for r in RULES for w in (*r.keywords, *r.requires) if w.isascii()})
_GLUE = st.sampled_from([" ", "  ", "\n", "\t", ", ", ": ", "'", '"', "\x1c", "\x1f", "-", ". "])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_WORDS + ["you", "are", "now", "the", "all", "to"]),
                          _GLUE), min_size=1, max_size=30),
       st.booleans())
def test_the_prefilter_keeps_every_hit_of_random_rule_words(parts, upper) -> None:
    text = "".join(w + g for w, g in parts)
    if upper:
        text = text.title()
    assert _hits(FILTERED, text) == _hits(PLAIN, text)
