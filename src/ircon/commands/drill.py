"""ircon drill SCENARIO [--auto] [--json] [-o FILE], ircon drill --list."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ircon.commands._ctx import CliError, Ctx

if TYPE_CHECKING:
    from ircon.demo.drill import Scorecard


def register(sub: Any) -> None:
    p = sub.add_parser("drill", help="run a tabletop drill and score the response")
    p.add_argument("scenario", nargs="?", help="a shipped scenario name or a scenario file")
    p.add_argument("--list", action="store_true", help="list the available scenarios")
    p.add_argument("--auto", action="store_true", help="play the expected response, headless")
    p.add_argument("--json", action="store_true")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the Markdown scorecard here (default: under the data directory)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="interactive drills: drill-clock speed (default 1, real time)")
    p.set_defaults(handler="ircon.commands.drill:cmd_drill")


def _playbook_dirs(ctx: Ctx) -> list[str]:
    from ircon.config import ConfigError

    try:
        return list(ctx.loaded.config.playbooks.dirs)
    except ConfigError:
        return []  # a broken config must not stop a drill on the bundled playbooks


def _actor(ctx: Ctx) -> str:
    import os

    from ircon.config import ConfigError
    from ircon.identity import default_actor

    if os.environ.get("IRCON_ACTOR"):
        return os.environ["IRCON_ACTOR"]
    try:
        return ctx.loaded.config.identity.actor or default_actor()
    except ConfigError:
        return default_actor()


def cmd_drill(args: argparse.Namespace, ctx: Ctx) -> int:
    from ircon.demo import drill_runner
    from ircon.demo.drill import ScenarioError

    dirs = _playbook_dirs(ctx)
    if args.list:
        return _list(ctx, args, drill_runner.list_scenarios(dirs))
    if not args.scenario:
        raise CliError("name a scenario (`ircon drill --list` shows them) or give --list", 2)
    if not args.speed > 0:
        raise CliError("--speed must be greater than 0", 2)
    try:
        sc, pb = drill_runner.load(args.scenario, playbook_dirs=dirs)
    except ScenarioError as exc:
        raise CliError("invalid scenario:\n  " + "\n  ".join(exc.problems), 2) from exc
    if args.auto:
        return _auto(ctx, args, sc, pb)
    return _interactive(ctx, args, sc, pb)


def _list(ctx: Ctx, args: argparse.Namespace, items: list[dict[str, Any]]) -> int:
    from rich.text import Text

    if args.json:
        ctx.json({"scenarios": items})
        return 0 if all(i["ok"] for i in items) else 1
    for i in items:
        if i["ok"]:
            dl = ", ".join(f"{k} {v}" for k, v in i["deadlines"].items())
            ctx.out.print(Text(f"{i['name']}  {i['severity']}  playbook {i['playbook']}  "
                               f"deadlines: {dl or 'none'}"))
            ctx.out.print(Text(f"    {i['title']}"))
        else:
            ctx.out.print(Text(f"{i['name']}  BROKEN"))
            for prob in i["problems"][:5]:
                ctx.out.print(Text(f"    {prob}"))
    return 0 if all(i["ok"] for i in items) else 1


def _markdown_path(args: argparse.Namespace, name: str, incident: str | None) -> Path:
    if args.output:
        return Path(args.output).expanduser()
    from ircon.paths import data_dir

    return data_dir() / "drills" / f"{incident or 'no-incident'}-{name}.md"


def _drill_config(workdir: Path) -> Any:
    from ircon.demo.runtime import demo_config

    return demo_config(workdir, workdir / "gateway.jsonl")


def _auto(ctx: Ctx, args: argparse.Namespace, sc: Any, pb: Any) -> int:
    import shutil
    import tempfile

    from ircon.demo import drill_runner

    store = ctx.store
    actor = _actor(ctx)
    workdir = Path(tempfile.mkdtemp(prefix="ircon-drill-"))
    try:
        cfg = _drill_config(workdir)
        cfg = cfg.model_copy(update={"playbooks": cfg.playbooks.model_copy(
            update={"dirs": _playbook_dirs(ctx)})})
        log = None if args.json else (lambda m: ctx.err.print(f"drill {sc.name}: {m}"))
        auto = drill_runner.AutoDrill(store, cfg, sc, pb, actor=actor, log=log)
        # The Markdown path names the incident, known only once the timeline opened it.
        res = auto.play(markdown_path=None)
        md = _markdown_path(args, sc.name, res.incident)
        _write_markdown(md, res.card)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    _report(ctx, args, res.card, md, res.problems, res.run, mode="auto")
    return 1 if res.problems else 0


def _write_markdown(path: Path, card: Scorecard) -> None:
    from ircon.demo.drill import markdown

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown(card), encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{path}: cannot write the scorecard: {exc.strerror or exc}", 1) from exc


def _report(ctx: Ctx, args: argparse.Namespace, card: Scorecard, md: Path,
            problems: list[str], run: str, *, mode: str) -> None:
    from rich.text import Text

    if args.json:
        ctx.json({**card.to_dict(), "mode": mode, "run": run, "markdown": str(md),
                  "problems": problems})
        return
    ctx.out.print(Text(f"drill {card.scenario} ({mode}) on {card.incident or 'no incident'}: "
                       f"score {card.score}/100"))
    for c in ("acknowledge", "classify", "contain"):
        m = card.times[f"time_to_{c}_s"]
        ctx.out.print(Text(f"  time to {c}: {'-' if m is None else f'{m:g} s'} "
                           f"({card.clocks[c]})"))
    for p in card.practise:
        ctx.out.print(Text(f"  practise: {p}"))
    for p in problems:
        ctx.err.print(Text(f"  problem: {p}"))
    ctx.out.print(Text(f"scorecard: {md}"))


def _interactive(ctx: Ctx, args: argparse.Namespace, sc: Any, pb: Any) -> int:
    import contextlib
    import shutil
    import tempfile

    from ircon.config import LoadedConfig
    from ircon.demo.drill_live import DrillRuntime
    from ircon.demo.runtime import DemoLog
    from ircon.tui.app import IrconApp, local_zone

    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise CliError("an interactive drill needs a terminal; use --auto for a headless run", 2)
    workdir = Path(tempfile.mkdtemp(prefix="ircon-drill-"))
    try:
        cfg = _drill_config(workdir)
        cfg = cfg.model_copy(update={"playbooks": cfg.playbooks.model_copy(
            update={"dirs": _playbook_dirs(ctx)})})
        loaded = LoadedConfig(cfg, None)
        actor = _actor(ctx)
        runtime = DrillRuntime(sc, pb, loaded, log=DemoLog(workdir / "drill.log"),
                               speed=args.speed, actor=actor)
        app = IrconApp(db=ctx.db, loaded=loaded, actor=actor, tz=local_zone(None),
                       refresh_seconds=1.0, start_engine=False, demo=runtime)
        with contextlib.suppress(OSError):  # the terminal went away: still score the work
            app.run()
        card = runtime.finish(ctx.store)
        md = _markdown_path(args, sc.name, card.incident)
        _write_markdown(md, card)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    _report(ctx, args, card, md, [], runtime.run_id, mode="interactive")
    return 0
