"""Help: the keys that work right now, generated from the active bindings."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from ircon.tui.screens.base import IrconModal


def binding_rows(screen: Screen[object]) -> list[tuple[str, str]]:
    """(key, description) for every binding active on ``screen``, screen's own first."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    # The screen's and the app's own keys first; then the focused widget's (cursor keys).
    items = sorted(
        screen.active_bindings.items(),
        key=lambda kv: 0 if kv[1].node is screen else 1 if kv[1].node is screen.app else 2,
    )
    for key, active in items:
        b = active.binding
        if not b.description or key in seen:
            continue
        display = screen.app.get_key_display(b)
        rows.append((display, b.description + ("" if active.enabled else " (not now)")))
        seen.add(key)
    return rows


class HelpScreen(IrconModal[None]):
    """Keys for the screen under it; esc or ? closes."""

    BINDINGS = [("escape", "dismiss_none", "Close"), ("question_mark", "dismiss_none", "Close")]

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.rows = binding_rows(under)
        self.under = type(under).__name__.removesuffix("Screen") or "Console"

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, desc in self.rows:
            table.add_row(Text(key), Text(desc))
        with Vertical(classes="dialog"):
            yield Static(Text(f"Keys — {self.under}", style="bold"), classes="dialog-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(table, id="help-table")
            yield Static(Text(": or ctrl+p opens the command palette (every action, incident "
                              "and playbook) · esc closes", style="dim"), classes="hint")
