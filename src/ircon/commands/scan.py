"""ircon scan FILE..."""

from __future__ import annotations

import argparse
from typing import Any

from ircon.commands._ctx import Ctx, not_yet


def register(sub: Any) -> None:
    p = sub.add_parser("scan", help="run the AI detectors over telemetry files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--format", choices=("auto", "litellm", "otel", "openai", "langfuse"),
                   default="auto")
    p.add_argument("--json", action="store_true", help="findings as JSON lines")
    p.set_defaults(handler="ircon.commands.scan:cmd_scan")


def cmd_scan(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon scan")
