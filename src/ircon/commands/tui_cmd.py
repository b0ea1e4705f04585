"""``ircon`` with no command: the console.

Textual and the store are imported only here, when the console starts, so
``ircon --help`` and every other command stay fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from ircon.commands._ctx import CliError, Ctx


def run(args: argparse.Namespace, ctx: Ctx) -> int:
    from pathlib import Path

    from ircon.paths import default_config

    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise CliError(
            "the console needs a terminal; for scripts use the subcommands (`ircon --help`)", 2
        )
    loaded = ctx.loaded
    explicit = getattr(args, "config", None)
    looked_for = Path(explicit) if explicit else default_config()
    from ircon.tui.app import IrconApp, local_zone

    tz_name = loaded.config.ui.timezone
    try:
        tz = local_zone(tz_name)
    except (KeyError, ValueError, OSError) as exc:
        raise CliError(f"ui.timezone: unknown zone {tz_name!r} — use an IANA name "
                       f"such as Europe/Berlin ({exc})", 2) from exc
    app = IrconApp(
        db=ctx.db, loaded=loaded, config_path=looked_for, actor=ctx.actor, tz=tz,
        refresh_seconds=loaded.config.ui.refresh_seconds,
        start_engine=os.environ.get("IRCON_NO_ENGINE") != "1",
    )
    try:
        code = app.run()
    except OSError:
        # The terminal went away mid-write (SSH dropped): nothing left to tell anyone.
        return 129
    return int(code or 0)
