"""LLM gateway telemetry: JSONL files read or followed like ``tail -F``, each line
normalized into a ``TelemetryEvent`` for the detectors.

Every line is attacker-influenced. Nothing here raises on bad input: a line that is not
JSON, truncated, nested too deeply, longer than the cap or of no known format becomes a
``Skipped`` (origin, 1-based line number, reason) and reading goes on. Invalid UTF-8 and
lone surrogate escapes are repaired (U+FFFD) rather than skipped, so one bad byte cannot
hide a request from the detectors.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import re
import stat
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

import orjson
from orjson import JSONDecodeError
from orjson import loads as _loads

from ircon.model.telemetry import TelemetryEvent
from ircon.model.text import one_line
from ircon.sources.base import PullResult, SourceHealth
from ircon.sources.formats import FORMATS, detect_format
from ircon.sources.formats.litellm_fast import event as _litellm_event

if TYPE_CHECKING:
    from ircon.sources.settings import TelemetrySource as TelemetrySourceConfig

__all__ = [
    "FileFollower", "Skipped", "TelemetrySource", "detect_format", "from_config", "normalize",
    "normalize_all", "parse_line", "parse_line_all", "read_file",
]

DEFAULT_MAX_LINE = 8 << 20
_CHUNK = 1 << 20


@dataclass(slots=True, frozen=True)
class Skipped:
    """A line that produced no event, and why."""

    origin: str
    line: int
    reason: str


# --- decoding -----------------------------------------------------------------------------

# \uD800-\uDBFF not followed by a low surrogate escape, or \uDC00-\uDFFF not preceded by a
# high one: valid JSON that orjson (rightly) refuses to turn into a Python str.
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def _none(_: str) -> None:
    return None


def _decode(raw: bytes) -> Any:
    """The JSON value of one line; raises ValueError with a readable reason."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        err = str(e)
    # Slow path, only for lines orjson refused: repair, then retry.
    fixed = raw
    if "UTF-8" in err:
        fixed = fixed.decode("utf-8", "replace").encode("utf-8")
    if b"\\u" in fixed:
        fixed = _LONE_SURROGATE.sub(rb"\\ufffd", fixed)
    if fixed is not raw:
        try:
            return orjson.loads(fixed)
        except orjson.JSONDecodeError as e:
            err = str(e)
    if "expected a JSON value" in err or "infinity" in err:
        # Python's json module writes NaN/Infinity by default; read such lines too.
        try:
            return json.loads(fixed, parse_constant=_none)
        except (ValueError, RecursionError):
            pass
    if "end of data" in err:
        raise ValueError(f"truncated JSON ({len(raw)} bytes, ends mid-value)")
    if "depth limit" in err:
        raise ValueError("JSON nested too deeply (over 1024 levels)")
    raise ValueError(f"not JSON: {one_line(err, 120)}")


def _kind(v: Any) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number",
            bool: "a boolean"}.get(type(v), "null")


def _describe_keys(obj: dict[str, Any]) -> str:
    keys = [one_line(str(k), 40) for k in list(obj)[:6]]
    more = ", ..." if len(obj) > 6 else ""
    return ", ".join(keys) + more if keys else "none"


# --- normalization ------------------------------------------------------------------------

_MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError,
              OverflowError)


def _events(obj: Any, fmt: str, origin: str, line: int) -> list[TelemetryEvent]:
    if type(obj) is not dict:
        raise ValueError(f"not a JSON object ({_kind(obj)})")
    detected = detect_format(obj)
    if fmt == "auto":
        if detected is None:
            raise ValueError(f"unknown format (top-level keys: {_describe_keys(obj)})")
        fmt = detected
    elif fmt not in FORMATS:
        raise ValueError(f"unknown format name {one_line(fmt, 40)!r}; "
                         f"expected auto, {', '.join(FORMATS)}")
    elif detected is not None and detected != fmt:
        raise ValueError(f"record looks like {detected}, not {fmt}")
    try:
        return FORMATS[fmt](obj, origin, line)
    except ValueError:
        raise
    except _MALFORMED as e:
        raise ValueError(f"malformed {fmt} record ({type(e).__name__})") from None


