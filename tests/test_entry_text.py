"""Journal entries read as one human line, whatever their kind or shape."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ircon.model import kinds as K
from ircon.model.entry_text import summarize


def line(kind: str, body: dict) -> str:
    return summarize(kind, json.dumps(body))


def test_known_kinds_read_naturally() -> None:
    assert line(K.STATUS, {"status": "acknowledged", "reason": "on it"}) == "acknowledged — on it"
    assert line(K.SEVERITY, {"severity": "SEV1", "reasons": ["72 keys"], "override": True}) \
        == "SEV1 (override) — 72 keys"
    assert line(K.GROUPING, {"alerts": 3, "decision": "joined this open incident",
                             "reason": "same campaign"}) \
        == "3 alert(s) joined this open incident · same campaign"
    assert line(K.DECISION, {"step": "personal-data", "option": "yes", "label": "Yes",
                             "starts_clock": "gdpr-72h"}) \
        == "personal-data: Yes (starts clock gdpr-72h)"
    assert line(K.ACTION_RESULT, {"adapter": "gw", "action": "block-key", "ok": False,
                                  "error": "HTTP 503"}) == "gw block-key FAILED · HTTP 503"
    assert line(K.NOTIFICATION, {"via": "json", "ok": True}) == "json · delivered"
    assert line(K.CLOCK, {"clock": "gdpr", "action": "met", "reference": "DPA-42"}) \
        == "gdpr met · DPA-42"


def test_unknown_kinds_and_odd_shapes_fall_back() -> None:
    assert line("custom", {"text": "hello"}) == "hello"
    assert line(K.SEVERITY, {"reasons": 5}) != ""  # a non-list does not raise
    assert summarize(K.NOTE, "not json") == "not json"
    assert summarize(K.NOTE, "[1, 2]") == "[1, 2]"


@given(kind=st.sampled_from([*vars(K).values(), "other"]),
       body=st.dictionaries(st.text(max_size=12),
                            st.none() | st.integers() | st.text(max_size=30)
                            | st.lists(st.text(max_size=5), max_size=3), max_size=6))
def test_never_raises_and_stays_bounded(kind: object, body: dict) -> None:
    if not isinstance(kind, str):
        return
    out = summarize(kind, json.dumps(body), limit=80)
    assert isinstance(out, str) and len(out) <= 80
