"""Containment policy decisions: pure, no I/O.

Given a policy, a detector finding, how often that finding's scope (key,
user, team, ip) matched recently and what the policy already did in the last
hour, ``decide`` says: act, shadow (journal only), or skip and why. The
automation module turns decisions into journaled adapter calls; ``ircon
policies test`` replays files through the same function.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ircon.engine.settings import PolicyConfig, PolicyWhen
from ircon.model.finding import Finding
from ircon.model.severity import SEVERITIES

HOUR = 3600.0
NEVER = ("never", "none", "")
# Finding fields a parameter template may name; anything else is a config error.
FIELDS = ("key", "user", "team", "ip", "model", "rule_id", "detector")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

Verdict = Literal["act", "shadow", "skip"]
# Why a decision skipped. Only some are journaled (see ``JOURNALED``).
NO_MATCH = "no match"
NO_SCOPE = "no scope"
BELOW_COUNT = "below count"
ALLOWLISTED = "allowlisted"
PAUSED = "paused"
STOPPED = "stopped"
CONTAINED = "already contained"
CAP = "cap reached"
BAD_PARAMS = "bad parameters"
JOURNALED = (ALLOWLISTED, CAP, BAD_PARAMS)


class TemplateError(ValueError):
    """A parameter template names an unknown field, or the finding lacks the value."""


def template_names(template: str) -> list[str]:
    """Placeholders of one parameter template; TemplateError for unknown ones."""
    out = []
    for m in _PLACEHOLDER.finditer(template):
        name = m.group(1).strip()
        if name == "scope":
            out.append(name)
            continue
        prefix, _, fld = name.partition(".")
        if prefix != "finding" or fld not in FIELDS:
            raise TemplateError(
                f"unknown placeholder {{{name}}}; use {{scope}} or one of "
                + ", ".join("{finding." + f + "}" for f in FIELDS))
        out.append(name)
    return out


def render(template: str, finding: Finding, scope_value: str | None) -> str:
    """Fill a template from the finding. Plain substitution: the values are attacker
    influenced and are only ever passed on as one parameter value each (the adapter
    checks them against the parameter's kind)."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1).strip()
        if name == "scope":
            value = scope_value
        else:
            fld = name.partition(".")[2]
            if fld not in FIELDS:
                raise TemplateError(f"unknown placeholder {{{name}}}")
            value = getattr(finding, fld)
        if value is None or value == "":
            raise TemplateError(f"the finding has no {name.partition('.')[2] or name}")
        return str(value)

    return _PLACEHOLDER.sub(sub, template)


def render_params(params: dict[str, str], finding: Finding,
                  scope_value: str | None) -> dict[str, str]:
    return {k: render(v, finding, scope_value) for k, v in params.items()}


def expiry_seconds(text: str) -> float | None:
    """``expire_after`` in seconds, or None for "never". ValueError when unreadable."""
    t = text.strip().lower()
    if t in NEVER:
        return None
    m = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", t)
    if not m or not any(m.groups()):
        raise ValueError(f"{text!r} is not a duration like 30m, 2h, 1h30m, 1d or \"never\"")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    total = d * 86400 + h * 3600 + mi * 60 + s
    if total <= 0:
        raise ValueError("the expiry must be longer than zero (or \"never\")")
    return float(total)


def rule_matches(pattern: str, rule_id: str) -> bool:
    if pattern.endswith("*"):
        return rule_id.startswith(pattern[:-1])
    return rule_id == pattern


def matches(when: PolicyWhen, f: Finding) -> bool:
    """The finding is of the policy's kind (count and scope are judged later)."""
    if when.detector is not None and f.detector != when.detector:
        return False
    if when.rule is not None and not rule_matches(when.rule, f.rule_id):
        return False
    if f.score < when.min_score:
        return False
    if when.severity_at_least is not None:
        sev = f.severity_hint if f.severity_hint in SEVERITIES else "SEV4"
        if SEVERITIES.index(sev) > SEVERITIES.index(when.severity_at_least):
            return False
    return True


def scope_value(when: PolicyWhen, f: Finding) -> str | None:
    v = getattr(f, when.scope)
    return str(v) if v else None


def scope_id(scope: str, value: str) -> str:
    """What is remembered of a scope value: a digest (a key column may hold a raw key)."""
    return hashlib.sha256(f"{scope}:{value}".encode("utf-8", "surrogatepass")).hexdigest()[:24]


def mask(scope: str, value: str) -> str:
    """A scope value as journaled and shown: a key only by its start."""
    if scope == "key":
        if value.startswith("sk-"):
            return "sk-…" + value[-4:]
        return value if len(value) <= 16 else value[:16] + "…"
    return value[:200]


def allowlisted(policy: PolicyConfig, f: Finding) -> str | None:
    """Which allowlist covers the finding (any of its key, team, user, ip), or None."""
    for name, values, v in (("allow_keys", policy.allow_keys, f.key),
                            ("allow_teams", policy.allow_teams, f.team),
                            ("allow_users", policy.allow_users, f.user),
                            ("allow_ips", policy.allow_ips, f.ip)):
        if v and v in values:
            return name
    return None


class WindowCounter:
    """Matching findings per scope value within a sliding window of event time.

    Bounded whatever the number of keys an attacker rotates through: the least
    recently seen values are dropped first.
    """

    def __init__(self, window: float, *, max_values: int = 100_000,
                 max_per_value: int = 10_000) -> None:
        self.window = window
        self.max_values = max_values
        self.max_per_value = max_per_value
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def add(self, value: str, ts: float) -> int:
        """Record one match at ``ts``; the count within the window ending at ``ts``."""
        q = self._seen.pop(value, None)
        if q is None:
            q = deque(maxlen=self.max_per_value)
        q.append(ts)
        horizon = ts - self.window
        while q and q[0] <= horizon:
            q.popleft()
        self._seen[value] = q
        while len(self._seen) > self.max_values:
            self._seen.popitem(last=False)
        return len(q)

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(frozen=True, slots=True)
class PastAction:
    """One earlier decision of the policy that acted (or would have, in shadow)."""

    at: float  # wall-clock epoch seconds
    scope: str  # scope_id
    mode: str  # shadow | enforce
    active: bool  # still in force (or, for shadow, would still be)


@dataclass(frozen=True, slots=True)
class Decision:
    policy: str
    verdict: Verdict
    reason: str  # for skips; "" when acting
    scope: str  # key | user | team | ip
    value: str | None  # the scope value (unmasked: callers mask it before showing)
    count: int = 0
    params: dict[str, str] = field(default_factory=dict)
    detail: str = ""

    @property
    def journaled(self) -> bool:
        return self.verdict != "skip" or self.reason in JOURNALED

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "verdict": self.verdict, "reason": self.reason,
                "scope": self.scope,
                "value": mask(self.scope, self.value) if self.value else None,
                "count": self.count, "detail": self.detail}


