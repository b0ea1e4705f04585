"""The post-mortem draft, rendered as Markdown, when the reports feature is present."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Markdown, Static

from ircon.tui.screens.base import IrconModal


class PostmortemScreen(IrconModal[None]):
    def __init__(self, human_id: str) -> None:
        super().__init__()
        self.human_id = human_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text(f"Post-mortem draft — {self.human_id}", style="bold"),
                         classes="dialog-title")
            yield Markdown("*loading…*", id="postmortem", open_links=False)
            yield Static(Text("esc: close · `ircon postmortem ID -o FILE` writes it",
                              style="dim"), classes="hint")

    def on_mount(self) -> None:
        store, loaded, hid = self.irc.store, self.irc.loaded, self.human_id
        now = self.irc.now()
        if store is None:
            return

        def load() -> str:
            from ircon.tui import services

            return services.postmortem_markdown(store, loaded, hid, now)

        self.io(load, self._show, group="load", failed=self._unavailable)

    def _show(self, md: str) -> None:
        # The report module escapes attacker text for Markdown; links stay inert here.
        self.query_one(Markdown).update(md)

    def _unavailable(self, error: str) -> None:
        from ircon.report.markdown import md_inline

        self.query_one(Markdown).update(f"*No draft:* {md_inline(error)}")
