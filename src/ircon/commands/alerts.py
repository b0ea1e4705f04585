"""ircon alerts pull|list."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ircon.commands._ctx import CliError, Ctx

if TYPE_CHECKING:
    from ircon.engine.ingest import AlertChange
    from ircon.sources.base import PullResult, Source

MAX_WEBHOOK_BYTES = 256 * 1024 * 1024
SHOW_PER_KIND = 50  # rows printed per kind (new/updated/resolved); --json has them all
STATUSES = ("firing", "resolved")


def register(sub: Any) -> None:
    p = sub.add_parser("alerts", help="pull and list alerts from detection backends")
    asub = p.add_subparsers(title="alerts commands", metavar="ACTION", required=True)
    pull = asub.add_parser(
        "pull", help="one pull of every (or the named) source: store, triage, print changes"
    )
    pull.add_argument("--alertmanager", metavar="URL", help="pull this Alertmanager only")
    pull.add_argument(
        "--webhook-file", metavar="FILE", help="Alertmanager webhook JSON(L); - for stdin"
    )
    pull.add_argument(
        "--source", action="append", metavar="NAME",
        help="only this configured source (repeatable); with --alertmanager or "
        "--webhook-file, the source name to store the alerts under",
    )
    pull.add_argument("--json", action="store_true")
    pull.set_defaults(handler="ircon.commands.alerts:cmd_pull")
    ls = asub.add_parser("list", help="stored alerts, firing first")
    ls.add_argument("--status", choices=STATUSES)
    ls.add_argument("--source", metavar="NAME")
    ls.add_argument("--incident", metavar="ID")
    ls.add_argument("--limit", type=int, default=200)
    ls.add_argument("--offset", type=int, default=0)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler="ircon.commands.alerts:cmd_list")


def _read_webhook(path: str) -> tuple[bytes, str]:
    import sys
    from pathlib import Path

    if path == "-":
        data = sys.stdin.buffer.read(MAX_WEBHOOK_BYTES + 1)
        origin = "stdin"
    else:
        p = Path(path)
        if not p.exists():
            raise CliError(f"{path}: no such file — pass an Alertmanager webhook JSON(L) file", 2)
        if p.is_dir():
            raise CliError(f"{path} is a directory — pass a webhook JSON(L) file", 2)
        try:
            with p.open("rb") as fh:
                data = fh.read(MAX_WEBHOOK_BYTES + 1)
        except OSError as exc:
            raise CliError(f"{path}: cannot read: {exc.strerror}", 2) from exc
        origin = path
    if len(data) > MAX_WEBHOOK_BYTES:
        raise CliError(f"{origin}: larger than {MAX_WEBHOOK_BYTES // 2**20} MiB; split it", 2)
    return data, origin


def _pick_sources(args: argparse.Namespace, ctx: Ctx) -> tuple[list[Source], list[str]]:
    """The sources to pull, and notes about configured ones left out."""
    from ircon.sources import alertmanager as am
    from ircon.sources.base import build
    from ircon.sources.settings import AlertmanagerSource

    cfg = ctx.loaded.config
    names: list[str] = args.source or []
    notes: list[str] = []
    if args.alertmanager:
        url = args.alertmanager.strip()
        if not url.startswith(("http://", "https://")):
            raise CliError(f"--alertmanager {url!r}: give an http:// or https:// URL", 2)
        for s in cfg.sources:
            if isinstance(s, AlertmanagerSource) and s.url.rstrip("/") == url.rstrip("/") and (
                not names or s.name in names
            ):
                return [am.from_config(s)], notes  # its auth and TLS settings apply
        if len(names) > 1:
            raise CliError("--alertmanager takes at most one --source NAME", 2)
        return [am.ad_hoc(url, names[0] if names else "alertmanager")], notes
    if args.webhook_file:
        return [], notes
    known = {s.name: s for s in cfg.sources}
    unknown = [n for n in names if n not in known]
    if unknown:
        have = ", ".join(sorted(known)) or "none configured"
        raise CliError(f"no source named {', '.join(unknown)} (configured: {have})", 2)
    chosen = [known[n] for n in names] if names else list(cfg.sources)
    out: list[Source] = []
    for s in chosen:
        if s.type != "alertmanager":
            notes.append(f"{s.name}: a {s.type} source feeds the detectors (`ircon watch`, "
                         "`ircon scan`); not pulled here")
            continue
        out.append(build(s))
    if not out:
        raise CliError(
            "no alert source to pull: add a [[sources]] entry with type = \"alertmanager\" to "
            f"the config ({ctx.loaded.described}), or pass --alertmanager URL or "
            "--webhook-file FILE", 2,
        )
    return out, notes


def _webhook_source_name(args: argparse.Namespace, ctx: Ctx) -> str:
    if args.source:
        if len(args.source) > 1:
            raise CliError("--webhook-file takes at most one --source NAME", 2)
        return str(args.source[0])
    for s in ctx.loaded.config.sources:
        if s.type == "alertmanager":
            return s.name
    return "alertmanager"


async def _pull_all(sources: list[Source]) -> list[Any]:
    import asyncio

    from ircon.engine.poller import pull_once

    try:
        return list(await asyncio.gather(*(pull_once(s) for s in sources)))
    finally:
        for s in sources:
            await s.aclose()


def cmd_pull(args: argparse.Namespace, ctx: Ctx) -> int:
    import asyncio

    from rich.text import Text

    from ircon.engine.ingest import ingest_alerts
    from ircon.model.text import one_line
    from ircon.sources.alertmanager import parse_webhook

    sources, notes = _pick_sources(args, ctx)
    results: list[tuple[str, PullResult]] = []
    summary: dict[str, dict[str, Any]] = {}
    failures: list[tuple[str, str]] = []
    if args.webhook_file:
        data, origin = _read_webhook(args.webhook_file)
        name = _webhook_source_name(args, ctx)
        res = parse_webhook(data, name, origin=origin)
        results.append((name, res))
        summary[f"webhook:{origin}"] = {
            "ok": True, "source": name, "alerts": len(res.alerts),
            "skipped": [{"origin": o, "line": n, "reason": r} for o, n, r in res.skipped],
        }
        if not res.alerts and res.skipped:
            failures.append((f"webhook {origin}", "no webhook payload could be read"))
            summary[f"webhook:{origin}"]["ok"] = False
    outcomes = asyncio.run(_pull_all(sources)) if sources else []
    for o in outcomes:
        summary[o.source] = {
            "ok": o.ok, "error": o.error, "latency_ms": round(o.latency_ms, 1),
            "alerts": len(o.result.alerts) if o.result else 0,
            "complete": bool(o.result and o.result.complete),
            "skipped": [{"origin": s, "line": n, "reason": r}
                        for s, n, r in (o.result.skipped if o.result else [])],
        }
        if o.result is not None:
            results.append((o.source, o.result))
        else:
            failures.append((o.source, o.error or "failed"))

    alerts = [a for _, r in results for a in r.alerts]
    complete = {n for n, r in results if r.complete}
    report = ingest_alerts(
        ctx.store, alerts, ctx.loaded.config.triage, actor=ctx.actor, complete_sources=complete
    )
    if args.json:
        ctx.json({"sources": summary, **report.to_dict(), "notes": notes,
                  "ok": not failures})
    else:
        for name, s in summary.items():
            state = (f"{s['alerts']} alert(s)" if s["ok"] else "FAILED")
            lat = f" in {s['latency_ms']:.0f} ms" if "latency_ms" in s else ""
            ctx.out.print(Text(f"{one_line(name, 80)}: {state}{lat}"))
            for sk in s.get("skipped", [])[:20]:
                ctx.err.print(Text(
                    f"  skipped {one_line(str(sk['origin']), 80)} line {sk['line']}: "
                    f"{one_line(sk['reason'], 200)}"
                ))
        c = report.counts()
        ctx.out.print(
            f"new: {c['new']}  updated: {c['updated']}  resolved: {c['resolved']}  "
            f"unchanged: {c['repeated']}  incidents opened: {c['incidents_opened']}"
        )
        for label, rows in (("NEW", report.new), ("UPDATED", report.updated),
                            ("RESOLVED", report.resolved)):
            _print_changes(ctx, label, rows)
        for ch in report.severity_changes:
            ctx.out.print(Text(f"{ch['incident']}: severity {ch['from']} -> {ch['to']}"))
        for n in notes:
            ctx.err.print(Text(f"note: {one_line(n, 300)}"))
    for name, err in failures:
        ctx.err.print(Text(f"ircon: source {one_line(name, 80)} failed: {one_line(err, 500)}"))
    return 1 if failures else 0


def _print_changes(ctx: Ctx, label: str, rows: list[AlertChange]) -> None:
    from rich.text import Text

    from ircon.model.text import one_line

    for r in rows[:SHOW_PER_KIND]:
        ctx.out.print(Text(
            f"{label:<9} {r.severity}  {r.incident or '-':<13} {one_line(r.source, 24)}  "
            f"{one_line(r.fingerprint, 20)}  {one_line(r.name, 60)}"
            + (f"  ({one_line(r.change, 40)})" if label == "UPDATED" else "")
        ), soft_wrap=True)
    if len(rows) > SHOW_PER_KIND:
        ctx.out.print(f"{label:<9} … and {len(rows) - SHOW_PER_KIND} more (--json lists all)")


def cmd_list(args: argparse.Namespace, ctx: Ctx) -> int:
    from rich.text import Text

    from ircon.model.text import one_line
    from ircon.store import alerts

    if args.limit < 0 or args.offset < 0:
        raise CliError("--limit and --offset must not be negative", 2)
    filters = {"status": args.status, "source": args.source, "incident": args.incident}
    rows = alerts.list_alerts(ctx.store, limit=args.limit, offset=args.offset, **filters)
    if args.json:
        ctx.json([r.to_dict() for r in rows])
        return 0
    total = alerts.count_alerts(ctx.store, **filters)
    if not rows:
        ctx.out.print("no alerts" if not total else f"no alerts at offset {args.offset}")
        return 0
    # One line per alert, never wrapped: greppable, and every field is bounded.
    ctx.out.print(
        f"{'FINGERPRINT':<16}  {'SOURCE':<16}  {'STATUS':<19}  SEV   {'INCIDENT':<13}  "
        f"{'COUNT':>6}  {'LAST SEEN (UTC)':<19}  NAME", soft_wrap=True,
    )
    for r in rows:
        status = r.status if r.state == "active" else f"{r.status}/{r.state}"
        ctx.out.print(Text(
            f"{one_line(r.fingerprint, 16):<16}  {one_line(r.source, 16):<16}  "
            f"{one_line(status, 19):<19}  {r.severity:<4}  {r.incident or '-':<13}  "
            f"{r.count:>6}  {r.last_seen.strftime('%Y-%m-%d %H:%M:%S')}  {one_line(r.name, 80)}"
        ), soft_wrap=True)
    if total > len(rows):
        ctx.out.print(f"showing {len(rows)} of {total} (--limit, --offset)")
    return 0
