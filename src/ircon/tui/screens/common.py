"""Pieces the list screens share: severity styling, the empty state, paging, filtering."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import DataTable

from ircon.tui import safe

if TYPE_CHECKING:
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
