"""The demo log: notifications, incidents opened and playbooks started, as the demo sends them.

In demo (and drill) mode escalation notifies into a local log instead of real
people; this screen tails it. Lines may quote attacker-written incident
titles, so they are written to a ``Log`` (plain text), never as markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from ircon.model.text import visible

MAX_LINES = 2000


class _Lines(Message):
    def __init__(self, lines: list[str], size: int) -> None:
        super().__init__()
        self.lines = lines
        self.size = size


class DemoLogScreen(Screen[None]):
    """Tails the demo log; esc goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("L", "app.pop_screen", "Back", show=False, id="demo-log-close"),
    ]
    DEFAULT_CSS = """
    DemoLogScreen #demo-log-title { height: 1; background: $warning; color: $text;
                                    padding: 0 1; text-style: bold; }
    DemoLogScreen Log { height: 1fr; }
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._offset = 0

    def compose(self) -> ComposeResult:
        yield Static(f"DEMO LOG — notifications go here instead of real people  ({self.path})",
                     id="demo-log-title", markup=False)
        yield Log(max_lines=MAX_LINES, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        self._read()
        self.set_interval(1.0, self._read)

    @work(thread=True, exclusive=True, group="demo-log", exit_on_error=False)
    def _read(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(1 << 20)
        except OSError:
            return
        # Only whole lines; the rest is read next time.
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            return
        text = data[:cut].decode("utf-8", "replace")
        self.post_message(_Lines([visible(x, 600) for x in text.splitlines()],
                                 self._offset + cut))

    def on__lines(self, msg: _Lines) -> None:
        self._offset = msg.size
        self.query_one(Log).write_lines(msg.lines)