def normalize_all(obj: Any, fmt: str = "auto", *, origin: str = "",
                  line: int = 0) -> list[TelemetryEvent]:
    """All events in one decoded record (an OTLP batch can hold many spans).
    Raises ValueError with a reason when the record cannot be normalized."""
    return _events(obj, fmt, origin, line)


def normalize(obj: dict[str, Any], fmt: str = "auto", *, origin: str = "",
              line: int = 0) -> TelemetryEvent:
    """The event of one decoded record (the first, for a multi-span OTLP batch).
    Raises ValueError with a reason when the record cannot be normalized."""
    return _events(obj, fmt, origin, line)[0]


def _parse(line: bytes | str, fmt: str, origin: str, lineno: int) -> list[TelemetryEvent] | Skipped:
    if fmt == "auto" or fmt == "litellm":
        # LiteLLM callback records, the bulk of gateway telemetry, decoded into typed
        # structs; it answers None for anything it does not handle exactly as below.
        ev = _litellm_event(line, origin, lineno)
        if ev is not None:
            return [ev]
    return _parse_generic(line, fmt, origin, lineno)


def _parse_generic(line: bytes | str, fmt: str, origin: str,
                   lineno: int) -> list[TelemetryEvent] | Skipped:
    try:
        try:
            obj = _loads(line)
        except JSONDecodeError:
            raw = line.encode("utf-8", "surrogatepass") if type(line) is str else line
            obj = _decode(raw)  # type: ignore[arg-type]
        return _events(obj, fmt, origin, lineno)
    except ValueError as e:
        return Skipped(origin, lineno, str(e))
    except _MALFORMED as e:  # pragma: no cover - a bug, but never fatal to the reader
        return Skipped(origin, lineno, f"unreadable line ({type(e).__name__})")


def parse_line_all(line: bytes | str, fmt: str = "auto", *, origin: str = "",
                   lineno: int = 0) -> list[TelemetryEvent] | Skipped:
    """Every event of one raw line, or why there is none. Never raises."""
    return _parse(line, fmt, origin, lineno)


def parse_line(line: bytes | str, fmt: str = "auto", *, origin: str = "",
               lineno: int = 0) -> TelemetryEvent | Skipped:
    """The event of one raw line (the first, for a multi-span OTLP batch), or why there is
    none. Never raises."""
    if fmt == "auto" or fmt == "litellm":
        ev = _litellm_event(line, origin, lineno)  # as in ``_parse``, without the list
        if ev is not None:
            return ev
    r = _parse_generic(line, fmt, origin, lineno)
    return r[0] if type(r) is list else r  # type: ignore[return-value]


def _results(lines: list[tuple[int, bytes]], skipped: list[tuple[int, str]], origin: str,
             fmt: str) -> Iterator[TelemetryEvent | Skipped]:
    """Parsed lines and over-long ones, in line order."""
    pending = iter(skipped)
    nxt = next(pending, None)
    for n, raw in lines:
        while nxt is not None and nxt[0] < n:
            yield Skipped(origin, nxt[0], nxt[1])
            nxt = next(pending, None)
        if not raw.strip():
            continue
        r = _parse(raw, fmt, origin, n)
        if type(r) is list:
            yield from r
        else:
            yield r  # type: ignore[misc]
    while nxt is not None:
        yield Skipped(origin, nxt[0], nxt[1])
        nxt = next(pending, None)


# --- line splitting -----------------------------------------------------------------------


class _Lines:
    """Splits a byte stream into numbered lines without ever buffering more than
    ``max_line`` bytes of one line; longer lines are reported and discarded."""

    __slots__ = ("buf", "discarding", "lineno", "max_line")

    def __init__(self, max_line: int, lineno: int = 0) -> None:
        self.buf = bytearray()
        self.discarding = False
        self.lineno = lineno
        self.max_line = max_line

    def _too_long(self, skipped: list[tuple[int, str]]) -> None:
        skipped.append((self.lineno, f"line longer than {self.max_line} bytes; discarded"))

    def feed(self, data: bytes, out: list[tuple[int, bytes]],
             skipped: list[tuple[int, str]]) -> None:
        parts = data.split(b"\n")
        tail = parts.pop()
        for i, seg in enumerate(parts):
            if i == 0 and (self.buf or self.discarding):
                if self.discarding:  # this newline ends a line already reported
                    self.discarding = False
                    continue
                seg = bytes(self.buf) + seg
                self.buf.clear()
            self.lineno += 1
            if len(seg) > self.max_line:
                self._too_long(skipped)
                continue
            if seg[-1:] == b"\r":
                seg = seg[:-1]
            out.append((self.lineno, seg))
        if self.discarding:
            return
        if len(self.buf) + len(tail) > self.max_line:
            self.lineno += 1
            self._too_long(skipped)
            self.buf.clear()
            self.discarding = True
        elif tail:
            self.buf += tail

    def flush(self, out: list[tuple[int, bytes]]) -> None:
        """End of stream: a last line without its newline is still a line."""
        if self.buf and not self.discarding:
            self.lineno += 1
            out.append((self.lineno, bytes(self.buf)))
        self.buf.clear()
        self.discarding = False


