"""The alert queue from every source: filter, multi-select, bulk actions, detail."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Input, Static

from ircon.tui import safe
from ircon.tui.safe import Cell
from ircon.tui.screens.base import IrconScreen
from ircon.tui.screens.common import PAGE, empty_state, page_note, set_columns, sev_cell
from ircon.tui.timefmt import age
from ircon.tui.widgets.field import Field
from ircon.tui.widgets.topbar import TopBar

if TYPE_CHECKING:
    from ircon.tui.services import AlertPage, SourceStatus


class AlertsScreen(IrconScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "detail", "Detail", id="detail"),
        Binding("space", "toggle_select", "Select", id="select"),
        Binding("asterisk", "select_page", "Select page", show=False, id="select_page"),
        Binding("a", "acknowledge", "Ack", id="ack"),
        Binding("s", "silence", "Silence", id="silence"),
        Binding("i", "assign", "To incident", id="assign"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("left_square_bracket", "page(-1)", "Prev page", show=False, id="prev_page"),
        Binding("right_square_bracket", "page(1)", "Next page", show=False, id="next_page"),
        Binding("escape", "clear", "Clear", show=False, id="clear"),
    ]

    AUTO_FOCUS = "#queue"

    def __init__(self) -> None:
        super().__init__()
        self.row_offset = 0
        self.filter_text = ""
        self.selected: set[int] = set()
        self.page: AlertPage | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield Static(id="health", classes="health")
        flt = Field(placeholder="filter: words match name, summary, source, labels, severity",
                    id="filter", classes="filter")
        flt.display = False
        yield flt
        yield Static(id="empty", classes="empty")
        table: DataTable[Text] = DataTable(id="queue", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(id="status", classes="statusline")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#empty", Static).display = False
        self.query_one(TopBar).show("Alerts", "loading…", self.irc.actor)

    def reload(self) -> None:
        store = self.irc.store
        if store is None:
            self._paint_empty()
            return
        offset, text, loaded = self.row_offset, self.filter_text, self.irc.loaded
        health = self.irc.source_health()

        def load() -> tuple[AlertPage, list[SourceStatus]]:
            from ircon.tui import services

            page = services.list_alerts(store, filter_text=text, limit=PAGE, offset=offset)
            return page, services.source_health(store, loaded, health)

        self.io(load, self._show, group="load")

    def _paint_empty(self) -> None:
        empty = self.query_one("#empty", Static)
        empty.update(empty_state(self.irc, "alerts"))
        empty.display = True
        self.query_one("#queue").display = False

    def _show(self, data: tuple[AlertPage, list[SourceStatus]]) -> None:
        page, health = data
        self.page = page
        self._paint_health(health)
        now = self.irc.now()
        t: DataTable[Text] = self.query_one("#queue", DataTable)
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
        if page.rows:
            t.move_cursor(row=min(keep, len(page.rows) - 1))
        nothing = page.total == 0 and not self.filter_text
        t.display = not nothing
        self.query_one("#empty", Static).display = nothing
        if nothing:
            self._paint_empty()
        detail = f"{page.firing:,} firing · {page.unacknowledged:,} unacked"
        if self.filter_text:
            detail += f" · filter: {self.filter_text}"
        self.query_one(TopBar).show("Alerts", detail, self.irc.actor)
        note = page_note(page.offset, len(page.rows), page.total)
        if self.selected:
            note = f"{len(self.selected)} selected · " + note
        self.query_one("#status", Static).update(Text(note, style="dim"))

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
        t = self.query_one("#queue", DataTable)
        if not t.row_count:
            return None
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
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
        t = self.query_one("#queue", DataTable)
        t.update_cell(str(aid), "sel",
                      Text("●", style="bold") if aid in self.selected else Text(" "))
        if t.cursor_row < t.row_count - 1:
            t.move_cursor(row=t.cursor_row + 1)
        self._note_selection()

    def action_select_page(self) -> None:
        if self.page:
            ids = {r.id for r in self.page.rows}
            if ids <= self.selected:
                self.selected -= ids
            else:
                self.selected |= ids
            self.reload()

    def _note_selection(self) -> None:
        if self.page:
            note = page_note(self.page.offset, len(self.page.rows), self.page.total)
            if self.selected:
                note = f"{len(self.selected)} selected · " + note
            self.query_one("#status", Static).update(Text(note, style="dim"))

    def action_clear(self) -> None:
        f = self.query_one("#filter", Input)
        if f.display:
            f.value = ""
            f.display = False
            if self.filter_text:
                self.filter_text, self.row_offset = "", 0
            self.query_one("#queue").focus()
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

    @on(Input.Submitted, "#filter")
    def _filter(self, ev: Input.Submitted) -> None:
        self.filter_text, self.row_offset = ev.value.strip(), 0
        if not self.filter_text:
            ev.input.display = False
        self.query_one("#queue").focus()
        self.reload()
