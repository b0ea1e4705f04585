"""Journal exports (json, jsonl, md) share the report module's rendering and escaping."""

from __future__ import annotations

import io
import json
import re

from ircon.model import kinds as K
from ircon.model.journal import verify_chain
from ircon.report import render
from ircon.store import incidents, journal
from tests.report_support import HOSTILE


def test_journal_exports_round_trip_and_stay_inert(store) -> None:  # type: ignore[no-untyped-def]
    hid = incidents.create(store, f"title {HOSTILE}")["id"]
    journal.append(store, hid, K.NOTE, {"text": HOSTILE})
    inc = incidents.get(store, hid)
    for fmt in ("json", "jsonl"):
        buf = io.StringIO()
        if fmt == "json":
            render.write_json(journal.iter_entries(store, hid), inc, buf)
            assert json.loads(buf.getvalue())["head"]["count"] == 2
        else:
            render.write_jsonl(journal.iter_entries(store, hid), buf)
        got_id, items = render.read_export(buf.getvalue())
        assert got_id == hid and verify_chain(hid, items) == (2, None)
    buf = io.StringIO()
    render.write_markdown(journal.iter_entries(store, hid), inc, buf)
    md = buf.getvalue()
    assert "\x1b" not in md and "\u202e" not in md
    prose = re.sub(r"(?ms)^(`{3,})[a-z]*\n.*?\n\1$", "", md)
    for line in prose.splitlines():
        if "7\\*7" in line:
            assert not re.search(r"(?<!\\)[{}<*\[`|]", line), line