def read_file(path: str | Path, fmt: str = "auto", *,
              max_line: int = DEFAULT_MAX_LINE) -> Iterator[TelemetryEvent | Skipped]:
    """Events and skipped lines of a whole JSONL file (``-`` reads stdin), in order.
    Raises OSError only when the file cannot be opened or read."""
    origin = str(path)
    splitter = _Lines(max_line)
    first = True
    fh: BinaryIO
    with (open(path, "rb") if origin != "-" else _stdin()) as fh:
        while True:
            data = fh.read(_CHUNK)
            if first and data[:3] == b"\xef\xbb\xbf":
                data = data[3:]
            first = False
            out: list[tuple[int, bytes]] = []
            skipped: list[tuple[int, str]] = []
            if not data:
                splitter.flush(out)
                yield from _results(out, skipped, origin, fmt)
                return
            splitter.feed(data, out, skipped)
            yield from _results(out, skipped, origin, fmt)


def _stdin() -> BinaryIO:
    return os.fdopen(os.dup(sys.stdin.fileno()), "rb")


# --- following ----------------------------------------------------------------------------


class _Tail:
    __slots__ = ("fh", "ident", "lines", "path")

    def __init__(self, path: str, fh: BinaryIO, ident: tuple[int, int], lines: _Lines) -> None:
        self.path = path
        self.fh = fh
        self.ident = ident
        self.lines = lines


def _count_newlines(fh: BinaryIO, size: int) -> tuple[int, bool]:
    """(newlines in the first ``size`` bytes, whether they end with a newline)."""
    fh.seek(0)
    n, left, last = 0, size, b"\n"
    while left > 0:
        data = fh.read(min(_CHUNK, left))
        if not data:
            break
        n += data.count(b"\n")
        left -= len(data)
        last = data[-1:]
    return n, last == b"\n"


# path -> (device, inode, offset after the last complete line, its line number,
# whether an over-long line is being discarded there)
Checkpoint = dict[str, tuple[int, int, int, int, bool]]


class _Start(NamedTuple):
    ident: tuple[int, int]
    offset: int
    lineno: int | None = None  # known (a checkpoint) or to be counted
    discarding: bool = False


