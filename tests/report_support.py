"""A scripted incident for the report tests: realistic journal bodies on a frozen clock."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from ircon.model import kinds as K
from ircon.model.finding import Evidence, Finding
from ircon.store import incidents, journal
from ircon.store.db import Store
from ircon.store.tables import ActionRun, Alert

T0 = datetime(2026, 3, 14, 9, 0, 0, tzinfo=UTC)

HOSTILE = (
    "{{ 7*7 }} {% if true %}JINJA{% endif %} {# c #} <script>alert(1)</script> "
    "`rm -rf /` ``` **bold** [link](http://evil.example) | pipe \x1b[31mRED\x1b[0m "
    "\u202eevil\u202c # heading"
)
PLAYBOOK_SOURCE = (
    "name: jailbreak-campaign\nversion: 1.2.0\ntitle: Jailbreak campaign\n"
    "steps:\n  - id: assess\n  - id: contain\n"
)


class Clock:
    """A clock the store reads instead of the wall clock."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0, **kw: float) -> datetime:
        self.now += timedelta(seconds=seconds, **kw)
        return self.now


@contextmanager
def frozen_clock(start: datetime = T0) -> Iterator[Clock]:
    import ircon.store.incidents as inc_mod
    import ircon.store.journal as j_mod

    clock = Clock(start)
    saved = (inc_mod.utcnow, j_mod.utcnow)
    inc_mod.utcnow = clock  # type: ignore[assignment]
    j_mod.utcnow = clock  # type: ignore[assignment]
    try:
        yield clock
    finally:
        inc_mod.utcnow, j_mod.utcnow = saved  # type: ignore[assignment]


def _finding(i: int, *, ts: datetime, excerpt: str = HOSTILE) -> dict[str, Any]:
    return Finding(
        detector="suffix", rule_id="suffix.gcg", title=f"Adversarial suffix #{i} {excerpt[:20]}",
        score=0.93, severity_hint="SEV2", atlas=("AML.T0054", "AML.T0043"),
        owasp=("LLM01:2025",), request_ids=(f"req-{i}", f"req-{i}b"),
        key=f"key-alias-{i % 2}", user=f"user-{i}", ip="185.220.101.4" if i % 2 else "10.0.0.5",
        model="support-bot-v3", ts=ts.timestamp(),
        evidence=(Evidence("messages[1].content", 10, 10 + len(excerpt), excerpt),),
        campaign="camp-7f3a", members=(f"key-alias-{i % 2}", "185.220.101.4"),
    ).to_dict()


def _alert_body(name: str, fp: str, starts: datetime) -> dict[str, Any]:
    return {
        "source": "alertmanager", "fingerprint": fp, "name": name,
        "labels": {"alertname": name, "model": "support-bot-v3", "severity": "critical",
                   "key": "key-alias-0"},
        "summary": f"Jailbreak attempts above threshold {HOSTILE}",
        "starts_at": starts.isoformat(), "generator_url": "http://prometheus.local/graph?g0=1",
    }


