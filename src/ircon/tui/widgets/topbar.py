"""The one-line bar at the top of every screen: where you are, who you are, what is live."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ircon.tui import safe


class TopBar(Static):
    DEFAULT_CSS = """
    TopBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def show(self, place: str, detail: str = "", right: str = "") -> None:
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        line.append("ircon", style="bold")
        banner = getattr(self.app, "banner", "")
        if banner:  # demo and drill mode say so on every screen
            line.append(f" {banner} ", style="bold reverse yellow")
        line.append(" › ")
        line.append_text(safe.text(place, 60, style="bold"))
        if detail:
            line.append("  ")
            line.append_text(safe.text(detail, 120))
        engine = getattr(self.app, "engine_label", "")
        if engine:
            right = f"{engine} · {right}" if right else engine
        if right:
            width = max(self.size.width - 2, 0)
            pad = width - line.cell_len - len(right) - 1
            line.append(" " * max(pad, 1))
            line.append_text(safe.text(right, 60, style="dim"))
        self.update(line)
