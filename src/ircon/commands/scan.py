"""ircon scan FILE... — run the AI detectors over telemetry files."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import TYPE_CHECKING, Any

from ircon.commands._ctx import CliError, Ctx

if TYPE_CHECKING:
    from ircon.model.finding import Finding
    from ircon.model.telemetry import TelemetryEvent

MAX_SKIPPED_LISTED = 50
SCAN_BATCH = 4096  # events handed to the detectors at once (the batched path)


def register(sub: Any) -> None:
    p = sub.add_parser("scan", help="run the AI detectors over telemetry files")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL telemetry files ('-': stdin)")
    p.add_argument("--format", choices=("auto", "litellm", "otel", "openai", "langfuse"),
                   default="auto", help="telemetry format (default: detect per line)")
    p.add_argument("--json", action="store_true", help="findings as JSON lines, then a summary")
    p.set_defaults(handler="ircon.commands.scan:cmd_scan")


def _who(f: Finding) -> str:
    if f.members:
        return f"{len(f.members)} members"
    return (f.key and f"key {f.key[:16]}") or (f.user and f"user {f.user}") or f.ip or "-"


def cmd_scan(args: argparse.Namespace, ctx: Ctx) -> int:
    from rich.table import Table
    from rich.text import Text

    from ircon.detect.pipeline import DetectorSet
    from ircon.detect.rules import RuleError
    from ircon.model.text import one_line, visible
    from ircon.sources.telemetry import Skipped, read_file

    loaded = ctx.loaded
    base_dir = loaded.path.parent if loaded.path else None
    try:
        ds = DetectorSet.from_config(loaded.config.detectors, base_dir=base_dir)
    except RuleError as exc:
        raise CliError(f"rule pack error: {exc}", 2) from exc

    findings: list[Finding] = []
    skipped: list[Skipped] = []
    reasons: Counter[str] = Counter()
    unreadable: list[str] = []

    def emit(batch: list[Finding]) -> None:
        for f in batch:
            if args.json:
                ctx.json({"type": "finding", **f.to_dict()})
            else:
                findings.append(f)

    for path in args.files:
        batch: list[TelemetryEvent] = []
        try:
            for item in read_file(path, args.format):
                if isinstance(item, Skipped):
                    reasons[item.reason.split(":")[0][:80]] += 1
                    if len(skipped) < MAX_SKIPPED_LISTED:
                        skipped.append(item)
                    continue
                batch.append(item)
                if len(batch) >= SCAN_BATCH:
                    emit(ds.observe_batch(batch))
                    batch = []
        except OSError as exc:
            unreadable.append(path)
            ctx.err.print(Text(f"ircon scan: {visible(path)}: cannot read: "
                               f"{exc.strerror or exc}"))
        emit(ds.observe_batch(batch))  # what was read before the end (or the error)
    emit(ds.flush())

    st = ds.stats
    summary = {
        "events": st.events, "findings": dict(st.findings),
        "skipped": sum(reasons.values()), "skipped_by_reason": dict(reasons),
        "skipped_lines": [{"origin": s.origin, "line": s.line, "reason": s.reason}
                          for s in skipped],
        "detector_errors": dict(st.errors), "unreadable": unreadable,
    }
    if args.json:
        ctx.json({"type": "summary", **summary})
        return 1 if unreadable else 0

    if findings:
        table = Table(title="Findings", show_lines=False)
        for col in ("detector", "rule", "score", "severity", "who", "request", "evidence"):
            table.add_column(col, overflow="fold")
        for f in findings:
            ev = f.evidence[0] if f.evidence else None
            evidence = f"{ev.field}[{ev.start}:{ev.end}] {one_line(ev.excerpt, 80)}" if ev else ""
            table.add_row(
                Text(f.detector), Text(visible(f.rule_id, 60)), Text(f"{f.score:.2f}"),
                Text(f.severity_hint), Text(visible(_who(f), 40)),
                Text(visible(f.request_ids[0] if f.request_ids else "-", 40)),
                Text(evidence),
            )
        ctx.out.print(table)
    else:
        ctx.out.print(Text("No findings."))
    ctx.out.print(Text(f"Events read: {st.events}"))
    per = ", ".join(f"{k}: {v}" for k, v in sorted(st.findings.items())) or "none"
    ctx.out.print(Text(f"Findings per detector: {per}"))
    ctx.out.print(Text(f"Lines skipped: {summary['skipped']}"))
    for reason, n in reasons.most_common(10):
        ctx.out.print(Text(f"  {n} x {one_line(reason, 120)}"))
    for s in skipped[:10]:
        ctx.out.print(Text(f"  {visible(s.origin, 80)}:{s.line}: {one_line(s.reason, 120)}"))
    if st.errors:
        ctx.out.print(Text(f"Detector errors: {dict(st.errors)}"))
    return 1 if unreadable else 0
