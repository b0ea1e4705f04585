"""Turning outside-world text into something safe to put on the screen.

Labels, prompts, titles and command output are attacker-written. They only
ever reach a widget as a ``rich.text.Text`` built from ``visible()`` output:
never as markup, never raw, so no escape sequence, OSC 8 link, bidi override
or markup tag from outside can act on the terminal or on Textual.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from ircon.model.text import visible


def text(value: object, limit: int | None = 200, style: str | Style = "") -> Text:
    """One bounded line of plain text."""
    s = value if isinstance(value, str) else ("" if value is None else str(value))
    return Text(visible(s, limit), style=style, no_wrap=False, end="")


def block(value: str, limit: int | None = 20_000, style: str | Style = "") -> Text:
    """Multi-line plain text (newlines kept, every other control made visible)."""
    return Text(visible(value, limit, keep_newlines=True), style=style, end="")


def plain(value: object, limit: int | None = 200) -> str:
    """A safe ``str`` for places that take plain strings and never parse markup."""
    s = value if isinstance(value, str) else ("" if value is None else str(value))
    return visible(s, limit)


def label(value: object, limit: int | None = 200) -> str:
    """A safe ``str`` for places that *do* parse markup (titles, palette hits).

    ``visible`` already removed every control character; Textual's own escape
    stops its content markup from reading the rest as tags or click actions.
    """
    # Textual's parser consumes exactly one backslash before every "[" and may read an
    # unescaped "[" as a tag; one added backslash before each "[" keeps the text literal
    # (backslashes elsewhere are shown as they are).
    return plain(value, limit).replace("[", "\\[")
