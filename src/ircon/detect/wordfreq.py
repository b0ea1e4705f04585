"""How common a word is in ordinary conversation, per million words.

The rule packs' keyword gates (see ``rules.PatternSet.gate_summary``) keep, for
each rule, the rarer of its two word lists: the rarer the gate words, the fewer
ordinary prompts wake the prompt detectors. Rarity comes from the word
frequency lists of pyspellchecker (MIT), built from the OpenSubtitles corpus,
for the languages the rules cover.

Reading the lists takes most of a second, so the answers for the words of the
shipped rule packs are kept in ``data/wordfreq.json``, and the commonest English
words (the suffix detector's vocabulary) in ``data/common-en.txt`` (regenerate
both with ``python -m ircon.detect.wordfreq`` after changing a pack's words; a
test checks them). The lists are read only for other words (a pack of the
user's), once per process, and then dropped: only the answers are kept.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

LANGUAGES = ("en", "de", "fr", "es", "it")
SHIPPED = Path(__file__).resolve().parent / "data" / "wordfreq.json"
COMMON_EN = Path(__file__).resolve().parent / "data" / "common-en.txt"
COMMON_EN_WORDS = 30_000

_known: dict[str, float] = {}
_lock = threading.Lock()


def _shipped() -> dict[str, float]:
    try:
        table = json.loads(SHIPPED.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in table.items()} if isinstance(table, dict) else {}


def _load(lang: str) -> dict[str, int] | None:
    try:
        raw = resources.files("spellchecker").joinpath("resources", f"{lang}.json.gz").read_bytes()
        table = json.loads(gzip.decompress(raw))
    except (ModuleNotFoundError, OSError, ValueError):
        return None
    return table if isinstance(table, dict) else None


def common_words(lang: str, top: int) -> frozenset[str]:
    """The ``top`` most frequent alphabetic words of ``lang``'s list (lowercase); empty
    without the lists. A quarter of a second; callers keep the answer."""
    return frozenset(_ranked(lang, top))


def _ranked(lang: str, top: int) -> list[str]:
    table = _load(lang)
    if not table:
        return []
    ranked = sorted(((n, w) for w, n in table.items()
                     if isinstance(w, str) and w.isalpha() and isinstance(n, int)),
                    key=lambda nw: (-nw[0], nw[1]))
    return [w for _n, w in ranked[:top]]


def common_english() -> frozenset[str]:
    """The ``COMMON_EN_WORDS`` commonest English words, as shipped; read from the
    lists when the shipped file is missing."""
    try:
        return frozenset(COMMON_EN.read_text(encoding="utf-8").split())
    except OSError:
        return common_words("en", COMMON_EN_WORDS)


def per_million(words: Iterable[str]) -> dict[str, float]:
    """The frequency of each of ``words`` (lowercase) per million words of text, the
    highest over ``LANGUAGES``; 0.0 for a word none of the lists holds. Without the
    lists (pyspellchecker not installed) an unknown word counts as 1.0."""
    wanted = set(words)
    with _lock:
        if not _known:
            _known.update(_shipped())
        missing = wanted - _known.keys()
        if missing:
            _known.update(from_lists(missing))
        return {w: _known[w] for w in wanted}


def from_lists(words: Iterable[str]) -> dict[str, float]:
    """``per_million`` read from the lists themselves (most of a second)."""
    found = dict.fromkeys(words, 0.0)
    loaded = False
    for lang in LANGUAGES:
        table = _load(lang)
        if table is None:
            continue
        loaded = True
        total = sum(table.values()) or 1
        for w in found:
            n = table.get(w)
            if n:
                found[w] = max(found[w], 1e6 * n / total)
        del table  # the lists are large; only the answers are kept
    return found if loaded else dict.fromkeys(found, 1.0)


def main() -> None:
    """Write ``data/wordfreq.json`` for the words of the shipped rule packs, and
    ``data/common-en.txt``."""
    from ircon.detect.rules import BUNDLED, load_pack, pack_files

    words = sorted({w for path in pack_files(BUNDLED) for r in load_pack(path)[0]
                    for w in (*r.keywords, *r.requires)})
    table = from_lists(words)
    SHIPPED.write_text(json.dumps({w: round(table[w], 3) for w in words}, ensure_ascii=False,
                                  indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(words)} words -> {SHIPPED}")
    common = _ranked("en", COMMON_EN_WORDS)
    COMMON_EN.write_text("\n".join(common) + "\n", encoding="utf-8")
    print(f"{len(common)} words -> {COMMON_EN}")


if __name__ == "__main__":
    main()
