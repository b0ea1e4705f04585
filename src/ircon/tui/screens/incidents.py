"""The incidents board: every incident, most urgent first, paged in SQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from ircon.tui import safe
from ircon.tui.screens.common import (
    FILTER_PAGE_BINDINGS,
    PAGE,
    PagedListScreen,
    set_columns,
    sev_cell,
    status_cell,
)
from ircon.tui.timefmt import age, countdown

if TYPE_CHECKING:
    from collections.abc import Callable

    from ircon.store.db import Store
    from ircon.tui.services import BoardPage


class IncidentsScreen(PagedListScreen["BoardPage", "BoardPage"]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="open", priority=False),
        *FILTER_PAGE_BINDINGS,
        Binding("escape", "clear_filter", "Clear filter", show=False, id="clear_filter"),
    ]

    AUTO_FOCUS = "#board"
    LIST_TITLE = "Incidents"
    TABLE_ID = "board"
    FILTER_HINT = "filter: words match id, title, severity, status, commander"
    EMPTY_WHAT = "incidents"

    def loader(self, store: Store) -> Callable[[], BoardPage]:
        offset, text = self.row_offset, self.filter_text

        def load() -> BoardPage:
            from ircon.tui import services

            return services.board(store, limit=PAGE, offset=offset, filter_text=text)

        return load

    def _show(self, page: BoardPage) -> None:
        self.page = page
        now = self.irc.now()
        t = self.table()
        keep = t.cursor_row
        # Column widths follow the terminal: the title takes what the others leave.
        clocks = any(r.next_clock for r in page.rows)
        cmdr_w = 12 if self.size.width < 110 else 24
        fixed = 12 + 4 + 12 + cmdr_w + 6 + (18 if clocks else 0)
        ncols = 7 if clocks else 6
        title_w = max(10, self.size.width - fixed - 2 * ncols - 3)
        spec = [("ID", "id", 12), ("Sev", "sev", 4), ("Status", "status", 12),
                ("Title", "title", title_w), ("Commander", "cmdr", cmdr_w), ("Age", "age", 6)]
        if clocks:
            spec.append(("Next clock", "clock", 18))
        set_columns(t, spec)
        for r in page.rows:
            cells = [
                Text(r.id, style="bold"), sev_cell(r.severity), status_cell(r.status),
                safe.text(r.title, title_w), safe.text(r.commander or "-", cmdr_w),
                Text(age(r.created_at, now)),
            ]
            if clocks:
                cells.append(
                    Text(f"{r.next_clock[0][:8]} {countdown(r.next_clock[1], now)}")
                    if r.next_clock else Text("-", style="dim")
                )
            t.add_row(*cells, key=r.id)
        self._finish_page(t, page, keep, f"{page.active:,} active · {page.total:,} total")

    # --- actions -----------------------------------------------------------------------

    def action_open(self) -> None:
        key = self.cursor_key()
        if key:
            self.irc.open_incident(str(key))

    @on(DataTable.RowSelected, "#board")
    def _selected(self, ev: DataTable.RowSelected) -> None:
        if ev.row_key.value:
            self.irc.open_incident(str(ev.row_key.value))

    def action_clear_filter(self) -> None:
        if self._close_filter():
            self.reload()
        self.table().focus()
