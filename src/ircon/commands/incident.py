"""ircon incident new|note|show, ircon incidents list."""

from __future__ import annotations

import argparse
from typing import Any

from ircon.commands._ctx import Ctx

SEVS = ("SEV1", "SEV2", "SEV3", "SEV4")


def register(sub: Any) -> None:
    p = sub.add_parser("incident", help="declare, annotate and show one incident")
    isub = p.add_subparsers(title="incident commands", metavar="ACTION", required=True)

    n = isub.add_parser("new", help="declare an incident by hand")
    n.add_argument("--title", required=True)
    n.add_argument("--severity", choices=SEVS, default="SEV3", type=str.upper)
    n.add_argument("--kind", default="other", help="e.g. jailbreak, prompt-injection")
    n.add_argument("--json", action="store_true")
    n.set_defaults(handler="ircon.commands.incident:cmd_new")

    t = isub.add_parser("note", help="add a note to an incident's journal")
    t.add_argument("id")
    t.add_argument("text")
    t.add_argument("--json", action="store_true")
    t.set_defaults(handler="ircon.commands.incident:cmd_note")

    s = isub.add_parser("show", help="an incident, its state and its journal")
    s.add_argument("id")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler="ircon.commands.incident:cmd_show")

    for name, help_ in (("status", "change status"), ("severity", "override severity")):
        c = isub.add_parser(name, help=help_ + " (journaled with a reason)")
        c.add_argument("id")
        c.add_argument("value")
        c.add_argument("--reason", required=True)
        c.set_defaults(handler=f"ircon.commands.incident:cmd_{name}")

    ls = sub.add_parser("incidents", help="list incidents")
    lsub = ls.add_subparsers(title="incidents commands", metavar="ACTION", required=True)
    li = lsub.add_parser("list", help="incidents, most urgent first")
    li.add_argument("--json", action="store_true")
    li.add_argument("--open", action="store_true", help="only unresolved incidents")
    li.add_argument("--limit", type=int, default=200)
    li.set_defaults(handler="ircon.commands.incident:cmd_list")


def cmd_new(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.store import incidents

    inc = incidents.create(
        ctx.store, args.title, severity=args.severity, kind=args.kind, actor=ctx.actor,
        reasons=[f"declared by {ctx.actor}"],
    )
    if args.json:
        ctx.json(inc)
    else:
        ctx.out.print(f"{inc['id']} opened ({inc['severity']})")
    return 0


def cmd_note(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.store import incidents

    seq = incidents.note(ctx.store, args.id, args.text, actor=ctx.actor)
    if args.json:
        ctx.json({"id": args.id.upper(), "seq": seq})
    else:
        ctx.out.print(f"{args.id.upper()}: note recorded as entry {seq}")
    return 0


def cmd_status(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.store import incidents

    incidents.set_status(ctx.store, args.id, args.value.lower(), args.reason, actor=ctx.actor)
    ctx.out.print(f"{args.id.upper()}: status {args.value.lower()}")
    return 0


def cmd_severity(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.store import incidents

    incidents.set_severity(
        ctx.store, args.id, args.value.upper(), [args.reason], override=True, actor=ctx.actor
    )
    ctx.out.print(f"{args.id.upper()}: severity {args.value.upper()} (override)")
    return 0


def cmd_show(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.report.render import incident_summary_lines
    from ircon.store import incidents, journal

    inc = incidents.get(ctx.store, args.id)
    entries = journal.entries(ctx.store, args.id)
    if args.json:
        ctx.json({
            "incident": {k: v for k, v in inc.items() if k != "id"} | {"id": inc["human_id"]},
            "journal": [e.to_dict() for e in entries],
        })
        return 0
    for line in incident_summary_lines(inc, entries):
        ctx.out.print(line)
    return 0


def cmd_list(args: argparse.Namespace, ctx: Ctx) -> int:
    from rich.table import Table
    from rich.text import Text

    from ircon.model.text import one_line
    from ircon.store import incidents

    rows = incidents.list_incidents(ctx.store, include_closed=not args.open, limit=args.limit)
    rows.sort(key=incidents.urgency_key)
    if args.json:
        ctx.json([r.to_dict() for r in rows])
        return 0
    if not rows:
        ctx.out.print("no incidents")
        return 0
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("ID", no_wrap=True, min_width=12)
    table.add_column("SEV", no_wrap=True, min_width=4)
    table.add_column("STATUS", no_wrap=True, min_width=9)
    table.add_column("TITLE", no_wrap=True, overflow="ellipsis", ratio=1)
    wide = ctx.out.width >= 100
    if wide:
        table.add_column("COMMANDER", no_wrap=True, overflow="ellipsis")
    table.add_column("OPENED (UTC)", no_wrap=True, min_width=16)
    table.add_column("ENTRIES", justify="right", no_wrap=True)
    for r in rows:
        cells: list[str | Text] = [r.id, r.severity, r.status, Text(one_line(r.title, 60))]
        if wide:
            cells.append(Text(one_line(r.commander or "-", 24)))
        cells += [r.created_at.strftime("%Y-%m-%d %H:%M"), str(r.entries)]
        table.add_row(*cells)
    ctx.out.print(table)
    return 0
