"""The escalation service on a real SQLite file, sending for real through apprise."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from ircon.config import IrconConfig
from ircon.escalation.service import (
    EscalationInputError,
    EscalationService,
    acknowledge,
    escalation_state,
    mark_clock_met,
    start_clock,
)
from ircon.store import incidents, journal
from ircon.store.db import Store
from tests.escalation_support import FakeClock, Mailbox, Receiver, receiver, smtp  # noqa: F401

pytestmark = pytest.mark.timeout(60)


def make_cfg(rec: Receiver, monkeypatch: pytest.MonkeyPatch, **esc: Any) -> IrconConfig:
    for who in ("alice", "bob", "carol", "lead", "chan"):
        monkeypatch.setenv(f"IRCON_T_{who.upper()}", rec.url(who))
    base: dict[str, Any] = {
        "people": {
            "alice": {"name": "Alice", "targets": ["env:IRCON_T_ALICE"]},
            "bob": {"targets": ["env:IRCON_T_BOB"]},
            "carol": {"targets": ["env:IRCON_T_CAROL"]},
            "lead": {"targets": ["env:IRCON_T_LEAD"]},
        },
        "rotations": {"primary": {"members": ["alice"], "handoff": "weekly"}},
        "channels": {"secops": {"targets": ["env:IRCON_T_CHAN"]}},
        "policies": {"standard": {"levels": [
            {"after_minutes": 0, "notify": ["rotation:primary"]},
            {"after_minutes": 5, "notify": ["person:bob"]},
            {"after_minutes": 5, "notify": ["person:lead", "channel:secops"]},
        ]}},
        "severity_policy": {"SEV1": "standard", "SEV2": "standard", "SEV3": "standard"},
        "status_update_minutes": {},
        "send_attempts": 2, "retry_backoff_seconds": 0.05, "send_timeout_seconds": 5,
        "late_after_seconds": 60,
    }
    base.update(esc)
    return IrconConfig.model_validate({"escalation": base})


def kinds_of(store: Store, inc: str, kind: str) -> list[dict[str, Any]]:
    return [json.loads(e.body) for e in journal.entries(store, inc) if e.kind == kind]


async def run(svc: EscalationService, inc: str) -> list[dict[str, Any]]:
    out = await svc.run_incident(inc)
    await svc.drain()
    return out


async def test_ladder_delivers_through_apprise_and_journals_each_send(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    inc = incidents.create(store, "Jailbreak \x1b[31mcampaign <!channel> @everyone "
                           "<https://evil.example|the runbook>", severity="SEV2")["id"]
    opened = incidents.get(store, inc)["created_at"]
    from datetime import datetime

    clock = FakeClock(datetime.fromisoformat(opened))
    cfg = make_cfg(receiver, monkeypatch)
    svc = EscalationService(store, cfg, clock=clock, use_scheduler=False)
    await svc.start()
    await svc.drain()
    (got,) = receiver.wait(1, path="alice")
    body = got["body"]
    assert body["title"].startswith(f"[{inc} SEV2] Jailbreak ")
    assert "\x1b" not in body["title"] + body["message"]  # escape made visible, not sent
    for sent in (body["title"], body["message"]):  # chat services cannot ping or link
        assert "<" not in sent and ">" not in sent and "@" not in sent
        assert "\u2039!channel\u203a \uff20everyone" in sent
    assert f"Incident: {inc}" in body["message"]
    assert "Asked of you: acknowledge" in body["message"]
    esc = kinds_of(store, inc, "escalation")
    assert [e["key"] for e in esc] == [f"{inc}/e0/L1"] and esc[0]["late"] is False
    # The witness hash is the journal head right after the firing was recorded.
    entries = journal.entries(store, inc)
    fired_entry = next(e for e in entries if e.kind == "escalation")
    assert f"Journal head: {fired_entry.hash}" in body["message"]
    (note,) = kinds_of(store, inc, "notification")
    assert note["ok"] is True and note["who"] == "alice" and note["via"] == "alice#1 (json)"
    assert "127.0.0.1" not in json.dumps(note)  # never the URL
    # Nothing more until the delay passes.
    clock.advance(minutes=4)
    assert await run(svc, inc) == []
    clock.advance(minutes=1)
    assert [f["key"] for f in await run(svc, inc)] == [f"{inc}/e0/L2"]
    assert len(receiver.wait(1, path="bob")) == 1
    clock.advance(minutes=5)
    assert [f["key"] for f in await run(svc, inc)] == [f"{inc}/e0/L3"]
    assert receiver.wait(1, path="lead") and receiver.wait(1, path="chan")
    await svc.stop()
    assert len(receiver.got) == 4


async def test_ack_stops_the_ladder(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    inc = incidents.create(store, "Prompt injection", severity="SEV1")["id"]
    from ircon.store.engine import utcnow

    clock = FakeClock(utcnow())
    svc = EscalationService(store, make_cfg(receiver, monkeypatch), clock=clock,
                            use_scheduler=False)
    await svc.start()
    await svc.drain()
    acknowledge(store, inc, actor="alice@laptop")
    with pytest.raises(EscalationInputError, match="already acknowledged"):
        acknowledge(store, inc, actor="alice@laptop")
    clock.advance(hours=2)
    assert await run(svc, inc) == []
    st = escalation_state(store, svc.cfg, inc, clock())
    assert st["stopped"] and [lv["state"] for lv in st["levels"]] == ["sent", "stopped",
                                                                       "stopped"]
    assert st["next_firing"] is None
    await svc.stop()
    assert [g["path"] for g in receiver.got] == ["/alice"]


async def test_down_target_does_not_block_the_next_level(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from ircon.store.engine import utcnow
    from tests.services import free_port

    dead = free_port()  # nothing listens here
    monkeypatch.setenv("IRCON_T_DEAD", f"json://127.0.0.1:{dead}/x?token=s3cr3t-token-value")
    cfg = make_cfg(receiver, monkeypatch, send_attempts=3, retry_backoff_seconds=0.5)
    people = dict(cfg.escalation.model_dump()["people"])
    people["alice"]["targets"] = ["env:IRCON_T_DEAD"]
    cfg = IrconConfig.model_validate(
        {"escalation": cfg.escalation.model_dump() | {"people": people}})
    inc = incidents.create(store, "Model extraction", severity="SEV2")["id"]
    clock = FakeClock(utcnow())
    svc = EscalationService(store, cfg, clock=clock, use_scheduler=False)
    await svc.start()  # level 1 to the dead target: retrying in the background
    clock.advance(minutes=5)
    t0 = asyncio.get_running_loop().time()
    fired = await svc.run_incident(inc)
    # Level 2 was claimed while level 1's retries (0.5 s + 1 s backoff) were still running.
    assert [f["key"] for f in fired] == [f"{inc}/e0/L2"]
    assert asyncio.get_running_loop().time() - t0 < 1.0
    await svc.drain()
    assert len(receiver.at("bob")) == 1
    notes = kinds_of(store, inc, "notification")
    bad = [n for n in notes if not n["ok"]]
    assert len(bad) == 1 and bad[0]["attempts"] == 3 and bad[0]["who"] == "alice"
    assert "s3cr3t" not in json.dumps(notes)
    st = escalation_state(store, cfg, inc, clock())
    assert st["notifications"]["failed_total"] == 1
    await svc.stop()


async def test_missing_secret_is_journaled_not_raised(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from ircon.store.engine import utcnow

    cfg = make_cfg(receiver, monkeypatch)
    monkeypatch.delenv("IRCON_T_ALICE")
    inc = incidents.create(store, "Leak", severity="SEV2")["id"]
    svc = EscalationService(store, cfg, clock=FakeClock(utcnow()), use_scheduler=False)
    await svc.start()
    await svc.drain()
    (n,) = kinds_of(store, inc, "notification")
    assert n["ok"] is False and "IRCON_T_ALICE is not set" in n["error"]
    await svc.stop()


async def test_email_through_a_local_smtp_server(
    store: Store, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from ircon.store.engine import utcnow

    monkeypatch.setenv(
        "IRCON_MAIL",
        f"mailto://127.0.0.1:{smtp.port}?from=ircon@example.org&to=oncall@example.org",
    )
    cfg = IrconConfig.model_validate({"escalation": {
        "people": {"oncall": {"targets": ["env:IRCON_MAIL"]}},
        "policies": {"p": {"levels": [{"notify": ["person:oncall"]}]}},
        "severity_policy": {"SEV1": "p"}, "send_attempts": 1,
    }})
    inc = incidents.create(store, "System prompt leak", severity="SEV1")["id"]
    svc = EscalationService(store, cfg, clock=FakeClock(utcnow()), use_scheduler=False)
    await svc.start()
    await svc.drain()
    (mail,) = smtp.wait(1)
    assert mail["to"] == ["oncall@example.org"]
    assert mail["subject"] == f"[{inc} SEV1] System prompt leak"
    head = next(e for e in journal.entries(store, inc) if e.kind == "escalation").hash
    assert f"Journal head: {head}" in mail["text"] and "Severity: SEV1" in mail["text"]
    (n,) = kinds_of(store, inc, "notification")
    assert n["ok"] and n["via"] == "oncall#1 (mailto)"
    await svc.stop()


async def test_restart_mid_ladder_fires_missed_levels_once_marked_late(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from ircon.store.engine import utcnow

    cfg = make_cfg(receiver, monkeypatch)
    inc = incidents.create(store, "Denial of wallet", severity="SEV2")["id"]
    clock = FakeClock(utcnow())
    svc = EscalationService(store, cfg, clock=clock)  # with the persistent scheduler
    await svc.start()
    await svc.drain()
    # Its next look (level 2) is persisted in ircon's database.
    with store.read() as conn:
        rows = conn.execute(text("SELECT id, next_run_time FROM escalation_job")).all()
    assert [r[0] for r in rows] == [f"escalation:{inc}"]
    await svc.stop()  # ircon goes down before level 2

    clock.advance(minutes=30)  # ... and comes back 30 minutes later
    svc2 = EscalationService(store, cfg, clock=clock)
    await svc2.start()
    await svc2.drain()
    esc = kinds_of(store, inc, "escalation")
    assert [e["key"] for e in esc] == [f"{inc}/e0/L1", f"{inc}/e0/L2", f"{inc}/e0/L3"]
    assert [e["late"] for e in esc] == [False, True, True]
    assert esc[1]["late_by_seconds"] == 25 * 60
    assert "sent late" in receiver.wait(1, path="bob")[0]["body"]["message"]
    await svc2.stop()

    svc3 = EscalationService(store, cfg, clock=clock)  # another restart: nothing twice
    await svc3.start()
    await svc3.drain()
    await svc3.stop()
    assert len(kinds_of(store, inc, "escalation")) == 3
    assert sorted(g["path"] for g in receiver.got) == ["/alice", "/bob", "/chan", "/lead"]


async def test_clock_backwards_jump_does_not_refire(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from ircon.store.engine import utcnow

    inc = incidents.create(store, "Poisoning", severity="SEV2")["id"]
    clock = FakeClock(utcnow())
    svc = EscalationService(store, make_cfg(receiver, monkeypatch), clock=clock,
                            use_scheduler=False)
    await svc.start()
    clock.advance(minutes=6)
    await run(svc, inc)
    clock.advance(minutes=-6)  # NTP steps the clock back
    assert await run(svc, inc) == []
    clock.advance(minutes=6)
    assert await run(svc, inc) == []
    clock.advance(hours=5)  # a laptop resumes hours later: what fell due goes out once
    assert [f["key"] for f in await run(svc, inc)] == [f"{inc}/e0/L3"]
    assert await run(svc, inc) == []
    await svc.stop()


async def test_timer_fires_through_apscheduler_in_real_time(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    cfg = make_cfg(receiver, monkeypatch, tick_seconds=3600, policies={"p": {"levels": [
        {"after_minutes": 0, "notify": ["person:alice"]},
        {"after_minutes": 0.02, "notify": ["person:bob"]},  # 1.2 s
    ]}}, severity_policy={"SEV2": "p"})
    inc = incidents.create(store, "Probing", severity="SEV2")["id"]
    svc = EscalationService(store, cfg)
    await svc.start()
    await svc.drain()
    assert receiver.at("alice")
    # No sweep for an hour: only the persisted job can send level 2.
    for _ in range(100):
        if receiver.at("bob"):
            break
        await asyncio.sleep(0.05)
    assert len(receiver.at("bob")) == 1
    await svc.drain()
    await svc.stop()
    assert [e["key"] for e in kinds_of(store, inc, "escalation")] == [
        f"{inc}/e0/L1", f"{inc}/e0/L2"]


async def test_clock_actions_and_state(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from ircon.store.engine import utcnow

    cfg = make_cfg(receiver, monkeypatch)
    inc = incidents.create(store, "PII in completions", severity="SEV2")["id"]
    acknowledge(store, inc, actor="alice@laptop")
    aw = utcnow() - timedelta(hours=40)
    with pytest.raises(EscalationInputError, match="unknown clock"):
        start_clock(store, inc, "hipaa", awareness=aw, actor="a", reason="x")
    with pytest.raises(EscalationInputError, match="with its zone"):
        start_clock(store, inc, "gdpr", awareness=aw.replace(tzinfo=None), actor="a",
                    reason="x")
    with pytest.raises(EscalationInputError, match="in the future"):
        start_clock(store, inc, "gdpr", awareness=utcnow() + timedelta(hours=1), actor="a",
                    reason="x")
    with pytest.raises(EscalationInputError, match="say why"):
        start_clock(store, inc, "gdpr", awareness=aw, actor="a", reason=" ")
    start_clock(store, inc, "gdpr", awareness=aw, actor="alice@laptop", reason="PII confirmed")
    svc = EscalationService(store, cfg, use_scheduler=False)
    await svc.start()
    await svc.drain()
    (esc,) = kinds_of(store, inc, "escalation")
    assert esc["what"] == "clock" and esc["fraction"] == 0.5
    # Reminders go to the first level of the policy (the rotation's on-call).
    (got,) = receiver.wait(1, path="alice")
    assert "GDPR" in got["body"]["message"] and "left" in got["body"]["message"]
    st = escalation_state(store, cfg, inc, utcnow())
    (c,) = st["clocks"]
    assert c["state"] == "running" and c["deadline"] == (aw + timedelta(hours=72)).isoformat()
    mark_clock_met(store, inc, "gdpr", reference="DPA-7781", actor="alice@laptop")
    with pytest.raises(EscalationInputError, match="already met"):
        mark_clock_met(store, inc, "gdpr", reference="again", actor="a")
    st = escalation_state(store, cfg, inc, utcnow() + timedelta(days=10))
    assert st["clocks"][0]["state"] == "met" and st["clocks"][0]["reference"] == "DPA-7781"
    await svc.stop()


async def test_firing_claimed_by_a_process_that_died_mid_send_is_resent_once(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from ircon.escalation import scheduler as sch
    from ircon.escalation.ladder import Firing
    from ircon.store.engine import utcnow

    cfg = make_cfg(receiver, monkeypatch)
    inc = incidents.create(store, "Extraction", severity="SEV2")["id"]
    t0 = utcnow()
    # A process claimed level 1 and died before sending anything.
    sch.claim(store, inc, 1, Firing(f"{inc}/e0/L1", t0, "level", ("rotation:primary",),
                                    "acknowledge"), holder="dead:1", actor="x", now=t0,
              late_after=60)
    clock = FakeClock(t0 + timedelta(seconds=30))
    svc = EscalationService(store, cfg, clock=clock, use_scheduler=False)
    await svc.start()
    await svc.drain()
    assert receiver.at("alice") == []  # the claimer may still be retrying: wait
    await svc.stop()
    clock.advance(minutes=10)
    svc = EscalationService(store, cfg, clock=clock, use_scheduler=False)
    await svc.start()
    await svc.drain()
    assert len(receiver.at("alice")) == 1
    notes = kinds_of(store, inc, "notification")
    assert [n["ok"] for n in notes if n["firing"] == f"{inc}/e0/L1"] == [True]
    assert any(e.get("resend") == f"{inc}/e0/L1" for e in kinds_of(store, inc, "escalation"))
    await svc.stop()
    svc = EscalationService(store, cfg, clock=clock, use_scheduler=False)
    await svc.start()
    await svc.drain()
    await svc.stop()
    assert len(receiver.at("alice")) == 1


async def test_on_incident_changed_reevaluates_at_once(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from ircon.store.engine import utcnow

    cfg = make_cfg(receiver, monkeypatch, policies={
        "low": {"levels": [{"notify": ["person:alice"]}]},
        "high": {"levels": [{"notify": ["person:lead"]}]},
    }, severity_policy={"SEV3": "low", "SEV1": "high"})
    inc = incidents.create(store, "Jailbreak", severity="SEV3")["id"]
    svc = EscalationService(store, cfg, clock=utcnow, use_scheduler=False)
    await svc.start()
    await svc.drain()
    acknowledge(store, inc, actor="alice@x")
    incidents.set_severity(store, inc, "SEV1", ["exfiltration confirmed"], actor="alice@x")
    await asyncio.to_thread(svc.on_incident_changed, inc)  # from another thread
    for _ in range(100):
        await asyncio.sleep(0.02)
        if receiver.at("lead"):
            break
    await svc.drain()
    assert len(receiver.at("lead")) == 1 and len(receiver.at("alice")) == 1
    await svc.stop()
