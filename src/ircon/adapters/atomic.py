"""Crash-safe rewrites of files other programs read (flag files, blocklists).

Readers see either the old or the new file, never a torn one: the new content
goes to a temporary file in the same directory, is fsynced, then renamed over
the original, and the directory is fsynced. A sidecar lock serializes
read-modify-write between ircon processes so no edit is lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

MAX_FILE = 16 * 1024 * 1024

# Called between fsync and rename; tests use it to crash at the worst moment.
before_rename: Callable[[Path], None] | None = None


class FileEditError(Exception):
    pass


@contextlib.contextmanager
def locked(path: Path, timeout: float = 10.0) -> Iterator[None]:
    """Exclusive lock on ``path``'s sidecar ``.lock`` file for a read-modify-write."""
    import time

    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise FileEditError(
                        f"{path} is locked by another writer (timed out)") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def read_text(path: Path) -> str | None:
    """The file's text, None when it does not exist; bounded and UTF-8 checked."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FileEditError(f"cannot read {path}: {exc.strerror}") from exc
    if st.st_size > MAX_FILE:
        raise FileEditError(f"{path} is larger than {MAX_FILE} bytes; refusing to rewrite it")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileEditError(f"{path} is not UTF-8 (byte {exc.start}); left untouched") from exc
    except OSError as exc:
        raise FileEditError(f"cannot read {path}: {exc.strerror}") from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp file, fsync, rename, dir fsync)."""
    directory = path.parent
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise FileEditError(f"cannot write in {directory}: {exc.strerror}") from exc
    tmp_path = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_path, mode)
        if before_rename is not None:
            before_rename(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def stale_temps(path: Path) -> list[Path]:
    """Temporary files a crashed writer left beside ``path``."""
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def clean_stale(path: Path) -> None:
    for p in stale_temps(path):
        with contextlib.suppress(OSError):
            p.unlink()
