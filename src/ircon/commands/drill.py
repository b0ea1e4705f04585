"""ircon drill SCENARIO [--auto] [--json], ircon drill --list."""

from __future__ import annotations

import argparse
from typing import Any

from ircon.commands._ctx import Ctx, not_yet


def register(sub: Any) -> None:
    p = sub.add_parser("drill", help="run a tabletop drill and score the response")
    p.add_argument("scenario", nargs="?")
    p.add_argument("--list", action="store_true", help="list the available scenarios")
    p.add_argument("--auto", action="store_true", help="play the expected response, headless")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="ircon.commands.drill:cmd_drill")


def cmd_drill(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon drill")
