"""ircon watch, ircon policies list|show|pause|resume|confirm|test."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ircon.commands._ctx import CliError, Ctx

if TYPE_CHECKING:
    from ircon.config import IrconConfig
    from ircon.engine.settings import PolicyConfig


def register(sub: Any) -> None:
    w = sub.add_parser("watch", help="the headless engine: sources, detectors, triage, escalation")
    w.add_argument("--json-logs", action="store_true", help="one JSON object per log line")
    w.set_defaults(handler="ircon.commands.watch:cmd_watch")
    p = sub.add_parser("policies", help="automated containment policies")
    psub = p.add_subparsers(title="policies commands", metavar="ACTION", required=True)
    ls = psub.add_parser("list", help="policies, their mode and state, and the kill switch")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler="ircon.commands.watch:cmd_policies_list")
    for name, text in (("pause", "kill switch: stop all automated actions (or one policy)"),
                       ("resume", "lift the kill switch (or let one stopped policy act again)")):
        c = psub.add_parser(name, help=text)
        c.add_argument("name", nargs="?", help="one policy only")
        c.add_argument("--reason", default="", help="why (recorded with the switch)")
        c.add_argument("--json", action="store_true")
        c.set_defaults(handler=f"ircon.commands.watch:cmd_policies_{name}")
    sh = psub.add_parser("show", help="one policy: config, state, recent actions")
    sh.add_argument("name")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(handler="ircon.commands.watch:cmd_policies_show")
    cf = psub.add_parser("confirm", help="keep an automated action past its expiry")
    cf.add_argument("run", metavar="RUN_ID")
    cf.add_argument("--reason", default="")
    cf.add_argument("--json", action="store_true")
    cf.set_defaults(handler="ircon.commands.watch:cmd_policies_confirm")
    te = psub.add_parser("test", help="replay telemetry through a policy in shadow mode")
    te.add_argument("name")
    te.add_argument("--telemetry", required=True, metavar="FILE")
    te.add_argument("--json", action="store_true")
    te.set_defaults(handler="ircon.commands.watch:cmd_policies_test")


# --- ircon watch ------------------------------------------------------------------------------


def cmd_watch(args: argparse.Namespace, ctx: Ctx) -> int:
    import asyncio
    import logging
    import signal

    from ircon.config import deep_check
    from ircon.engine import logs
    from ircon.engine.runtime import Engine

    logs.setup(json_logs=args.json_logs)
    log = logging.getLogger("ircon.engine")
    loaded = ctx.loaded
    problems = deep_check(loaded.config)
    if problems:
        for p in problems:
            logs.event(log, logging.ERROR, "config problem", problem=p, config=loaded.described)
        raise CliError(f"{loaded.described}: {len(problems)} config problem(s), the engine did "
                       "not start:\n  " + "\n  ".join(problems), 2)
    store = ctx.store
    engine = Engine(loaded.config, store, actor=ctx.actor,
                    base_dir=loaded.path.parent if loaded.path else None)
    logs.event(log, logging.INFO, "ircon watch starting", config=loaded.described,
               database=store.where, actor=ctx.actor, holder=engine.holder)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(sig: signal.Signals) -> None:
            if not stop.is_set():
                logs.event(log, logging.INFO, "stopping", signal=sig.name)
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        await engine.run(stop)

    from ircon.engine.runtime import EngineFailed
    from ircon.store.engine import StoreError

    try:
        asyncio.run(main())
    except (EngineFailed, StoreError) as exc:
        logs.event(log, logging.ERROR, "ircon watch failed", error=str(exc))
        raise CliError(f"the engine stopped: {exc}", 1) from exc
    logs.event(log, logging.INFO, "ircon watch stopped", **engine.counts)
    return 0


# --- ircon policies ---------------------------------------------------------------------------


def _policy(cfg: IrconConfig, name: str) -> PolicyConfig:
    p = cfg.policies.get(name)
    if p is None:
        known = ", ".join(sorted(cfg.policies)) or "none are configured"
        raise CliError(f"no policy {name!r} ([policies.{name}] in the config); known: {known}", 2)
    return p


def _when_text(p: PolicyConfig) -> str:
    w = p.when
    parts = []
    if w.detector:
        parts.append(f"detector={w.detector}")
    if w.rule:
        parts.append(f"rule={w.rule}")
    if w.min_score:
        parts.append(f"score>={w.min_score:g}")
    if w.min_count > 1:
        parts.append(f"count>={w.min_count}/{w.window_seconds:g}s")
    if w.severity_at_least:
        parts.append(f"severity<={w.severity_at_least}")
    parts.append(f"per {w.scope}")
    return " ".join(parts)


def _summary(ctx: Ctx, name: str, p: PolicyConfig, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name, "description": p.description, "mode": p.mode, "when": p.when.model_dump(),
        "then": p.then.model_dump(), "expire_after": p.expire_after,
        "cap_per_hour": p.cap_per_hour, "retries": p.retries,
        "allow": {"keys": len(p.allow_keys), "teams": len(p.allow_teams),
                  "users": len(p.allow_users), "ips": len(p.allow_ips)},
        "notify": list(p.notify),
        "stopped": bool(state.get("stopped")), "stopped_reason": state.get("reason"),
        "actions_last_hour": _last_hour(state, p.mode),
    }


def _last_hour(state: dict[str, Any], mode: str) -> int:
    import time

    now = time.time()
    return sum(1 for e in state.get("recent", []) if e.get("mode") == mode
               and float(e.get("at", 0)) > now - 3600)


def cmd_policies_list(args: argparse.Namespace, ctx: Ctx) -> int:
    from rich.table import Table
    from rich.text import Text

    from ircon.engine import automation
    from ircon.engine.runtime import engine_status
    from ircon.model.text import visible

    cfg = ctx.loaded.config
    store = ctx.store
    paused = automation.pause_state(store)
    rows = [_summary(ctx, n, p, automation.policy_state(store, n))
            for n, p in sorted(cfg.policies.items())]
    eng = engine_status(store)
    if args.json:
        ctx.json({"paused": paused, "engine": eng, "policies": rows})
        return 0
    ctx.out.print("kill switch: " + (f"PAUSED by {paused.get('by')} at {paused.get('at')}"
                                     if paused else "off (policies may act)"))
    leader = eng["leader"]
    ctx.out.print("engine: " + (f"running ({leader['holder']})" if leader else "not running"))
    if not rows:
        ctx.out.print("no policies configured ([policies.NAME] in the config)")
        return 0
    t = Table(box=None, pad_edge=False, header_style="bold")
    for c in ("POLICY", "MODE", "STATE", "WHEN", "THEN", "CAP/H", "LAST HOUR"):
        t.add_column(c)
    for r in rows:
        p = cfg.policies[r["name"]]
        state = "stopped" if r["stopped"] else ("paused" if paused else "active")
        t.add_row(Text(r["name"]), r["mode"], state, Text(visible(_when_text(p), 200)),
                  Text(visible(f"{p.then.adapter} {p.then.action}", 200)),
                  str(r["cap_per_hour"]), str(r["actions_last_hour"]))
    ctx.out.print(t)
    return 0


def cmd_policies_show(args: argparse.Namespace, ctx: Ctx) -> int:
    from rich.text import Text

    from ircon.engine import automation
    from ircon.model.text import visible

    cfg = ctx.loaded.config
    p = _policy(cfg, args.name)
    store = ctx.store
    state = automation.policy_state(store, args.name)
    out = _summary(ctx, args.name, p, state)
    out["allow"] = {"keys": len(p.allow_keys), "teams": list(p.allow_teams),
                    "users": list(p.allow_users), "ips": list(p.allow_ips)}
    out["runs"] = automation.runs_of(store, args.name)
    out["paused"] = automation.pause_state(store)
    if args.json:
        ctx.json(out)
        return 0
    pr = ctx.out.print
    pr(Text(f"policy {args.name} — {p.mode}" + (f": {visible(p.description, 300)}"
                                                 if p.description else "")))
    pr(Text("when:   " + visible(_when_text(p), 300)))
    params = ", ".join(f"{k}={v}" for k, v in p.then.params.items())
    pr(Text(f"then:   {p.then.adapter} {p.then.action} {visible(params, 300)}"))
    pr(f"expiry: {p.expire_after}; cap {p.cap_per_hour}/hour; retries {p.retries}")
    pr(f"allowlisted: {len(p.allow_keys)} key(s), teams {p.allow_teams or '-'}, "
       f"users {p.allow_users or '-'}, ips {p.allow_ips or '-'}")
    pr("state:  " + ("STOPPED — " + str(state.get("reason")) if state.get("stopped")
                     else "active") + (" (kill switch on)" if out["paused"] else ""))
    pr(f"actions in the last hour: {out['actions_last_hour']}")
    if out["runs"]:
        pr("recent runs:")
        for r in out["runs"]:
            pr(Text(f"  #{r['id']} {r['created_at']} {r['incident'] or '-'} {r['adapter']} "
                    f"{r['action']} {r['status']}" + (" (dry run)" if r["dry_run"] else "")
                    + (f" expires {r['expires_at']}" if r["expires_at"] else "")))
    return 0


def cmd_policies_pause(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.engine import automation

    store = ctx.store
    if args.name:
        _policy(ctx.loaded.config, args.name)
        reason = f"paused by {ctx.actor}" + (f": {args.reason}" if args.reason else "")
        with store.write() as conn:
            st = automation._get(conn, automation.STATE_PREFIX + args.name) or {}
            st.update(stopped=True, reason=reason, stopped_at=_now())
            automation._put(conn, automation.STATE_PREFIX + args.name, st)
        out: dict[str, Any] = {"policy": args.name, "stopped": True, "reason": reason}
        msg = f"policy {args.name} stopped; `ircon policies resume {args.name}` lets it act again"
    else:
        out = {"paused": automation.pause(store, actor=ctx.actor, reason=args.reason)}
        msg = "automated containment paused: no policy acts until `ircon policies resume`"
    if args.json:
        ctx.json(out)
    else:
        ctx.out.print(msg)
    return 0


def _now() -> str:
    from ircon.store.engine import utcnow

    return utcnow().isoformat()


def cmd_policies_resume(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.engine import automation

    store = ctx.store
    if args.name:
        _policy(ctx.loaded.config, args.name)
        was = automation.resume_policy(store, args.name, actor=ctx.actor)
        out: dict[str, Any] = {"policy": args.name, "resumed": was}
        msg = (f"policy {args.name} may act again" if was
               else f"policy {args.name} was not stopped")
    else:
        was = automation.resume(store, actor=ctx.actor)
        out = {"resumed": was}
        msg = "automated containment resumed" if was else "automated containment was not paused"
    if args.json:
        ctx.json(out)
    else:
        ctx.out.print(msg)
    return 0


def cmd_policies_confirm(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.engine import automation

    try:
        run_id = int(args.run)
    except ValueError:
        raise CliError(f"{args.run[:40]!r} is not a run id (a number)", 2) from None
    try:
        body = automation.confirm(ctx.store, run_id, actor=ctx.actor, reason=args.reason)
    except automation.ConfirmError as exc:
        raise CliError(str(exc), 1) from exc
    if args.json:
        ctx.json(body)
    else:
        ctx.out.print(f"run {run_id} confirmed: it stays in force until someone undoes it")
    return 0


# --- ircon policies test ----------------------------------------------------------------------


def replay(cfg: IrconConfig, name: str, path: str, *, base_dir: Any = None
           ) -> dict[str, Any]:
    """What policy ``name`` would do over a telemetry file, decided exactly as the engine
    does (event time as the clock). Writes nothing and calls nothing."""
    from ircon.adapters.runner import ActionInputError, plan_action
    from ircon.detect.pipeline import DetectorSet
    from ircon.engine import policies as pol
    from ircon.model.finding import Finding
    from ircon.sources.telemetry import Skipped, read_file

    p = cfg.policies[name]
    ds = DetectorSet.from_config(cfg.detectors, base_dir=base_dir)
    counter = pol.WindowCounter(p.when.window_seconds)
    exp = pol.expiry_seconds(p.expire_after)
    done: list[tuple[float, str, float | None]] = []  # (at, scope id, until)
    stopped = False
    decisions: list[dict[str, Any]] = []
    tally: dict[str, int] = {}
    n_events = n_skipped = n_findings = n_matches = 0
    latest = 0.0

    def consider(f: Finding, line: int) -> None:
        nonlocal stopped, n_matches, latest
        if not pol.matches(p.when, f):
            return
        n_matches += 1
        value = pol.scope_value(p.when, f)
        now = f.ts or latest
        latest = max(latest, now)
        count = counter.add(value, now) if value else 0
        hist = [pol.PastAction(at, sid, p.mode, until is None or until > now)
                for at, sid, until in done if at > now - max(pol.HOUR, exp or 0)]
        d = pol.decide(name, p, f, count=count, history=hist, now=now, stopped=stopped)
        key = d.verdict if d.verdict != "skip" else d.reason
        tally[key] = tally.get(key, 0) + 1
        if d.verdict == "skip" and d.reason not in (pol.ALLOWLISTED, pol.CAP, pol.BAD_PARAMS):
            return
        row = {**d.to_dict(), "line": line, "rule_id": f.rule_id, "detector": f.detector,
               "score": round(f.score, 4), "ts": f.ts}
        if d.reason == pol.CAP:
            stopped = True
            row["detail"] = d.detail + "; the policy stops and escalates once"
        if d.verdict != "skip":
            try:
                plan = plan_action(cfg, p.then.adapter, p.then.action, d.params,
                                   actor=f"ircon-policy:{name}")
                row["would"] = plan.summary
            except ActionInputError as exc:
                row["verdict"], row["reason"], row["detail"] = "skip", pol.BAD_PARAMS, str(exc)
                decisions.append(row)
                return
            done.append((now, pol.scope_id(d.scope, d.value or ""),
                         now + exp if exp else None))
        decisions.append(row)

    for item in read_file(path):
        if isinstance(item, Skipped):
            n_skipped += 1
            continue
        n_events += 1
        for f in ds.observe(item):
            n_findings += 1
            consider(f, item.line)
    for f in ds.flush():
        n_findings += 1
        consider(f, 0)
    return {"policy": name, "mode": p.mode, "file": path, "events": n_events,
            "skipped_lines": n_skipped, "findings": n_findings, "matches": n_matches,
            "summary": tally, "decisions": decisions}


def cmd_policies_test(args: argparse.Namespace, ctx: Ctx) -> int:
    from pathlib import Path

    from rich.text import Text

    from ircon.engine.checks import config_problems
    from ircon.model.text import visible

    loaded = ctx.loaded
    cfg = loaded.config
    _policy(cfg, args.name)
    problems = [x for x in config_problems(cfg) if x.startswith(f"policies.{args.name}.")]
    if problems:
        raise CliError("the policy has config problems:\n  " + "\n  ".join(problems), 2)
    f = Path(args.telemetry)
    if args.telemetry != "-" and not f.is_file():
        raise CliError(f"{args.telemetry}: no such file — pass a telemetry JSONL file", 2)
    try:
        out = replay(cfg, args.name, args.telemetry,
                     base_dir=loaded.path.parent if loaded.path else None)
    except OSError as exc:
        raise CliError(f"{args.telemetry}: cannot read: {exc.strerror or exc}", 1) from exc
    if args.json:
        ctx.json(out)
        return 0
    pr = ctx.out.print
    pr(f"policy {args.name} ({out['mode']}) over {args.telemetry}: {out['events']} events, "
       f"{out['findings']} findings, {out['matches']} matching — shadow: nothing is sent")
    for d in out["decisions"][:200]:
        what = (f"would {d.get('would', '')}" if d["verdict"] != "skip"
                else f"skip ({d['reason']}): {d.get('detail', '')}")
        pr(Text(f"  line {d['line']}: {d['scope']} {d['value'] or '-'} [{d['rule_id']}] "
                + visible(what, 300)))
    if len(out["decisions"]) > 200:
        pr(f"  ... {len(out['decisions']) - 200} more (--json lists them all)")
    tally = ", ".join(f"{k}: {v}" for k, v in sorted(out["summary"].items())) or "no matches"
    pr(f"summary: {tally}")
    return 0
