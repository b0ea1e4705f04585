"""How times look on screen: UTC with the responder's zone named beside it."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def parse_ts(ts: str | datetime | None) -> datetime | None:
    """Journal text (``...Z``) or a datetime (naive means UTC, as SQLite returns it)."""
    if ts is None:
        return None
    if isinstance(ts, datetime):
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def zone_name(tz: tzinfo, at: datetime) -> str:
    return at.astimezone(tz).tzname() or str(tz)


def stamp(ts: str | datetime | None, tz: tzinfo) -> str:
    """``2026-03-14 02:13:07Z (03:13 CET)``; the local part is left out when it is UTC."""
    dt = parse_ts(ts)
    if dt is None:
        return "-"
    utc = dt.astimezone(UTC)
    local = dt.astimezone(tz)
    base = utc.strftime("%Y-%m-%d %H:%M:%SZ")
    if local.utcoffset() == utc.utcoffset() and (local.tzname() in (None, "UTC", "GMT")):
        return base
    return f"{base} ({local.strftime('%H:%M')} {local.tzname() or ''})".replace(" )", ")")


def short_stamp(ts: str | datetime | None, tz: tzinfo) -> str:
    """``03-14 02:13Z`` for narrow tables."""
    dt = parse_ts(ts)
    return "-" if dt is None else dt.astimezone(UTC).strftime("%m-%d %H:%MZ")


def span(seconds: float) -> str:
    """A compact duration: 45s, 12m, 3h05m, 2d04h."""
    s = int(abs(seconds))
    if s < 60:
        out = f"{s}s"
    elif s < 3600:
        out = f"{s // 60}m"
    elif s < 86400:
        out = f"{s // 3600}h{(s % 3600) // 60:02d}m"
    elif s < 10 * 86400:
        out = f"{s // 86400}d{(s % 86400) // 3600:02d}h"
    else:
        out = f"{s // 86400}d"
    return out


def age(ts: str | datetime | None, now: datetime) -> str:
    dt = parse_ts(ts)
    return "-" if dt is None else span((now - dt).total_seconds())


def countdown(due: str | datetime | None, now: datetime) -> str:
    """``in 12m`` or ``OVERDUE 3m``."""
    dt = parse_ts(due)
    if dt is None:
        return "-"
    left = (dt - now).total_seconds()
    return f"in {span(left)}" if left >= 0 else f"OVERDUE {span(left)}"
