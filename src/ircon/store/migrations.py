"""Ordered schema migrations. Append new steps; never edit a released one.

The version lives in ``ircon_meta`` (dialect-neutral). A database written by
a newer ircon is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection

from ircon.store import tables

Migration = Callable[[Connection], None]

JOURNAL_GUARDS = [
    "CREATE TRIGGER IF NOT EXISTS journal_entry_no_update BEFORE UPDATE ON journal_entry "
    "BEGIN SELECT RAISE(ABORT, 'journal entries are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS journal_entry_no_delete BEFORE DELETE ON journal_entry "
    "BEGIN SELECT RAISE(ABORT, 'journal entries are append-only'); END",
]


def _v1(conn: Connection) -> None:
    tables.SQLModel.metadata.create_all(
        conn,
        tables=[
            t.__table__  # type: ignore[union-attr]
            for t in (
                tables.Incident,
                tables.JournalEntry,
                tables.JournalHead,
                tables.Alert,
                tables.ActionRun,
                tables.StepState,
                tables.Lease,
                tables.FiringClaim,
            )
        ],
    )
    if conn.dialect.name == "sqlite":
        for stmt in JOURNAL_GUARDS:
            conn.execute(text(stmt))


MIGRATIONS: list[Migration] = [_v1]
SCHEMA_VERSION = len(MIGRATIONS)
