"""Where the engine's telemetry followers stopped reading, kept in the database.

An engine that dies leaves its followers' checkpoints here; the engine that takes
over reads on from them, so the lines written in between are not skipped. Stored
as JSON in ``ircon_meta`` under ``telemetry.position:<source name>``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ircon.store.tables import Meta

if TYPE_CHECKING:
    from ircon.store.db import Store

_M = Meta.__table__  # type: ignore[attr-defined]
_PREFIX = "telemetry.position:"
Position = tuple[int, int, int, int, bool]


def load(store: Store, source: str) -> dict[str, Position]:
    """The saved checkpoint of ``source`` (empty when none, or unreadable)."""
    with store.read() as conn:
        raw = conn.execute(select(_M.c.value).where(_M.c.key == _PREFIX + source)).scalar()
    if raw is None:
        return {}
    try:
        data: Any = json.loads(raw)
    except ValueError:
        return {}
    out: dict[str, Position] = {}
    if isinstance(data, dict):
        for path, v in data.items():
            if (isinstance(path, str) and isinstance(v, list) and len(v) == 5
                    and all(type(x) is int and x >= 0 for x in v[:4])
                    and type(v[4]) is bool):
                out[path] = (v[0], v[1], v[2], v[3], v[4])
    return out


def save(store: Store, source: str, checkpoint: dict[str, Position]) -> None:
    value = json.dumps({p: list(v) for p, v in checkpoint.items()}, sort_keys=True)
    with store.write() as conn:
        key = _PREFIX + source
        if conn.execute(_M.update().where(_M.c.key == key).values(value=value)).rowcount == 0:
            conn.execute(_M.insert().values(key=key, value=value))
