"""ircon playbook list|show|lint|import-cacao|export-cacao|start|status|step|decide."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ircon.commands._ctx import CliError, Ctx

if TYPE_CHECKING:
    from ircon.response.engine import PlaybookState
    from ircon.response.loader import LoadResult


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

    st = psub.add_parser("start", help="start a playbook on an incident (pins its version)")
    st.add_argument("incident")
    st.add_argument("name")
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler="ircon.commands.playbook:cmd_start")
    ss = psub.add_parser("status", help="an incident's playbook progress")
    ss.add_argument("incident")
    ss.add_argument("--json", action="store_true")
    ss.set_defaults(handler="ircon.commands.playbook:cmd_status")
    sp = psub.add_parser("step", help="record a step's state (in_progress, done, skipped, ...)")
    sp.add_argument("incident")
    sp.add_argument("step")
    sp.add_argument("state", choices=("pending", "in_progress", "done", "skipped", "failed"))
    sp.add_argument("--reason", default="")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(handler="ircon.commands.playbook:cmd_step")
    de = psub.add_parser("decide", help="record the option chosen at a decision step")
    de.add_argument("incident")
    de.add_argument("step")
    de.add_argument("option")
    de.add_argument("--reason", default="")
    de.add_argument("--json", action="store_true")
    de.set_defaults(handler="ircon.commands.playbook:cmd_decide")


def _dirs(ctx: Ctx) -> list[Path]:
    from ircon.response.library import playbook_dirs

    return playbook_dirs(ctx.loaded.config.playbooks.dirs)


def _instances(ctx: Ctx) -> dict[str, str]:
    return {name: a.type for name, a in ctx.loaded.config.adapters.items()}


def _find(ctx: Ctx, name: str) -> LoadResult:
    from ircon.response.library import PlaybookNotFound, find

    try:
        res = find(name, _dirs(ctx))
    except PlaybookNotFound as exc:
        raise CliError(str(exc), 1) from exc
    if res.playbook is None:
        listed = "\n".join(str(p) for p in res.problems)
        raise CliError(f"{res.file} does not load:\n{listed}", 1)
    return res


def _unwrapped(ctx: Ctx) -> None:
    # One finding per line, never wrapped: lint output is read by people and by grep.
    ctx.out.soft_wrap = True
    ctx.err.soft_wrap = True


def _text(s: str) -> Any:
    from rich.text import Text

    from ircon.model.text import visible

    return Text(visible(s))


def cmd_list(args: argparse.Namespace, ctx: Ctx) -> int:
    _unwrapped(ctx)
    from ircon.response.library import discover

    results = discover(_dirs(ctx))
    rows: list[dict[str, Any]] = []
    for r in results:
        pb = r.playbook
        if pb is None:
            rows.append({"name": None, "file": r.file, "ok": False,
                         "problems": [str(p) for p in r.problems]})
            continue
        rows.append({
            "name": pb.name, "version": pb.version, "title": pb.title, "kinds": pb.kinds,
            "severity_hint": pb.severity_hint, "atlas": pb.atlas, "owasp": pb.owasp,
            "steps": len(pb.steps), "hash": r.sha256, "file": r.file, "ok": True,
        })
    if args.json:
        ctx.json(rows)
        return 0
    for row in rows:
        if not row["ok"]:
            ctx.out.print(_text(f"(broken)  {row['file']}: {len(row['problems'])} problem(s); "
                                "run `ircon playbook lint` on it"))
            continue
        ctx.out.print(_text(
            f"{row['name']:<26} v{row['version']:<6} {row['severity_hint']}  "
            f"{row['steps']:>2} steps  {row['title']}"
        ))
    return 0


def cmd_show(args: argparse.Namespace, ctx: Ctx) -> int:
    _unwrapped(ctx)
    from ircon.response.model import ActionStep, DecisionStep, ManualStep, NotifyStep, WaitStep

    res = _find(ctx, args.name)
    pb = res.playbook
    assert pb is not None
    if args.json:
        ctx.json({**pb.model_dump(mode="json"), "hash": res.sha256, "file": res.file})
        return 0
    out = ctx.out
    out.print(_text(f"{pb.title}  ({pb.name} v{pb.version}, {pb.severity_hint})"))
    out.print(_text(f"kinds: {', '.join(pb.kinds)}   ATLAS: {', '.join(pb.atlas) or '-'}   "
                    f"OWASP: {', '.join(pb.owasp) or '-'}"))
    out.print(_text(f"file: {res.file}   sha256: {res.sha256}"))
    for line in pb.description.splitlines():
        out.print(_text(line))
    out.print(_text("roles: " + ", ".join(f"{r.id} ({r.title})" for r in pb.roles)))
    for i, s in enumerate(pb.steps, 1):
        limit = f" [limit {s.time_limit}]" if s.time_limit else ""
        who = f" @{s.role}" if s.role else ""
        out.print()
        out.print(_text(f"{i:>2}. {s.id} — {s.title}  <{s.kind}, {s.phase}>{who}{limit}"))
        for line in s.description.splitlines():
            out.print(_text(f"    {line}"))
        if isinstance(s, ManualStep):
            for item in s.checklist:
                out.print(_text(f"    [ ] {item}"))
            for item in s.evidence:
                out.print(_text(f"    evidence: {item}"))
        elif isinstance(s, DecisionStep):
            out.print(_text(f"    ? {s.question}"))
            for o in s.options:
                clock = f"  (starts {o.starts_clock})" if o.starts_clock else ""
                out.print(_text(f"    - {o.id}: {o.label} -> {o.next}{clock}"))
        elif isinstance(s, ActionStep):
            params = " ".join(f"-p {k}={v}" for k, v in s.params.items())
            confirm = "confirm first" if s.requires_confirmation else "no confirmation"
            out.print(_text(f"    run: {s.adapter} {s.action} {params}  ({confirm})"))
            if s.undo:
                undo = s.undo.action or s.undo.note
                out.print(_text(f"    undo: {undo}"))
        elif isinstance(s, NotifyStep):
            out.print(_text(f"    to {', '.join(s.to)}: {s.message}"))
        elif isinstance(s, WaitStep):
            out.print(_text(f"    wait {s.duration}"))
        if not isinstance(s, DecisionStep):
            nxt = pb.successor(s)
            fail = f" (on failure: {s.on_failure})" if isinstance(s, ActionStep) and \
                s.on_failure else ""
            out.print(_text(f"    next: {nxt}{fail}"))
    return 0


def cmd_lint(args: argparse.Namespace, ctx: Ctx) -> int:
    _unwrapped(ctx)
    from ircon.response.library import files
    from ircon.response.lint import lint_file

    try:
        instances = _instances(ctx)
    except Exception:  # a broken config must not stop linting playbooks
        instances = {}
    targets: list[Path] = []
    missing: list[str] = []
    for raw in args.paths:
        p = Path(raw)
        if p.is_dir():
            targets.extend(files([p]))
        elif p.exists():
            targets.append(p)
        else:
            missing.append(raw)
    report: list[dict[str, Any]] = [
        {"file": m, "line": 0, "level": "error", "message": "no such file or directory",
         "fix": "check the path"} for m in missing
    ]
    for t in targets:
        report.extend(p.to_dict() for p in lint_file(t, instances=instances))
    errors = sum(1 for r in report if r["level"] == "error")
    if args.json:
        ctx.json({"ok": errors == 0, "files": len(targets), "problems": report})
    else:
        for r in report:
            where = f"{r['file']}:{r['line']}" if r["line"] else r["file"]
            tag = "" if r["level"] == "error" else "warning: "
            ctx.out.print(_text(f"{where}: {tag}{r['message']} — {r['fix']}"))
        ctx.err.print(_text(f"{len(targets)} file(s), {errors} error(s), "
                            f"{len(report) - errors} warning(s)"))
    return 1 if errors or not targets else 0


def cmd_import(args: argparse.Namespace, ctx: Ctx) -> int:
    _unwrapped(ctx)
    from ircon.response.cacao import MAX_CACAO_BYTES, import_cacao

    try:
        with open(args.file, "rb") as fh:
            data = fh.read(MAX_CACAO_BYTES + 1)
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror or exc}", 1) from exc
    res = import_cacao(data, file=args.file)
    for w in res.warnings:
        ctx.err.print(_text(f"warning: {w}"))
    if res.errors and not res.yaml_text:
        raise CliError(f"{args.file}: " + "; ".join(res.errors), 1)
    _write(ctx, args.output, res.yaml_text)
    for e in res.errors:
        ctx.err.print(_text(f"error: {e}"))
    return 1 if res.errors else 0


def cmd_export(args: argparse.Namespace, ctx: Ctx) -> int:
    _unwrapped(ctx)
    import json

    from ircon.response.cacao import export

    res = _find(ctx, args.name)
    assert res.playbook is not None
    doc = export(res.playbook, instances=_instances(ctx))
    _write(ctx, args.output, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return 0


def _write(ctx: Ctx, output: str | None, text: str) -> None:
    import os
    import sys
    import tempfile

    if not output or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(output)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}", 1) from exc
    ctx.err.print(_text(f"wrote {target}"))


# --- running a playbook on an incident ------------------------------------------------------

def _print_state(ctx: Ctx, st: PlaybookState, as_json: bool) -> None:
    if as_json:
        ctx.json(st.to_dict())
        return
    marks = {"pending": " ", "in_progress": ">", "done": "x", "skipped": "-", "failed": "!"}
    ctx.out.print(_text(f"{st.name} v{st.version}  ({(st.hash or '')[:12]})"))
    for v in st.steps.values():
        cur = "  <- current" if v.id == st.current else ""
        late = "  OVERDUE" if v.overdue else ""
        why = f"  ({v.reason})" if v.reason else ""
        opt = f" = {v.option}" if v.option else ""
        ctx.out.print(_text(f"[{marks[v.state]}] {v.id}{opt}: {v.title}{why}{late}{cur}"))
    if st.finished:
        ctx.out.print(_text("playbook finished"))
    elif st.next:
        ctx.out.print(_text(f"next: {', '.join(st.next)}"))
    if st.clocks:
        ctx.out.print(_text(f"clocks started: {', '.join(st.clocks)}"))


def _store_call(func: Any, *a: Any, **kw: Any) -> Any:
    from ircon.store.playbooks import PlaybookError

    try:
        return func(*a, **kw)
    except PlaybookError as exc:
        raise CliError(str(exc), 1) from exc


def cmd_start(args: argparse.Namespace, ctx: Ctx) -> int:
    _unwrapped(ctx)
    from ircon.store.playbooks import start_playbook

    res = _find(ctx, args.name)
    st = _store_call(start_playbook, ctx.store, args.incident, args.name, actor=ctx.actor,
                     loaded=res, instances=_instances(ctx))
    _print_state(ctx, st, args.json)
    return 0


def cmd_status(args: argparse.Namespace, ctx: Ctx) -> int:
    _unwrapped(ctx)
    from ircon.store.playbooks import playbook_state

    st = playbook_state(ctx.store, args.incident)
    if st is None:
        raise CliError(f"no playbook has been started on {args.incident}", 1)
    _print_state(ctx, st, args.json)
    return 0


def cmd_step(args: argparse.Namespace, ctx: Ctx) -> int:
    _unwrapped(ctx)
    from ircon.store.playbooks import record_step

    st = _store_call(record_step, ctx.store, args.incident, args.step, args.state,
                     reason=args.reason, actor=ctx.actor)
    _print_state(ctx, st, args.json)
    return 0


def cmd_decide(args: argparse.Namespace, ctx: Ctx) -> int:
    _unwrapped(ctx)
    from ircon.store.playbooks import record_decision

    st = _store_call(record_decision, ctx.store, args.incident, args.step, args.option,
                     reason=args.reason, actor=ctx.actor)
    _print_state(ctx, st, args.json)
    return 0
