"""ircon act NAME ACTION [-p KEY=VALUE]... [--incident ID] [--dry-run] [--yes] [--json]"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ircon.commands._ctx import CliError, Ctx

if TYPE_CHECKING:
    from ircon.adapters.base import Adapter


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
    p.add_argument("--approved-by", metavar="PERSON",
                   help="second responder approving a destructive action (two-person rule)")
    p.add_argument("--json", action="store_true")
    p.add_argument("-h", "--help", action="store_true", help="the instance's actions")
    p.set_defaults(handler="ircon.commands.act:cmd_act")


def _params(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CliError(f"-p {item[:60]!r}: expected KEY=VALUE", 2)
        if key in out:
            raise CliError(f"-p {key}: given twice", 2)
        out[key] = value
    return out


def _help(ctx: Ctx, adapter: Adapter) -> int:
    from rich.text import Text

    from ircon.adapters.params import KINDS

    acts = adapter.actions()
    if ctx.args.json:
        ctx.json({"instance": adapter.name, "type": adapter.type_name, "actions": [
            {"name": a.name, "help": a.help, "destructive": a.destructive, "undo": a.undo,
             "params": [{"name": p.name, "kind": p.kind, "required": p.required,
                         "help": p.help or KINDS[p.kind].help} for p in a.params]}
            for a in acts.values()]})
        return 0
    out = ctx.out
    out.print(Text(f"{adapter.name} ({adapter.type_name})"
                   + (f" — {adapter.settings.description}" if adapter.settings.description
                      else "")))
    out.print(Text(f"usage: ircon act {adapter.name} ACTION [-p KEY=VALUE]... [--incident ID] "
                   "[--dry-run] [--yes] [--json]"))
    for a in acts.values():
        flags = ["destructive" if a.destructive else "non-destructive",
                 "undo: " + (a.undo or "none")]
        out.print(Text(f"\n  {a.name}: {a.help} ({'; '.join(flags)})"))
        for p in a.params:
            req = "" if p.required else " (optional)"
            out.print(Text(f"    -p {p.name}=<{p.kind}>{req}  {p.help or KINDS[p.kind].help}"))
    return 0


def _confirm(ctx: Ctx, question: str) -> bool:
    ctx.err.print(question + " [y/N] ", end="")
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except (OSError, KeyboardInterrupt):
        return False
    return answer.strip().lower() in ("y", "yes")


def _show_plan(ctx: Ctx, lines: list[str]) -> None:
    from rich.text import Text

    from ircon.model.text import visible

    console = ctx.err if ctx.args.json else ctx.out
    for line in lines:
        console.print(Text(visible(line, 2000)))


def cmd_act(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.adapters import runner

    cfg = ctx.loaded.config
    try:
        adapter = runner.load_adapter(cfg, args.name)
    except runner.ActionInputError as exc:
        raise CliError(str(exc), 2) from exc
    if args.help or (not args.action and not args.undo):
        return _help(ctx, adapter)
    if args.undo:
        return _undo(args, ctx, adapter)
    params = _params(args.param)
    try:
        plan = runner.plan_action(cfg, args.name, args.action, params, actor=ctx.actor,
                                  incident=args.incident)
    except runner.ActionInputError as exc:
        raise CliError(str(exc), 2) from exc
    if not args.yes and not args.dry_run:
        _show_plan(ctx, plan.lines())
        if not _confirm(ctx, "Run this action?"):
            raise CliError("not confirmed; nothing was done", 1)
    try:
        outcome = runner.run_action(
            ctx.store, cfg, args.name, args.action, params, incident=args.incident,
            actor=ctx.actor, dry_run=args.dry_run, approved_by=args.approved_by,
        )
    except runner.ActionInputError as exc:
        raise CliError(str(exc), 2) from exc
    _report(ctx, outcome)
    return 0 if outcome.ok else 1


def _undo(args: argparse.Namespace, ctx: Ctx, adapter: Adapter) -> int:
    from ircon.adapters import runner

    try:
        run_id = int(args.undo)
    except ValueError:
        raise CliError(f"--undo: {args.undo[:40]!r} is not a run id (a number)", 2) from None
    run = runner.get_run(ctx.store, run_id)
    if run is None:
        raise CliError(f"no action run {run_id}", 2)
    if run["adapter"] != adapter.name:
        raise CliError(f"run {run_id} was made through {run['adapter']!r}, not "
                       f"{adapter.name!r}", 2)
    if not args.yes:
        _show_plan(ctx, [f"undo run {run_id}: {run['adapter']} {run['action']} "
                         f"({run['status']})", "  undo: "
                         + str(adapter.actions().get(run["action"]) and
                               adapter.actions()[run["action"]].undo)])
        if not _confirm(ctx, "Undo this action?"):
            raise CliError("not confirmed; nothing was done", 1)
    try:
        outcome = runner.undo_action(ctx.store, ctx.loaded.config, run_id, actor=ctx.actor)
    except runner.ActionInputError as exc:
        raise CliError(str(exc), 2) from exc
    _report(ctx, outcome)
    return 0 if outcome.ok else 1


def _report(ctx: Ctx, outcome: Any) -> None:
    from rich.text import Text

    from ircon.model.text import visible

    if ctx.args.json:
        ctx.json(outcome.to_dict())
        return
    head = {"dry-run": "PLANNED (dry run, nothing executed)", "succeeded": "DONE",
            "failed": "FAILED", "undone": "UNDONE", "undo-failed": "UNDO FAILED"}
    ctx.out.print(Text(f"{head.get(outcome.status, outcome.status)}: run {outcome.run_id} "
                       f"{outcome.instance} {outcome.action}: "
                       + visible(outcome.summary, 500)))
    if outcome.dry_run:
        for k, v in outcome.plan.items():
            ctx.out.print(Text(f"  {k}: " + visible(str(v), 2000)))
    if outcome.error:
        ctx.err.print(Text("cause: " + visible(outcome.error, 2000)))
    if outcome.output:
        ctx.out.print(Text(visible(outcome.output, 4000, keep_newlines=True)))
    if outcome.undo_available and outcome.status == "succeeded":
        ctx.out.print(Text(f"undo with: ircon act {outcome.instance} --undo {outcome.run_id}"))
    if outcome.incident:
        ctx.out.print(Text(f"journaled on {outcome.incident}"))
