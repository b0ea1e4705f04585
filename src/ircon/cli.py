"""The ``ircon`` command: parse, call the library, print. Nothing else lives here."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ircon import __version__
from ircon.commands import (
    act,
    alerts,
    config_cmd,
    demo,
    drill,
    incident,
    journal,
    playbook,
    report,
    scan,
    watch,
)

MODULES = (
    incident, journal, alerts, scan, playbook, act, report, drill, demo, watch, config_cmd
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ircon",
        description="Incident command console for AI/LLM security incidents. "
        "With no command, opens the console on the configured sources.",
    )
    parser.add_argument("--version", action="version", version=f"ircon {__version__}")
    parser.add_argument("--db", help="database path or SQLAlchemy URL (env IRCON_DB)")
    parser.add_argument("--config", help="config file (env IRCON_CONFIG)")
    parser.set_defaults(handler="ircon.commands.tui_cmd:run")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in MODULES:
        module.register(sub)
    return parser


def _run(args: argparse.Namespace) -> int:
    from ircon.commands._ctx import CliError, Ctx

    modname, _, funcname = args.handler.partition(":")
    func = getattr(importlib.import_module(modname), funcname)
    ctx = Ctx(args)
    try:
        return int(func(args, ctx) or 0)
    except CliError as exc:
        from rich.text import Text

        # Messages quote files, exports and replies from outside: escape what they carry.
        ctx.err.print(Text("ircon: " + _safe(str(exc))))
        return exc.code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # map library errors to messages and exit codes
        code, message = _classify(exc)
        if code is None:
            raise
        sys.stderr.write(f"ircon: {_safe(message)}\n")
        return code


def _safe(message: str) -> str:
    """An error message fit for a terminal: line breaks kept, every other control escaped."""
    from ircon.model.text import visible

    return visible(message, 20_000, keep_newlines=True)


def _classify(exc: Exception) -> tuple[int | None, str]:
    from ircon.config import ConfigError
    from ircon.model.journal import JournalEncodingError
    from ircon.secrets import SecretError
    from ircon.store.engine import StoreError
    from ircon.store.incidents import IncidentInputError
    from ircon.store.journal import UnknownIncident

    if isinstance(exc, UnknownIncident):
        return 2, str(exc)
    if isinstance(exc, ConfigError | SecretError | JournalEncodingError | IncidentInputError):
        return 2, str(exc)
    if isinstance(exc, StoreError):
        return 1, str(exc)
    return None, ""


if __name__ == "__main__":
    sys.exit(main())
