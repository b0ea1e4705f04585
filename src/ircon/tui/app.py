"""The console application: owns the store handle, the clock and change detection.

Start-up paints first and opens the database in a worker, so a large store
never delays the first frame. Every ``refresh_seconds`` a worker reads a
cheap change token (max journal id, alert watermarks); when it moves, the
active screen reloads — so changes by other ircon processes on the same file
appear without a keypress.
"""

from __future__ import annotations

import gc
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.message import Message
from textual.screen import Screen

from ircon.tui.messages import DataChanged
from ircon.tui.screens.base import IoMixin

if TYPE_CHECKING:
    from ircon.config import LoadedConfig
    from ircon.store.db import Store
    from ircon.tui.services import ChangeToken

Clock = Callable[[], datetime]
SWITCH_INTERVAL = 0.0005
# Longest a repaint waits for an in-process ingest to finish (changes by other
# processes still show within two seconds of a one-second refresh).
MAX_HOLD_SECONDS = 1.0
HEAP_SETTLE_SECONDS = 0.5  # after the store opens and the first screen loads


def _system_clock() -> datetime:
    return datetime.now(UTC)


def local_zone(name: str | None) -> tzinfo:
    """The configured IANA zone, else the machine's zone (UTC when unknown)."""
    if name:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    tz = datetime.now().astimezone().tzinfo
    return tz or UTC


class StoreReady(Message):
    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store


class StoreFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class _Polled(Message):
    def __init__(self, token: ChangeToken) -> None:
        super().__init__()
        self.token = token


def _actions() -> type[Provider]:
    from ircon.tui.commands import ActionsProvider

    return ActionsProvider


def _incidents() -> type[Provider]:
    from ircon.tui.commands import IncidentsProvider

    return IncidentsProvider


def _playbooks() -> type[Provider]:
    from ircon.tui.commands import PlaybooksProvider

    return PlaybooksProvider


def _incidents_screen() -> Screen[Any]:
    from ircon.tui.screens.incidents import IncidentsScreen

    return IncidentsScreen()


def _alerts_screen() -> Screen[Any]:
    from ircon.tui.screens.alerts import AlertsScreen

    return AlertsScreen()


