"""Regenerate screenshots/*.svg and *.png of every console screen (``make screenshots``).

Deterministic demo data (tests/tui_support.py) at 120x36 and 80x24; PNGs are
made from the SVGs with rsvg-convert (Debian: librsvg2-bin) when it is there.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from ircon.store import open_store  # noqa: E402
from tests.tui_support import make_app, seed_demo, settle  # noqa: E402

Steps = Callable[[Any], Awaitable[None]]


async def _keys(pilot: Any, *keys: str) -> None:
    for k in keys:
        await pilot.press(k)
        await settle(pilot, 1)
    await settle(pilot)


def _scenes(ids: dict[str, str]) -> dict[str, Steps]:
    jb = ids["jailbreak"]

    async def board(p: Any) -> None:
        await settle(p)

    async def alerts(p: Any) -> None:
        await _keys(p, "2")

    async def alert_detail(p: Any) -> None:
        await _keys(p, "2", "enter")

    async def incident(p: Any) -> None:
        p.app.open_incident(jb)
        await settle(p)

    async def note(p: Any) -> None:
        await incident(p)
        await _keys(p, "n")
        await p.press(*"Guardrail rule deployed")
        await settle(p)

    async def severity(p: Any) -> None:
        await incident(p)
        await _keys(p, "s")

    async def assign(p: Any) -> None:
        await _keys(p, "2", "down", "down", "down", "i")

    async def help_(p: Any) -> None:
        await incident(p)
        await _keys(p, "question_mark")

    async def palette(p: Any) -> None:
        await _keys(p, "colon")
        await p.press(*"jail")
        await asyncio.sleep(0.5)
        await settle(p)

    async def postmortem(p: Any) -> None:
        await incident(p)
        await _keys(p, "m")
        await asyncio.sleep(0.3)
        await settle(p)

    return {
        "incidents": board, "alerts": alerts, "alert-detail": alert_detail,
        "incident": incident, "note": note, "severity": severity, "assign": assign,
        "help": help_, "palette": palette, "postmortem": postmortem,
    }


async def shoot(name: str, steps: Steps, size: tuple[int, int], out: Path, db: Path) -> Path:
    store = open_store(str(db))
    try:
        app = make_app(store)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await steps(pilot)
            svg = out / f"{name}-{size[0]}x{size[1]}.svg"
            svg.write_text(app.export_screenshot(title=f"ircon — {name}"))
    finally:
        store.close()
    return svg


def _png(rsvg: str, svg: Path) -> None:
    # librsvg squeezes non-breaking spaces; plain spaces with xml:space keep the grid.
    text = svg.read_text().replace("&#160;", " ").replace("<svg ", '<svg xml:space="preserve" ', 1)
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False) as fh:
        fh.write(text)
    try:
        subprocess.run([rsvg, fh.name, "-o", str(svg.with_suffix(".png"))], check=True)
    finally:
        Path(fh.name).unlink()


async def main() -> int:
    out = ROOT / "screenshots"
    out.mkdir(exist_ok=True)
    rsvg = shutil.which("rsvg-convert")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        store = open_store(str(db))
        ids = seed_demo(store)
        store.close()
        only = set(sys.argv[1:])
        for size in ((120, 36), (80, 24)):
            for name, steps in _scenes(ids).items():
                if only and name not in only:
                    continue
                svg = await shoot(name, steps, size, out, db)
                if rsvg:
                    _png(rsvg, svg)
                print(svg.relative_to(ROOT))
    if not rsvg:
        print("rsvg-convert not found (apt-get install librsvg2-bin): SVGs only",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
