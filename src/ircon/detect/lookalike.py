"""Look-alike characters: letters of other scripts, or styled forms, read as ASCII.

Attackers spell filtered words with characters that look like Latin letters -
Cyrillic "а", Greek "ο", the dotless "ı", Latin alpha "ɑ", small capitals,
full-width or mathematical bold letters - so keyword filters miss them while a
person or a model reads the same word. ``to_ascii`` folds such text back
(NFKC for the styled forms, a table for the cross-script look-alikes);
``mixed_words`` finds the words that mix ASCII letters with look-alikes.
Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata

# Cross-script and phonetic letters that read as an ASCII letter (after NFKC, which
# already folds full-width, mathematical and circled forms onto ASCII).
_PAIRS = (
    # Cyrillic
    "аa вb еe кk мm нh оo рp сc тt уy хx іi јj ѕs ԁd ԛq ԝw һh ӏl ѵv ґr "
    "АA ВB ЕE КK МM НH ОO РP СC ТT ХX ІI ЈJ ЅS ԚQ ԜW ҮY "
    # Greek
    "αa βb εe ιi κk νv οo ρp τt υu χx γy ΑA ΒB ΕE ΖZ ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX "
    # Latin look-alikes outside ASCII: dotless i, alpha, script g, small capitals
    "ıi ɑa ɡg ɩi ɪi ʏy ʟl ɴn ɢg ʀr ᴀa ʙb ᴄc ᴅd ᴇe ғf ʜh ᴊj ᴋk ᴍm ᴏo ᴘp ǫq ꜱs ᴛt ᴜu ᴠv ᴡw "
    "ᴢz ſs ℓl"
)
CONFUSABLE = {pair[0]: pair[1] for pair in _PAIRS.split()}
_FOLD = str.maketrans(CONFUSABLE)
# Letters whose presence marks Turkish or Azerbaijani text, where "ı" is an ordinary
# letter and not a disguise.
_TURKIC = frozenset("şŞğĞİəƏ")
_WORD = re.compile(r"\w+")


def to_ascii(text: str) -> str:
    """``text`` with styled forms (NFKC) and look-alike letters folded onto ASCII."""
    return unicodedata.normalize("NFKC", text).translate(_FOLD)


def _disguise(ch: str) -> bool:
    """A character that, inside an otherwise ASCII word, disguises that word."""
    if ch in CONFUSABLE:
        return True
    # a styled letter that NFKC folds onto an ASCII letter (full-width, math bold, ...)
    folded = unicodedata.normalize("NFKC", ch)
    return len(folded) == 1 and folded.isascii() and folded.isalpha()


def mixed_words(text: str, limit: int = 16) -> list[tuple[int, str]]:
    """(offset, folded word) of the words mixing ASCII letters with look-alikes,
    whose folded form is plain ASCII; at most ``limit``, first seen first."""
    turkic = not _TURKIC.isdisjoint(text)
    out: list[tuple[int, str]] = []
    seen: set[str] = set()
    for m in _WORD.finditer(text):
        w = m.group()
        if w.isascii() or not any("a" <= c.lower() <= "z" for c in w):
            continue
        odd = [c for c in w if not c.isascii()]
        if not all(map(_disguise, odd)) or (turkic and "ı" in odd):
            continue
        folded = to_ascii(w)
        if folded.isascii() and folded not in seen:
            seen.add(folded)
            out.append((m.start(), folded))
            if len(out) >= limit:
                break
    return out
