"""The journal's canonical encoding and hash chain (pure, no I/O).

An auditor can re-check a chain in any language from this description:

* Every entry has: ``incident`` (the human id, e.g. ``IR-2026-0042``),
  ``seq`` (1, 2, 3, ... within the incident), ``ts`` (UTC, ISO 8601 with
  microseconds and a ``Z``, e.g. ``2026-11-26T22:30:00.123456Z``),
  ``actor`` (``user@host``), ``kind`` (e.g. ``note``), ``body`` (a JSON object)
  and ``prev`` (the previous entry's hash; 64 zeros for ``seq`` 1).
* ``body`` is stored as its canonical JSON text: keys sorted by code point,
  no insignificant whitespace (``,`` and ``:`` separators), every character
  outside printable ASCII escaped as ``\\uXXXX`` (lower-case hex, UTF-16
  surrogate pairs above U+FFFF), ``\\"`` ``\\\\`` ``\\n`` ``\\r`` ``\\t`` ``\\b``
  ``\\f`` as two-character escapes, no NaN or Infinity. The stored text is
  hashed as it is, so a re-checker never needs to re-encode a body.
* The hashed line is, with ``S(x)`` the same string escaping and ``N(x)`` the
  decimal integer::

      {"actor":S(actor),"body":BODY,"incident":S(incident),"kind":S(kind),"prev":S(prev),"seq":N(seq),"ts":S(ts)}

  which is exactly the canonical JSON of the whole entry.
* ``hash = lowercase hex SHA-256 of the ASCII bytes of that line``.
* The incident's head record holds the entry count and the last hash, so a
  removed tail is detected too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 200

_encode_str = json.encoder.encode_basestring_ascii


class JournalEncodingError(ValueError):
    """A body that cannot be journaled (too large, too deep, not JSON)."""


def _depth_ok(value: Any, limit: int) -> bool:
    # Iterative walk: a recursive one would hit Python's own recursion limit
    # on exactly the hostile input this guards against.
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in item)
    return True


def canonical_body(body: dict[str, Any]) -> str:
    """The canonical JSON text of a body, or JournalEncodingError."""
    if not isinstance(body, dict):
        raise JournalEncodingError("a journal body must be a JSON object")
    if not _depth_ok(body, MAX_DEPTH):
        raise JournalEncodingError(f"journal body is nested deeper than {MAX_DEPTH} levels")
    try:
        text = json.dumps(
            body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise JournalEncodingError(f"journal body is not plain JSON: {exc}") from exc
    if len(text) > MAX_BODY_BYTES:
        raise JournalEncodingError(
            f"journal body is {len(text)} bytes encoded; the limit is {MAX_BODY_BYTES}"
        )
    return text


def format_ts(ts: datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def entry_line(
    incident: str, seq: int, ts: str, actor: str, kind: str, body_text: str, prev: str
) -> str:
    return (
        '{"actor":' + _encode_str(actor)
        + ',"body":' + body_text
        + ',"incident":' + _encode_str(incident)
        + ',"kind":' + _encode_str(kind)
        + ',"prev":' + _encode_str(prev)
        + ',"seq":' + str(int(seq))
        + ',"ts":' + _encode_str(ts)
        + "}"
    )


def entry_hash(
    incident: str, seq: int, ts: str, actor: str, kind: str, body_text: str, prev: str
) -> str:
    line = entry_line(incident, seq, ts, actor, kind, body_text, prev)
    return hashlib.sha256(line.encode("ascii")).hexdigest()


@dataclass(slots=True, frozen=True)
class ChainEntry:
    """One journal entry as stored (the fields the hash covers, plus it)."""

    incident: str
    seq: int
    ts: str
    actor: str
    kind: str
    body: str
    prev: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "kind": self.kind,
            "body": json.loads(self.body),
            "prev": self.prev,
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChainEntry:
        """Rebuild from an export; the body is re-canonicalized (exports carry it parsed)."""
        return cls(
            incident=str(d["incident"]),
            seq=int(d["seq"]),
            ts=str(d["ts"]),
            actor=str(d["actor"]),
            kind=str(d["kind"]),
            body=canonical_body(d["body"]),
            prev=str(d["prev"]),
            hash=str(d["hash"]),
        )


@dataclass(slots=True, frozen=True)
class ChainProblem:
    incident: str
    seq: int  # the first bad entry's position (the expected seq for gaps)
    reason: str

    def __str__(self) -> str:
        return f"{self.incident}: entry {self.seq}: {self.reason}"


def verify_chain(
    incident: str,
    entries: Iterable[ChainEntry],
    head_count: int | None = None,
    head_hash: str | None = None,
) -> tuple[int, ChainProblem | None]:
    """Walk one incident's entries in stored order; return (count, first problem)."""
    rows = ((e.seq, e.ts, e.actor, e.kind, e.body, e.prev, e.hash) for e in entries)
    return verify_rows(incident, rows, head_count, head_hash)


Row = tuple[int, str, str, str, str, str, str]  # seq, ts, actor, kind, body, prev, hash


def verify_rows(
    incident: str,
    rows: Iterable[Row],
    head_count: int | None = None,
    head_hash: str | None = None,
) -> tuple[int, ChainProblem | None]:
    """``verify_chain`` over plain row tuples: the fast path for whole-database checks."""
    prev = GENESIS
    expected = 1
    sha256 = hashlib.sha256
    enc = _encode_str
    tail = ',"incident":' + enc(incident) + ',"kind":'
    for seq, ts, actor, kind, body, row_prev, row_hash in rows:
        if seq != expected:
            what = "missing or reordered" if seq > expected else "duplicate or reordered"
            return expected - 1, ChainProblem(
                incident, expected, f"{what}: found seq {seq} where {expected} was expected"
            )
        if row_prev != prev:
            return expected - 1, ChainProblem(
                incident, seq, "prev hash does not match the previous entry (inserted, "
                "removed or reordered entry)"
            )
        line = (
            '{"actor":' + enc(actor) + ',"body":' + body + tail + enc(kind)
            + ',"prev":"' + row_prev + '","seq":' + str(seq) + ',"ts":' + enc(ts) + "}"
        )
        # A prev that is not plain hex would be escaped differently; it already
        # failed the equality check above unless it equals a real hash.
        h = sha256(line.encode("ascii")).hexdigest()
        if h != row_hash:
            return expected - 1, ChainProblem(
                incident, seq, "content does not match its hash (entry edited)"
            )
        prev = h
        expected += 1
    count = expected - 1
    if head_count is not None and head_count != count:
        return count, ChainProblem(
            incident, count + 1,
            f"head record says {head_count} entries but {count} are present "
            "(entries removed from the end)" if head_count > count else
            f"head record says {head_count} entries but {count} are present",
        )
    if head_hash is not None and head_hash != prev:
        return count, ChainProblem(
            incident, count, "last entry's hash does not match the head record"
        )
    return count, None


def iter_chain_entries(rows: Iterable[tuple[Any, ...]]) -> Iterator[ChainEntry]:
    for r in rows:
        yield ChainEntry(*r)
