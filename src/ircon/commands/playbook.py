"""ircon playbook list|show|lint|import-cacao|export-cacao."""

from __future__ import annotations

import argparse
from typing import Any

from ircon.commands._ctx import Ctx, not_yet


def register(sub: Any) -> None:
    p = sub.add_parser("playbook", help="response playbooks (and CACAO 2.0)")
    psub = p.add_subparsers(title="playbook commands", metavar="ACTION", required=True)
    ls = psub.add_parser("list", help="available playbooks")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler="ircon.commands.playbook:cmd_list")
    sh = psub.add_parser("show", help="one playbook's steps")
    sh.add_argument("name")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(handler="ircon.commands.playbook:cmd_show")
    li = psub.add_parser("lint", help="validate playbook files (exit 1 on any error)")
    li.add_argument("paths", nargs="+", metavar="PATH")
    li.add_argument("--json", action="store_true")
    li.set_defaults(handler="ircon.commands.playbook:cmd_lint")
    im = psub.add_parser("import-cacao", help="convert a CACAO 2.0 playbook to ircon's format")
    im.add_argument("file")
    im.add_argument("-o", "--output")
    im.set_defaults(handler="ircon.commands.playbook:cmd_import")
    ex = psub.add_parser("export-cacao", help="write a playbook as CACAO 2.0 JSON")
    ex.add_argument("name")
    ex.add_argument("-o", "--output")
    ex.set_defaults(handler="ircon.commands.playbook:cmd_export")


def cmd_list(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon playbook list")


def cmd_show(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon playbook show")


def cmd_lint(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon playbook lint")


def cmd_import(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon playbook import-cacao")


def cmd_export(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon playbook export-cacao")
