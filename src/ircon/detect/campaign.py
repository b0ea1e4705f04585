"""Campaign correlation: one technique, many identities, one finding.

Consumes the other detectors' findings. Findings that share a signature
(the same rule, the same adversarial suffix, the same probing template) from
at least ``campaign_min_members`` distinct keys/users/IPs inside the campaign
window become one campaign finding that lists its members. It is reported
again only when the campaign has doubled in size.
"""

from __future__ import annotations

from dataclasses import replace

from ircon.detect.base import BuildContext, KeyedState
from ircon.detect.rules import Rule
from ircon.model.finding import Finding

NAME = "campaign"
_MAX_MEMBERS = 512  # remembered per signature; a larger campaign is still one finding
_MAX_REQUESTS = 50  # request ids carried by a campaign finding


class _Campaign:
    __slots__ = ("atlas", "members", "owasp", "reported", "requests", "rule_ids")

    def __init__(self) -> None:
        self.members: dict[str, float] = {}
        self.requests: list[str] = []
        self.reported = 0
        self.atlas: set[str] = set()
        self.owasp: set[str] = set()
        self.rule_ids: set[str] = set()


def member_of(f: Finding) -> str | None:
    if f.key:
        return f"key:{f.key}"
    if f.user:
        return f"user:{f.user}"
    if f.ip:
        return f"ip:{f.ip}"
    return None


class CampaignCorrelator:
    name = NAME

    def __init__(self, rule: Rule | None, ctx: BuildContext) -> None:
        self.rule = rule
        self.window = ctx.cfg.campaign_window_seconds
        self.min_members = ctx.cfg.campaign_min_members
        self.state: KeyedState[_Campaign] = KeyedState(
            _Campaign, max_keys=ctx.cfg.max_keys, idle=self.window)

    def observe_findings(self, findings: list[Finding]) -> list[Finding]:
        if self.rule is None:
            return []
        out: list[Finding] = []
        for f in findings:
            if not f.campaign or f.detector == NAME:
                continue
            who = member_of(f)
            if who is None:
                continue
            c = self.state.get(f.campaign, f.ts)
            horizon = f.ts - self.window
            if who not in c.members and len(c.members) >= _MAX_MEMBERS:
                self._expire(c, horizon)
                if len(c.members) >= _MAX_MEMBERS:
                    continue
            c.members.pop(who, None)
            c.members[who] = f.ts
            c.rule_ids.add(f.rule_id)
            c.atlas.update(f.atlas)
            c.owasp.update(f.owasp)
            if len(c.requests) < _MAX_REQUESTS:
                c.requests.extend(f.request_ids[: _MAX_REQUESTS - len(c.requests)])
            if len(c.members) < self.min_members or len(c.members) < 2 * c.reported:
                continue
            self._expire(c, horizon)
            n = len(c.members)
            if n >= self.min_members and n >= 2 * c.reported:
                c.reported = n
                out.append(self._make(f, c))
        return out

    @staticmethod
    def _expire(c: _Campaign, horizon: float) -> None:
        for who in [w for w, ts in c.members.items() if ts < horizon]:
            del c.members[who]

    def _make(self, last: Finding, c: _Campaign) -> Finding:
        rule = self.rule
        assert rule is not None
        members = tuple(sorted(c.members))
        sig = last.campaign or ""
        return replace(
            last, detector=NAME, rule_id=rule.id,
            title=f"{rule.title}: {last.title} ({len(members)} members)",
            score=min(1.0, max(rule.score, last.score)), severity_hint=rule.severity,
            atlas=tuple(sorted(c.atlas | set(rule.atlas))),
            owasp=tuple(sorted(c.owasp | set(rule.owasp))),
            request_ids=tuple(c.requests), members=members, campaign=sig,
            details={"signature": sig, "members": len(members),
                     "rules": sorted(c.rule_ids), "window_s": self.window},
        )

    def flush(self) -> list[Finding]:
        return []


def from_context(ctx: BuildContext) -> CampaignCorrelator:
    rules = [r for r in ctx.rules if r.detector == NAME and r.id not in set(ctx.cfg.disabled)]
    return CampaignCorrelator(rules[0] if rules else None, ctx)
