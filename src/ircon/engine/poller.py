"""The polling service: each source on its own interval, never two pulls at once.

A failing source backs off exponentially (from its interval up to
``backoff_max``, with jitter so many consoles do not retry in step), keeps
its last good result, and shows why it is unhealthy. Time is injectable
(``sleep``, ``now``, ``rand``) so tests run without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ircon.model.text import one_line
from ircon.sources.base import PullResult, Source, SourceError, SourceHealth
from ircon.store.engine import utcnow

OnResult = Callable[[str, PullResult], Awaitable[None] | None]
GRACE_SECONDS = 2.0  # beyond a source's own timeout, before the poller gives up on it


@dataclass(slots=True)
class PullOutcome:
    source: str
    result: PullResult | None
    error: str | None
    latency_ms: float

    @property
    def ok(self) -> bool:
        return self.error is None


def _record_ok(h: SourceHealth, at: datetime, latency_ms: float) -> None:
    h.healthy = True
    h.last_success = at
    h.latency_ms = latency_ms
    h.consecutive_failures = 0


def _record_error(h: SourceHealth, at: datetime, error: str, latency_ms: float) -> None:
    h.healthy = False
    h.last_error = error
    h.last_error_at = at
    h.latency_ms = latency_ms
    h.consecutive_failures += 1


async def pull_once(
    source: Source, *, timeout: float | None = None,
    now: Callable[[], datetime] = utcnow,
) -> PullOutcome:
    """One pull with a hard deadline; updates ``source.health``; never raises
    (except cancellation): a failure comes back as the outcome's ``error``."""
    limit = timeout if timeout is not None else getattr(source, "timeout", 30.0) + GRACE_SECONDS
    t0 = time.perf_counter()
    error: str | None = None
    result: PullResult | None = None
    try:
        result = await asyncio.wait_for(source.pull(), limit)
    except SourceError as exc:
        error = str(exc)
    except TimeoutError:
        error = f"pull took longer than {limit:g} s (timeout)"
    except Exception as exc:  # a source bug must not stop the others; say what it was
        error = f"unexpected {type(exc).__name__}: {one_line(str(exc), 300)}"
    ms = (time.perf_counter() - t0) * 1000
    if error is None:
        _record_ok(source.health, now(), ms)
    else:
        _record_error(source.health, now(), error, ms)
    return PullOutcome(source.name, result, error, ms)


def backoff_delay(
    interval: float, failures: int, *, backoff_max: float, jitter: float, rand: float
) -> float:
    """Seconds to wait before the next pull: the interval while healthy; after
    ``failures`` consecutive failures, interval x 2^(failures-1), jittered by
    +/- ``jitter`` (a fraction) and capped at ``backoff_max``."""
    if failures <= 0:
        return interval
    base = min(backoff_max, interval * (2 ** min(failures - 1, 30)))
    return min(backoff_max, max(0.0, base * (1 - jitter + 2 * jitter * rand)))


class Poller:
    """Pulls every source on its interval and hands each good result to ``on_result``."""

    def __init__(
        self,
        sources: Sequence[Source],
        on_result: OnResult | None = None,
        *,
        backoff_max: float = 300.0,
        jitter: float = 0.2,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        now: Callable[[], datetime] = utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ValueError("two sources share a name")
        self.sources = {s.name: s for s in sources}
        self.on_result = on_result
        self.backoff_max = backoff_max
        self.jitter = jitter
        self._sleep = sleep
        self._now = now
        self._rand = rand
        self.last_good: dict[str, PullResult] = {}
        self.next_delay: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Task[PullOutcome]] = {}
        self._stop = asyncio.Event()

    def health(self) -> dict[str, SourceHealth]:
        return {n: s.health for n, s in self.sources.items()}

    async def pull(self, name: str) -> PullOutcome:
        """Pull one source now; if a pull of it is already running, wait for that one
        instead of starting a second."""
        task = self._inflight.get(name)
        if task is None or task.done():
            task = asyncio.create_task(self._pull_and_deliver(self.sources[name]))
            self._inflight[name] = task
        return await asyncio.shield(task)

    async def _pull_and_deliver(self, source: Source) -> PullOutcome:
        out = await pull_once(source, now=self._now)
        if out.result is not None:
            try:
                if self.on_result is not None:
                    r = self.on_result(source.name, out.result)
                    if inspect.isawaitable(r):
                        await r
                self.last_good[source.name] = out.result
            except Exception as exc:  # storing failed: the next pull carries the same alerts
                msg = f"storing the pull failed: {type(exc).__name__}: {one_line(str(exc), 300)}"
                _record_error(source.health, self._now(), msg, out.latency_ms)
                return PullOutcome(source.name, out.result, msg, out.latency_ms)
        return out

    async def _loop(self, source: Source) -> None:
        while not self._stop.is_set():
            await self.pull(source.name)
            delay = backoff_delay(
                source.interval, source.health.consecutive_failures,
                backoff_max=self.backoff_max, jitter=self.jitter, rand=self._rand(),
            )
            self.next_delay[source.name] = delay
            await self._sleep(delay)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Poll until ``stop`` is set (or the task is cancelled); closes the sources."""
        if stop is not None:
            self._stop = stop
        tasks = [asyncio.create_task(self._loop(s)) for s in self.sources.values()]
        waiter: asyncio.Task[Any] = asyncio.create_task(self._stop.wait())
        everything: list[asyncio.Task[Any]] = [waiter, *tasks]
        try:
            await asyncio.wait(everything, return_when=asyncio.FIRST_COMPLETED)
            for t in tasks:
                exc = t.exception() if t.done() and not t.cancelled() else None
                if exc is not None:
                    raise exc
        finally:
            for t in everything:
                t.cancel()
            await asyncio.gather(*everything, return_exceptions=True)
            for s in self.sources.values():
                with contextlib.suppress(Exception):  # closing is best effort at shutdown
                    await s.aclose()

    def stop(self) -> None:
        self._stop.set()


def ingest_callback(store: Any, cfg: Any, *, actor: str) -> OnResult:
    """An ``on_result`` that stores and triages alert pulls (in a thread: SQLite is blocking).

    A complete pull also resolves the source's alerts it no longer lists.
    """
    from ircon.engine.ingest import ingest_alerts

    async def deliver(name: str, result: PullResult) -> None:
        if not result.alerts and not result.complete:
            return
        await asyncio.to_thread(
            ingest_alerts, store, result.alerts, cfg, actor=actor,
            complete_sources={name} if result.complete else set(),
        )

    return deliver
