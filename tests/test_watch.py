"""`ircon watch` end to end: a real subprocess tailing a telemetry file the test appends to,
a recording loopback LiteLLM proxy, a real apprise json:// receiver, a real SQLite file."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ircon.engine import lease
from ircon.store import incidents, open_store
from ircon.store import journal as jr
from tests.adapters_support import MASTER_KEY, FakeLiteLLM
from tests.conftest import run_ircon
from tests.engine_support import (
    BENIGN,
    Watch,
    append,
    config_text,
    key_hash,
    policy,
    telemetry_line,
    wait_for,
)
from tests.escalation_support import Receiver
from tests.escalation_support import receiver as _receiver

oncall = _receiver  # the loopback apprise json:// receiver fixture, under this name


@pytest.fixture
def proxy() -> Iterator[FakeLiteLLM]:
    p = FakeLiteLLM()
    yield p
    p.close()


class Setup:
    def __init__(self, tmp: Path, proxy: FakeLiteLLM, rec: Receiver | None, policies: str,
                 **kw: Any) -> None:
        self.tel = tmp / "gateway.jsonl"
        self.tel.touch()
        self.db = tmp / "ircon.db"
        self.cfg = tmp / "ircon.toml"
        self.cfg.write_text(config_text(telemetry=self.tel, proxy_url=proxy.url,
                                        receiver_url=rec.url("oncall") if rec else None,
                                        policies=policies, **kw))
        self.env = {"IRCON_TEST_ONCALL": rec.url("oncall")} if rec else {}
        self.watchers: list[Watch] = []

    def watch(self) -> Watch:
        w = Watch(self.db, self.cfg, self.env)
        self.watchers.append(w)
        return w

    def ircon(self, *args: str) -> Any:
        return run_ircon("--config", str(self.cfg), *args, db=self.db,
                         env={"LITELLM_MASTER_KEY": MASTER_KEY, **self.env})

    def entries(self) -> list[tuple[str, Any, dict[str, Any]]]:
        """(incident, entry, body) of every journal entry, oldest first per incident."""
        store = open_store(str(self.db))
        try:
            out = []
            for row in incidents.list_incidents(store, include_closed=True):
                for e in jr.entries(store, row.id):
                    out.append((row.id, e, json.loads(e.body)))
            return out
        finally:
            store.close()

    def policy_events(self) -> list[dict[str, Any]]:
        return [b for _, e, b in self.entries() if e.kind == "policy"]

    def close(self) -> None:
        for w in self.watchers:
            w.kill()


@pytest.fixture
def setups() -> Iterator[list[Setup]]:
    made: list[Setup] = []
    yield made
    for s in made:
        s.close()


def blocks(proxy: FakeLiteLLM, path: str = "/key/block") -> list[Any]:
    with proxy.lock:
        return [r for r in proxy.requests if r.path == path]


def test_attack_burst_is_contained_journaled_notified_and_undone_at_expiry(
        tmp_path: Path, proxy: FakeLiteLLM, oncall: Receiver, setups: list[Setup]) -> None:
    attacker, bystander = key_hash("attacker"), key_hash("bystander")
    proxy.add_key(attacker)
    proxy.add_key(bystander)
    s = Setup(tmp_path, proxy, oncall, policy("jb", expire_after="3s"))
    setups.append(s)
    w = s.watch()
    w.wait_msg("engine started")
    append(s.tel, telemetry_line(bystander, text=BENIGN),
           *[telemetry_line(attacker, rid=f"atk-{i}") for i in range(5)])
    got = wait_for(lambda: blocks(proxy), 10)
    assert len(got) == 1
    req = got[0]
    assert req.body == {"key": attacker}
    assert req.headers["litellm-changed-by"] == "ircon-policy:jb"
    assert req.headers["authorization"] == f"Bearer {MASTER_KEY}"
    # The undo arrives by itself once the expiry passes (nobody confirmed).
    unblock = wait_for(lambda: blocks(proxy, "/key/unblock"), 10)
    assert [r.body for r in unblock] == [{"key": attacker}]
    assert proxy.keys[attacker]["blocked"] is False
    assert len(blocks(proxy)) == 1  # the burst was one containment, never repeated
    assert not proxy.keys[bystander]["blocked"]
    wait_for(lambda: any(b.get("event") == "expired" for b in s.policy_events()), 5)

    entries = s.entries()
    by_policy = [(e.kind, b) for _, e, b in entries if e.actor == "ircon-policy:jb"]
    kinds_seen = [k for k, _ in by_policy]
    assert kinds_seen.count("action.request") == 1 and kinds_seen.count("action.result") == 1
    request = next(b for k, b in by_policy if k == "action.request")
    assert request["policy"] == "jb" and request["dry_run"] is False
    assert request["action"] == "block-key"
    result = next(b for k, b in by_policy if k == "action.result")
    assert result["ok"] is True and result["undo_available"] is True
    events = [b["event"] for k, b in by_policy if k == "policy"]
    assert events[:1] == ["acted"] and "expired" in events
    assert "action.undo" in kinds_seen
    # The on-call heard of the action and of the automatic undo, through the roster.
    msgs = [g["body"]["message"] for g in oncall.wait(3, path="oncall", timeout=10)]
    assert any("Automated containment by policy jb" in m for m in msgs)
    assert any("expired without confirmation" in m for m in msgs)
    notes = [b for _, e, b in entries if e.kind == "notification"
             and e.actor == "ircon-policy:jb"]
    assert notes and all(n["ok"] for n in notes)
    assert all(json.dumps(b).find(MASTER_KEY) < 0 for _, _, b in entries)

    assert w.stop(signal.SIGTERM) == 0
    assert w.has_log("lease released")
    store = open_store(str(s.db))
    assert lease.holder(store) is None
    assert jr.verify(store).ok
    store.close()


def test_shadow_mode_journals_and_sends_nothing(tmp_path: Path, proxy: FakeLiteLLM,
                                                setups: list[Setup]) -> None:
    attacker = key_hash("attacker")
    proxy.add_key(attacker)
    s = Setup(tmp_path, proxy, None, policy("jb", mode="shadow"))
    setups.append(s)
    w = s.watch()
    w.wait_msg("engine started")
    append(s.tel, *[telemetry_line(attacker) for _ in range(3)])
    w.wait_msg("policy in shadow mode: would act")
    time.sleep(0.5)
    assert proxy.requests == []
    ev = s.policy_events()
    assert [b["event"] for b in ev] == ["shadow"]
    assert ev[0]["would"].startswith("block key " + attacker[:16])
    dry = [b for _, e, b in s.entries() if e.kind == "action.request"]
    assert len(dry) == 1 and dry[0]["dry_run"] is True
    assert w.stop(signal.SIGINT) == 0


def test_kill_switch_allowlist_and_cap_hold(tmp_path: Path, proxy: FakeLiteLLM,
                                            oncall: Receiver, setups: list[Setup]) -> None:
    vip = key_hash("vip")
    keys = [key_hash(i) for i in range(6)]
    for k in [vip, *keys]:
        proxy.add_key(k)
    s = Setup(tmp_path, proxy, oncall,
              policy("jb", cap=2, extra=f'allow_keys = ["{vip}"]'))
    setups.append(s)
    w = s.watch()
    w.wait_msg("engine started")

    append(s.tel, telemetry_line(vip))
    w.wait_msg("policy skipped an allowlisted target")

    assert s.ircon("policies", "pause", "--reason", "drill").returncode == 0
    t_pause = time.monotonic()
    append(s.tel, telemetry_line(keys[0]))
    time.sleep(max(0.0, 1.5 - (time.monotonic() - t_pause)))
    assert blocks(proxy) == []  # paused: nothing sent

    assert s.ircon("policies", "resume").returncode == 0
    append(s.tel, *[telemetry_line(k) for k in keys[1:]])
    w.wait_msg("policy stopped at its cap")
    time.sleep(0.5)
    assert [r.body["key"] for r in blocks(proxy)] == keys[1:3]
    ev = s.policy_events()
    assert [b["event"] for b in ev].count("stopped") == 1
    assert [b["reason"] for b in ev if b["event"] == "skipped"] == ["allowlisted"]
    msgs = [g["body"]["message"] for g in oncall.wait(3, path="oncall", timeout=10)]
    time.sleep(0.3)
    msgs = [g["body"]["message"] for g in oncall.at("oncall")]
    assert sum("reached its cap" in m for m in msgs) == 1
    out = json.loads(s.ircon("policies", "list", "--json").stdout)
    assert out["engine"]["running"] is True
    assert out["policies"][0]["stopped"] is True
    assert w.stop() == 0


def test_failing_adapter_is_retried_then_escalated_never_done(
        tmp_path: Path, proxy: FakeLiteLLM, oncall: Receiver, setups: list[Setup]) -> None:
    attacker = key_hash("attacker")
    proxy.add_key(attacker)
    proxy.faults.status = [503, 503, 503]
    s = Setup(tmp_path, proxy, oncall, policy("jb", retries=2))
    setups.append(s)
    w = s.watch()
    w.wait_msg("engine started")
    append(s.tel, *[telemetry_line(attacker) for _ in range(4)])  # a burst: one attempt
    wait_for(lambda: any(b.get("event") == "failed" for b in s.policy_events()), 15)
    time.sleep(0.5)
    assert len(blocks(proxy)) == 3
    assert proxy.keys[attacker]["blocked"] is False
    entries = s.entries()
    results = [b for _, e, b in entries if e.kind == "action.result"]
    assert len(results) == 3 and not any(r["ok"] for r in results)
    events = [b["event"] for b in s.policy_events()]
    assert "acted" not in events and events[-1] == "failed"
    failed = s.policy_events()[-1]
    assert failed["attempts"] == 3 and len(failed["runs"]) == 3
    msgs = [g["body"]["message"] for g in oncall.wait(2, path="oncall", timeout=10)]
    assert any("FAILED after 3 attempt(s)" in m for m in msgs)
    assert w.stop() == 0
    store = open_store(str(s.db))
    from ircon.adapters.runner import list_runs

    assert {r["status"] for r in list_runs(store)} == {"failed"}
    store.close()


def test_two_engines_one_leader_and_takeover_after_sigkill(
        tmp_path: Path, proxy: FakeLiteLLM, setups: list[Setup]) -> None:
    attacker = key_hash("attacker")
    proxy.add_key(attacker)
    s = Setup(tmp_path, proxy, None, policy("jb"))
    setups.append(s)
    a = s.watch()
    a.wait_msg("engine started")
    b = s.watch()
    b.wait_msg("standby: another engine holds the lease")
    assert not b.has_log("engine started")
    store = open_store(str(s.db))
    first = lease.holder(store)
    assert first is not None and first.pid == a.proc.pid
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(5)
    t0 = time.monotonic()
    b.wait_msg("leader: this engine works the database", timeout=10)
    took = time.monotonic() - t0
    assert took < 2.0 + 1.0  # one lease period (2 s), plus a retry step
    # then it starts its parts (building the detectors takes longer on a loaded machine)
    b.wait_msg("engine started", timeout=20)
    now = lease.holder(store)
    assert now is not None and now.pid == b.proc.pid
    append(s.tel, telemetry_line(attacker))
    assert wait_for(lambda: blocks(proxy), 10)
    assert b.stop() == 0
    assert lease.holder(store) is None
    store.close()


def test_config_errors_are_reported_at_start(tmp_path: Path, proxy: FakeLiteLLM,
                                             setups: list[Setup]) -> None:
    bad = policy("jb").replace('action = "block-key"', 'action = "ban-key"')
    s = Setup(tmp_path, proxy, None, bad)
    setups.append(s)
    w = s.watch()
    assert w.proc.wait(30) == 2
    w.kill()
    problems = [r["problem"] for r in w.logs if r.get("msg") == "config problem"]
    assert any(p.startswith("policies.jb.then.action: gw (litellm) has no action 'ban-key'")
               for p in problems)
