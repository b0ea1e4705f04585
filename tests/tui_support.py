"""Deterministic console data: fixed timestamps, a fixed clock, a fixed zone.

Used by the console tests, the snapshot tests and ``tests/screenshots.py``.
Rows are written through the store's own journal functions (valid chains),
with explicit timestamps so every run paints the same screen.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ircon.config import IrconConfig, LoadedConfig, UiConfig
from ircon.model import kinds
from ircon.model.journal import canonical_body
from ircon.store.db import Store
from ircon.store.journal import append_in
from ircon.store.tables import Alert, Incident

NOW = datetime(2026, 3, 14, 2, 30, 0, tzinfo=UTC)
TZ = ZoneInfo("Europe/Berlin")
ACTOR = "alice@jump-1"
CONFIG_PATH = Path("/etc/ircon/ircon.toml")

_I = Incident.__table__  # type: ignore[attr-defined]
_A = Alert.__table__  # type: ignore[attr-defined]

HOSTILE = [
    "[bold red]PWNED[/] [link=https://evil.example]click[/link] [@click=app.quit]x[/]",
    "\x1b]0;owned title\x07\x1b[2J\x1b[31mred\x1b[0m",
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "safe\u202egnp.exe\u202c and \u2066isolate\u2069 zero\u200bwidth",
    "tag\U000e0041\U000e0042 chars \x9b31m c1 csi",
]


def fixed_clock() -> datetime:
    return NOW


def loaded_config(**ui: Any) -> LoadedConfig:
    return LoadedConfig(IrconConfig(ui=UiConfig(timezone="Europe/Berlin", **ui)), None)


def add_incident(
    store: Store, number: int, title: str, *, severity: str = "SEV2", status: str = "open",
    commander: str | None = None, kind: str = "jailbreak", opened: datetime | None = None,
    notes: list[tuple[int, str, str]] = (),  # type: ignore[assignment]
) -> str:
    """An incident opened at ``opened`` with journal entries at fixed offsets (minutes)."""
    opened = opened or NOW - timedelta(minutes=90)
    hid = f"IR-2026-{number:04d}"
    with store.write() as conn:
        iid = int(conn.execute(_I.insert().values(
            human_id=hid, year=2026, number=number, title=title, kind=kind, severity=severity,
            severity_reasons=["detector: jailbreak template seen on 3 keys"], status=status,
            commander=commander, atlas=[], owasp=[], created_at=opened, updated_at=opened,
        )).inserted_primary_key[0])
        append_in(conn, iid, hid, kinds.INCIDENT_OPENED, canonical_body(
            {"title": title, "severity": severity, "kind": kind, "reasons": []}), "ircon@engine",
            opened)
        later: list[tuple[int, str, dict[str, Any], str]] = []
        if commander:
            later.append((3, kinds.ROLE, {"role": "commander", "person": commander}, commander))
        later += [(m, kinds.NOTE, {"text": text}, who) for m, who, text in notes]
        if status != "open":
            later.append((6, kinds.STATUS, {"status": status, "reason": "on it"},
                          commander or ACTOR))
        for minutes, kind, body, who in sorted(later, key=lambda x: x[0]):
            append_in(conn, iid, hid, kind, canonical_body(body), who,
                      opened + timedelta(minutes=minutes))
    return hid


def add_alert(
    store: Store, n: int, name: str, summary: str, *, severity: str = "SEV2",
    source: str = "am-prod", incident: str | None = None, labels: dict[str, str] | None = None,
    minutes_ago: int = 5, count: int = 1, status: str = "firing",
) -> int:
    with store.write() as conn:
        iid = None
        if incident:
            iid = conn.execute(_I.select().where(_I.c.human_id == incident)).first()[0]
        seen = NOW - timedelta(minutes=minutes_ago)
        return int(conn.execute(_A.insert().values(
            source=source, fingerprint=f"fp{n:05d}", name=name, summary=summary,
            labels=labels or {"alertname": name, "model": "chat-prod", "team": "ml"},
            annotations={"summary": summary, "runbook": "https://runbooks.example/jb"},
            status=status, state="active", severity=severity, first_seen=seen - timedelta(
                minutes=30), last_seen=seen, count=count, acknowledged=False, incident_id=iid,
            raw={"labels": labels or {"alertname": name}, "annotations": {"summary": summary}},
        )).inserted_primary_key[0])


def start_playbook_at(store: Store, hid: str, name: str, at: datetime) -> None:
    """Pin a bundled playbook with a fixed timestamp (the same entry start_playbook writes)."""
    from ircon.response import engine
    from ircon.response.library import find, playbook_dirs

    res = find(name, playbook_dirs())
    assert res.playbook is not None and res.source is not None and res.sha256 is not None
    kind, body = engine.start_entry(res.playbook, res.source, res.sha256)
    with store.write() as conn:
        iid = conn.execute(_I.select().where(_I.c.human_id == hid)).first()[0]
        append_in(conn, iid, hid, kind, canonical_body(body), ACTOR, at)
        conn.execute(_I.update().where(_I.c.id == iid).values(
            playbook=res.playbook.name, playbook_hash=res.sha256))


def seed_demo(store: Store, *, hostile: bool = False) -> dict[str, str]:
    """A small, realistic night: three live incidents, one resolved, a queue of alerts."""
    jb = add_incident(
        store, 1, "Jailbreak campaign against chat-prod (DAN template)", severity="SEV1",
        status="acknowledged", commander=ACTOR,
        notes=[(8, ACTOR, "Same role-play framing on 3 API keys since 00:55Z."),
               (14, "bob@jump-2", "Guardrail rule draft ready; waiting for approval."),
               (31, ACTOR, "Keys k-193, k-201 revoked; third key belongs to QA.")],
    )
    start_playbook_at(store, jb, "jailbreak-campaign", NOW - timedelta(minutes=50))
    pi = add_incident(
        store, 2, "Indirect prompt injection via support-bot RAG documents", severity="SEV2",
        kind="prompt-injection", opened=NOW - timedelta(minutes=42),
        notes=[(5, "bob@jump-2", "Poisoned doc found in kb/faq-billing.md")],
    )
    dw = add_incident(
        store, 3, "Denial of wallet: token spend 40x baseline on team growth", severity="SEV3",
        kind="denial-of-wallet", opened=NOW - timedelta(hours=5), status="contained",
        commander="carol@jump-1",
    )
    add_incident(store, 4, "System prompt leak in public demo", severity="SEV2",
                 kind="leakage", opened=NOW - timedelta(days=2), status="resolved",
                 commander="bob@jump-2")
    add_alert(store, 1, "LLMJailbreakTemplate", "DAN-style template on 3 keys", severity="SEV1",
              incident=jb, minutes_ago=2, count=57)
    add_alert(store, 2, "LLMPromptInjection", "instructions in retrieved document",
              severity="SEV2", incident=pi, minutes_ago=6, count=4)
    add_alert(store, 3, "LLMTokenSpendSpike", "spend 40x baseline (team growth)",
              severity="SEV3", incident=dw, minutes_ago=12, count=9)
    add_alert(store, 4, "LLMSystemPromptEcho", "output repeats system prompt fragments",
              severity="SEV2", minutes_ago=1, source="gateway")
    add_alert(store, 5, "LLMProbeBurst", "systematic probing from 203.0.113.7",
              severity="SEV3", minutes_ago=4, source="gateway", count=120)
    add_alert(store, 6, "LLMLatencyHigh", "p99 latency 9s on chat-prod", severity="SEV4",
              minutes_ago=35, status="resolved")
    if hostile:
        for i, text in enumerate(HOSTILE):
            add_alert(store, 100 + i, text, text, severity="SEV2", source=text[:20],
                      labels={"alertname": text, text[:10]: text}, minutes_ago=3)
    return {"jailbreak": jb, "injection": pi, "wallet": dw}


async def settle(pilot: Any, rounds: int = 2) -> None:
    """Let workers finish and their messages land (data is loaded in threads)."""
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        # Not the long-lived ones: the poller, and dialog sequences waiting for keys.
        pending = [w for w in app.workers if w.group not in ("engine", "run_step")]
        if pending:
            await asyncio.wait([asyncio.ensure_future(w.wait()) for w in pending], timeout=5)
        await pilot.pause()


def make_app(store: Store, **kw: Any) -> Any:
    from ircon.tui.app import IrconApp

    kw.setdefault("loaded", loaded_config())
    kw.setdefault("config_path", CONFIG_PATH)
    kw.setdefault("actor", ACTOR)
    kw.setdefault("clock", fixed_clock)
    kw.setdefault("tz", TZ)
    kw.setdefault("refresh_seconds", 0.2)
    kw.setdefault("start_engine", False)
    return IrconApp(store=store, **kw)
