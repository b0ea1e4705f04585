"""The alert queue from every source: filter, multi-select, bulk actions, detail."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from ircon.tui import safe
from ircon.tui.safe import Cell
from ircon.tui.screens.common import (
    FILTER_PAGE_BINDINGS,
    PAGE,
    PagedListScreen,
    set_columns,
    sev_cell,
)
from ircon.tui.timefmt import age

if TYPE_CHECKING:
    from collections.abc import Callable

    from ircon.store.db import Store
    from ircon.tui.services import AlertPage, SourceStatus

Loaded = tuple["AlertPage", list["SourceStatus"]]


class AlertsScreen(PagedListScreen["AlertPage", Loaded]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "detail", "Detail", id="detail"),
        Binding("space", "toggle_select", "Select", id="select"),
        Binding("asterisk", "select_page", "Select page", show=False, id="select_page"),
        Binding("a", "acknowledge", "Ack", id="ack"),
        Binding("s", "silence", "Silence", id="silence"),
        Binding("i", "assign", "To incident", id="assign"),
        *FILTER_PAGE_BINDINGS,
        Binding("escape", "clear", "Clear", show=False, id="clear"),
    ]

    AUTO_FOCUS = "#queue"
    LIST_TITLE = "Alerts"
    TABLE_ID = "queue"
    FILTER_HINT = "filter: words match name, summary, source, labels, severity"
    EMPTY_WHAT = "alerts"

    def __init__(self) -> None:
        super().__init__()
        self.selected: set[int] = set()

    def compose_header(self) -> ComposeResult:
        yield Static(id="health", classes="health")

    def loader(self, store: Store) -> Callable[[], Loaded]:
        offset, text, loaded = self.row_offset, self.filter_text, self.irc.loaded
        health = self.irc.source_health()

        def load() -> Loaded:
            from ircon.tui import services

            page = services.list_alerts(store, filter_text=text, limit=PAGE, offset=offset)
            return page, services.source_health(store, loaded, health)

        return load

    def _show(self, data: Loaded) -> None:
        page, health = data
        self.page = page
        self._paint_health(health)
        now = self.irc.now()
        t = self.table()
        keep = t.cursor_row
        wide = self.size.width >= 110
        src_w, inc_w = (14, 12) if wide else (10, 12)
        fixed = 1 + 4 + 6 + src_w + 5 + inc_w + (3 if wide else 0)
        ncols = 8 if wide else 7
        sum_w = max(10, self.size.width - fixed - 2 * ncols - 3)
        spec = [(" ", "sel", 1), ("Sev", "sev", 4), ("Age", "age", 6),
                ("Source", "source", src_w), ("Summary", "summary", sum_w), ("×", "count", 5),
                ("Incident", "incident", inc_w)]
        if wide:
            spec.append(("Ack", "ack", 3))
        set_columns(t, spec)
        for r in page.rows:
            mark = Cell("●", style="bold") if r.id in self.selected else Cell(" ")
            style = "dim" if r.status == "resolved" else ""
            what = r.name if not r.summary else f"{r.name}: {r.summary}" if r.name else r.summary
            cells: list[Text] = [
                mark, sev_cell(r.severity), Cell(age(r.last_seen, now), style=style),
                safe.cell(r.source, src_w, style=style), safe.cell(what, sum_w, style=style),
                Cell(str(r.count) if r.count < 10_000 else "9999+", style=style),
                safe.cell(r.incident or "-", inc_w),
            ]
            if wide:
                cells.append(Cell("ack" if r.acknowledged else "", style="dim"))
            t.add_row(*cells, key=str(r.id))
        self._finish_page(t, page, keep,
                          f"{page.firing:,} firing · {page.unacknowledged:,} unacked")

    def status_note(self, page: AlertPage) -> str:
        note = super().status_note(page)
        return f"{len(self.selected)} selected · " + note if self.selected else note

    def _paint_health(self, health: list[SourceStatus]) -> None:
        line = Text("sources: ", style="dim", no_wrap=True, overflow="ellipsis", end="")
        if not health:
            line.append("none configured", style="bold")
        now = self.irc.now()
        for i, h in enumerate(health):
            if i:
                line.append(" · ", style="dim")
            if h.healthy is None:
                line.append("○ ", style="dim")
            elif h.healthy:
                line.append("● ", style="green")
            else:
                line.append("✖ ", style="bold red")
            line.append_text(safe.text(h.name, 24, style="bold"))
            bits = []
            if h.healthy is False:
                bits.append(f"failing: {h.detail}")
            if h.last_seen is not None:
                bits.append(f"last {age(h.last_seen, now)} ago")
            bits.append(f"{h.firing} firing")
            line.append(" ")
            line.append_text(safe.text(", ".join(bits), 80))
        self.query_one("#health", Static).update(line)

    # --- selection -------------------------------------------------------------------

    def _cursor_id(self) -> int | None:
        key = self.cursor_key()
        return int(key) if key else None

    def targets(self) -> list[int]:
        """The selection, or the row under the cursor when nothing is selected."""
        if self.selected:
            return sorted(self.selected)
        cur = self._cursor_id()
        return [cur] if cur is not None else []

    def action_toggle_select(self) -> None:
        aid = self._cursor_id()
        if aid is None:
            return
        self.selected.symmetric_difference_update({aid})
        t = self.table()
        t.update_cell(str(aid), "sel",
                      Text("●", style="bold") if aid in self.selected else Text(" "))
        if t.cursor_row < t.row_count - 1:
            t.move_cursor(row=t.cursor_row + 1)
        self._paint_status()

    def action_select_page(self) -> None:
        if self.page:
            ids = {r.id for r in self.page.rows}
            if ids <= self.selected:
                self.selected -= ids
            else:
                self.selected |= ids
            self.reload()

    def action_clear(self) -> None:
        if self.query_one("#filter", Input).display:
            self._close_filter()
            self.table().focus()
        self.selected.clear()
        self.reload()

    # --- actions ---------------------------------------------------------------------

    def action_detail(self) -> None:
        from ircon.tui.screens.modals import AlertDetailScreen

        aid = self._cursor_id()
        if aid is not None:
            self.app.push_screen(AlertDetailScreen(aid))

    @on(DataTable.RowSelected, "#queue")
    def _selected_row(self, ev: DataTable.RowSelected) -> None:
        self.action_detail()

    def _after_write(self, _: object) -> None:
        self.selected.clear()
        self.irc.poke()

    def action_acknowledge(self) -> None:
        ids, store, actor = self.targets(), self.irc.store, self.irc.actor
        if not ids or store is None:
            return

        def write() -> int:
            from ircon.tui import services

            return services.acknowledge_alerts(store, ids, actor=actor)

        self.io(write, self._acked)

    def _acked(self, n: int) -> None:
        self.notify(f"acknowledged {n} alert(s)", markup=False)
        self._after_write(n)

    def action_silence(self) -> None:
        from ircon.tui.screens.modals import SilenceScreen

        ids, store = self.targets(), self.irc.store
        if not ids or store is None:
            return

        def chosen(answer: tuple[float, str] | None) -> None:
            if answer is None:
                return
            hours, comment = answer
            loaded, actor = self.irc.loaded, self.irc.actor

            def write() -> str:
                from ircon.tui import services

                return services.silence_alerts(store, loaded, ids, hours=hours, comment=comment,
                                               actor=actor)

            self.io(write, self._silenced)

        self.app.push_screen(SilenceScreen(len(ids)), chosen)

    def _silenced(self, what: str) -> None:
        self.notify(f"silenced: {what}", markup=False)
        self._after_write(what)

    def action_assign(self) -> None:
        from ircon.tui.screens.modals import NEW_INCIDENT, AssignScreen

        ids, store, actor = self.targets(), self.irc.store, self.irc.actor
        if not ids or store is None:
            return

        def chosen(hid: str | None) -> None:
            if hid is None:
                return

            def write() -> tuple[str, bool]:
                from ircon.tui import services

                if hid == NEW_INCIDENT:
                    return services.new_incident_from_alerts(store, ids, actor=actor), True
                services.assign_alerts(store, ids, hid, actor=actor)
                return hid, False

            self.io(write, self._assigned)

        self.app.push_screen(AssignScreen(len(ids)), chosen)

    def _assigned(self, result: tuple[str, bool]) -> None:
        hid, created = result
        self.notify(f"{'declared' if created else 'alerts are on'} {hid}", markup=False)
        self._after_write(hid)
        if created:  # a new incident needs its commander: take them straight to it
            self.irc.open_incident(hid)
