"""ircon act NAME ACTION [-p KEY=VALUE]..."""

from __future__ import annotations

import argparse
from typing import Any

from ircon.commands._ctx import Ctx, not_yet


def register(sub: Any) -> None:
    p = sub.add_parser("act", help="run a containment action through an adapter instance",
                       add_help=False)
    p.add_argument("name", help="adapter instance ([adapters.NAME] in the config)")
    p.add_argument("action", nargs="?")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--incident", metavar="ID")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--undo", metavar="RUN_ID", help="undo an earlier action run")
    p.add_argument("--json", action="store_true")
    p.add_argument("-h", "--help", action="store_true", help="the instance's actions")
    p.set_defaults(handler="ircon.commands.act:cmd_act")


def cmd_act(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon act")
