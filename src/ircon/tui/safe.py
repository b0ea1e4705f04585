"""Turning outside-world text into something safe to put on the screen.

Labels, prompts, titles and command output are attacker-written. They only
ever reach a widget as a ``rich.text.Text`` built from ``visible()`` output:
never as markup, never raw, so no escape sequence, OSC 8 link, bidi override
or markup tag from outside can act on the terminal or on Textual.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from ircon.model.text import visible

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions


def text(value: object, limit: int | None = 200, style: str | Style = "") -> Text:
    """One bounded line of plain text."""
    s = value if isinstance(value, str) else ("" if value is None else str(value))
    return Text(visible(s, limit), style=style, no_wrap=False, end="")


class Cell(Text):
    """Safe text for a fixed-width table cell, rendered without the wrapping machinery
    ``Text`` runs on every repaint (a page repaints hundreds of cells at once). The
    segments are the same as ``Text``'s; anything but one span-less line that fits its
    width falls back to ``Text``."""

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        # Only auto-width columns use this; ours have fixed widths. Skip the word split.
        n = cell_len(self.plain)
        return Measurement(n, n)

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[Segment]:
        plain = self.plain
        if (not plain or self._spans or "\n" in plain or "\t" in plain
                or cell_len(plain) > options.max_width):
            yield from super().__rich_console__(console, options)
            return
        yield Segment(plain, console.get_style(self.style) if self.style else None)
        if self.end:
            yield Segment(self.end)


def cell(value: object, limit: int | None = 200, style: str | Style = "") -> Cell:
    """``text`` for a table cell: the same text, cheaper to repaint."""
    s = value if isinstance(value, str) else ("" if value is None else str(value))
    return Cell(visible(s, limit), style=style, no_wrap=False, end="")


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
