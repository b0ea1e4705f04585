"""Detector findings -> alerts, so they go through the same dedup and grouping.

A finding's fingerprint is stable per rule and actor (key, else user, else IP),
so a detector that keeps firing on one key updates one alert instead of
flooding the board; a campaign finding's fingerprint is its campaign
signature, so the campaign is one alert however many members join.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from ircon.model.alert import AlertIn
from ircon.model.finding import Finding
from ircon.model.severity import SEVERITIES
from ircon.triage.grouping import CAMPAIGN_LABEL
from ircon.triage.severity import AFFECTED_LABEL

MAX_LABEL_CHARS = 512
MAX_EVIDENCE_CHARS = 2000


def source_of(f: Finding) -> str:
    return f"detector:{f.detector}"


def actor_of(f: Finding) -> str:
    for kind, value in (("key", f.key), ("user", f.user), ("ip", f.ip), ("team", f.team)):
        if value:
            return f"{kind}:{value}"
    return "-"


def is_campaign(f: Finding) -> bool:
    return bool(f.campaign and f.members)


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\xff")
    return h.hexdigest()[:16]


def fingerprint_of(f: Finding) -> str:
    if is_campaign(f):
        return _digest("campaign", f.detector, f.campaign or "")
    return _digest("finding", f.rule_id, actor_of(f))


def _cut(s: str, limit: int = MAX_LABEL_CHARS) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def finding_to_alert(f: Finding) -> AlertIn:
    labels = {"alertname": _cut(f.rule_id), "detector": _cut(f.detector), "rule": _cut(f.rule_id)}
    if f.severity_hint in SEVERITIES:
        labels["severity"] = f.severity_hint
    for name, value in (
        ("model", f.model), ("key", f.key), ("user", f.user), ("team", f.team), ("ip", f.ip),
        (CAMPAIGN_LABEL, f.campaign),
    ):
        if value:
            labels[name] = _cut(value)
    if f.members:
        labels[AFFECTED_LABEL] = str(len(set(f.members)))
    if f.atlas:
        labels["atlas"] = _cut(",".join(f.atlas))
    if f.owasp:
        labels["owasp"] = _cut(",".join(f.owasp))
    for flag in ("data_exposure", "regulated", "safety_harm", "automated"):
        if f.details.get(flag) is True:
            labels[flag] = "true"
    annotations = {"summary": _cut(f.title, 1000), "score": f"{f.score:.3f}"}
    if f.evidence:
        excerpt = " | ".join(f"{e.field}: {e.excerpt}" for e in f.evidence[:5])
        annotations["evidence"] = _cut(excerpt, MAX_EVIDENCE_CHARS)
    starts = datetime.fromtimestamp(f.ts, UTC) if f.ts > 0 else None
    return AlertIn(
        source=source_of(f),
        fingerprint=fingerprint_of(f),
        labels=labels,
        annotations=annotations,
        status="firing",
        starts_at=starts,
        raw=f.to_dict(),
    )
