"""How common a word is in ordinary conversation, per million words.

The rule packs' keyword gates (see ``rules.PatternSet.gate_summary``) keep, for
each rule, the rarer of its two word lists: the rarer the gate words, the fewer
ordinary prompts wake the prompt detectors. Rarity comes from the word
frequency lists of pyspellchecker (MIT), built from the OpenSubtitles corpus,
for the languages the rules cover. The lists are read once per process for the
words asked about and then dropped: only the answers are kept.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterable
from importlib import resources

LANGUAGES = ("en", "de", "fr", "es", "it")

_known: dict[str, float] = {}
_lock = threading.Lock()


def _load(lang: str) -> dict[str, int] | None:
    try:
        raw = resources.files("spellchecker").joinpath("resources", f"{lang}.json.gz").read_bytes()
        table = json.loads(gzip.decompress(raw))
    except (ModuleNotFoundError, OSError, ValueError):
        return None
    return table if isinstance(table, dict) else None


def per_million(words: Iterable[str]) -> dict[str, float]:
    """The frequency of each of ``words`` (lowercase) per million words of text, the
    highest over ``LANGUAGES``; 0.0 for a word none of the lists holds. Without the
    lists (pyspellchecker not installed) every word counts as 1.0."""
    wanted = set(words)
    with _lock:
        missing = wanted - _known.keys()
        if missing:
            found = dict.fromkeys(missing, 0.0)
            loaded = False
            for lang in LANGUAGES:
                table = _load(lang)
                if table is None:
                    continue
                loaded = True
                total = sum(table.values()) or 1
                for w in missing:
                    n = table.get(w)
                    if n:
                        found[w] = max(found[w], 1e6 * n / total)
                del table  # the lists are large; only the answers are kept
            if not loaded:
                found = dict.fromkeys(missing, 1.0)
            _known.update(found)
        return {w: _known[w] for w in wanted}
