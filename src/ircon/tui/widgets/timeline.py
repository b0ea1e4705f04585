"""The incident journal as a scrolling log: newest last, follows new entries."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.text import Text
from textual.widgets import RichLog

from ircon.model import kinds
from ircon.model.entry_text import summarize
from ircon.model.journal import ChainEntry
from ircon.tui import safe
from ircon.tui.timefmt import stamp, zone_name

KIND_STYLE = {
    kinds.INCIDENT_OPENED: "bold",
    kinds.STATUS: "bold $warning",
    kinds.SEVERITY: "bold $warning",
    kinds.ROLE: "$accent",
    kinds.ALERT: "$error",
    kinds.ALERT_UPDATE: "$error",
    kinds.ACTION_REQUEST: "$secondary",
    kinds.ACTION_RESULT: "$secondary",
    kinds.ESCALATION: "$warning",
    kinds.NOTIFICATION: "$warning",
}


def summary(e: ChainEntry, limit: int = 400) -> str:
    """One human line for an entry's body."""
    return summarize(e.kind, e.body, limit)


class Timeline(RichLog):
    """A Log-style widget: only appends; holds a bounded number of lines."""

    DEFAULT_CSS = """
    Timeline { scrollbar-size-vertical: 1; }
    """

    def __init__(self, tz: tzinfo, **kw: object) -> None:
        super().__init__(max_lines=4000, wrap=True, markup=False, highlight=False,
                         auto_scroll=True, **kw)  # type: ignore[arg-type]
        self.tz = tz
        self.last_seq = 0

    def title_for(self, at: datetime) -> str:
        return f"Journal · times UTC, local {zone_name(self.tz, at)}"

    def add(self, entries: list[ChainEntry]) -> None:
        for e in entries:
            if e.seq <= self.last_seq:
                continue
            head = Text(end="")
            head.append(stamp(e.ts, self.tz), style="dim")
            head.append(f"  #{e.seq} ", style="dim")
            head.append_text(safe.text(e.actor, 40, style="bold"))
            head.append("  ")
            head.append(e.kind, style=self._style(e.kind))
            body = Text("   ", end="")
            body.append_text(safe.text(summary(e), 600))
            self.write(head)
            self.write(body)
            self.last_seq = e.seq

    def _style(self, kind: str) -> str:
        style = KIND_STYLE.get(kind, "")
        if "$" not in style:
            return style
        # Resolve theme variables so the colour follows the theme (and NO_COLOR).
        variables = self.app.theme_variables
        out = []
        for part in style.split():
            out.append(variables.get(part[1:], "") if part.startswith("$") else part)
        return " ".join(p for p in out if p)
