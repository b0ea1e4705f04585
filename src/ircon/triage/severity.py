"""Severity: SEV1..SEV4 from impact x urgency, with reasons a responder can read.

Impact (how bad it is if true):

* high   — regulated data involved; users may be harmed (safety); at least
           ``affected_high`` distinct keys/users/IPs; or data exposed from a
           production model.
* medium — data exposed; at least ``affected_medium`` keys/users/IPs; or a
           production model is affected.
* low    — none of the above.

Urgency (how fast it needs hands), counting three signals: *ongoing* (an
alert is still firing), *spreading* (at least ``spreading_actors`` actors or
``spreading_alerts`` alerts in the incident), *automated* (scripted or bot
traffic). ``urgency_high`` or more signals: high; one: medium; none: low.

The matrix::

                  urgency high   urgency medium   urgency low
    impact high       SEV1            SEV2            SEV2
    impact medium     SEV2            SEV3            SEV3
    impact low        SEV3            SEV4            SEV4

The backend's own severity label (``critical``, ``warning``, or a detector's
``SEVn`` hint) is a floor: the result is never less severe than it maps to.
A responder's override (journaled with its reason) always wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ircon.model.severity import SEVERITIES, rank, worst
from ircon.model.text import one_line
from ircon.triage.settings import TriageConfig

Level = Literal["high", "medium", "low"]

MATRIX: dict[tuple[Level, Level], str] = {
    ("high", "high"): "SEV1", ("high", "medium"): "SEV2", ("high", "low"): "SEV2",
    ("medium", "high"): "SEV2", ("medium", "medium"): "SEV3", ("medium", "low"): "SEV3",
    ("low", "high"): "SEV3", ("low", "medium"): "SEV4", ("low", "low"): "SEV4",
}

AFFECTED_LABEL = "affected"  # a detector's count of keys/users/IPs involved
_TRUE = frozenset({"true", "yes", "1", "y", "on"})
MAX_ACTORS = 100_000  # distinct values remembered; enough to cross any threshold


@dataclass(slots=True)
class Facts:
    """What triage knows about an incident (or one alert), from its alerts' labels."""

    alerts: int = 0
    firing: int = 0
    actors: set[str] = field(default_factory=set)
    affected: int = 0  # largest count a detector reported
    data_exposure: bool = False
    regulated: bool = False
    safety_harm: bool = False
    production: bool = False
    automated: bool = False
    floor: str | None = None  # least severe level the backends allow
    floor_reason: str = ""

    @property
    def affected_count(self) -> int:
        return max(len(self.actors), self.affected)


def _truthy(labels: Mapping[str, str], names: Iterable[str]) -> str | None:
    for n in names:
        v = labels.get(n)
        if v is not None and v.strip().lower() in _TRUE:
            return n
    return None


def add_alert(facts: Facts, labels: Mapping[str, str], status: str, cfg: TriageConfig) -> None:
    """Fold one alert into ``facts`` (used for one alert or a whole incident)."""
    facts.alerts += 1
    if status == "firing":
        facts.firing += 1
    for name in cfg.actor_labels:
        v = labels.get(name)
        if v and len(facts.actors) < MAX_ACTORS:
            facts.actors.add(f"{name}={v[:256]}")
    raw_affected = labels.get(AFFECTED_LABEL, "")
    if raw_affected.isdigit() and len(raw_affected) <= 9:
        facts.affected = max(facts.affected, int(raw_affected))
    facts.data_exposure = facts.data_exposure or bool(_truthy(labels, cfg.data_exposure_labels))
    facts.regulated = facts.regulated or bool(_truthy(labels, cfg.regulated_labels))
    facts.safety_harm = facts.safety_harm or bool(_truthy(labels, cfg.safety_labels))
    facts.automated = facts.automated or bool(_truthy(labels, cfg.automated_labels))
    if not facts.production:
        for name, values in cfg.production_labels.items():
            v = labels.get(name)
            if v is not None and v.strip().lower() in values:
                facts.production = True
                break
    sev = labels.get(cfg.severity_label)
    if sev:
        mapped = sev if sev in SEVERITIES else cfg.backend_severity.get(sev.strip().lower())
        if mapped and (facts.floor is None or rank(mapped) < rank(facts.floor)):
            facts.floor = mapped
            facts.floor_reason = (
                f"backend severity {one_line(sev, 40)} allows nothing less than {mapped}"
            )


