"""Engine setup: SQLite pragmas, explicit transactions, clear errors.

Writes take ``BEGIN IMMEDIATE`` so concurrent ircon processes queue on the
write lock instead of failing mid-transaction with SQLITE_BUSY on upgrade.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

# How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_MS = int(os.environ.get("IRCON_BUSY_TIMEOUT_MS", "30000"))
SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


def utcnow() -> datetime:
    """Aware UTC now: the store's timestamp convention."""
    return datetime.now(UTC)


def to_url(db: str | os.PathLike[str]) -> str:
    """A path or an SQLAlchemy URL -> URL."""
    s = str(db)
    if "://" in s:
        return s
    return "sqlite:///" + str(Path(s).expanduser().absolute())


def sqlite_path(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def precheck_sqlite_file(path: Path, *, create: bool) -> None:
    """Refuse what SQLite would misreport or overwrite, with a message a human can act on."""
    if path.exists():
        if path.is_dir():
            raise StoreError(f"{path} is a directory, not a database file; pass --db FILE")
        if not os.access(path, os.R_OK):
            raise StoreError(
                f"cannot read database {path}: permission denied "
                "(check the file's owner and mode, or pass --db with another file)"
            )
        size = path.stat().st_size
        if size:
            with path.open("rb") as fh:
                head = fh.read(16)
            if head != SQLITE_MAGIC:
                raise StoreError(
                    f"{path} is not an ircon database (not an SQLite file); "
                    "it was left untouched. Pass --db with another path."
                )
    else:
        if not create:
            raise StoreError(f"database {path} does not exist")
        parent = path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the database directory {parent}: {exc}") from exc


def explain(exc: BaseException, where: str) -> StoreError:
    """Turn a driver error into a StoreError naming the file and the fix."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    msg = str(orig)
    low = msg.lower()
    if "locked" in low or "busy" in low:
        hint = (f"database {where} is locked by another process for more than "
                f"{BUSY_TIMEOUT_MS // 1000} s; retry, or find the process holding it")
    elif "readonly" in low or "read-only" in low:
        hint = (f"database {where} is read-only: ircon needs write access to the file "
                "and its directory (for the -wal and -shm files)")
    elif "not a database" in low or "malformed" in low or "corrupt" in low:
        hint = (f"database {where} is corrupt ({msg}); it was left untouched. Restore it "
                "from a backup or run `sqlite3 FILE .recover`")
    elif "unable to open" in low:
        hint = f"cannot open database {where}: check the path and permissions"
    else:
        hint = f"database {where}: {msg}"
    return StoreError(hint)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: sqlite3.Connection, _rec: object) -> None:
            # Driver autocommit: we issue BEGIN ourselves (IMMEDIATE for writes).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = conn.info.get("begin_mode", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def transaction(engine: Engine, *, write: bool, where: str) -> Iterator[Connection]:
    """A transaction; ``write=True`` takes the write lock up front."""
    try:
        with engine.connect() as conn:
            conn.info["begin_mode"] = "IMMEDIATE" if write else "DEFERRED"
            with conn.begin():
                yield conn
    except OperationalError as exc:
        raise explain(exc, where) from exc
    except DBAPIError as exc:
        if isinstance(exc.orig, sqlite3.DatabaseError) and not isinstance(
            exc.orig, sqlite3.IntegrityError
        ):
            raise explain(exc, where) from exc
        raise
