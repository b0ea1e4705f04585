"""Grouping: which incident an alert belongs to, and why.

An alert joins an open incident that has the same grouping key. The key
comes, in order of precedence, from:

1. a campaign signature (label ``campaign``, set by the campaign detectors):
   every alert attributed to one campaign is one incident, whatever its rule;
2. the backend's own group key (Alertmanager's), when ``group_mode`` is
   ``backend``: the team's routing already says what belongs together;
3. the configured label set (``group_by``, e.g. alertname + model), when the
   alert carries at least one of those labels;
4. otherwise the alert itself (source + fingerprint): it stands alone.

Keys are bounded (long ones are hashed) because label values are
attacker-influenced and the key is indexed.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Literal

from ircon.model.alert import AlertIn
from ircon.model.text import one_line
from ircon.triage.settings import TriageConfig

CAMPAIGN_LABEL = "campaign"
MAX_KEY_CHARS = 256

Basis = Literal["campaign", "backend", "labels", "alert"]


@dataclass(frozen=True, slots=True)
class GroupDecision:
    key: str
    basis: Basis
    reason: str  # readable, bounded, control characters escaped

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "basis": self.basis, "reason": self.reason}


def _bounded(prefix: str, text: str) -> str:
    key = f"{prefix}:{text}"
    if len(key) <= MAX_KEY_CHARS:
        return key
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{prefix}:sha256:{digest}"


def campaign_key(signature: str) -> str:
    return _bounded("campaign", signature)


def decide(alert: AlertIn, cfg: TriageConfig) -> GroupDecision:
    labels = alert.labels
    sig = labels.get(CAMPAIGN_LABEL)
    if sig:
        return _campaign(sig)
    if cfg.group_mode == "backend" and alert.group_key:
        return _backend(alert.source, alert.group_key)
    values = tuple(labels.get(k, "") for k in cfg.group_by)
    if any(values):
        return _labels(tuple(cfg.group_by), values)
    return GroupDecision(
        _bounded("alert", f"{alert.source}:{alert.fingerprint}"), "alert",
        "no grouping label or group key: the alert stands alone",
    )


# The decisions below depend only on their arguments; a pull of thousands of alerts
# shares a handful of them, so each is worked out (and its reason escaped) once.
@functools.lru_cache(maxsize=4096)
def _campaign(sig: str) -> GroupDecision:
    return GroupDecision(
        campaign_key(sig), "campaign",
        f"attributed to campaign {one_line(sig, 80)} by the detectors",
    )


@functools.lru_cache(maxsize=4096)
def _backend(source: str, group_key: str) -> GroupDecision:
    return GroupDecision(
        _bounded("group", f"{source}:{group_key}"), "backend",
        f"same {one_line(source, 40)} group key {one_line(group_key, 120)}",
    )


@functools.lru_cache(maxsize=4096)
def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> GroupDecision:
    pairs = [[k, v] for k, v in zip(names, values, strict=True)]
    text = json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))
    shown = ", ".join(f"{k}={one_line(v, 60)}" for k, v in pairs if v)
    return GroupDecision(_bounded("labels", text), "labels", f"same labels {shown}")


DETECTOR_NAMES = {
    "jailbreak": "Jailbreak",
    "injection": "Prompt injection",
    "obfuscation": "Obfuscated prompt",
    "suffix": "Adversarial suffix",
    "leakage": "Leakage",
    "probing": "Probing / model extraction",
    "wallet": "Denial of wallet",
}


def incident_title(alert: AlertIn, decision: GroupDecision) -> str:
    """A short title a responder reads first (raw text; render with visible()).

    It leads with what is happening in words (the summary), then the rule or
    alert name and the model; a campaign says so and names the attack family.
    """
    name = alert.labels.get("alertname") or alert.fingerprint
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    model = alert.labels.get("model")
    where = f"{name} on {model}" if model else name
    if decision.basis == "campaign":
        family = DETECTOR_NAMES.get(alert.labels.get("detector", ""), "Attack")
        title = f"{family} campaign: {summary or name}"
    elif summary:
        title = f"{summary} ({where})"
    else:
        title = where
    return title[:200]
