"""One human line for a journal entry, by kind (pure).

Used by the console's timeline, ``ircon incident show`` and the journal's
Markdown export, so an entry reads the same everywhere. The result is raw
text: whoever displays it passes it through ``ircon.model.text.visible``
(or the console's ``safe``), since bodies carry attacker-written text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ircon.model import kinds as K

Body = dict[str, Any]


def _s(body: Body, key: str) -> str:
    v = body.get(key)
    return "" if v is None else str(v)


def _join(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def _with_reason(head: str, body: Body) -> str:
    reason = _s(body, "reason")
    return f"{head} — {reason}" if reason else head


def _opened(b: Body) -> str:
    return _join(_s(b, "severity"), _s(b, "title"))


def _severity(b: Body) -> str:
    reasons = "; ".join(str(r) for r in b.get("reasons") or [])
    head = _s(b, "severity") + (" (override)" if b.get("override") else "")
    return f"{head} — {reasons}" if reasons else head


def _alert(b: Body) -> str:
    bits = [_s(b, "name"), _s(b, "source")]
    if b.get("status") == "resolved":
        bits.append("resolved")
    if b.get("acknowledged"):
        bits.append("acknowledged")
    return _join(*bits, _s(b, "summary"))


def _grouping(b: Body) -> str:
    n = b.get("alerts")
    head = f"{n} alert(s) {_s(b, 'decision')}" if n else _s(b, "decision")
    return _join(head, _s(b, "reason"))


def _finding(b: Body) -> str:
    return _join(_s(b, "title"), f"{_s(b, 'detector')}/{_s(b, 'rule_id')}",
                 f"score {b['score']}" if b.get("score") is not None else "")


def _campaign(b: Body) -> str:
    return _join(f"campaign {_s(b, 'campaign')}",
                 f"{b['member_count']} members" if b.get("member_count") else "")


def _playbook(b: Body) -> str:
    h = _s(b, "hash")[:12]
    return _join(f"{_s(b, 'name')} {_s(b, 'version')}".strip(), f"pinned {h}" if h else "")


def _step(b: Body) -> str:
    return _with_reason(f"{_s(b, 'step')} → {_s(b, 'state')}", b)


def _decision(b: Body) -> str:
    head = f"{_s(b, 'step')}: {_s(b, 'label') or _s(b, 'option')}"
    if b.get("starts_clock"):
        head += f" (starts clock {_s(b, 'starts_clock')})"
    return _with_reason(head, b)


def _action(b: Body) -> str:
    what = f"{_s(b, 'adapter')} {_s(b, 'action')}".strip()
    if b.get("phase"):
        what += f" ({_s(b, 'phase')})"
    if b.get("dry_run"):
        what += " [dry run]"
    if "ok" in b:
        what += " ok" if b.get("ok") else " FAILED"
    return _join(what, _s(b, "summary"), _s(b, "error"))


def _escalation(b: Body) -> str:
    targets = ", ".join(str(t) for t in b.get("targets") or [])
    return _join(_s(b, "what"), f"to {targets}" if targets else "", _s(b, "ask"))


def _notification(b: Body) -> str:
    return _join(_s(b, "via") or _s(b, "target"), "delivered" if b.get("ok") else "FAILED",
                 _s(b, "error"))


def _clock(b: Body) -> str:
    event = _s(b, "action") or _s(b, "event")
    return _join(f"{_s(b, 'clock')} {event}".strip(), _s(b, "reference"), _s(b, "reason"))


def _merge(b: Body) -> str:
    others = b.get("from") or b.get("merged") or []
    src = ", ".join(str(o) for o in others) if isinstance(others, list) else str(others)
    return _with_reason(_join(f"from {src}" if src else "", f"into {_s(b, 'into')}"
                              if b.get("into") else ""), b)


def _export(b: Body) -> str:
    return _join(_s(b, "format"), _s(b, "file"), _s(b, "sha256")[:16])


def _drill(b: Body) -> str:
    return _join(_s(b, "drill"), _s(b, "event"),
                 f"score {b['score']}" if b.get("score") is not None else "")


_BY_KIND: dict[str, Callable[[Body], str]] = {
    K.INCIDENT_OPENED: _opened,
    K.NOTE: lambda b: _s(b, "text"),
    K.STATUS: lambda b: _with_reason(_s(b, "status"), b),
    K.SEVERITY: _severity,
    K.ROLE: lambda b: f"{_s(b, 'role') or 'role'}: {_s(b, 'person')}",
    K.ALERT: _alert,
    K.ALERT_UPDATE: _alert,
    K.GROUPING: _grouping,
    K.MERGE: _merge,
    K.SPLIT: _merge,
    K.FINDING: _finding,
    K.CAMPAIGN: _campaign,
    K.PLAYBOOK_STARTED: _playbook,
    K.STEP: _step,
    K.DECISION: _decision,
    K.ACTION_REQUEST: _action,
    K.ACTION_RESULT: _action,
    K.ACTION_UNDO: _action,
    K.ESCALATION: _escalation,
    K.NOTIFICATION: _notification,
    K.CLOCK: _clock,
    K.EXPORT: _export,
    K.EVIDENCE: _export,
    K.DRILL: _drill,
}
_GENERIC_KEYS = ("text", "title", "summary", "message", "status", "name")


def summarize(kind: str, body_text: str, limit: int = 400) -> str:
    """One line for an entry given its kind and stored body text (never raises)."""
    try:
        body = json.loads(body_text)
    except ValueError:
        return body_text[:limit]
    if not isinstance(body, dict):
        return str(body)[:limit]
    fn = _BY_KIND.get(kind)
    line = ""
    if fn is not None:
        try:
            line = fn(body)
        except (TypeError, ValueError, KeyError, AttributeError):
            line = ""  # an unexpected body shape: fall back to the generic reading
    if not line:
        for key in _GENERIC_KEYS:
            if isinstance(body.get(key), str) and body[key]:
                line = body[key]
                break
        else:
            line = json.dumps(body, ensure_ascii=False, sort_keys=True)
    return line[:limit]
