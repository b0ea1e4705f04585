"""A text input that holds still when nobody is watching (snapshots, screenshots)."""

from __future__ import annotations

from textual.widgets import Input


class Field(Input):
    def on_mount(self) -> None:
        # A blinking cursor makes headless captures differ frame to frame.
        self.cursor_blink = not self.app.is_headless
