"""Writing attacker text into Markdown so it renders as literal text."""

from __future__ import annotations

import re

from ircon.model.text import visible

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def md_inline(s: str, limit: int | None = 300) -> str:
    """Literal inline text: every Markdown/HTML metacharacter backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", visible(s, limit))


def md_block(s: str, lang: str = "text") -> str:
    """A fenced block that no content can close early."""
    s = visible(s, None, keep_newlines=True)
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{s}\n{fence}"


# Inline Markdown and GFM constructs open only on these characters; '.', '-', '(' and the
# like are inert in the middle of a line, so escaping them only makes the draft harder to edit.
_MD_TEXT_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~&$])")
# Block constructs open only at the start of a line: headings, quotes, lists, setext rules.
_MD_LINE_START = re.compile(
    r"^(\s*)(?:(\d{1,9})([.)])(?=\s|$)|(>|#{1,6}(?=\s|$)|[-+](?=\s|$)|[-=]+\s*$))")
# GFM turns bare URLs into links; breaking the trigger keeps them literal text.
_MD_AUTOLINK = re.compile(r"(?i)(:)(?=//)|(?<=www)(\.)")


def md_text(s: str, limit: int | None = 300) -> str:
    """Literal inline text that stays readable when edited as raw Markdown.

    Newlines and control characters are made visible first, so the value is
    one line; only the characters that can open an inline construct are
    escaped, plus a block marker at its very start (for templates that put a
    value at the beginning of a line).
    """
    out = _MD_TEXT_SPECIAL.sub(r"\\\1", visible(s, limit))
    out = _MD_AUTOLINK.sub(lambda m: "\\" + (m.group(1) or m.group(2)), out)
    return _MD_LINE_START.sub(_line_start, out, count=1)


def _line_start(m: re.Match[str]) -> str:
    if m.group(2):
        # A backslash before a digit is literal; an ordered list is broken at its '.' or ')'.
        return m.group(1) + m.group(2) + "\\" + m.group(3)
    return m.group(1) + "\\" + m.group(4)


def md_code(s: str, limit: int | None = 300) -> str:
    """An inline code span no content can close early (not for table cells: GFM splits
    cells on ``|`` even inside code)."""
    s = visible(s, limit)
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith(("`", " ")) or s.endswith(("`", " ")) else ""
    return f"{fence}{pad}{s}{pad}{fence}"
