"""ircon postmortem, ircon evidence, ircon stix."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ircon.commands._ctx import CliError, Ctx


def register(sub: Any) -> None:
    pm = sub.add_parser(
        "postmortem", help="draft a post-mortem from the journal",
        description="Write a blameless post-mortem draft (Markdown) from the incident's journal. "
        "A --template is a Jinja2 file run in a sandbox; it sees `pm` (the facts: title, "
        "status, responders, impact, detection, timeline, actions, metrics, clocks, atlas, "
        "owasp, campaigns, action_items, journal_head, evidence...) and `generated_at`, and "
        "may {% extends \"postmortem.md.j2\" %} to override blocks of the default. Every "
        "printed value is escaped for Markdown (HTML for .html templates).")
    pm.add_argument("id")
    pm.add_argument("-o", "--output", help="file to write (default: stdout)")
    pm.add_argument("--template", help="a Jinja2 template to use instead of the default")
    pm.set_defaults(handler="ircon.commands.report:cmd_postmortem")
    ev = sub.add_parser(
        "evidence", help="build or verify a forensic evidence bundle",
        description="`ircon evidence ID -o FILE.tar.gz` packs the journal, alerts, findings, "
        "actions and pinned playbook with a manifest of SHA-256 hashes, and journals the "
        "export. `ircon evidence verify FILE.tar.gz` re-checks every hash, the journal chain "
        "and the archive bytes; it exits 1 naming what does not match.")
    ev.add_argument("id", help="incident id, or `verify`")
    ev.add_argument("file", nargs="?", help="bundle to verify (with `verify`)")
    ev.add_argument("-o", "--output", help="bundle to write (FILE.tar.gz)")
    ev.add_argument("--extract", metavar="DIR",
                    help="with verify: extract a bundle that verified into DIR (safely)")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(handler="ircon.commands.report:cmd_evidence")
    st = sub.add_parser("stix", help="export the incident's indicators as STIX 2.1")
    st.add_argument("id")
    st.add_argument("-o", "--output", help="file to write (default: stdout)")
    st.set_defaults(handler="ircon.commands.report:cmd_stix")


def _write_atomic(path: str, data: bytes) -> None:
    target = Path(path)
    tmp = target.with_name(target.name + ".partial")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", 1) from exc


def _journal_export(ctx: Ctx, incident: str, kind: str, body: dict[str, Any]) -> int:
    from ircon.store import journal

    head_seq, head_hash = journal.head(ctx.store, incident)
    body = {**body, "head_seq": head_seq, "head_hash": head_hash}
    return journal.append(ctx.store, incident, kind, body, actor=ctx.actor).seq


def _export_text(ctx: Ctx, incident: str, path: str, text: str, body: dict[str, Any]) -> None:
    """Write a text export atomically and journal what was written (name and SHA-256)."""
    import hashlib

    from ircon.model import kinds

    data = text.encode("utf-8")
    _write_atomic(path, data)
    _journal_export(ctx, incident, kinds.EXPORT, {
        **body, "file": os.path.basename(path), "sha256": hashlib.sha256(data).hexdigest(),
    })


def cmd_postmortem(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.report.postmortem import TemplateProblem, draft
    from ircon.store import incidents, journal

    inc = incidents.get(ctx.store, args.id)
    try:
        text = draft(inc, journal.iter_entries(ctx.store, args.id), template=args.template)
    except TemplateProblem as exc:
        raise CliError(str(exc), 2) from exc
    if not args.output:
        sys.stdout.write(text)
        return 0
    _export_text(ctx, inc["human_id"], args.output, text, {
        "format": "postmortem",
        "template": os.path.basename(args.template) if args.template else "default",
    })
    ctx.out.print(f"{inc['human_id']}: post-mortem draft written to {args.output}")
    return 0


def cmd_evidence(args: argparse.Namespace, ctx: Ctx) -> int:
    if args.id.lower() == "verify":
        if not args.file:
            raise CliError("usage: ircon evidence verify FILE.tar.gz", 2)
        return _verify(args, ctx)
    if args.extract:
        raise CliError("--extract goes with `ircon evidence verify FILE.tar.gz`", 2)
    if not args.output:
        raise CliError("say where to write the bundle: ircon evidence ID -o FILE.tar.gz", 2)
    from datetime import UTC, datetime

    from ircon.model import kinds
    from ircon.report.evidence import build_bundle

    now = datetime.now(UTC)
    info = build_bundle(ctx.store, args.id, args.output, exporter=ctx.actor, exported_at=now)
    # The export record: anchors this bundle's hash in the chain it was built from.
    _journal_export(ctx, info.incident, kinds.EVIDENCE, {
        "file": os.path.basename(info.path), "sha256": info.sha256,
        "manifest_sha256": info.manifest_sha256, "bundle_entries": info.entries,
        "bundle_head_hash": info.head_hash, "bytes": info.bytes,
        "exported_at": now.isoformat(),
    })
    if args.json:
        ctx.json(info.to_dict())
    else:
        ctx.out.print(f"{info.incident}: evidence bundle {info.path}")
        ctx.out.print(f"  {info.files} files, journal {info.entries} entries, head "
                      f"{info.head_hash[:16]}…")
        ctx.out.print(f"  sha256 {info.sha256} (recorded in the journal)", soft_wrap=True)
    return 0


def _verify(args: argparse.Namespace, ctx: Ctx) -> int:
    from rich.text import Text

    from ircon.model.text import visible
    from ircon.report.evidence import BundleError, anchor_check, extract_bundle, verify_bundle

    report = verify_bundle(args.file)
    store = _existing_store(ctx)
    if store is not None and report.incident:
        notes, problems = anchor_check(store, report)
        report.notes.extend(notes)
        report.problems.extend(problems)
    elif report.incident:
        report.notes.append("no local database: checked the bundle on its own")
    extracted: list[str] = []
    if report.ok and args.extract:
        try:
            extracted = [str(p) for p in extract_bundle(args.file, args.extract)]
        except BundleError as exc:
            raise CliError(str(exc), 1) from exc
    if args.json:
        ctx.json({**report.to_dict(), "extracted": extracted})
        return 0 if report.ok else 1
    name = visible(args.file, 200)
    if report.ok:
        ctx.out.print(Text(f"bundle intact: {name}"))
        ctx.out.print(Text(f"  {report.incident}: {report.files} files, journal "
                           f"{report.entries} entries, head {report.head_hash}"), soft_wrap=True)
        ctx.out.print(Text(f"  exported by {visible(report.exported_by or 'unknown', 80)} at "
                           f"{visible(report.exported_at or 'unknown', 40)}"))
    for n in report.notes:
        ctx.out.print(Text("  note: " + visible(n, 300)))
    if extracted:
        ctx.out.print(Text(f"  extracted {len(extracted)} files under "
                           f"{visible(args.extract, 200)}"))
    if not report.ok:
        for p in report.problems:
            ctx.err.print(Text("MISMATCH " + visible(p, 400)))
        ctx.err.print(Text(f"{len(report.problems)} problem(s): {name} does not verify"))
        return 1
    return 0


def _existing_store(ctx: Ctx) -> Any:
    """The configured database when it already exists (verify never creates one)."""
    from ircon.store.engine import sqlite_path, to_url

    try:
        url = to_url(ctx.db)
        path = sqlite_path(url)
        if path is not None and not path.exists():
            return None
        return ctx.store
    except Exception:  # an unusable database only means no live anchor check
        return None


def cmd_stix(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.report.stix import StixExportError, export
    from ircon.store import incidents

    inc = incidents.get(ctx.store, args.id)
    try:
        text = export(ctx.store, args.id)
    except StixExportError as exc:
        raise CliError(str(exc), 2) from exc
    if not args.output:
        sys.stdout.write(text)
        return 0
    _export_text(ctx, inc["human_id"], args.output, text,
                 {"format": "stix-2.1", "tlp": inc.get("tlp")})
    ctx.out.print(f"{inc['human_id']}: STIX 2.1 bundle written to {args.output} "
                  f"(TLP:{str(inc.get('tlp') or 'amber').upper()})")
    return 0
