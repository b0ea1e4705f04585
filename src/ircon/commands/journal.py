"""ircon journal verify|export."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ircon.commands._ctx import CliError, Ctx


def register(sub: Any) -> None:
    p = sub.add_parser("journal", help="verify and export the hash-chained journal")
    jsub = p.add_subparsers(title="journal commands", metavar="ACTION", required=True)
    v = jsub.add_parser("verify", help="re-check every incident's hash chain")
    v.add_argument("id", nargs="?", help="only this incident")
    v.add_argument("--file", help="verify an exported journal (json or jsonl) instead")
    v.add_argument("--json", action="store_true")
    v.set_defaults(handler="ircon.commands.journal:cmd_verify")
    e = jsub.add_parser("export", help="an incident's full journal")
    e.add_argument("id")
    e.add_argument("--format", choices=("json", "jsonl", "md"), default="jsonl")
    e.add_argument("-o", "--output", help="file to write (default: stdout)")
    e.set_defaults(handler="ircon.commands.journal:cmd_export")


def cmd_verify(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.store.journal import VerifyReport, verify

    report = _verify_file(args.file) if args.file else verify(ctx.store, args.id)
    assert isinstance(report, VerifyReport)
    if args.json:
        ctx.json(report.to_dict())
    elif report.ok:
        ctx.out.print(
            f"journal intact: {report.incidents} incident(s), {report.entries} entries verified"
        )
    else:
        from rich.text import Text

        from ircon.model.text import one_line

        for p in report.problems:
            # An export under --file is outside text: its incident id reaches the terminal.
            ctx.err.print(Text(f"TAMPERED {one_line(str(p), 600)}"))
        ctx.err.print(f"{len(report.problems)} incident chain(s) failed verification")
    return 0 if report.ok else 1


def _verify_file(path: str) -> Any:
    from ircon.model.journal import JournalEncodingError, verify_chain
    from ircon.report.render import read_export
    from ircon.store.journal import VerifyReport

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        hid, items = read_export(text)
    except (OSError, ValueError, KeyError, TypeError, RecursionError,
            JournalEncodingError) as exc:
        raise CliError(f"{path}: not a readable ircon journal export ({exc})", 2) from exc
    if hid is None:
        return VerifyReport(0, 0, [])
    n, problem = verify_chain(hid, items)
    return VerifyReport(1, n, [problem] if problem else [])


def cmd_export(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.report import render
    from ircon.store import incidents, journal

    inc = incidents.get(ctx.store, args.id)
    entries = journal.iter_entries(ctx.store, args.id)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            render.write_json(entries, inc, out)
        elif args.format == "jsonl":
            render.write_jsonl(entries, out)
        else:
            render.write_markdown(entries, inc, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
