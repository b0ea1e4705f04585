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
    floor_label: str = ""  # the backend severity value that set it

    @property
    def floor_reason(self) -> str:
        return (f"backend severity {one_line(self.floor_label, 40)} allows nothing less "
                f"than {self.floor}")

    @property
    def affected_count(self) -> int:
        return max(len(self.actors), self.affected)


@dataclass(frozen=True, slots=True)
class _Plan:
    """The label names triage looks at, worked out once per config."""

    actor: tuple[str, ...]
    flags: tuple[tuple[str, str], ...]  # (label, fact attribute)
    production: tuple[tuple[str, frozenset[str]], ...]
    severity_label: str
    backend: dict[str, str]


_PLANS: dict[int, tuple[TriageConfig, _Plan]] = {}


def _plan(cfg: TriageConfig) -> _Plan:
    hit = _PLANS.get(id(cfg))
    if hit is not None and hit[0] is cfg:
        return hit[1]
    flags = [(n, "data_exposure") for n in cfg.data_exposure_labels]
    flags += [(n, "regulated") for n in cfg.regulated_labels]
    flags += [(n, "safety_harm") for n in cfg.safety_labels]
    flags += [(n, "automated") for n in cfg.automated_labels]
    plan = _Plan(
        tuple(cfg.actor_labels), tuple(flags),
        tuple((k, frozenset(v.lower() for v in vs)) for k, vs in cfg.production_labels.items()),
        cfg.severity_label, dict(cfg.backend_severity),
    )
    if len(_PLANS) > 64:
        _PLANS.clear()
    _PLANS[id(cfg)] = (cfg, plan)
    return plan


def add_alert(facts: Facts, labels: Mapping[str, str], status: str, cfg: TriageConfig) -> None:
    """Fold one alert into ``facts`` (used for one alert or a whole incident)."""
    plan = _plan(cfg)
    facts.alerts += 1
    if status == "firing":
        facts.firing += 1
    for name in plan.actor:
        v = labels.get(name)
        if v and len(facts.actors) < MAX_ACTORS:
            facts.actors.add(f"{name}={v[:256]}")
    raw_affected = labels.get(AFFECTED_LABEL)
    if raw_affected and raw_affected.isdigit() and len(raw_affected) <= 9:
        facts.affected = max(facts.affected, int(raw_affected))
    for name, attr in plan.flags:
        v = labels.get(name)
        if v is not None and v.strip().lower() in _TRUE:
            setattr(facts, attr, True)
    if not facts.production:
        for name, values in plan.production:
            v = labels.get(name)
            if v is not None and v.strip().lower() in values:
                facts.production = True
                break
    sev = labels.get(plan.severity_label)
    if sev:
        mapped = sev if sev in SEVERITIES else plan.backend.get(sev.strip().lower())
        if mapped and (facts.floor is None or rank(mapped) < rank(facts.floor)):
            facts.floor = mapped
            facts.floor_label = sev


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
