"""What every screen shares: running I/O in worker threads and taking the result back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual import on
from textual.screen import ModalScreen, Screen

from ircon.model.text import visible
from ircon.tui.messages import DataChanged, IoDone

if TYPE_CHECKING:
    from ircon.tui.app import IrconApp

T = TypeVar("T")
log = logging.getLogger("ircon.tui")


def notice_text(message: str) -> str:
    """An error message fit for a notification: bounded, every control character visible."""
    return visible(message, 2000, keep_newlines=True)


def _expected_errors() -> tuple[type[BaseException], ...]:
    from ircon.model.journal import JournalEncodingError
    from ircon.store.engine import StoreError
    from ircon.store.incidents import IncidentInputError
    from ircon.tui.services import NotAvailable

    return (NotAvailable, StoreError, IncidentInputError, JournalEncodingError, LookupError,
            ValueError)


class IoMixin:
    """Run blocking work in a thread; post the result back as a message.

    Loads use a group: only the newest load of a group lands, so a slow old
    query can never overwrite a newer screen.
    """

    _gens: dict[str, int]

    def io(
        self, fn: Callable[[], T], done: Callable[[T], None] | None = None, *,
        group: str = "", ok: str | None = None, failed: Callable[[str], None] | None = None,
    ) -> None:
        node: Any = self
        gens = node.__dict__.setdefault("_gens", {})
        gen = gens.get(group, 0) + 1 if group else 0
        if group:
            gens[group] = gen

        def job() -> None:
            try:
                result = fn()
            except _expected_errors() as exc:
                node.post_message(IoDone(group, gen, failed, None, str(exc)))
                return
            except Exception as exc:  # a bug: show it, keep the console alive
                log.exception("worker failed")
                node.post_message(
                    IoDone(group, gen, failed, None, f"{type(exc).__name__}: {exc}")
                )
                return
            node.post_message(IoDone(group, gen, finish, result, None))

        def finish(result: T) -> None:
            if ok:
                node.app.notify(ok, markup=False)
            if done is not None:
                done(result)

        node.run_worker(job, thread=True, group=group or "write", exit_on_error=False)

    def on_io_done(self, msg: IoDone) -> None:
        msg.stop()
        node: Any = self
        if msg.group and msg.gen != node.__dict__.get("_gens", {}).get(msg.group):
            return  # superseded
        if msg.error is not None:
            # Errors quote outside text (an admin API's error body, a file's contents).
            node.app.notify(notice_text(msg.error), severity="error", markup=False, timeout=8)
            if msg.done is not None:
                msg.done(msg.error)
            return
        if msg.done is not None:
            msg.done(msg.result)

    @property
    def irc(self) -> IrconApp:
        node: Any = self
        return node.app


class IrconScreen(IoMixin, Screen[None]):
    """A full screen that reloads its data whenever the database changes."""

    def reload(self) -> None:  # pragma: no cover - overridden
        pass

    def on_screen_resume(self) -> None:
        if self.irc.store is not None or self.irc.store_error:
            self.reload()

    @on(DataChanged)
    def _changed(self, msg: DataChanged) -> None:
        self.reload()


class IrconModal(IoMixin, ModalScreen[T]):
    """A dialog; esc always closes it without an answer."""

    BINDINGS = [("escape", "dismiss_none", "Close")]

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