def actions_in_hour(history: Iterable[PastAction], mode: str, now: float) -> int:
    return sum(1 for h in history if h.mode == mode and h.at > now - HOUR)


def decide(
    name: str, policy: PolicyConfig, f: Finding, *, count: int, history: Sequence[PastAction],
    now: float, paused: bool = False, stopped: bool = False,
) -> Decision:
    """What the policy does about one finding.

    ``count``: matches of this finding's scope value within the window, this one
    included; ``history``: the policy's earlier actions; ``now``: wall-clock seconds.
    """
    when = policy.when
    value = scope_value(when, f)

    def skip(reason: str, detail: str = "") -> Decision:
        return Decision(name, "skip", reason, when.scope, value, count, detail=detail)

    if not matches(when, f):
        return skip(NO_MATCH)
    if value is None:
        return skip(NO_SCOPE, f"the finding has no {when.scope}")
    if count < when.min_count:
        return skip(BELOW_COUNT, f"{count} of {when.min_count} within "
                                 f"{when.window_seconds:g} s")
    hit = allowlisted(policy, f)
    if hit is not None:
        return skip(ALLOWLISTED, f"listed in {hit}")
    if paused:
        return skip(PAUSED, "automated containment is paused (kill switch)")
    if stopped:
        return skip(STOPPED, "the policy stopped after reaching its cap")
    sid = scope_id(when.scope, value)
    if any(h.scope == sid and h.active and h.mode == policy.mode for h in history):
        return skip(CONTAINED)
    done = actions_in_hour(history, policy.mode, now)
    if done >= policy.cap_per_hour:
        return skip(CAP, f"{done} automated actions in the last hour; the cap is "
                         f"{policy.cap_per_hour}")
    try:
        params = render_params(policy.then.params, f, value)
    except TemplateError as exc:
        return skip(BAD_PARAMS, str(exc))
    verdict: Verdict = "act" if policy.mode == "enforce" else "shadow"
    return Decision(name, verdict, "", when.scope, value, count, params)