class FileFollower:
    """Follows JSONL files like ``tail -F``.

    ``paths`` may hold globs; they are expanded again on every poll, so files that appear
    later are picked up (and read from their start). Files present at construction are
    read from their end unless ``from_start``. Rotation by rename-and-recreate is seen
    as a new inode at the path: the old file is read to its end first, then the new one
    from its start. Truncation in place (copytruncate) restarts the file from its start.
    Line numbers are per file and restart with a new or truncated file. Lines longer
    than ``max_line`` bytes are discarded and reported by ``take_skipped``.
    """

    def __init__(self, paths: list[str], *, from_start: bool = False,
                 max_line: int = DEFAULT_MAX_LINE, max_bytes_per_poll: int = 16 << 20,
                 resume: Checkpoint | None = None) -> None:
        self.patterns = [os.path.expanduser(p) for p in paths]
        self.max_line = max_line
        self.max_bytes_per_poll = max_bytes_per_poll
        self.errors: dict[str, str] = {}  # path -> current problem, for health reports
        self._tails: dict[str, _Tail] = {}
        self._skipped: list[Skipped] = []
        # Where pre-existing files start being read: their size now, not at the first poll,
        # so lines written in between are not lost.
        self._start_at: dict[str, _Start] = {}
        if not from_start:
            for p in self._expand():
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    self._start_at[p] = _Start((st.st_dev, st.st_ino), st.st_size)
        # A checkpoint (``checkpoint()`` of an earlier follower, e.g. an engine that
        # died) says where reading stopped: go on from there, so that lines written in
        # between are read. A file replaced since is new: read from its start; one
        # shorter than the offset was truncated: likewise.
        for p, (dev, ino, offset, lineno, discarding) in (resume or {}).items():
            try:
                st = os.stat(p)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if (st.st_dev, st.st_ino) == (dev, ino) and st.st_size >= offset:
                self._start_at[p] = _Start((dev, ino), offset, lineno, discarding)
            else:
                self._start_at[p] = _Start((st.st_dev, st.st_ino), 0, 0, False)

    def _expand(self) -> list[str]:
        seen: dict[str, None] = {}
        for pat in self.patterns:
            if glob.has_magic(pat):
                for p in sorted(glob.glob(pat)):
                    seen.setdefault(p, None)
            else:
                seen.setdefault(pat, None)
        return list(seen)

    @property
    def files(self) -> list[str]:
        """Paths currently open."""
        return list(self._tails)

    def take_skipped(self) -> list[Skipped]:
        """Lines discarded by the follower itself (over-long) since the last call."""
        out, self._skipped = self._skipped, []
        return out

    def close(self) -> None:
        for t in self._tails.values():
            t.fh.close()
        self._tails.clear()

    def _open(self, path: str, st: os.stat_result) -> _Tail:
        fh = open(path, "rb", buffering=0)  # noqa: SIM115 - held open across polls
        try:
            ident = (st.st_dev, st.st_ino)
            lines = _Lines(self.max_line)
            start = self._start_at.pop(path, None)
            if start is not None and start.ident == ident and start.lineno is not None:
                fh.seek(start.offset)  # a checkpoint: its line number is known
                lines.lineno = start.lineno
                lines.discarding = start.discarding
            elif start is not None and start.ident == ident:
                n, clean = _count_newlines(fh, start.offset)
                fh.seek(start.offset)
                lines.lineno = n
                if not clean:  # started mid-line: drop that line's rest silently
                    lines.lineno += 1
                    lines.discarding = True
            return _Tail(path, fh, ident, lines)
        except OSError:
            fh.close()
            raise

    def _read(self, t: _Tail, out: list[tuple[str, int, bytes]], budget: list[int]) -> bool:
        """Read what is new; True when the end of the file was reached."""
        lines: list[tuple[int, bytes]] = []
        skipped: list[tuple[int, str]] = []
        eof = False
        while budget[0] > 0:
            data = t.fh.read(min(_CHUNK, budget[0]))
            if not data:
                eof = True
                break
            budget[0] -= len(data)
            t.lines.feed(data, lines, skipped)
        out.extend((t.path, n, raw) for n, raw in lines)
        self._skipped.extend(Skipped(t.path, n, r) for n, r in skipped)
        return eof

    def checkpoint(self) -> Checkpoint:
        """Where each open file's reading stands: after the last complete line that
        ``poll`` returned (a partial line is read again), as JSON-ready lists."""
        out: Checkpoint = {}
        for path, t in self._tails.items():
            try:
                pos = t.fh.tell()
            except (OSError, ValueError):
                continue
            out[path] = (t.ident[0], t.ident[1], pos - len(t.lines.buf), t.lines.lineno,
                         t.lines.discarding)
        return out

    def poll(self) -> list[tuple[str, int, bytes]]:
        """New complete lines since the last poll: (path, line number, raw bytes)."""
        out: list[tuple[str, int, bytes]] = []
        budget = [self.max_bytes_per_poll]
        current = self._expand()
        for path in current:
            t = self._tails.get(path)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                if t is not None:  # rotated away, not yet recreated: keep draining
                    self._read(t, out, budget)
                self.errors.pop(path, None)
                continue
            except OSError as e:
                self.errors[path] = f"cannot stat: {e.strerror or e}"
                continue
            if not stat.S_ISREG(st.st_mode):
                self.errors[path] = "not a regular file"
                continue
            try:
                if t is not None and t.ident != (st.st_dev, st.st_ino):
                    # Rotated: finish the old file, then switch to the new one.
                    if not self._read(t, out, budget):
                        continue
                    tail_lines: list[tuple[int, bytes]] = []
                    t.lines.flush(tail_lines)
                    out.extend((path, n, raw) for n, raw in tail_lines)
                    t.fh.close()
                    del self._tails[path]
                    t = None
                if t is None:
                    t = self._tails[path] = self._open(path, st)
                elif st.st_size < t.fh.tell():
                    t.fh.seek(0)  # truncated in place
                    t.lines = _Lines(self.max_line)
                self._read(t, out, budget)
                self.errors.pop(path, None)
            except OSError as e:
                self.errors[path] = f"cannot read: {e.strerror or e}"
        for path in [p for p in self._tails if p not in current]:
            # A glob match that disappeared: read what is left, then let go.
            t = self._tails.pop(path)
            try:
                self._read(t, out, budget)
                tail_lines = []
                t.lines.flush(tail_lines)
                out.extend((path, n, raw) for n, raw in tail_lines)
            except OSError:
                pass
            t.fh.close()
        return out


