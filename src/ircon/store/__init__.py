"""Persistence: SQLModel tables, engine setup, journal append/verify, queries."""

from ircon.store.db import Store, open_store
from ircon.store.engine import StoreError, utcnow

__all__ = ["Store", "StoreError", "open_store", "utcnow"]
