"""Reading and following telemetry files: hostile lines, rotation, truncation, the source."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import orjson
import pytest

from ircon.model.telemetry import TelemetryEvent
from ircon.sources.base import Source
from ircon.sources.settings import TelemetrySource as TelemetryConfig
from ircon.sources.telemetry import (
    FileFollower,
    Skipped,
    TelemetrySource,
    from_config,
    read_file,
)
from tests import telemetry_support as ts


def _rec(i: int) -> dict[str, object]:
    r = ts.litellm_standard()
    r["id"] = f"req-{i}"
    return r


def _line(i: int) -> bytes:
    return orjson.dumps(_rec(i)) + b"\n"


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def test_read_file_hostile_lines_never_stop_the_reader(tmp_path: Path) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    bad_utf8 = orjson.dumps(_rec(90)).replace(b"Where is", b"Where\xff\xfe is")
    lone = orjson.dumps(_rec(91)).replace(b"Where is", b"Where \\ud800 is")
    path = ts.write_jsonl(tmp_path / "gw.jsonl", [
        _rec(1),                                  # 1 good
        b"this is not json",                      # 2
        orjson.dumps(_rec(2))[:150],              # 3 truncated (writer crashed mid-line)
        b"",                                      # 4 blank: ignored, still counted
        b'{"some": "other", "log": 1}',           # 5 unknown format
        b"[1, 2, 3]",                             # 6 not an object
        deep,                                     # 7 nested too deeply
        bad_utf8,                                 # 8 invalid UTF-8: repaired, kept
        lone,                                     # 9 lone surrogate escape: repaired, kept
        b'{"call_type": "x", "startTime": 1, "messages": {"a": ' + b"[" * 40 + b"1"
        + b"]" * 40 + b"}}",                      # 10 odd but readable
        orjson.dumps(_rec(3)) + b"\r",            # 11 CRLF line ending
        _rec(4),                                  # 12
    ])
    out = list(read_file(path))
    events = [o for o in out if isinstance(o, TelemetryEvent)]
    skipped = {o.line: o.reason for o in out if isinstance(o, Skipped)}
    assert [e.request_id for e in events] == [
        "req-1", "req-90", "req-91", f"{path}:10", "req-3", "req-4"]
    assert [e.line for e in events] == [1, 8, 9, 10, 11, 12]
    assert sorted(skipped) == [2, 3, 5, 6, 7]
    assert skipped[2].startswith("not JSON")
    assert skipped[3].startswith("truncated JSON")
    assert skipped[5].startswith("unknown format")
    assert skipped[6] == "not a JSON object (an array)"
    assert "nested too deeply" in skipped[7]
    assert "\ufffd" in events[1].last_user_text and "\ufffd" in events[2].last_user_text
    assert all(o.origin == str(path) for o in out)
    # Line 10 is odd but a readable litellm record: no id (origin:line stands in), the
    # nested prompt is kept as text.
    assert events[3].messages and events[3].ts == 1.0


def test_read_file_caps_enormous_lines(tmp_path: Path) -> None:
    huge = orjson.dumps({**_rec(2), "messages": [{"role": "user", "content": "A" * 300_000}]})
    path = ts.write_jsonl(tmp_path / "big.jsonl", [_rec(1), huge, _rec(3)])
    out = list(read_file(path, max_line=64 * 1024))
    assert [o.line for o in out] == [1, 2, 3]  # in line order
    assert [o.request_id for o in out if isinstance(o, TelemetryEvent)] == ["req-1", "req-3"]
    sk = [o for o in out if isinstance(o, Skipped)]
    assert len(sk) == 1 and sk[0].line == 2 and "longer than 65536 bytes" in sk[0].reason
    assert [o.line for o in out if isinstance(o, TelemetryEvent)] == [1, 3]


def test_read_file_last_line_without_newline_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _line(1) + orjson.dumps(_rec(2)))
    out = list(read_file(path))
    assert [(o.request_id, o.line) for o in out if isinstance(o, TelemetryEvent)] == [
        ("req-1", 1), ("req-2", 2)]


def test_read_file_every_format_in_one_file(tmp_path: Path) -> None:
    path = ts.write_jsonl(tmp_path / "mixed.jsonl", [
        ts.litellm_standard(), ts.litellm_spend_log(), ts.otel_otlp_batch(),
        ts.otel_legacy_sdk_span(), ts.langfuse_generation(), ts.openai_chat_log(),
        ts.openai_responses_log()])
    events = [o for o in read_file(path) if isinstance(o, TelemetryEvent)]
    assert [e.format for e in events] == ["litellm", "litellm", "otel", "otel", "otel",
                                          "langfuse", "openai", "openai"]
    assert [e.line for e in events] == [1, 2, 3, 3, 4, 5, 6, 7]
    assert sum(1 for e in events for m in e.messages if m.role == "tool") >= 6


def test_read_file_missing_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        list(read_file(tmp_path / "nope.jsonl"))


# --- following ------------------------------------------------------------------------


def _ids(lines: list[tuple[str, int, bytes]]) -> list[str]:
    return [orjson.loads(raw)["id"] for _, _, raw in lines]


def test_follower_starts_at_end_and_completes_partial_lines(tmp_path: Path) -> None:
    path = tmp_path / "gw.jsonl"
    path.write_bytes(_line(1) + _line(2) + orjson.dumps(_rec(3))[:40])  # writer mid-line
    f = FileFollower([str(path)])
    assert f.poll() == []
    rest = orjson.dumps(_rec(3))[40:] + b"\n"
    _append(path, rest + _line(4) + _line(5)[:30])
    got = f.poll()
    # The line that was half-written before we started is not ours; 4 is, with its number.
    assert _ids(got) == ["req-4"] and got[0][1] == 4
    _append(path, _line(5)[30:])
    got = f.poll()
    assert _ids(got) == ["req-5"] and got[0][1] == 5
    f.close()


def test_follower_from_start_and_new_files_by_glob(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    a.write_bytes(_line(1))
    f = FileFollower([str(tmp_path / "*.jsonl")], from_start=True)
    assert _ids(f.poll()) == ["req-1"]
    b = tmp_path / "b.jsonl"
    b.write_bytes(_line(2) + _line(3))  # appeared later: read from its start
    got = f.poll()
    assert _ids(got) == ["req-2", "req-3"] and got[0][0] == str(b)
    assert sorted(f.files) == [str(a), str(b)]
    f.close()


def test_follower_survives_rename_rotation(tmp_path: Path) -> None:
    path = tmp_path / "gw.jsonl"
    path.write_bytes(b"")
    f = FileFollower([str(path)])
    _append(path, _line(1))
    assert _ids(f.poll()) == ["req-1"]
    # logrotate: rename, the writer still has the old file open and writes one more line,
    # then the new file is created and written.
    os.rename(path, tmp_path / "gw.jsonl.1")
    _append(tmp_path / "gw.jsonl.1", _line(2))
    assert _ids(f.poll()) == ["req-2"]  # path missing: keep draining the old file
    _append(tmp_path / "gw.jsonl.1", _line(3) + orjson.dumps(_rec(4)))  # no final newline
    path.write_bytes(_line(5))
    got = f.poll()
    assert _ids(got) == ["req-3", "req-4", "req-5"]
    assert [n for _, n, _ in got] == [3, 4, 1]  # the new file numbers from 1
    _append(path, _line(6))
    assert _ids(f.poll()) == ["req-6"]
    f.close()


def test_follower_survives_copytruncate(tmp_path: Path) -> None:
    path = tmp_path / "gw.jsonl"
    path.write_bytes(b"")
    f = FileFollower([str(path)])
    _append(path, _line(1) + _line(2))
    assert _ids(f.poll()) == ["req-1", "req-2"]
    with open(path, "r+b") as fh:  # copytruncate
        fh.truncate(0)
    _append(path, _line(3))
    got = f.poll()
    assert _ids(got) == ["req-3"] and got[0][1] == 1
    f.close()


def test_follower_bounds_line_length_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "gw.jsonl"
    path.write_bytes(b"")
    f = FileFollower([str(path)], max_line=4096)
    _append(path, _line(1) + b'{"x": "' + b"B" * 3000)
    assert _ids(f.poll()) == ["req-1"] and f.take_skipped() == []
    _append(path, b"B" * 3000)  # now over the cap, still no newline: reported now
    assert f.poll() == []
    sk = f.take_skipped()
    assert len(sk) == 1 and sk[0].line == 2 and "longer than 4096" in sk[0].reason
    _append(path, b"B" * 100_000 + b'"}\n' + _line(3))
    got = f.poll()
    assert _ids(got) == ["req-3"] and got[0][1] == 3
    assert f.take_skipped() == []
    f.close()


def test_follower_deleted_and_unreadable_paths(tmp_path: Path) -> None:
    d = tmp_path / "adir"
    d.mkdir()
    f = FileFollower([str(d), str(tmp_path / "missing.jsonl")])
    assert f.poll() == []
    assert f.errors == {str(d): "not a regular file"}
    f.close()


# --- the source -----------------------------------------------------------------------


async def test_telemetry_source_pull_and_health(tmp_path: Path) -> None:
    path = tmp_path / "gw.jsonl"
    path.write_bytes(_line(0))
    cfg = TelemetryConfig(name="gateway", paths=[str(tmp_path / "*.jsonl")],
                          max_line_bytes=64 * 1024, interval=0.2)
    src = from_config(cfg)
    assert isinstance(src, Source) and src.name == "gateway" and src.interval == 0.2
    first = await src.pull()
    assert first.events == [] and first.skipped == []  # existing content is history
    assert src.health.healthy and src.health.last_success is not None
    _append(path, _line(1) + b"garbage\n" + b"[" * 70_000 + b"\n" + _line(2))
    res = await src.pull()
    assert [e.request_id for e in res.events] == ["req-1", "req-2"]
    assert [(line, reason.split(" ")[0]) for _, line, reason in res.skipped] == [
        (3, "not"), (4, "line")]
    assert all(origin == str(path) for origin, _, _ in res.skipped)
    assert src.events_total == 2 and src.skipped_total == 2
    # Two concurrent pulls never interleave (file offsets are shared state).
    _append(path, _line(3))
    a, b = await asyncio.gather(src.pull(), src.pull())
    assert sorted(e.request_id for e in a.events + b.events) == ["req-3"]
    await src.aclose()


async def test_telemetry_source_unhealthy_without_files(tmp_path: Path) -> None:
    src = TelemetrySource("t", [str(tmp_path / "none-*.jsonl")])
    await src.pull()
    assert not src.health.healthy and "no file matches" in (src.health.last_error or "")
    (tmp_path / "none-1.jsonl").write_bytes(_line(1))
    res = await src.pull()
    assert [e.request_id for e in res.events] == ["req-1"] and src.health.healthy
    empty = TelemetrySource("t", [])
    await empty.pull()
    assert empty.health.last_error == "no paths configured"
    await src.aclose()


def test_config_rejects_bad_line_cap() -> None:
    with pytest.raises(ValueError, match="max_line_bytes"):
        TelemetryConfig(paths=["x"], max_line_bytes=10)