def scripted_incident(store: Store, clock: Clock, *, alerts: int = 6) -> str:
    """An incident from first alert to resolution, with every kind the report reads."""
    ap = journal.append
    hid = incidents.create(
        store, "Jailbreak campaign against support-bot", severity="SEV3", kind="jailbreak",
        reasons=["3 keys sent GCG-style suffixes"], actor="ircon-engine@gw1",
        campaign="camp-7f3a",
    )["id"]
    starts = T0 - timedelta(minutes=20)
    for i in range(alerts):
        clock.advance(10)
        ap(store, hid, K.ALERT, _alert_body("LLMJailbreakAttempt", f"fp{i % 2}", starts),
           actor="ircon-engine@gw1")
        clock.advance(5)
        ap(store, hid, K.GROUPING, {"reason": "same campaign signature", "key": "camp-7f3a"},
           actor="ircon-engine@gw1")
    for i in range(3):
        clock.advance(20)
        ap(store, hid, K.FINDING, _finding(i, ts=starts + timedelta(minutes=i)),
           actor="ircon-engine@gw1")
    clock.advance(60)
    ap(store, hid, K.CAMPAIGN, {"campaign": "camp-7f3a", "members": ["key-alias-2"]},
       actor="ircon-engine@gw1")
    clock.advance(120)
    incidents.set_commander(store, hid, "alice@sec", actor="alice@sec")
    incidents.set_status(store, hid, "acknowledged", "on it", actor="alice@sec")
    clock.advance(60)
    incidents.set_severity(store, hid, "SEV2", ["customer data may be exposed"],
                           override=True, actor="alice@sec")
    ap(store, hid, K.PLAYBOOK_STARTED, {
        "name": "jailbreak-campaign", "version": "1.2.0", "title": "Jailbreak campaign",
        "hash": hashlib.sha256(PLAYBOOK_SOURCE.encode()).hexdigest(), "source": PLAYBOOK_SOURCE,
    }, actor="alice@sec")
    clock.advance(30)
    ap(store, hid, K.STEP, {"step": "assess", "state": "done", "reason": "scope known"},
       actor="alice@sec")
    ap(store, hid, K.DECISION, {"step": "assess", "option": "block-keys", "next": "contain"},
       actor="alice@sec")
    ap(store, hid, K.CLOCK, {
        "action": "start", "clock": "gdpr-72h", "awareness": clock.now.isoformat(),
        "deadline": (clock.now + timedelta(hours=72)).isoformat(), "hours": 72.0,
        "basis": "GDPR Art. 33", "title": "Notify the supervisory authority",
        "reason": "possible personal data in outputs", "edit": False,
    }, actor="alice@sec")
    ap(store, hid, K.NOTE, {"text": f"Attacker prompt seen: {HOSTILE}"}, actor="bob@sec")
    clock.advance(45)
    ap(store, hid, K.ACTION_REQUEST, {
        "run_id": 1, "adapter": "gateway", "type": "litellm", "action": "block_key",
        "params": {"key_alias": "key-alias-1", "api_key": "[redacted]"},
        "plan": {"summary": "block key-alias-1"}, "destructive": False, "dry_run": False,
        "policy": None, "approved_by": None,
    }, actor="alice@sec")
    clock.advance(2)
    ap(store, hid, K.ACTION_RESULT, {
        "run_id": 1, "adapter": "gateway", "action": "block_key", "ok": True,
        "status": "succeeded", "summary": "key-alias-1 blocked", "error": None,
        "output": "HTTP 200", "status_code": 200, "exit_code": None, "attempts": 1,
        "undo_available": True, "details": {},
    }, actor="alice@sec")
    clock.advance(10)
    ap(store, hid, K.ACTION_REQUEST, {
        "run_id": 2, "adapter": "edge", "type": "http", "action": "block_ip",
        "params": {"ip": "185.220.101.4"}, "plan": {"summary": "block 185.220.101.4"},
        "destructive": False, "dry_run": False, "policy": None, "approved_by": None,
    }, actor="alice@sec")
    clock.advance(3)
    ap(store, hid, K.ACTION_RESULT, {
        "run_id": 2, "adapter": "edge", "action": "block_ip", "ok": False,
        "status": "failed", "summary": None, "error": "HTTP 503 from firewall API",
        "output": "", "status_code": 503, "exit_code": None, "attempts": 3,
        "undo_available": False, "details": {},
    }, actor="alice@sec")
    clock.advance(30)
    ap(store, hid, K.ESCALATION, {
        "key": "SEV2:L2", "what": "level 2 page", "due": clock.now.isoformat(),
        "targets": ["security-leads"], "ask": "ack", "late": False, "late_by_seconds": 0.0,
        "level": 2,
    }, actor="ircon-engine@gw1")
    ap(store, hid, K.NOTIFICATION, {
        "firing": "SEV2:L2", "target": "email:security-leads", "who": "carol@sec",
        "via": "mailto", "ok": True, "attempts": 1, "error": None, "seconds": 0.2,
    }, actor="ircon-engine@gw1")
    ap(store, hid, K.NOTIFICATION, {
        "firing": "SEV2:L2", "target": "slack:#sec", "who": "carol@sec", "via": "slack",
        "ok": False, "attempts": 4, "error": "HTTP 500", "seconds": 9.1,
    }, actor="ircon-engine@gw1")
    clock.advance(600)
    incidents.set_status(store, hid, "contained", "keys blocked", actor="alice@sec")
    for i in range(3):  # late alerts after containment: condensed, not listed one by one
        clock.advance(5)
        ap(store, hid, K.ALERT, _alert_body("LLMJailbreakAttempt", "fp0", starts),
           actor="ircon-engine@gw1")
    clock.advance(3600)
    ap(store, hid, K.CLOCK, {"action": "met", "clock": "gdpr-72h", "reference": "DPA-2026-118"},
       actor="alice@sec")
    clock.advance(7200)
    incidents.set_status(store, hid, "resolved", "no activity for 3h", actor="alice@sec")
    _projections(store, hid, starts)
    return hid


def _projections(store: Store, hid: str, starts: datetime) -> None:
    """The alert and action-run rows other areas keep beside the journal."""
    a = Alert.__table__  # type: ignore[attr-defined]
    r = ActionRun.__table__  # type: ignore[attr-defined]
    with store.write() as conn:
        iid, _ = journal.resolve(conn, hid)
        for fp in ("fp0", "fp1"):
            body = _alert_body("LLMJailbreakAttempt", fp, starts)
            conn.execute(a.insert().values(
                source="alertmanager", fingerprint=fp, name=body["name"],
                summary=body["summary"], labels=body["labels"], annotations={"runbook": "x"},
                status="resolved", state="active", severity="SEV2", starts_at=starts,
                first_seen=T0, last_seen=T0, count=3, incident_id=iid,
                raw={"labels": body["labels"], "annotations": {"summary": HOSTILE},
                     "startsAt": starts.isoformat(), "fingerprint": fp},
            ))
        for run_id, action, status in ((1, "block_key", "succeeded"), (2, "block_ip", "failed")):
            conn.execute(r.insert().values(
                id=run_id, incident_id=iid, adapter="gateway" if run_id == 1 else "edge",
                action=action, params={"target": "x", "password": "hunter2"}, plan={},
                status=status, dry_run=False, result={"summary": status},
                undo_data={"restore": "x", "token": "abc"}, requested_by="alice@sec",
                created_at=T0, finished_at=T0,
            ))