class IrconApp(IoMixin, App[int]):
    """ircon's console."""

    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = App.COMMANDS | {
        _actions, _incidents, _playbooks
    }

    CSS_PATH = Path(__file__).with_name("ircon.tcss")
    TITLE = "ircon"
    ENABLE_COMMAND_PALETTE = True
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    MODES: ClassVar[dict[str, Any]] = {
        "incidents": _incidents_screen,
        "alerts": _alerts_screen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_incidents", "Incidents", id="incidents"),
        Binding("2", "show_alerts", "Alerts", id="alerts"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("colon", "command_palette", "Commands", show=False, id="palette"),
        Binding("N", "declare", "Declare", id="declare"),
        Binding("L", "demo_log", "Demo log", id="demo-log"),
        Binding("K", "kill_switch", "Pause/resume automation", show=False, id="kill-switch"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        *,
        db: str | None = None,
        store: Store | None = None,
        loaded: LoadedConfig | None = None,
        config_path: Path | None = None,
        actor: str = "",
        clock: Clock | None = None,
        tz: tzinfo | None = None,
        refresh_seconds: float | None = None,
        start_engine: bool = True,
        start_mode: str = "incidents",
        demo: Any = None,
    ) -> None:
        super().__init__()
        # Demo/drill mode: ``demo`` runs the scripted traffic (``run(store)``, ``stop()``),
        # names the banner (``label``), forces containment to dry-run (``dry_run``) and
        # keeps the log that notifications go to (``log_path``).
        self.demo = demo
        self.banner: str = str(getattr(demo, "label", "")) if demo is not None else ""
        self.dry_run_actions: bool = bool(getattr(demo, "dry_run", False))
        if self.banner:
            self.title = f"ircon — {self.banner}"
        self.db = db
        self.store: Store | None = store
        self.loaded = loaded
        self.config_path = config_path
        if not actor:
            from ircon.identity import default_actor

            actor = default_actor()
        self.actor = actor
        self.clock: Clock = clock or _system_clock
        ui = loaded.config.ui if loaded else None
        self.tz: tzinfo = tz or local_zone(ui.timezone if ui else None)
        self.refresh_seconds = refresh_seconds or (ui.refresh_seconds if ui else 1.0)
        self._start_engine = start_engine
        self._start_mode = start_mode
        self._token: ChangeToken | None = None
        self._shown_token: ChangeToken | None = None  # what the screens last reloaded for
        self._held_since: float | None = None  # a repaint held back behind an ingest
        self._engine: Any = None
        self.engine_label = ""  # who works the database, shown in the top bar
        self.store_error: str | None = None

    # --- life cycle ----------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock()

    @property
    def has_sources(self) -> bool:
        return bool(self.loaded and self.loaded.config.sources)

    def on_mount(self) -> None:
        # Workers (ingest, queries) hold the GIL in 5 ms slices by default; the UI thread
        # waits for one at every wake-up. Shorter slices keep keys and paints prompt.
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._install_hangup()
        self.switch_mode(self._start_mode)
        if self.store is None:
            self.call_after_refresh(self._open_store)
        else:
            self._store_ready()

    def _install_hangup(self) -> None:
        """SSH dropped: the terminal is gone, so exit now, between transactions."""
        import asyncio

        try:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._hangup)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests) or no SIGHUP on this platform

    def _hangup(self) -> None:
        self.exit(129)

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def _open_store(self) -> None:
        from ircon.store.engine import StoreError
        from ircon.tui import services

        try:
            store = services.open_db(self.db or "")
        except StoreError as exc:
            self.post_message(StoreFailed(str(exc)))
            return
        self.post_message(StoreReady(store))

    def on_store_ready(self, msg: StoreReady) -> None:
        self.store = msg.store
        self._store_ready()

    def on_store_failed(self, msg: StoreFailed) -> None:
        self.store_error = msg.error
        self.notify(msg.error, title="database", severity="error", markup=False, timeout=30)
        self.screen.post_message(DataChanged(True, True))

    def _store_ready(self) -> None:
        self.set_timer(HEAP_SETTLE_SECONDS, self._freeze_heap, name="heap")
        self.set_interval(self.refresh_seconds, self.poke, name="poll")
        if self._start_engine and self.demo is None:
            self._engine_status()
            self.set_interval(max(self.refresh_seconds, 2.0), self._engine_status, name="engine")
        self.screen.post_message(DataChanged(True, True))
        if self.demo is not None:
            self._run_demo()
        elif self._start_engine:
            self._run_engine()

    def _freeze_heap(self) -> None:
        """Take the start-up heap (modules, classes, the mode screens) out of the collector.

        A full garbage collection walks every tracked object while holding the GIL; when a
        worker ingesting a big pull triggers one, the event loop waits behind it (70-100 ms
        here). Start-up objects live as long as the process, so freezing them once (after
        collecting what is already garbage) leaves later full collections only the objects
        made since: alerts in flight, pages, dialogs. Full collections are also made ten
        times rarer (reference counting frees almost everything; cycles can wait), so one
        seldom lands on the repaint that follows a burst.
        """
        if gc.get_freeze_count():
            return  # once per process (a second app in the same process, tests)
        gc.collect()
        gc.freeze()
        young, middle, _old = gc.get_threshold()
        gc.set_threshold(young, middle, 100)

    @work(exclusive=True, group="engine", exit_on_error=False)
    async def _run_engine(self) -> None:
        """Run the engine in this process; it stands by while ``ircon watch`` (or another
        console) holds the database's lease, and takes over when that one goes away."""
        from ircon.tui import services

        if self.store is None:
            return
        engine = services.make_engine(self.store, self.loaded, actor=self.actor)
        if engine is None:
            return
        self._engine = engine
        await engine.run()

    @work(thread=True, exclusive=True, group="engine-status", exit_on_error=False)
    def _engine_status(self) -> None:
        from ircon.tui import services

        if self.store is None or self.demo is not None:
            return
        label = services.engine_label(self.store, self._engine)
        self.call_from_thread(self._set_engine_label, label)

    def _set_engine_label(self, label: str) -> None:
        if label != self.engine_label:
            self.engine_label = label
            self.screen.post_message(DataChanged(False, False))

    @work(exclusive=True, group="demo", exit_on_error=False)
    async def _run_demo(self) -> None:
        if self.store is not None and self.demo is not None:
            await self.demo.run(self.store)

    def action_demo_log(self) -> None:
        from ircon.tui.screens.demo_log import DemoLogScreen

        path = getattr(self.demo, "log_path", None)
        if path is None or isinstance(self.screen, DemoLogScreen):
            return
        self.push_screen(DemoLogScreen(path))

    @work(thread=True, exclusive=True, group="kill-switch", exit_on_error=False)
    def action_kill_switch(self) -> None:
        """The global kill switch of automated containment (engines obey within a second)."""
        from ircon.engine import automation

        if self.store is None:
            return
        if automation.pause_state(self.store) is None:
            automation.pause(self.store, actor=self.actor, reason="paused from the console")
            msg = "automated containment PAUSED (K again to resume)"
        else:
            automation.resume(self.store, actor=self.actor)
            msg = "automated containment resumed"
        self.call_from_thread(self.notify, msg, title="policies", markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The demo log key exists only in demo and drill mode.
        return not (action == "demo_log" and self.demo is None)

    def source_health(self) -> dict[str, Any]:
        eng = self._engine
        return dict(eng.health()) if eng is not None else {}

    # --- change detection ------------------------------------------------------------

    def poke(self) -> None:
        """Check the database for changes now (also called after our own writes)."""
        if self.store is not None:
            self._poll()

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def _poll(self) -> None:
        from ircon.tui import services

        if self.store is None:
            return
        try:
            token = services.change_token(self.store)
        except Exception:  # the next tick retries; a locked file is not an emergency
            return
        self.post_message(_Polled(token))

    def on__polled(self, msg: _Polled) -> None:
        from ircon.engine.ingest import in_progress

        old = self._shown_token
        self._token = msg.token
        if old == msg.token:
            return
        now = time.monotonic()
        if in_progress() and self._held_since is not None \
                and now - self._held_since < MAX_HOLD_SECONDS:
            return  # this process is still storing a burst: repaint once it is in
        if in_progress() and self._held_since is None:
            self._held_since = now
            return
        self._held_since = None
        self._shown_token = msg.token
        # The first token may already include a write made after the first load: reload.
        changed = DataChanged(old is None or old.journal != msg.token.journal,
                              old is None or old.alerts != msg.token.alerts)
        self._broadcast(changed)

    def _broadcast(self, changed: DataChanged) -> None:
        # The top screen and, under a dialog, the screen it covers.
        stack = self.screen_stack
        for screen in stack[-2:]:
            screen.post_message(DataChanged(changed.journal, changed.alerts))

    # --- actions ---------------------------------------------------------------------

    def action_show_incidents(self) -> None:
        self.switch_mode("incidents")

    def action_show_alerts(self) -> None:
        self.switch_mode("alerts")

    def action_help(self) -> None:
        from ircon.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    def open_incident(self, human_id: str) -> None:
        from ircon.tui.screens.incident import IncidentScreen

        if self.current_mode != "incidents":
            self.switch_mode("incidents")
        self.push_screen(IncidentScreen(human_id))

    def action_declare(self) -> None:
        from ircon.tui.screens.modals import DeclareScreen

        if self.store is None:
            return

        def declared(result: tuple[str, str] | None) -> None:
            if result is None or self.store is None:
                return
            title, severity = result
            store = self.store

            def write() -> str:
                from ircon.tui import services

                return services.declare(store, title, severity, actor=self.actor)

            self.io(write, self._declared)

        self.push_screen(DeclareScreen(), declared)

    def _declared(self, hid: str) -> None:
        self.notify(f"declared {hid}", markup=False)
        self.open_incident(hid)
        self.poke()

    def on_unmount(self) -> None:
        if self.demo is not None:
            self.demo.stop()
        eng = self._engine
        if eng is not None and hasattr(eng, "stop"):
            eng.stop()
