"""LiteLLM adapter against a loopback proxy implementing the documented admin endpoints."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ircon.adapters import runner
from ircon.config import IrconConfig
from ircon.store import incidents
from ircon.store import journal as jr
from tests.adapters_support import MASTER_KEY, FakeLiteLLM

VICTIM_KEY = "sk-live-Attacker0wnedKey7788"


@pytest.fixture
def proxy() -> Iterator[FakeLiteLLM]:
    p = FakeLiteLLM()
    p.add_key(VICTIM_KEY, rpm_limit=1000, tpm_limit=None, models=["gpt-4o"])
    p.models["dep-1"] = {"model_name": "chat", "litellm_params": {"model": "openai/gpt-4o-new"},
                         "model_info": {"id": "dep-1"}}
    yield p
    p.close()


@pytest.fixture
def cfg(proxy: FakeLiteLLM, monkeypatch: pytest.MonkeyPatch) -> IrconConfig:
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    return IrconConfig.model_validate({"adapters": {"gw": {
        "type": "litellm", "url": proxy.url, "master_key": "env:LITELLM_MASTER_KEY",
        "timeout": 0.5, "retries": 2}}})


@pytest.fixture
def inc(store) -> str:  # type: ignore[no-untyped-def]
    return str(incidents.create(store, "Jailbreak campaign", severity="SEV2")["id"])


def _kinds(store, inc: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.kind for e in jr.entries(store, inc)]


def test_block_key_sends_the_documented_call_and_undo_unblocks(store, cfg, proxy, inc):
    out = runner.run_action(store, cfg, "gw", "block-key", {"key": VICTIM_KEY}, incident=inc,
                            actor="alice@ops")
    assert out.ok and out.status == "succeeded", out
    req = proxy.requests[-1]
    assert (req.method, req.path) == ("POST", "/key/block")
    assert req.body == {"key": VICTIM_KEY}
    assert req.headers["litellm-changed-by"] == "alice@ops"
    assert req.headers["authorization"] == f"Bearer {MASTER_KEY}"
    assert req.headers["content-type"].startswith("application/json")
    tok = hashlib.sha256(VICTIM_KEY.encode()).hexdigest()
    assert proxy.keys[tok]["blocked"] is True
    assert _kinds(store, inc)[-2:] == ["action.request", "action.result"]

    undone = runner.undo_action(store, cfg, out.run_id or 0, actor="bob@ops")
    assert undone.ok and undone.status == "undone"
    req = proxy.requests[-1]
    # Undo uses the key's hash: the raw key is never stored for later.
    assert (req.path, req.body) == ("/key/unblock", {"key": tok})
    assert req.headers["litellm-changed-by"] == "bob@ops"
    assert proxy.keys[tok]["blocked"] is False
    assert _kinds(store, inc)[-2:] == ["action.undo", "action.undo"]
    with pytest.raises(runner.ActionInputError, match="undone"):
        runner.undo_action(store, cfg, out.run_id or 0, actor="bob@ops")


def test_limit_key_reads_limits_first_and_undo_restores_them(store, cfg, proxy, inc):
    out = runner.run_action(store, cfg, "gw", "limit-key",
                            {"key": VICTIM_KEY, "rpm": "5", "tpm": "1000",
                             "models": "gpt-4o-mini"}, incident=inc, actor="alice@ops")
    assert out.ok, out
    get, post = proxy.requests[-2:]
    tok = hashlib.sha256(VICTIM_KEY.encode()).hexdigest()
    assert (get.method, get.path, get.query) == ("GET", "/key/info", {"key": [tok]})
    assert (post.method, post.path) == ("POST", "/key/update")
    assert post.body == {"key": VICTIM_KEY, "rpm_limit": 5, "tpm_limit": 1000,
                         "models": ["gpt-4o-mini"]}
    assert proxy.keys[tok]["rpm_limit"] == 5
    assert runner.undo_action(store, cfg, out.run_id or 0, actor="alice@ops").ok
    assert proxy.requests[-1].body == {"key": tok, "rpm_limit": 1000, "tpm_limit": None,
                                       "models": ["gpt-4o"]}
    assert proxy.keys[tok]["rpm_limit"] == 1000


def test_block_team_and_user_and_their_undo(store, cfg, proxy, inc):
    t = runner.run_action(store, cfg, "gw", "block-team", {"team": "team-ml"}, incident=inc,
                          actor="a@x")
    u = runner.run_action(store, cfg, "gw", "block-user", {"user": "user-1337"}, incident=inc,
                          actor="a@x")
    assert t.ok and u.ok
    assert proxy.teams["team-ml"]["blocked"] and proxy.customers["user-1337"]["blocked"]
    assert ("POST", "/team/block") in proxy.paths()
    assert proxy.requests[-1].body == {"user_ids": ["user-1337"]}
    assert runner.undo_action(store, cfg, t.run_id or 0, actor="a@x").ok
    assert runner.undo_action(store, cfg, u.run_id or 0, actor="a@x").ok
    assert proxy.requests[-2].path == "/team/unblock"
    assert proxy.requests[-1].path == "/customer/unblock"
    assert not proxy.teams["team-ml"]["blocked"] and not proxy.customers["user-1337"]["blocked"]


def test_switch_model_rolls_back_and_undo_restores(store, cfg, proxy, inc):
    out = runner.run_action(store, cfg, "gw", "switch-model",
                            {"model_id": "dep-1", "target": "openai/gpt-4o-2024-08-06"},
                            incident=inc, actor="a@x")
    assert out.ok, out
    assert proxy.requests[-2].path == "/model/info"
    assert (proxy.requests[-1].method, proxy.requests[-1].path) == ("PATCH", "/model/dep-1/update")
    assert proxy.models["dep-1"]["litellm_params"]["model"] == "openai/gpt-4o-2024-08-06"
    assert runner.undo_action(store, cfg, out.run_id or 0, actor="a@x").ok
    assert proxy.models["dep-1"]["litellm_params"]["model"] == "openai/gpt-4o-new"


def test_dry_run_sends_nothing_and_journals_the_plan(store, cfg, proxy, inc):
    out = runner.run_action(store, cfg, "gw", "block-key", {"key": VICTIM_KEY}, incident=inc,
                            actor="a@x", dry_run=True)
    assert out.ok and out.status == "dry-run"
    assert proxy.requests == []
    last = jr.entries(store, inc)[-1]
    body = json.loads(last.body)
    assert last.kind == "action.request" and body["dry_run"] is True
    assert body["plan"]["url"].endswith("/key/block")
    assert body["plan"]["headers"]["Authorization"] == "Bearer ********"
    assert VICTIM_KEY not in last.body


@pytest.mark.parametrize("fault", ["down", "4xx", "5xx", "timeout", "reset"])
def test_faults_end_as_journaled_failures_with_the_cause(store, cfg, proxy, inc, fault):
    if fault == "down":
        proxy.close()
    elif fault == "4xx":
        proxy.faults.status = [403]
    elif fault == "5xx":
        proxy.faults.status = [500, 500, 500]
    elif fault == "timeout":
        proxy.faults.delay = 1.0
    else:
        proxy.faults.reset = 5
    out = runner.run_action(store, cfg, "gw", "block-team", {"team": "t1"}, incident=inc,
                            actor="a@x")
    assert not out.ok and out.status == "failed"
    cause = {"down": "cannot connect", "4xx": "HTTP 403", "5xx": "HTTP 500",
             "timeout": "timeout", "reset": "reset"}[fault]
    assert cause in (out.error or ""), out.error
    res = json.loads(jr.entries(store, inc)[-1].body)
    assert res["ok"] is False and cause in res["error"]
    run = runner.get_run(store, out.run_id or 0)
    assert run and run["status"] == "failed" and run["undo_data"] == {}
    if fault == "4xx":
        assert res["attempts"] == 1  # a client error is never retried
    if fault == "5xx":
        assert res["attempts"] == 3  # idempotent: retried, then given up
    with pytest.raises(runner.ActionInputError):
        runner.undo_action(store, cfg, out.run_id or 0, actor="a@x")


def test_transient_5xx_then_success_is_retried_for_idempotent_actions(store, cfg, proxy, inc):
    proxy.faults.status = [503]
    out = runner.run_action(store, cfg, "gw", "block-team", {"team": "t2"}, incident=inc,
                            actor="a@x")
    assert out.ok
    assert [r.path for r in proxy.requests] == ["/team/block", "/team/block"]


def test_missing_secret_fails_cleanly(store, proxy, inc, monkeypatch):
    monkeypatch.delenv("LITELLM_MASTER_KEY", raising=False)
    cfg = IrconConfig.model_validate({"adapters": {"gw": {
        "type": "litellm", "url": proxy.url, "master_key": "env:LITELLM_MASTER_KEY"}}})
    out = runner.run_action(store, cfg, "gw", "block-team", {"team": "t"}, incident=inc,
                            actor="a@x")
    assert not out.ok and "LITELLM_MASTER_KEY is not set" in (out.error or "")
    assert proxy.requests == []


def test_secrets_are_nowhere_in_what_was_written(store, cfg, proxy, inc, db_path: Path):
    proxy.faults.status = [400]  # the error body echoes nothing secret, but the
    runner.run_action(store, cfg, "gw", "block-key", {"key": VICTIM_KEY}, incident=inc,
                      actor="a@x")
    ok = runner.run_action(store, cfg, "gw", "block-key", {"key": VICTIM_KEY}, incident=inc,
                           actor="a@x")
    runner.undo_action(store, cfg, ok.run_id or 0, actor="a@x")
    runner.run_action(store, cfg, "gw", "limit-key", {"key": VICTIM_KEY, "rpm": "1"},
                      incident=inc, actor="a@x", dry_run=True)
    store.close()
    blob = b"".join(p.read_bytes() for p in db_path.parent.glob("ircon.db*"))
    for secret in (MASTER_KEY, VICTIM_KEY, "Attacker0wnedKey"):
        assert secret.encode() not in blob
    assert b"action.result" in blob  # the search did look at the journal


def test_proxy_echoing_the_secret_is_redacted(store, cfg, proxy, inc):
    class Echo(FakeLiteLLM):
        def handle(self, req):  # type: ignore[no-untyped-def]
            return 500, {"error": "bad auth header " + req.headers.get("authorization", "")}

    echo = Echo()
    try:
        cfg2 = IrconConfig.model_validate({"adapters": {"gw": {
            "type": "litellm", "url": echo.url, "master_key": "env:LITELLM_MASTER_KEY",
            "retries": 0}}})
        out = runner.run_action(store, cfg2, "gw", "block-team", {"team": "t"}, incident=inc,
                                actor="a@x")
    finally:
        echo.close()
    assert not out.ok
    assert MASTER_KEY not in (out.error or "") + out.output
    assert "********" in (out.error or "")
    assert all(MASTER_KEY not in e.body for e in jr.entries(store, inc))


def test_bad_parameters_are_refused_before_anything_is_written(store, cfg, proxy, inc):
    before = len(jr.entries(store, inc))
    for params in ({"key": "$(reboot)"}, {"key": "sk-1\nX: y"}, {}, {"key": "x" * 1_000_000}):
        with pytest.raises(runner.ActionInputError):
            runner.run_action(store, cfg, "gw", "block-key", params, incident=inc, actor="a@x")
    with pytest.raises(runner.ActionInputError, match="no action"):
        runner.run_action(store, cfg, "gw", "drop-db", {}, incident=inc, actor="a@x")
    with pytest.raises(runner.ActionInputError, match="no adapter instance"):
        runner.run_action(store, cfg, "nope", "block-key", {}, incident=inc, actor="a@x")
    assert len(jr.entries(store, inc)) == before
    assert proxy.requests == []