# --- the source ---------------------------------------------------------------------------


class TelemetrySource:
    """Source of telemetry events from followed JSONL files (``[[sources]] type =
    "telemetry"``); ``pull()`` returns the events and skipped lines since the last pull."""

    def __init__(self, name: str = "telemetry", paths: Iterable[str] = (), *,
                 fmt: str = "auto", interval: float = 0.5, from_start: bool = False,
                 max_line: int = DEFAULT_MAX_LINE, resume: Checkpoint | None = None) -> None:
        self.name = name
        self.interval = interval
        self.format = fmt
        self.health = SourceHealth()
        self.paths = list(paths)
        self.events_total = 0
        self.skipped_total = 0
        self._max_line = max_line
        self._follower = FileFollower(self.paths, from_start=from_start, max_line=max_line,
                                      resume=resume)
        self._lock: asyncio.Lock | None = None

    def checkpoint(self) -> Checkpoint:
        """Where reading stands (see ``FileFollower.checkpoint``)."""
        return self._follower.checkpoint()

    def rewind(self, to: Checkpoint) -> None:
        """Read again from ``to`` (what was pulled since was not handled)."""
        self._follower.close()
        # a file not in ``to`` appeared since: everything in it is unread
        self._follower = FileFollower(self.paths, from_start=True, max_line=self._max_line,
                                      resume=to)

    def pull_sync(self) -> PullResult:
        """One poll of the files, parsed (blocking; ``pull`` runs it in a thread)."""
        t0 = time.perf_counter()
        result = PullResult()
        for path, n, raw in self._follower.poll():
            if not raw.strip():
                continue
            r = _parse(raw, self.format, path, n)
            if type(r) is list:
                result.events.extend(r)
            else:
                result.skipped.append((r.origin, r.line, r.reason))  # type: ignore[union-attr]
        result.skipped.extend((s.origin, s.line, s.reason)
                              for s in self._follower.take_skipped())
        self.events_total += len(result.events)
        self.skipped_total += len(result.skipped)
        self._update_health(time.perf_counter() - t0)
        return result

    def _update_health(self, elapsed: float) -> None:
        h = self.health
        h.latency_ms = elapsed * 1000.0
        problem = None
        if not self.paths:
            problem = "no paths configured"
        elif self._follower.errors:
            problem = "; ".join(f"{p}: {e}" for p, e in list(self._follower.errors.items())[:3])
        elif not self._follower.files:
            problem = "no file matches " + ", ".join(self.paths[:3])
        now = datetime.now(UTC)
        if problem is None:
            h.healthy, h.last_success, h.consecutive_failures = True, now, 0
        else:
            h.healthy = False
            h.last_error, h.last_error_at = problem, now
            h.consecutive_failures += 1

    async def pull(self) -> PullResult:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one poll at a time: the follower keeps file offsets
            return await asyncio.to_thread(self.pull_sync)

    async def aclose(self) -> None:
        self._follower.close()


def from_config(cfg: TelemetrySourceConfig, resume: Checkpoint | None = None
                ) -> TelemetrySource:
    return TelemetrySource(
        cfg.name, cfg.paths, fmt=cfg.format, interval=cfg.interval,
        from_start=cfg.from_start, max_line=cfg.max_line_bytes, resume=resume,
    )
