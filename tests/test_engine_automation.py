"""Automated containment in-process, on a real store, a loopback LiteLLM proxy and a real
apprise json:// oncall: confirm vs expiry, manual undo, two-person rule, a flood."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ircon.adapters import runner
from ircon.config import IrconConfig
from ircon.engine import automation as auto
from ircon.engine.ingest import ingest_findings
from ircon.model.finding import Finding
from ircon.store import journal as jr
from tests.adapters_support import MASTER_KEY, FakeLiteLLM
from tests.engine_support import key_hash
from tests.escalation_support import Receiver
from tests.escalation_support import receiver as _receiver

oncall = _receiver  # the loopback apprise json:// oncall fixture, under this name


@pytest.fixture
def proxy() -> Iterator[FakeLiteLLM]:
    p = FakeLiteLLM()
    yield p
    p.close()


def make_cfg(proxy: FakeLiteLLM, rec: Receiver, monkeypatch: pytest.MonkeyPatch,
             **policy: Any) -> IrconConfig:
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    monkeypatch.setenv("ONCALL_URL", rec.url("oncall"))
    p: dict[str, Any] = {"mode": "enforce", "expire_after": "1h", "cap_per_hour": 10,
                         "retries": 0, "when": {"detector": "jailbreak"},
                         "then": {"adapter": "gw", "action": "block-key",
                                  "params": {"key": "{finding.key}"}},
                         "notify": ["person:oncall"]}
    approval = bool(policy.pop("_approval", False))
    p.update(policy)
    return IrconConfig.model_validate({
        "adapters": {"gw": {"type": "litellm", "url": proxy.url, "timeout": 2, "retries": 0,
                            "master_key": "env:LITELLM_MASTER_KEY",
                            "require_approval": approval}},
        "escalation": {"enabled": True, "send_attempts": 1,
                       "people": {"oncall": {"targets": ["env:ONCALL_URL"]}}},
        "policies": {"jb": p}})


def jb(key: str, n: int = 0, sev: str = "SEV3") -> Finding:
    return Finding(detector="jailbreak", rule_id="jb.persona.unrestricted", title="DAN persona",
                   score=0.9, severity_hint=sev, key=key, user=f"u{n}", team="t",
                   ts=time.time(), request_ids=(f"r{n}",))


async def feed(store: Any, cfg: IrconConfig, a: auto.Automation, fs: list[Finding]) -> None:
    await asyncio.to_thread(ingest_findings, store, fs, cfg.triage, actor="tester@ci")
    a.submit(fs, await asyncio.to_thread(auto.incident_map, store, fs))
    await a.idle()


def policy_events(store: Any, hid: str) -> list[dict[str, Any]]:
    return [json.loads(e.body) for e in jr.entries(store, hid) if e.kind == "policy"]


def incident_of(store: Any, f: Finding) -> str:
    hid = auto.incident_map(store, [f]).popitem()[1]
    assert hid
    return hid


async def test_confirmed_action_survives_expiry_unconfirmed_is_undone(
        store, proxy, oncall, monkeypatch) -> None:
    cfg = make_cfg(proxy, oncall, monkeypatch, expire_after="1s")
    for k in ("a", "b"):
        proxy.add_key(key_hash(k))
    a = auto.Automation(store, cfg)
    await a.start()
    fa, fb = jb(key_hash("a"), 1), jb(key_hash("b"), 2)
    await feed(store, cfg, a, [fa, fb])
    assert sorted(r.body["key"] for r in proxy.requests if r.path == "/key/block") == \
        sorted([key_hash("a"), key_hash("b")])
    run_a = next(r for r in runner.list_runs(store) if r["params"]["key"].startswith(
        key_hash("a")[:16]))
    body = auto.confirm(store, int(run_a["id"]), actor="alice@ops", reason="confirmed attacker")
    assert body["event"] == "confirmed"
    await asyncio.sleep(1.2)
    assert await a.tick() == 1  # only b's expired unconfirmed
    unblocks = [r for r in proxy.requests if r.path == "/key/unblock"]
    assert [r.body["key"] for r in unblocks] == [key_hash("b")]
    assert unblocks[0].headers["litellm-changed-by"] == "ircon-policy:jb"
    hb = incident_of(store, fb)
    assert [e["event"] for e in policy_events(store, hb)][-1] == "expired"
    ha = incident_of(store, fa)
    assert "confirmed" in [e["event"] for e in policy_events(store, ha)]
    with pytest.raises(auto.ConfirmError, match="undone"):
        auto.confirm(store, int(next(r["id"] for r in runner.list_runs(store)
                                     if r["status"] == "undone")), actor="x")
    await a.stop()
    texts = [g["body"]["message"] for g in oncall.wait(3, path="oncall")]
    assert any("expired without confirmation and was undone" in t for t in texts)
    assert sum("Confirm to keep it: ircon policies confirm" in t for t in texts) == 2


async def test_manual_undo_lets_the_policy_act_again(store, proxy, oncall,
                                                     monkeypatch) -> None:
    cfg = make_cfg(proxy, oncall, monkeypatch)
    proxy.add_key(key_hash("a"))
    a = auto.Automation(store, cfg)
    await a.start()
    await feed(store, cfg, a, [jb(key_hash("a"))])
    await feed(store, cfg, a, [jb(key_hash("a"))])  # still contained: not repeated
    assert [r.path for r in proxy.requests].count("/key/block") == 1
    run = runner.list_runs(store)[0]
    assert runner.undo_action(store, cfg, int(run["id"]), actor="alice@ops").ok
    await asyncio.sleep(STATE_TTL_WAIT)
    await feed(store, cfg, a, [jb(key_hash("a"))])
    assert [r.path for r in proxy.requests].count("/key/block") == 2
    await a.stop()


STATE_TTL_WAIT = auto.STATE_TTL + 0.1


async def test_two_person_rule_refuses_and_escalates(store, proxy, oncall,
                                                     monkeypatch) -> None:
    cfg = make_cfg(proxy, oncall, monkeypatch, _approval=True)
    proxy.add_key(key_hash("a"))
    a = auto.Automation(store, cfg)
    await a.start()
    f = jb(key_hash("a"), sev="SEV2")
    await feed(store, cfg, a, [f])
    await a.stop()
    assert proxy.requests == []
    ev = policy_events(store, incident_of(store, f))
    assert ev[-1]["event"] == "failed" and ev[-1]["reason"] == "refused"
    assert "two-person rule" in ev[-1]["error"]
    got = oncall.wait(1, path="oncall")
    assert "refused" in got[0]["body"]["message"]


async def test_flood_across_many_keys_holds_the_cap_with_one_escalation(
        store, proxy, oncall, monkeypatch) -> None:
    cfg = make_cfg(proxy, oncall, monkeypatch, cap_per_hour=3)
    keys = [key_hash(i) for i in range(2000)]
    for k in keys[:10]:
        proxy.add_key(k)
    a = auto.Automation(store, cfg)
    await a.start()
    fs = [jb(k, i) for i, k in enumerate(keys)]
    t0 = time.monotonic()
    for i in range(0, len(fs), 500):
        await feed(store, cfg, a, fs[i:i + 500])
    elapsed = time.monotonic() - t0
    await a.stop()
    assert [r.path for r in proxy.requests].count("/key/block") == 3
    assert a.stats["act"] == 3 and a.stats["cap reached"] == 1
    assert a.stats["stopped"] == len(keys) - 4
    state = auto.policy_state(store, "jb")
    assert state["stopped"] is True and "cap of 3" in state["reason"]
    got = oncall.wait(4, path="oncall")
    stops = [g for g in got if "reached its cap" in g["body"]["message"]]
    assert len(stops) == 1
    assert elapsed < 60


async def test_kill_switch_stops_retries_within_a_second(store, proxy, oncall,
                                                         monkeypatch) -> None:
    cfg = make_cfg(proxy, oncall, monkeypatch, retries=5, retry_backoff_seconds=0.3)
    proxy.add_key(key_hash("a"))
    proxy.faults.status = [503] * 10
    a = auto.Automation(store, cfg)
    await a.start()
    f = jb(key_hash("a"))
    await asyncio.to_thread(ingest_findings, store, [f], cfg.triage, actor="tester@ci")
    a.submit([f], await asyncio.to_thread(auto.incident_map, store, [f]))
    while not proxy.requests:
        await asyncio.sleep(0.01)
    await asyncio.to_thread(auto.pause, store, actor="alice@ops", reason="false positives")
    t0 = time.monotonic()
    sent_at_pause = len(proxy.requests)
    await a.idle()
    assert time.monotonic() - t0 < 1.0
    assert len(proxy.requests) <= sent_at_pause + 1  # at most the call already under way
    ev = policy_events(store, incident_of(store, f))
    assert ev[-1]["event"] == "aborted" and "paused" in ev[-1]["reason"]
    # While paused, new findings are held back and nothing is sent.
    n = len(proxy.requests)
    await feed(store, cfg, a, [jb(key_hash("b"), 2)])
    assert len(proxy.requests) == n and a.stats["paused"] == 1
    assert auto.resume(store, actor="alice@ops") is True
    await a.stop()
