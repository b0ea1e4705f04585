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
