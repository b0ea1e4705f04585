"""SVG snapshots of every screen and dialog at 80x24 and 120x36 (fixed data, fixed clock).

Update after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ircon.store import open_store
from tests.tui_support import make_app, seed_demo, settle

SIZES = [(80, 24), (120, 36)]


async def _keys(p: Any, *keys: str) -> None:
    for k in keys:
        await p.press(k)
        await settle(p, 1)
    await settle(p)


async def _incident(p: Any) -> None:
    await settle(p)
    p.app.open_incident("IR-2026-0001")
    await settle(p)


def _then(*keys: str, first: Callable[[Any], Awaitable[None]] | None = None,
          text: str = "") -> Callable[[Any], Awaitable[None]]:
    async def run(p: Any) -> None:
        await settle(p)
        if first is not None:
            await first(p)
        await _keys(p, *keys)
        if text:
            await p.press(*["space" if c == " " else c for c in text])
            await settle(p)
        await settle(p)

    return run


async def _postmortem(p: Any) -> None:
    """The draft renders in blocks after it loads: wait until they stop changing."""
    await _then("m", first=_incident)(p)
    last = -1
    for _ in range(100):
        md = p.app.screen.query("#postmortem")
        count = len(md.first().children) if md else 0
        if count > 1 and count == last:
            break
        last = count
        await p.pause(0.05)
    await settle(p)


SCENES: dict[str, Callable[[Any], Awaitable[None]]] = {
    "incidents": _then(),
    "incidents-filter": _then("slash", text="SEV1"),
    "alerts": _then("2"),
    "alert-detail": _then("2", "enter"),
    "assign": _then("2", "i"),
    "silence": _then("2", "s"),
    "declare": _then("N"),
    "incident": _incident,
    "note": _then("n", first=_incident, text="keys revoked"),
    "severity": _then("s", first=_incident),
    "status": _then("t", first=_incident),
    "hand-over": _then("h", first=_incident),
    "help": _then("question_mark", first=_incident),
    "postmortem": _postmortem,
    "empty": _then(),
}


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    db = tmp_path / "demo.db"
    s = open_store(str(db))
    seed_demo(s)
    s.close()
    return db


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("scene", list(SCENES))
def test_screen(snap_compare: Any, demo_db: Path, tmp_path: Path, scene: str,
                size: tuple[int, int]) -> None:
    if scene == "empty":
        store = open_store(str(tmp_path / "empty.db"))
        app = make_app(store, loaded=None)
    else:
        store = open_store(str(demo_db))
        app = make_app(store)
    try:
        assert snap_compare(app, terminal_size=size, run_before=SCENES[scene])
    finally:
        store.close()
