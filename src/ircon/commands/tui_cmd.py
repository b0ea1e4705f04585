"""``ircon`` with no command: the console."""

from __future__ import annotations

import argparse

from ircon.commands._ctx import Ctx


def run(args: argparse.Namespace, ctx: Ctx) -> int:
    """Until the console lands: say what is here, which config was read, what to do next."""
    from ircon.store import incidents

    loaded = ctx.loaded
    ctx.out.print("ircon — incident command console for AI/LLM security incidents")
    ctx.out.print(f"config: {loaded.described}")
    ctx.out.print(f"database: {ctx.store.where}")
    rows = incidents.list_incidents(ctx.store, include_closed=False, limit=20)
    ctx.out.print(f"open incidents: {len(rows)}")
    for r in sorted(rows, key=incidents.urgency_key):
        ctx.out.print(f"  {r.id}  {r.severity}  {r.status}  {r.title[:60]!r}")
    if not loaded.config.sources:
        ctx.out.print(
            "no sources configured: add [[sources]] to the config (see config/ircon.toml), "
            "or declare an incident with `ircon incident new --title ...`"
        )
    return 0
