"""The incidents board: every incident, most urgent first, paged in SQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Input, Static

from ircon.tui import safe
from ircon.tui.screens.base import IrconScreen
from ircon.tui.screens.common import (
    PAGE,
    empty_state,
    page_note,
    set_columns,
    sev_cell,
    status_cell,
)
from ircon.tui.timefmt import age, countdown
from ircon.tui.widgets.field import Field
from ircon.tui.widgets.topbar import TopBar

if TYPE_CHECKING:
    from ircon.tui.services import BoardPage


class IncidentsScreen(IrconScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="open", priority=False),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("left_square_bracket", "page(-1)", "Prev page", show=False, id="prev_page"),
        Binding("right_square_bracket", "page(1)", "Next page", show=False, id="next_page"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="clear_filter"),
    ]

    AUTO_FOCUS = "#board"

    def __init__(self) -> None:
        super().__init__()
        self.row_offset = 0
        self.filter_text = ""
        self.page: BoardPage | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        flt = Field(placeholder="filter: words match id, title, severity, status, commander",
                    id="filter", classes="filter")
        flt.display = False
        yield flt
        yield Static(id="empty", classes="empty")
        table: DataTable[Text] = DataTable(id="board", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(id="status", classes="statusline")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#empty", Static).display = False
        self.query_one(TopBar).show("Incidents", "loading…", self.irc.actor)

    def reload(self) -> None:
        store = self.irc.store
        if store is None:
            self._paint_empty()
            return
        offset, text = self.row_offset, self.filter_text

        def load() -> BoardPage:
            from ircon.tui import services

            return services.board(store, limit=PAGE, offset=offset, filter_text=text)

        self.io(load, self._show, group="load")

    def _paint_empty(self) -> None:
        empty = self.query_one("#empty", Static)
        empty.update(empty_state(self.irc, "incidents"))
        empty.display = True
        self.query_one("#board").display = False

    def _show(self, page: BoardPage) -> None:
        self.page = page
        now = self.irc.now()
        t: DataTable[Text] = self.query_one("#board", DataTable)
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
        if page.rows:
            t.move_cursor(row=min(keep, len(page.rows) - 1))
        nothing = page.total == 0 and not self.filter_text
        self.query_one("#empty", Static).display = nothing
        t.display = not nothing
        if nothing:
            self._paint_empty()
        detail = f"{page.active:,} active · {page.total:,} total"
        if self.filter_text:
            detail += f" · filter: {self.filter_text}"
        self.query_one(TopBar).show("Incidents", detail, self.irc.actor)
        self.query_one("#status", Static).update(
            Text(page_note(page.offset, len(page.rows), page.total), style="dim")
        )

    # --- actions -----------------------------------------------------------------------

    def action_open(self) -> None:
        t = self.query_one("#board", DataTable)
        if not t.row_count:
            return
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        if key:
            self.irc.open_incident(str(key))

    @on(DataTable.RowSelected, "#board")
    def _selected(self, ev: DataTable.RowSelected) -> None:
        if ev.row_key.value:
            self.irc.open_incident(str(ev.row_key.value))

    def action_page(self, delta: int) -> None:
        total = self.page.total if self.page else 0
        new = max(0, min(self.row_offset + delta * PAGE, max(total - 1, 0) // PAGE * PAGE))
        if new != self.row_offset:
            self.row_offset = new
            self.reload()

    def action_filter(self) -> None:
        f = self.query_one("#filter", Input)
        f.display = True
        f.focus()

    def action_clear_filter(self) -> None:
        f = self.query_one("#filter", Input)
        f.value = ""
        f.display = False
        if self.filter_text:
            self.filter_text, self.row_offset = "", 0
            self.reload()
        self.query_one("#board").focus()

    @on(Input.Submitted, "#filter")
    def _filter(self, ev: Input.Submitted) -> None:
        self.filter_text, self.row_offset = ev.value.strip(), 0
        if not self.filter_text:
            ev.input.display = False
        self.query_one("#board").focus()
        self.reload()
