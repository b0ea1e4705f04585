"""Silences on the real Alertmanager: create, see, expire (as undo and as an action)."""

from __future__ import annotations

import json

import httpx
import pytest

from ircon.adapters import runner
from ircon.config import IrconConfig
from ircon.store import incidents
from ircon.store import journal as jr

pytestmark = pytest.mark.services


def _cfg(url: str) -> IrconConfig:
    return IrconConfig.model_validate({"adapters": {"am": {
        "type": "alertmanager", "url": url, "timeout": 5, "max_duration": "1d"}}})


def _silences(url: str) -> list[dict]:  # type: ignore[type-arg]
    r = httpx.get(url + "/api/v2/silences", timeout=10)
    r.raise_for_status()
    return list(r.json())


def test_silence_is_created_seen_and_expired_by_undo(store, alertmanager):
    inc = incidents.create(store, "Probing", severity="SEV3")["id"]
    cfg = _cfg(alertmanager.url)
    out = runner.run_action(
        store, cfg, "am", "silence",
        {"matchers": 'alertname="JailbreakCampaign",model="gpt-4o"', "duration": "2h",
         "comment": "noise while contained"},
        incident=inc, actor="alice@ops")
    assert out.ok, out.error
    sid = out.details["silence_id"]
    [sil] = [s for s in _silences(alertmanager.url) if s["id"] == sid]
    assert sil["status"]["state"] == "active"
    assert sil["createdBy"] == "alice@ops"
    assert inc in sil["comment"] and "noise while contained" in sil["comment"]
    assert {(m["name"], m["value"], m["isRegex"]) for m in sil["matchers"]} == {
        ("alertname", "JailbreakCampaign", False), ("model", "gpt-4o", False)}

    undo = runner.undo_action(store, cfg, out.run_id or 0, actor="alice@ops")
    assert undo.ok, undo.error
    [sil] = [s for s in _silences(alertmanager.url) if s["id"] == sid]
    assert sil["status"]["state"] == "expired"
    kinds = [e.kind for e in jr.entries(store, inc)]
    assert kinds[-4:] == ["action.request", "action.result", "action.undo", "action.undo"]


def test_expire_action_and_bad_silence_id(store, alertmanager):
    cfg = _cfg(alertmanager.url)
    made = runner.run_action(store, cfg, "am", "silence", {"matchers": 'team="ml"'},
                             incident=None, actor="a@x")
    assert made.ok
    sid = made.details["silence_id"]
    out = runner.run_action(store, cfg, "am", "expire", {"silence_id": sid}, incident=None,
                            actor="a@x")
    assert out.ok
    sil = next(s for s in _silences(alertmanager.url) if s["id"] == sid)
    assert sil["status"]["state"] == "expired"
    with pytest.raises(runner.ActionInputError):
        runner.run_action(store, cfg, "am", "expire", {"silence_id": "../../-/reload"},
                          incident=None, actor="a@x")
    gone = runner.run_action(store, cfg, "am", "expire",
                             {"silence_id": "00000000-0000-0000-0000-000000000000"},
                             incident=None, actor="a@x")
    assert not gone.ok and "silence not found" in (gone.error or "")


def test_hostile_label_values_are_one_inert_matcher(store, alertmanager):
    cfg = _cfg(alertmanager.url)
    hostile = '$(reboot); rm -rf / \\" }, {'
    out = runner.run_action(store, cfg, "am", "silence",
                            {"matchers": 'alertname="X",model="' +
                             hostile.replace("\\", "\\\\").replace('"', '\\"') + '"'},
                            incident=None, actor="a@x")
    assert out.ok, out.error
    [sil] = [s for s in _silences(alertmanager.url) if s["id"] == out.details["silence_id"]]
    assert {m["name"]: m["value"] for m in sil["matchers"]}["model"] == hostile


def test_too_long_silences_are_refused(store, alertmanager):
    with pytest.raises(runner.ActionInputError, match="maximum"):
        runner.run_action(store, _cfg(alertmanager.url), "am", "silence",
                          {"matchers": 'a="b"', "duration": "30d"}, incident=None, actor="a@x")


def test_alertmanager_down_is_a_journaled_failure(store, alertmanager):
    inc = incidents.create(store, "x")["id"]
    cfg = _cfg(alertmanager.url)
    alertmanager.stop()
    out = runner.run_action(store, cfg, "am", "silence", {"matchers": 'a="b"'}, incident=inc,
                            actor="a@x")
    assert not out.ok and "cannot connect" in (out.error or "")
    body = json.loads(jr.entries(store, inc)[-1].body)
    assert body["ok"] is False and body["attempts"] == 1  # not idempotent: never retried


def test_expiring_twice_is_not_a_failure(store, alertmanager):
    cfg = _cfg(alertmanager.url)
    made = runner.run_action(store, cfg, "am", "silence", {"matchers": 'team="ml"'},
                             incident=None, actor="a@x")
    sid = made.details["silence_id"]
    first = runner.run_action(store, cfg, "am", "expire", {"silence_id": sid}, incident=None,
                              actor="a@x")
    again = runner.run_action(store, cfg, "am", "expire", {"silence_id": sid}, incident=None,
                              actor="a@x")
    assert first.ok
    assert again.ok, again.error