def facts_of(
    alerts: Iterable[tuple[Mapping[str, str], str]], cfg: TriageConfig
) -> Facts:
    """Facts over (labels, status) pairs."""
    facts = Facts()
    for labels, status in alerts:
        add_alert(facts, labels, status, cfg)
    return facts


@dataclass(frozen=True, slots=True)
class Classification:
    level: str
    impact: Level
    urgency: Level
    reasons: tuple[str, ...]
    override: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "severity": self.level, "impact": self.impact, "urgency": self.urgency,
            "reasons": list(self.reasons), "override": self.override,
        }


def _impact(f: Facts, cfg: TriageConfig) -> tuple[Level, list[str]]:
    t = cfg.thresholds
    n = f.affected_count
    high: list[str] = []
    if f.regulated:
        high.append("regulated data involved")
    if f.safety_harm:
        high.append("users may be harmed (safety)")
    if n >= t.affected_high:
        high.append(f"{n} keys/users/IPs affected (high at {t.affected_high})")
    if f.data_exposure and f.production:
        high.append("data exposed from a production model")
    if high:
        return "high", high
    medium: list[str] = []
    if f.data_exposure:
        medium.append("data exposed")
    if n >= t.affected_medium:
        medium.append(f"{n} keys/users/IPs affected (medium at {t.affected_medium})")
    if f.production:
        medium.append("a production model is affected")
    if medium:
        return "medium", medium
    return "low", [f"{n} key/user/IP affected, no data exposure, not production"
                   if n else "no affected keys/users, no data exposure, not production"]


def _urgency(f: Facts, cfg: TriageConfig) -> tuple[Level, list[str]]:
    t = cfg.thresholds
    signals: list[str] = []
    if f.firing:
        signals.append(f"ongoing ({f.firing} alert(s) firing)")
    n = f.affected_count
    if n >= t.spreading_actors:
        signals.append(f"spreading ({n} actors, threshold {t.spreading_actors})")
    elif f.alerts >= t.spreading_alerts:
        signals.append(f"spreading ({f.alerts} alerts, threshold {t.spreading_alerts})")
    if f.automated:
        signals.append("automated activity")
    if len(signals) >= t.urgency_high:
        return "high", signals
    if signals:
        return "medium", signals
    return "low", ["not ongoing, not spreading, not automated"]


def classify(facts: Facts, cfg: TriageConfig) -> Classification:
    impact, why_impact = _impact(facts, cfg)
    urgency, why_urgency = _urgency(facts, cfg)
    level = MATRIX[(impact, urgency)]
    reasons = [
        f"impact {impact}: " + "; ".join(why_impact),
        f"urgency {urgency}: " + "; ".join(why_urgency),
        f"matrix: impact {impact} x urgency {urgency} -> {level}",
    ]
    if facts.floor and rank(facts.floor) < rank(level):
        level = worst(level, facts.floor)
        reasons.append(facts.floor_reason)
    return Classification(level, impact, urgency, tuple(reasons))


def with_override(computed: Classification, level: str, reason: str, by: str) -> Classification:
    """A responder's decision wins; the computed reasons stay visible beneath it."""
    if level not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
    return Classification(
        level, computed.impact, computed.urgency,
        (f"override by {one_line(by, 60)}: {one_line(reason, 200)}", *computed.reasons),
        override=True,
    )


def needs_change(current: str, overridden: bool, computed: Classification) -> bool:
    """Whether triage should change an incident's severity: never over an override."""
    return not overridden and computed.level != current


def at_least(level: str, minimum: str) -> bool:
    """``level`` is as severe as ``minimum`` or worse."""
    return rank(level) <= rank(minimum)
