"""Opening a store: URL resolution, file checks, schema version, transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ircon.store import tables
from ircon.store.engine import (
    StoreError,
    explain,
    make_engine,
    precheck_sqlite_file,
    sqlite_path,
    to_url,
    transaction,
    utcnow,
)
from ircon.store.migrations import MIGRATIONS, SCHEMA_VERSION


@dataclass
class Store:
    """A handle on one ircon database. Cheap to pass around; thread-safe."""

    url: str
    engine: Engine

    @property
    def where(self) -> str:
        path = sqlite_path(self.url)
        return str(path) if path else self.url

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with transaction(self.engine, write=True, where=self.where) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with transaction(self.engine, write=False, where=self.where) as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()


def _schema_version(conn: Connection) -> int:
    if not inspect(conn).has_table("ircon_meta"):
        return 0
    meta = tables.Meta.__table__  # type: ignore[attr-defined]
    row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
    return int(row[0]) if row else 0


def open_store(db: str, *, create: bool = True) -> Store:
    """Open (and create or migrate) the database at a path or SQLAlchemy URL."""
    url = to_url(db)
    path = sqlite_path(url)
    if path is not None:
        precheck_sqlite_file(path, create=create)
    engine = make_engine(url)
    store = Store(url=url, engine=engine)
    try:
        with store.read() as conn:
            version = _schema_version(conn)
    except DBAPIError as exc:
        engine.dispose()
        raise explain(exc, store.where) from exc
    except StoreError:
        engine.dispose()
        raise
    if version > SCHEMA_VERSION:
        engine.dispose()
        raise StoreError(
            f"database {store.where} has schema version {version}, newer than this ircon "
            f"understands ({SCHEMA_VERSION}); upgrade ircon to open it (it was left untouched)"
        )
    if version < SCHEMA_VERSION:
        _migrate(store)
    return store


def _migrate(store: Store) -> None:
    with store.write() as conn:
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = _schema_version(conn)
        if version == 0:
            tables.SQLModel.metadata.create_all(
                conn, tables=[tables.Meta.__table__]  # type: ignore[attr-defined]
            )
        for step in MIGRATIONS[version:]:
            step(conn)
        now = utcnow().isoformat()
        meta = tables.Meta.__table__  # type: ignore[attr-defined]
        conn.execute(meta.delete().where(meta.c.key == "schema_version"))
        conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        if version == 0:
            conn.execute(meta.insert().values(key="created_at", value=now))
