"""ircon demo [--speed X] [--db PATH]: the console on bundled demo telemetry, no config needed.

The user's own config is never read (a broken one must not stop the demo).
Without a terminal (a pipe, CI) the same replay runs headless and prints the
demo log and a summary instead of the console.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from ircon.commands._ctx import CliError, Ctx

if TYPE_CHECKING:
    from ircon.demo.runtime import DemoSession


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="the console on bundled demo telemetry (no config needed)")
    p.add_argument("--speed", type=float, default=20.0,
                   help="replay speed factor (default 20: twenty minutes of traffic in one)")
    p.add_argument("--db", default=argparse.SUPPRESS,
                   help="write into this database and keep it (default: a throwaway one)")
    p.add_argument("--headless", action="store_true",
                   help="no console: replay, print the demo log and a summary")
    p.set_defaults(handler="ircon.commands.demo:cmd_demo")


def _actor() -> str:
    from ircon.identity import default_actor

    return os.environ.get("IRCON_ACTOR") or default_actor()


def cmd_demo(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.demo.runtime import prepare

    if not args.speed > 0 or args.speed > 1_000_000:
        raise CliError("--speed must be a number greater than 0 (and at most 1000000)", 2)
    db = getattr(args, "db", None)
    session = prepare(speed=args.speed, db=db)
    try:
        headless = args.headless or not (sys.stdout.isatty() and sys.stdin.isatty())
        if headless:
            return _headless(session, ctx, explain=not args.headless)
        return _console(session)
    finally:
        if db is None:
            session.cleanup()
        else:
            ctx.err.print(f"demo database kept: {db}")


def _console(session: DemoSession) -> int:
    from ircon.demo.runtime import DemoRuntime
    from ircon.tui.app import IrconApp, local_zone

    app = IrconApp(db=session.db, loaded=session.loaded, actor=_actor(), tz=local_zone(None),
                   refresh_seconds=1.0, start_engine=False, demo=DemoRuntime(session))
    try:
        code = app.run()
    except OSError:
        return 129  # the terminal went away (SSH dropped)
    return int(code or 0)


def _headless(session: DemoSession, ctx: Ctx, *, explain: bool) -> int:
    import asyncio
    import contextlib
    import signal

    from rich.text import Text

    from ircon.demo.runtime import DemoRuntime
    from ircon.model.text import visible
    from ircon.store.db import open_store

    if explain:
        ctx.err.print("ircon demo: no terminal, running headless (the console needs one)")
    store = open_store(session.db)
    runtime = DemoRuntime(session)
    printed = 0
    interrupted = False

    def show_log() -> None:
        nonlocal printed
        lines = session.log.tail(100_000)
        for line in lines[printed:]:
            ctx.out.print(Text(visible(line, 600)), soft_wrap=True)
        printed = len(lines)

    async def main() -> None:
        nonlocal interrupted
        loop = asyncio.get_running_loop()

        def interrupt() -> None:
            nonlocal interrupted
            interrupted = True
            runtime.stop()

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, interrupt)
        task = asyncio.create_task(runtime.run(store))
        while not task.done():
            await asyncio.sleep(0.5)
            show_log()
            if runtime.replay_done:
                # Let the last lines be followed and their pages be sent, then end.
                await runtime.settle()
                runtime.stop()
        await task
        show_log()

    asyncio.run(main())
    _summary(store, ctx)
    return 130 if interrupted else 0


def _summary(store: Any, ctx: Ctx) -> None:
    from rich.text import Text

    from ircon.model.text import one_line
    from ircon.store import incidents

    rows = incidents.list_incidents(store)
    ctx.out.print(Text(f"incidents opened by the demo: {len(rows)}"))
    for r in rows:
        ctx.out.print(Text(f"  {r.id}  {r.severity}  {one_line(r.kind, 12):<12} "
                           f"{one_line(r.playbook or '-', 24):<24} {one_line(r.title, 90)}"),
                      soft_wrap=True)
