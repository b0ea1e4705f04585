"""Pieces the list screens share: severity styling, the empty state, paging, filtering."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Input, Static

from ircon.tui import safe
from ircon.tui.screens.base import IrconScreen
from ircon.tui.widgets.field import Field
from ircon.tui.widgets.topbar import TopBar

if TYPE_CHECKING:
    from ircon.store.db import Store
    from ircon.tui.app import IrconApp

PAGE = 100  # rows per SQL page: a screen or two, never the whole table

# Bold and reverse carry severity when there is no colour (NO_COLOR, 16 colours).
SEV_STYLE = {
    "SEV1": "bold reverse red",
    "SEV2": "bold red",
    "SEV3": "yellow",
    "SEV4": "dim",
}
STATUS_STYLE = {
    "open": "bold",
    "acknowledged": "",
    "contained": "green",
    "resolved": "dim",
    "closed": "dim",
}


def sev_cell(sev: str) -> Text:
    return safe.cell(sev, 6, style=SEV_STYLE.get(sev, ""))


def status_cell(status: str) -> Text:
    return safe.text(status, 14, style=STATUS_STYLE.get(status, ""))


def empty_state(app: IrconApp, what: str) -> Text:
    """What to do when there is nothing to show: never a blank screen."""
    from ircon.paths import default_config

    out = Text(end="")
    out.append(f"No {what} yet.\n\n", style="bold")
    if app.store_error:
        out.append("The database could not be opened:\n", style="bold")
        out.append_text(safe.block(app.store_error, 2000))
        return out
    loaded = app.loaded
    path = app.config_path or (loaded.path if loaded and loaded.path else None)
    looked: Path = path or default_config()
    if loaded is None or loaded.path is None:
        out.append("No config file: looked for ")
        out.append_text(safe.text(str(looked), 300, style="bold"))
        out.append(" (or --config / IRCON_CONFIG).\n")
    else:
        out.append("Config: ")
        out.append_text(safe.text(str(loaded.path), 300, style="bold"))
        out.append("\n")
    if not app.has_sources:
        out.append("No sources are configured. To pull alerts, add to that file:\n\n")
        out.append('  [[sources]]\n  type = "alertmanager"\n  name = "prod"\n'
                   '  url = "http://127.0.0.1:9093"\n\n', style="bold")
        out.append("(config/ircon.toml documents every key; `ircon config check` "
                   "validates the file.)\n")
    out.append("Press N to declare an incident by hand, ? for keys, : for commands.")
    return out


def set_columns(table: DataTable[Text], spec: list[tuple[str, str, int]]) -> None:
    """Fixed-width columns (no auto-sizing reflow); rebuilt only when the layout changes."""
    current = [(str(c.label), str(c.key.value), c.width) for c in table.columns.values()]
    if current == spec:
        table.clear()
        return
    table.clear(columns=True)
    for label, key, width in spec:
        table.add_column(label, key=key, width=width)


def page_note(offset: int, shown: int, total: int) -> str:
    if total <= shown and offset == 0:
        return f"{total:,} rows"
    first = offset + 1 if shown else 0
    return f"rows {first:,}–{offset + shown:,} of {total:,}  ([ ] pages)"


# "/" filters, "[" and "]" page; each list screen splices these into its own BINDINGS
# so that the footer keeps its own order.
FILTER_PAGE_BINDINGS = [
    Binding("slash", "filter", "Filter", id="filter"),
    Binding("left_square_bracket", "page(-1)", "Prev page", show=False, id="prev_page"),
    Binding("right_square_bracket", "page(1)", "Next page", show=False, id="next_page"),
]


class Page(Protocol):
    """One SQL page of a list: its rows, where it starts and how many rows match in all."""

    @property
    def rows(self) -> Sequence[object]: ...
    @property
    def total(self) -> int: ...
    @property
    def offset(self) -> int: ...


PageT = TypeVar("PageT", bound=Page)
LoadT = TypeVar("LoadT")


class PagedListScreen(IrconScreen, Generic[PageT, LoadT]):
    """A paged, filterable table under the top bar, with an empty state and a status line.

    A subclass names its table, title, filter hint and empty state, captures its load
    (``loader``, on the UI thread) and paints the rows (``_show``, ending in ``_finish_page``).
    """

    LIST_TITLE: ClassVar[str]
    TABLE_ID: ClassVar[str]
    FILTER_HINT: ClassVar[str]
    EMPTY_WHAT: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.row_offset = 0
        self.filter_text = ""
        self.page: PageT | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield from self.compose_header()
        flt = Field(placeholder=self.FILTER_HINT, id="filter", classes="filter")
        flt.display = False
        yield flt
        yield Static(id="empty", classes="empty")
        table: DataTable[Text] = DataTable(id=self.TABLE_ID, cursor_type="row",
                                           zebra_stripes=True)
        yield table
        yield Static(id="status", classes="statusline")
        yield Footer()

    def compose_header(self) -> ComposeResult:
        """Widgets between the top bar and the filter field."""
        return ()

    def on_mount(self) -> None:
        self.query_one("#empty", Static).display = False
        self.query_one(TopBar).show(self.LIST_TITLE, "loading…", self.irc.actor)

    def table(self) -> DataTable[Text]:
        return self.query_one(f"#{self.TABLE_ID}", DataTable)

    # --- loading and painting --------------------------------------------------------

    def loader(self, store: Store) -> Callable[[], LoadT]:
        """Take what the load needs now; the returned job runs in a worker thread."""
        raise NotImplementedError

    def _show(self, data: LoadT) -> None:
        raise NotImplementedError

    def reload(self) -> None:
        store = self.irc.store
        if store is None:
            self._paint_empty()
            return
        self.io(self.loader(store), self._show, group="load")

    def _paint_empty(self) -> None:
        empty = self.query_one("#empty", Static)
        empty.update(empty_state(self.irc, self.EMPTY_WHAT))
        empty.display = True
        self.table().display = False

    def _finish_page(self, t: DataTable[Text], page: PageT, keep: int, detail: str) -> None:
        """After the rows: keep the cursor, swap in the empty state, top bar, status line."""
        if page.rows:
            t.move_cursor(row=min(keep, len(page.rows) - 1))
        nothing = page.total == 0 and not self.filter_text
        t.display = not nothing
        self.query_one("#empty", Static).display = nothing
        if nothing:
            self._paint_empty()
        if self.filter_text:
            detail += f" · filter: {self.filter_text}"
        self.query_one(TopBar).show(self.LIST_TITLE, detail, self.irc.actor)
        self._paint_status()

    def status_note(self, page: PageT) -> str:
        return page_note(page.offset, len(page.rows), page.total)

    def _paint_status(self) -> None:
        if self.page:
            self.query_one("#status", Static).update(
                Text(self.status_note(self.page), style="dim")
            )

    def cursor_key(self) -> str | None:
        """The row key under the cursor (None on an empty table)."""
        t = self.table()
        if not t.row_count:
            return None
        return t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value

    # --- paging and filtering --------------------------------------------------------

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

    def _close_filter(self) -> bool:
        """Empty and hide the filter field; True when that dropped an active filter."""
        f = self.query_one("#filter", Input)
        f.value = ""
        f.display = False
        if self.filter_text:
            self.filter_text, self.row_offset = "", 0
            return True
        return False

    @on(Input.Submitted, "#filter")
    def _filter(self, ev: Input.Submitted) -> None:
        self.filter_text, self.row_offset = ev.value.strip(), 0
        if not self.filter_text:
            ev.input.display = False
        self.table().focus()
        self.reload()
