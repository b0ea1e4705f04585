"""ircon config check, ircon secrets set|delete|list."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from ircon.commands._ctx import CliError, Ctx


def register(sub: Any) -> None:
    c = sub.add_parser("config", help="validate the configuration")
    csub = c.add_subparsers(title="config commands", metavar="ACTION", required=True)
    ch = csub.add_parser("check", help="validate a config file without starting anything")
    ch.add_argument("path", nargs="?")
    ch.add_argument("--json", action="store_true")
    ch.set_defaults(handler="ircon.commands.config_cmd:cmd_check")

    s = sub.add_parser("secrets", help="manage secrets in the OS keyring")
    ssub = s.add_subparsers(title="secrets commands", metavar="ACTION", required=True)
    st = ssub.add_parser("set", help="store a secret (read from a hidden prompt or stdin)")
    st.add_argument("name")
    st.add_argument("--service", default="ircon")
    st.set_defaults(handler="ircon.commands.config_cmd:cmd_set")
    de = ssub.add_parser("delete", help="remove a secret")
    de.add_argument("name")
    de.add_argument("--service", default="ircon")
    de.set_defaults(handler="ircon.commands.config_cmd:cmd_delete")
    li = ssub.add_parser("list", help="names of stored secrets (never values)")
    li.add_argument("--service", default="ircon")
    li.add_argument("--json", action="store_true")
    li.set_defaults(handler="ircon.commands.config_cmd:cmd_list")


def cmd_check(args: argparse.Namespace, ctx: Ctx) -> int:
    from pathlib import Path

    from ircon import config

    path = Path(args.path) if args.path else (Path(args.config) if args.config else None)
    loaded = config.load(path, required=path is not None)
    problems = config.deep_check(loaded.config)
    if args.json:
        ctx.json({"ok": not problems, "path": str(loaded.path) if loaded.path else None,
                  "problems": problems})
    elif problems:
        for p in problems:
            ctx.err.print(f"{loaded.described}: {p}")
    else:
        ctx.out.print(f"{loaded.described}: OK")
    return 2 if problems else 0


def cmd_set(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.secrets import set_secret

    if sys.stdin.isatty():
        value = getpass.getpass(f"value for {args.service}/{args.name}: ")
    else:
        value = sys.stdin.readline().rstrip("\n")
    if not value:
        raise CliError("empty secret; nothing stored", 2)
    set_secret(args.name, value, args.service)
    ctx.out.print(f"stored; reference it as keyring:{args.service}/{args.name}")
    return 0


def cmd_delete(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.secrets import delete_secret

    delete_secret(args.name, args.service)
    ctx.out.print(f"deleted {args.service}/{args.name}")
    return 0


def cmd_list(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.secrets import list_secrets

    names = list_secrets(args.service)
    if args.json:
        ctx.json(names)
    else:
        for n in names:
            ctx.out.print(f"keyring:{args.service}/{n}")
    return 0
