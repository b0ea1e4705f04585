"""Replay of recorded gateway telemetry in accelerated real time.

Lines are appended to a file that a telemetry source follows, exactly as a
LiteLLM proxy's logger would write them, so the demo exercises the same
follower, parser and detectors as production. Timestamps are shifted so the
sample ends at the moment the replay starts (the console shows "the last
twenty minutes", never times in the future); the spacing between events is
kept in event time, so the detectors' windows see realistic rates, while the
wall-clock pacing is divided by ``speed``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from ircon.demo.generator import sample_path

MAX_GAP_S = 2.0  # a lull in the sample never stalls the demo longer than this (wall time)
BATCH_S = 0.05  # lines due within this much of each other are written together
_TIME_FIELDS = ("startTime", "endTime", "completionStartTime")


def load_sample(path: str | Path | None = None) -> list[bytes]:
    """The lines of the shipped sample (or of ``path``), newline included."""
    p = Path(path) if path is not None else sample_path()
    with open(p, "rb") as fh:
        return [line if line.endswith(b"\n") else line + b"\n" for line in fh if line.strip()]


def event_time(line: bytes) -> float | None:
    """``startTime`` of one LiteLLM line (epoch seconds), or None when it has none."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    v = obj.get("startTime")
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def shift(line: bytes, offset: float) -> bytes:
    """The line with its timestamps moved by ``offset`` seconds (unknown lines unchanged)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line
    if not isinstance(obj, dict):
        return line
    for k in _TIME_FIELDS:
        v = obj.get(k)
        if isinstance(v, int | float) and not isinstance(v, bool):
            obj[k] = round(v + offset, 3)
    resp = obj.get("response")
    if isinstance(resp, dict) and isinstance(resp.get("created"), int):
        resp["created"] = int(resp["created"] + offset)
    return orjson.dumps(obj) + b"\n"


def schedule(times: Sequence[float | None], speed: float, *,
             max_gap: float = MAX_GAP_S) -> list[float]:
    """Wall-clock offsets (seconds from the replay's start) at which each line is written.

    Event spacing divided by ``speed``; gaps longer than ``max_gap`` (wall) are cut
    to it; a line without a time goes out with the line before it.
    """
    if speed <= 0:
        raise ValueError("speed must be greater than 0")
    out: list[float] = []
    wall = 0.0
    prev: float | None = None
    for t in times:
        if t is not None:
            if prev is not None and t > prev:
                wall += min((t - prev) / speed, max_gap)
            prev = t
        out.append(wall)
    return out


@dataclass
class Progress:
    written: int
    total: int

    @property
    def done(self) -> bool:
        return self.written >= self.total


class Replayer:
    """Appends the sample to ``target`` on the schedule; ``run`` can be stopped anytime
    and never leaves half a line in the file."""

    def __init__(self, target: str | Path, lines: Sequence[bytes], *, speed: float = 20.0,
                 max_gap: float = MAX_GAP_S, now: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.target = Path(target)
        times = [event_time(x) for x in lines]
        known = [t for t in times if t is not None]
        # Shift so the sample's last event lands at the replay's start.
        self.offset = (now() - max(known)) if known else 0.0
        self.lines = list(lines)
        self.times = times
        self.plan = schedule(times, speed, max_gap=max_gap)
        self.speed = speed
        self._monotonic = monotonic
        self._sleep = sleep
        self.progress = Progress(0, len(self.lines))

    @property
    def duration(self) -> float:
        """Wall seconds the whole replay takes."""
        return self.plan[-1] if self.plan else 0.0

    def sample_minutes(self) -> float:
        known = [t for t in self.times if t is not None]
        return (max(known) - min(known)) / 60.0 if known else 0.0

    def _write(self, chunk: list[bytes]) -> None:
        data = b"".join(chunk)
        # One O_APPEND write per batch: a reader sees whole lines or nothing new.
        fd = os.open(self.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        finally:
            os.close(fd)

    async def run(self, stop: asyncio.Event | None = None) -> Progress:
        """Write every line at its time; returns early (whole lines only) when ``stop`` is set."""
        t0 = self._monotonic()
        i = 0
        n = len(self.lines)
        while i < n:
            if stop is not None and stop.is_set():
                break
            due = self.plan[i]
            wait = due - (self._monotonic() - t0)
            if wait > 0:
                if stop is not None:
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=wait)
                        break
                    except TimeoutError:
                        pass
                else:
                    await self._sleep(wait)
            j = i
            while j < n and self.plan[j] <= due + BATCH_S:
                j += 1
            chunk = [shift(x, self.offset) for x in self.lines[i:j]]
            await asyncio.to_thread(self._write, chunk)
            i = j
            self.progress = Progress(i, n)
        return self.progress
