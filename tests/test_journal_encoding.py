"""The canonical encoding: documented, independently re-checkable, lossless."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ircon.model.journal import (
    GENESIS,
    JournalEncodingError,
    canonical_body,
    entry_hash,
    verify_chain,
)
from ircon.store import incidents
from ircon.store.journal import append, entries, verify


def auditor_escape(s: str) -> str:
    """The string escaping as documented in ircon.model.journal, written independently."""
    short = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
             "\b": "\\b", "\f": "\\f"}
    out = ['"']
    for ch in s:
        cp = ord(ch)
        if ch in short:
            out.append(short[ch])
        elif 0x20 <= cp < 0x7F:
            out.append(ch)
        elif cp > 0xFFFF:
            cp -= 0x10000
            out.append(f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}")
        else:
            out.append(f"\\u{cp:04x}")
    out.append('"')
    return "".join(out)


def auditor_hash(e: dict) -> str:
    line = (
        '{"actor":' + auditor_escape(e["actor"]) + ',"body":' + e["body_text"]
        + ',"incident":' + auditor_escape(e["incident"]) + ',"kind":' + auditor_escape(e["kind"])
        + ',"prev":' + auditor_escape(e["prev"]) + ',"seq":' + str(e["seq"])
        + ',"ts":' + auditor_escape(e["ts"]) + "}"
    )
    return hashlib.sha256(line.encode("ascii")).hexdigest()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
bodies = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


@given(body=bodies, actor=st.text(max_size=20), kind=st.text(min_size=1, max_size=12))
def test_independent_auditor_agrees(body: dict, actor: str, kind: str) -> None:
    text = canonical_body(body)
    assert text.isascii()
    assert json.loads(text) == body
    e = {"incident": "IR-2026-0001", "seq": 1, "ts": "2026-11-26T22:30:00.000000Z",
         "actor": actor, "kind": kind, "body_text": text, "prev": GENESIS}
    assert auditor_hash(e) == entry_hash(
        e["incident"], 1, e["ts"], actor, kind, text, GENESIS
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_store_round_trip_any_content(store, body: dict) -> None:  # type: ignore[no-untyped-def]
    inc = incidents.create(store, "round trip")
    e = append(store, inc["id"], "note", body)
    back = entries(store, inc["id"])[-1]
    assert back.hash == e.hash
    assert json.loads(back.body) == body
    assert verify(store, inc["id"]).ok


def test_nul_surrogates_and_all_planes_round_trip(store) -> None:  # type: ignore[no-untyped-def]
    inc = incidents.create(store, "t")
    body = {"nul": "a\x00b", "lone": "\ud800x\udfff", "emoji": "\U0001F600",
            "tags": "".join(chr(c) for c in range(0xE0000, 0xE0080)),
            "ctrl": "".join(chr(c) for c in range(32)), "\x00key": 1}
    append(store, inc["id"], "note", body)
    assert json.loads(entries(store, inc["id"])[-1].body) == body
    assert verify(store).ok


def test_ten_megabyte_body_is_byte_exact(store) -> None:  # type: ignore[no-untyped-def]
    inc = incidents.create(store, "big")
    big = "é" * (10 * 1024 * 1024 // 6) + "end"  # ~10 MB once escaped
    append(store, inc["id"], "note", {"text": big})
    assert json.loads(entries(store, inc["id"])[-1].body)["text"] == big
    assert verify(store).ok


def test_too_deep_or_too_big_or_not_json_is_refused_cleanly(store) -> None:  # type: ignore[no-untyped-def]
    inc = incidents.create(store, "t")
    deep: dict = {}
    cur = deep
    for _ in range(5000):
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(JournalEncodingError, match="nested deeper"):
        append(store, inc["id"], "note", deep)
    with pytest.raises(JournalEncodingError, match="limit"):
        append(store, inc["id"], "note", {"t": "x" * (17 * 1024 * 1024)})
    with pytest.raises(JournalEncodingError, match="not plain JSON"):
        append(store, inc["id"], "note", {"t": float("nan")})
    with pytest.raises(JournalEncodingError, match="not plain JSON"):
        append(store, inc["id"], "note", {"t": object()})
    # Nothing half-written: the chain still has only the opening entry.
    assert [e.seq for e in entries(store, inc["id"])] == [1]
    assert verify(store).ok


def test_verify_chain_detects_every_kind_of_change() -> None:
    from ircon.model.journal import ChainEntry

    chain: list[ChainEntry] = []
    prev = GENESIS
    for seq in range(1, 6):
        body = canonical_body({"n": seq})
        ts = f"2026-11-26T00:00:0{seq}.000000Z"
        h = entry_hash("IR-1", seq, ts, "a@b", "note", body, prev)
        chain.append(ChainEntry("IR-1", seq, ts, "a@b", "note", body, prev, h))
        prev = h
    assert verify_chain("IR-1", chain, 5, prev) == (5, None)
    import dataclasses

    bad = list(chain)
    bad[2] = dataclasses.replace(bad[2], body=canonical_body({"n": 99}))
    assert verify_chain("IR-1", bad, 5, prev)[1].seq == 3  # type: ignore[union-attr]
    assert verify_chain("IR-1", chain[:2] + chain[3:], 5, prev)[1].seq == 3  # type: ignore[union-attr]
    assert verify_chain("IR-1", [chain[1], chain[0], *chain[2:]], 5, prev)[1].seq == 1  # type: ignore[union-attr]
    assert verify_chain("IR-1", chain[:4], 5, prev)[1] is not None  # tail removed
    assert verify_chain("IR-1", chain[:4], 4, chain[3].hash)[1] is None
