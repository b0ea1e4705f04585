"""What a detector reports: one explained observation about telemetry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, frozen=True)
class Evidence:
    """An excerpt of attacker text with its offsets in the original field."""

    field: str  # e.g. "messages[2].content", "response"
    start: int
    end: int
    excerpt: str  # bounded length; raw text, rendered as plain text only


@dataclass(slots=True, frozen=True)
class Finding:
    """One detector result. ``request_ids`` are the events it rests on."""

    detector: str
    rule_id: str
    title: str
    score: float  # 0..1
    severity_hint: str  # SEV1..SEV4
    atlas: tuple[str, ...] = ()  # e.g. ("AML.T0054",)
    owasp: tuple[str, ...] = ()  # e.g. ("LLM01:2025",)
    request_ids: tuple[str, ...] = ()
    key: str | None = None
    user: str | None = None
    team: str | None = None
    ip: str | None = None
    model: str | None = None
    ts: float = 0.0
    evidence: tuple[Evidence, ...] = ()
    campaign: str | None = None  # a stable signature shared by campaign members
    members: tuple[str, ...] = ()  # for campaign findings: keys/users/IPs involved
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "rule_id": self.rule_id,
            "title": self.title,
            "score": round(self.score, 4),
            "severity_hint": self.severity_hint,
            "atlas": list(self.atlas),
            "owasp": list(self.owasp),
            "request_ids": list(self.request_ids),
            "key": self.key,
            "user": self.user,
            "team": self.team,
            "ip": self.ip,
            "model": self.model,
            "ts": self.ts,
            "evidence": [
                {"field": e.field, "start": e.start, "end": e.end, "excerpt": e.excerpt}
                for e in self.evidence
            ],
            "campaign": self.campaign,
            "members": list(self.members),
            "details": self.details,
        }
