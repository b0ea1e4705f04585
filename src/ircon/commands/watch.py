"""ircon watch, ircon policies ..."""

from __future__ import annotations

import argparse
from typing import Any

from ircon.commands._ctx import Ctx, not_yet


def register(sub: Any) -> None:
    w = sub.add_parser("watch", help="the headless engine: sources, detectors, triage, escalation")
    w.add_argument("--json-logs", action="store_true", help="one JSON object per log line")
    w.set_defaults(handler="ircon.commands.watch:cmd_watch")
    p = sub.add_parser("policies", help="automated containment policies")
    psub = p.add_subparsers(title="policies commands", metavar="ACTION", required=True)
    for name in ("list", "pause", "resume"):
        c = psub.add_parser(name)
        c.add_argument("--json", action="store_true")
        c.set_defaults(handler=f"ircon.commands.watch:cmd_policies_{name}")
    sh = psub.add_parser("show")
    sh.add_argument("name")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(handler="ircon.commands.watch:cmd_policies_show")
    te = psub.add_parser("test", help="replay telemetry through a policy in shadow mode")
    te.add_argument("name")
    te.add_argument("--telemetry", required=True, metavar="FILE")
    te.add_argument("--json", action="store_true")
    te.set_defaults(handler="ircon.commands.watch:cmd_policies_test")


def cmd_watch(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon watch")


def cmd_policies_list(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon policies")


cmd_policies_pause = cmd_policies_resume = cmd_policies_show = cmd_policies_test = (
    cmd_policies_list
)
