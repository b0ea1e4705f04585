"""ircon postmortem, ircon evidence, ircon stix."""

from __future__ import annotations

import argparse
from typing import Any

from ircon.commands._ctx import Ctx, not_yet


def register(sub: Any) -> None:
    pm = sub.add_parser("postmortem", help="draft a post-mortem from the journal")
    pm.add_argument("id")
    pm.add_argument("-o", "--output")
    pm.add_argument("--template", help="a Jinja2 template to use instead of the default")
    pm.set_defaults(handler="ircon.commands.report:cmd_postmortem")
    ev = sub.add_parser("evidence", help="build or verify a forensic evidence bundle")
    ev.add_argument("id", help="incident id, or `verify`")
    ev.add_argument("file", nargs="?", help="bundle to verify (with `verify`)")
    ev.add_argument("-o", "--output")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(handler="ircon.commands.report:cmd_evidence")
    st = sub.add_parser("stix", help="export the incident's indicators as STIX 2.1")
    st.add_argument("id")
    st.add_argument("-o", "--output")
    st.set_defaults(handler="ircon.commands.report:cmd_stix")


def cmd_postmortem(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon postmortem")


def cmd_evidence(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon evidence")


def cmd_stix(args: argparse.Namespace, ctx: Ctx) -> int:
    raise not_yet("ircon stix")
