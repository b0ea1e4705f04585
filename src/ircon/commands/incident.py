"""ircon incident new|note|show, ircon incidents list."""

from __future__ import annotations

import argparse
from typing import Any

from ircon.commands._ctx import CliError, Ctx

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

    a = isub.add_parser("ack", help="acknowledge: stops the escalation ladder")
    a.add_argument("id")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler="ircon.commands.incident:cmd_ack")

    k = isub.add_parser("clock", help="start a regulatory/SLA clock or record it met",
                        description="start: begin (or move the awareness time of) a clock; "
                        "met: the report was filed. Clocks: gdpr (72 h), ai-act (15 d), "
                        "ai-act-death (10 d), ai-act-widespread (2 d), and [escalation.clocks].")
    k.add_argument("id")
    k.add_argument("action", choices=("start", "met"))
    k.add_argument("name", help="clock name, e.g. gdpr")
    k.add_argument("--awareness", metavar="TIME",
                   help="when you became aware, ISO 8601 with zone (default: now)")
    k.add_argument("--reason", default="", help="why (required for start)")
    k.add_argument("--reference", default="", help="filing reference (required for met)")
    k.add_argument("--json", action="store_true")
    k.set_defaults(handler="ircon.commands.incident:cmd_clock")

    m = isub.add_parser("merge", help="fold other incidents into one (journaled on all)")
    m.add_argument("id", help="the incident that stays")
    m.add_argument("others", nargs="+", metavar="OTHER", help="incidents to fold in")
    m.add_argument("--reason", required=True)
    m.add_argument("--json", action="store_true")
    m.set_defaults(handler="ircon.commands.incident:cmd_merge")

    sp = isub.add_parser("split", help="move one alert out of its incident")
    sp.add_argument("alert", type=int, help="alert id (`ircon alerts list`)")
    sp.add_argument("--into", metavar="ID", help="an existing incident (default: a new one)")
    sp.add_argument("--reason", required=True)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(handler="ircon.commands.incident:cmd_split")

    ls = sub.add_parser("incidents", help="list incidents")
    lsub = ls.add_subparsers(title="incidents commands", metavar="ACTION", required=True)
    li = lsub.add_parser("list", help="incidents, most urgent first")
    li.add_argument("--json", action="store_true")
    li.add_argument("--open", action="store_true", help="only unresolved incidents")
    li.add_argument("--limit", type=int, default=200)
    li.set_defaults(handler="ircon.commands.incident:cmd_list")


def cmd_merge(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.engine.ingest import merge_incidents

    into = args.id.upper()
    others = [o.upper() for o in args.others]
    if into in others:
        raise CliError(f"cannot merge {into} into itself", 2)
    out = merge_incidents(ctx.store, into, others, ctx.loaded.config.triage, actor=ctx.actor,
                          reason=args.reason)
    if args.json:
        ctx.json(out)
    else:
        ctx.out.print(f"merged {', '.join(others)} into {into}")
    return 0


def cmd_split(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.engine.ingest import split_alert

    target = split_alert(ctx.store, args.alert, ctx.loaded.config.triage, actor=ctx.actor,
                         reason=args.reason, into=args.into.upper() if args.into else None)
    if args.json:
        ctx.json({"alert": args.alert, "incident": target})
    else:
        ctx.out.print(f"alert {args.alert} now belongs to {target}")
    return 0


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
    esc = _escalation(ctx, inc["human_id"])
    if args.json:
        ctx.json({
            "incident": {k: v for k, v in inc.items() if k != "id"} | {"id": inc["human_id"]},
            "journal": [e.to_dict() for e in entries],
            "escalation": esc,
        })
        return 0
    for line in incident_summary_lines(inc, entries):
        ctx.out.print(line)
    _print_escalation(ctx, esc)
    return 0


def _escalation(ctx: Ctx, hid: str) -> dict[str, Any]:
    from ircon.escalation.service import escalation_state
    from ircon.store.engine import utcnow

    return escalation_state(ctx.store, ctx.loaded.config, hid, utcnow())


def _print_escalation(ctx: Ctx, esc: dict[str, Any]) -> None:
    from rich.text import Text

    from ircon.escalation.display import responder_zone, state_lines
    from ircon.store.engine import utcnow

    zone, name = responder_zone(ctx.loaded.config.ui.timezone)
    for line in state_lines(esc, zone, name, utcnow()):
        ctx.out.print(Text(line))


def cmd_ack(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.escalation.service import EscalationInputError, acknowledge

    try:
        acknowledge(ctx.store, args.id, actor=ctx.actor)
    except EscalationInputError as exc:
        raise CliError(str(exc), 1) from exc
    if args.json:
        ctx.json({"id": args.id.upper(), "status": "acknowledged", "by": ctx.actor})
    else:
        ctx.out.print(f"{args.id.upper()}: acknowledged by {ctx.actor}; escalation stopped")
    return 0


def cmd_clock(args: argparse.Namespace, ctx: Ctx) -> int:
    from datetime import datetime

    from ircon.escalation.display import fmt, responder_zone
    from ircon.escalation.service import EscalationInputError, mark_clock_met, start_clock

    hid = args.id.upper()
    try:
        if args.action == "start":
            if args.reference:
                raise CliError("--reference belongs to `clock ID met NAME`", 2)
            aw = None
            if args.awareness:
                try:
                    aw = datetime.fromisoformat(args.awareness.replace("Z", "+00:00"))
                except ValueError as exc:
                    raise CliError(f"--awareness {args.awareness!r} is not an ISO 8601 time "
                                   "(e.g. 2026-03-01T09:30+01:00)", 2) from exc
            body = start_clock(ctx.store, hid, args.name, awareness=aw, actor=ctx.actor,
                               reason=args.reason, cfg=ctx.loaded.config.escalation)
            if args.json:
                ctx.json({"id": hid} | body)
            else:
                zone, name = responder_zone(ctx.loaded.config.ui.timezone)
                verb = "awareness moved" if body["edit"] else "started"
                ctx.out.print(f"{hid}: clock {args.name} {verb}; deadline "
                              f"{fmt(body['deadline'], zone, name)} ({body['basis']})")
        else:
            if args.awareness:
                raise CliError("--awareness belongs to `clock ID start NAME`", 2)
            mark_clock_met(ctx.store, hid, args.name, reference=args.reference, actor=ctx.actor)
            if args.json:
                ctx.json({"id": hid, "clock": args.name, "state": "met",
                          "reference": args.reference})
            else:
                ctx.out.print(f"{hid}: clock {args.name} met (reference recorded)")
    except EscalationInputError as exc:
        raise CliError(f"{hid}: {exc}", 1) from exc
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
