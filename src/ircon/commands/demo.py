"""ircon demo [--speed X]."""

from __future__ import annotations

import argparse
from typing import Any

from ircon.commands._ctx import Ctx


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="the console on bundled demo telemetry (no config needed)")
    p.add_argument("--speed", type=float, default=20.0, help="replay speed factor")
    p.set_defaults(handler="ircon.commands.demo:cmd_demo")


def cmd_demo(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.commands.tui_cmd import run

    return run(args, ctx)
