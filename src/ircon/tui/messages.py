"""Messages workers and the app post; handlers on screens update widgets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message import Message


class DataChanged(Message):
    """Something in the database moved (this process or another)."""

    def __init__(self, journal: bool, alerts: bool) -> None:
        super().__init__()
        self.journal = journal
        self.alerts = alerts


class IoDone(Message):
    """A worker finished: ``done(result)`` runs on the UI thread, or ``error`` is shown."""

    def __init__(
        self, group: str, gen: int, done: Callable[[Any], None] | None, result: Any,
        error: str | None,
    ) -> None:
        super().__init__()
        self.group = group
        self.gen = gen
        self.done = done
        self.result = result
        self.error = error
