"""Escalation state as text: times stored in UTC, shown in the responder's zone, named."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ircon.model.text import one_line


def local_zone_name() -> str | None:
    """The IANA name of the machine's zone, when it can be told."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        return tz
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return None
    marker = "zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else None


def responder_zone(configured: str | None) -> tuple[tzinfo, str]:
    """(zone, its name) from ui.timezone, else the machine's zone, else UTC."""
    for name in (configured, local_zone_name()):
        if name:
            try:
                return ZoneInfo(name), name
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC"), "UTC"


def fmt(value: str | datetime | None, zone: tzinfo, name: str) -> str:
    if value is None:
        return "-"
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = dt.astimezone(zone)
    abbr = local.tzname() or ""
    suffix = f"{abbr} ({name})" if abbr and abbr != name else name
    return f"{local:%Y-%m-%d %H:%M} {suffix}"


def _dur(seconds: float) -> str:
    s = int(abs(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m = s // 60
    return f"{d}d {h}h {m:02d}m" if d else f"{h}h {m:02d}m" if h else f"{m}m"


def state_lines(st: dict[str, Any], zone: tzinfo, name: str,
                now: datetime) -> Iterator[str]:
    """Lines for `ircon incident show` (every dynamic value made safe to print)."""
    if not st.get("enabled", True):
        yield "  escalation: disabled in the config"
        return
    pol = st.get("policy")
    head = f"  escalation: policy {one_line(pol, 40)}" if pol else \
        f"  escalation: no policy for {st['severity']}"
    if st.get("acknowledged_at"):
        head += f" — acknowledged {fmt(st['acknowledged_at'], zone, name)}, ladder stopped"
    elif st.get("stopped"):
        head += " — ladder stopped"
    yield head
    for lv in st.get("levels", []):
        when = fmt(lv["sent_at"] or lv["due"], zone, name)
        verb = {"sent": "sent", "due": "DUE", "pending": "due", "stopped": "not needed"}[
            lv["state"]]
        targets = ", ".join(one_line(t, 40) for t in lv["notify"])
        rep = f" (repeat x{lv['repeat']})" if lv.get("repeat") else ""
        yield f"    L{lv['level']} {verb:<10} {when}  -> {targets}{rep}"
    if st.get("overdue"):
        yield (f"    OVERDUE: {len(st['overdue'])} firing(s) not yet sent "
               "(is `ircon watch` running?)")
    if st.get("next_firing"):
        yield f"    next firing: {fmt(st['next_firing'], zone, name)}"
    n = st.get("notifications", {})
    if n.get("failed_total"):
        last = n["failed"][-1]
        yield (f"    notifications: {n['sent']} sent, {n['failed_total']} FAILED (last: "
               f"{one_line(str(last.get('via')), 40)}: {one_line(str(last.get('error')), 80)})")
    elif n.get("sent"):
        yield f"    notifications: {n['sent']} sent"
    clocks = st.get("clocks", [])
    if clocks:
        yield "  clocks:"
    for c in clocks:
        if c["state"] == "met":
            tail = f"met {fmt(c['met_at'], zone, name)}, ref {one_line(c['reference'] or '', 40)}"
            if c.get("met_late"):
                tail += " (after the deadline)"
        else:
            left = (datetime.fromisoformat(c["deadline"]) - now).total_seconds()
            tail = (f"{_dur(left)} left" if left > 0 else f"BREACHED {_dur(left)} ago")
        yield (f"    {one_line(c['name'], 24):<18} {c['state'].upper():<8} due "
               f"{fmt(c['deadline'], zone, name)}  ({tail}; {one_line(c['basis'], 30)})")
        yield (f"      aware since {fmt(c['awareness'], zone, name)}"
               + (f", edited {c['awareness_edits']}x" if c.get("awareness_edits") else "")
               + f" — {one_line(c['reason'], 80)}")
    if st.get("operational"):
        yield "  operational:"
    for o in st.get("operational", []):
        tgt = f" / target {_dur(o['target_seconds'])}" if o.get("target_seconds") else ""
        yield f"    {o['name']:<18} {o['state']:<8} {_dur(o['elapsed_seconds'])}{tgt}"
