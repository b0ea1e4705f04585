"""The leader lease: exactly one engine works a database at a time.

The lease is one row of the ``lease`` table, read and written inside a write
transaction (``BEGIN IMMEDIATE``), so two engines deciding at the same moment
are serialized by SQLite. The leader renews it well before it expires; an
engine that finds it expired takes it over. A leader killed with SIGKILL
stops renewing, so another engine takes over once its expiry has passed.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ircon.store.db import Store
from ircon.store.engine import utcnow
from ircon.store.tables import Lease

ENGINE_LEASE = "engine"
_L = Lease.__table__  # type: ignore[attr-defined]


def new_holder() -> str:
    """An identity for one engine run: host, pid and a random part (pids get reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _aware(dt: datetime) -> datetime:
    # SQLite hands datetimes back without their zone; they were written in UTC.
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


@dataclass(frozen=True)
class LeaseInfo:
    name: str
    holder: str
    expires_at: datetime
    renewed_at: datetime

    @property
    def host(self) -> str:
        return self.holder.split(":", 1)[0]

    @property
    def pid(self) -> int | None:
        parts = self.holder.split(":")
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None

    def alive(self, now: datetime | None = None) -> bool:
        return self.expires_at > (now or utcnow())

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        return {"name": self.name, "holder": self.holder, "host": self.host, "pid": self.pid,
                "expires_at": self.expires_at.isoformat(),
                "renewed_at": self.renewed_at.isoformat(), "alive": self.alive(now)}


def _info(row: Any) -> LeaseInfo:
    return LeaseInfo(str(row.name), str(row.holder), _aware(row.expires_at),
                     _aware(row.renewed_at))


def holder(store: Store, name: str = ENGINE_LEASE, *, now: datetime | None = None
           ) -> LeaseInfo | None:
    """The engine holding the lease now, or None when no live engine holds it."""
    with store.read() as conn:
        row = conn.execute(select(_L).where(_L.c.name == name)).first()
    if row is None:
        return None
    info = _info(row)
    return info if info.alive(now) else None


def acquire(store: Store, who: str, seconds: float, name: str = ENGINE_LEASE, *,
            now: datetime | None = None) -> LeaseInfo | None:
    """Take or renew the lease for ``seconds``; None when another live holder has it."""
    now = now or utcnow()
    until = now + timedelta(seconds=seconds)
    with store.write() as conn:
        row = conn.execute(select(_L).where(_L.c.name == name)).first()
        if row is None:
            conn.execute(_L.insert().values(name=name, holder=who, expires_at=until,
                                            renewed_at=now))
        elif row.holder == who or _aware(row.expires_at) <= now:
            conn.execute(_L.update().where(_L.c.name == name).values(
                holder=who, expires_at=until, renewed_at=now))
        else:
            return None
    return LeaseInfo(name, who, until, now)


def release(store: Store, who: str, name: str = ENGINE_LEASE) -> bool:
    """Give the lease up at once (clean shutdown), if ``who`` still holds it."""
    with store.write() as conn:
        n = conn.execute(_L.delete().where(_L.c.name == name, _L.c.holder == who)).rowcount
    return bool(n)
