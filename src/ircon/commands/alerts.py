"""ircon alerts pull|list."""

from __future__ import annotations

import argparse
from typing import Any

from ircon.commands._ctx import Ctx, not_yet


def register(sub: Any) -> None:
    p = sub.add_parser("alerts", help="pull and list alerts from detection backends")
    asub = p.add_subparsers(title="alerts commands", metavar="ACTION", required=True)
    pull = asub.add_parser("pull", help="one pull of every (or the named) source")
    pull.add_argument("--alertmanager", metavar="URL", help="pull this Alertmanager only")
    pull.add_argument("--webhook-file", metavar="FILE", help="Alertmanager webhook JSON(L); - for stdin")
    pull.add_argument("--source", action="append", help="only this configured source")
    pull.add_argument("--json", action="store_true")
    pull.set_defaults(handler="ircon.commands.alerts:cmd_pull")
    ls = asub.add_parser("list", help="stored alerts")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler="ircon.commands.alerts:cmd_list")


def cmd_pull(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon alerts pull")


def cmd_list(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon alerts list")
