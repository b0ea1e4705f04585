"""The detector set: the one entry point the engine, the demo and ``ircon scan`` use.

    ds = DetectorSet.from_config(cfg)        # cfg: DetectConfig
    for event in events:
        for f in ds.observe(event): ...
    for f in ds.flush(): ...

A detector that raises on some input is counted (``errors``) and skipped for
that event; one hostile event never stops detection for the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ircon.detect import base, keyed_batch
from ircon.detect.base import BatchDetector, BuildContext, Detector, TextGate
from ircon.detect.campaign import CampaignCorrelator
from ircon.detect.campaign import from_context as campaign_from_context
from ircon.detect.gate import MergedGate
from ircon.detect.leakage import read_system_prompts
from ircon.detect.rules import Rule, load_rules
from ircon.detect.settings import DetectConfig
from ircon.detect.turnmemo import TurnMemo
from ircon.model.finding import Finding
from ircon.model.telemetry import TelemetryEvent


def default_rules_dir() -> Path:
    from ircon.paths import config_dir

    return config_dir() / "rules"


@dataclass
class DetectStats:
    events: int = 0
    findings: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    last_error: dict[str, str] = field(default_factory=dict)


class DetectorSet:
    def __init__(self, detectors: list[Detector], campaign: CampaignCorrelator | None,
                 rules: list[Rule]) -> None:
        self.campaign = campaign
        self.rules = rules
        self.stats = DetectStats()
        self.detectors = detectors

    @property
    def detectors(self) -> list[Detector]:
        return self._detectors

    @detectors.setter
    def detectors(self, detectors: list[Detector]) -> None:
        # Detectors that only read new-turn text and say what they need to see are
        # skipped together for events whose text shows none of it.
        self._detectors = detectors
        gates: list[TextGate] = []
        ungated: list[Detector] = []
        own: list[TextGate | None] = []
        for d in detectors:
            tg = getattr(d, "text_gate", None)
            g = tg() if callable(tg) else None
            if isinstance(g, TextGate):
                gates.append(g)
                own.append(g)
            else:
                ungated.append(d)
                own.append(None)
        self._gate = MergedGate(gates) if gates else None
        self._ungated = ungated
        # Each gated detector's own gate, asked about the events the merged gate opens
        # (a few): a detector whose gate stays shut for an event finds nothing in it.
        self._own_gates: list[MergedGate | None] = [
            MergedGate([g]) if g is not None and len(gates) > 1 else None for g in own]
        # isinstance with a runtime-checkable protocol inspects the class every time
        self._batched: list[BatchDetector | None] = [
            d if isinstance(d, BatchDetector) else None for d in detectors]
        # how each detector is asked about one event: a recent turn is scanned once
        self._observe: list[Callable[[TelemetryEvent], list[Finding]]] = [
            TurnMemo(d).observe if getattr(d, "turn_pure", False) is True else d.observe
            for d in detectors]

    @classmethod
    def from_config(cls, cfg: DetectConfig | None = None, *, rules_dir: Path | None = None,
                    base_dir: Path | None = None) -> DetectorSet:
        """Detectors named in the registry minus ``cfg.disabled``, with the shipped rule
        packs plus those in ``rules_dir`` (default: ``cfg.rules_dir``, else
        ``<config dir>/rules``). ``base_dir`` anchors relative paths in the config."""
        cfg = cfg or DetectConfig()
        extra = rules_dir
        if extra is None:
            extra = Path(cfg.rules_dir).expanduser() if cfg.rules_dir else default_rules_dir()
            if base_dir is not None and not extra.is_absolute():
                extra = base_dir / extra
        rules = load_rules([extra])
        ctx = BuildContext(cfg=cfg, rules=rules,
                           system_prompts=read_system_prompts(cfg.system_prompt_files, base_dir))
        off = set(cfg.disabled)
        detectors = [base.build(name, ctx) for name in base.REGISTRY if name not in off]
        campaign = None if base.CAMPAIGN in off else campaign_from_context(ctx)
        return cls(detectors, campaign, rules)

    def observe(self, event: TelemetryEvent) -> list[Finding]:
        out: list[Finding] = []
        stats = self.stats
        stats.events += 1
        gate = self._gate
        quiet = gate is not None and gate.quiet(event)
        for d, observe in zip(self._detectors, self._observe, strict=True):
            if quiet and d not in self._ungated:
                continue
            try:
                got = observe(event)
            except Exception as exc:
                stats.errors[d.name] += 1
                stats.last_error[d.name] = f"{type(exc).__name__}: {exc}"[:300]
                continue
            if got:
                out.extend(got)
        if out:
            if self.campaign is not None:
                out.extend(self.campaign.observe_findings(out))
            for f in out:
                stats.findings[f.detector] += 1
        return out

    def observe_batch(self, events: Sequence[TelemetryEvent]) -> list[Finding]:
        """The findings ``observe`` would return for each event in turn, concatenated,
        computed batch-wise: the merged gate answers for all events at once, gated
        detectors see only the events it opens, and detectors with ``observe_batch``
        take the whole list (see ``base.BatchDetector``)."""
        if len(events) == 1:
            return self.observe(events[0])
        stats = self.stats
        stats.events += len(events)
        gate = self._gate
        opened = gate.open_indices(events) if gate is not None else range(len(events))
        ungated = self._ungated
        # findings per event index; detectors run in order, so each list is in output order
        per_event: dict[int, list[Finding]] = {}
        for pos, d in enumerate(self._detectors):
            pairs: list[tuple[int, Finding]] = []
            if gate is not None and d not in ungated:
                own = self._own_gates[pos]
                observe = self._observe[pos]
                for i in (opened if own is None or not opened
                          else own.open_among(events, opened)):
                    got = self._guarded(d, observe, events[i])
                    if got:
                        per_event.setdefault(i, []).extend(got)
            elif (bd := self._batched[pos]) is not None:
                try:
                    pairs = bd.observe_batch(events)
                except Exception as exc:  # counted; the other detectors go on
                    self._failed(d, exc)
                    continue
            else:
                observe = self._observe[pos]
                for i, ev in enumerate(events):
                    pairs.extend((i, f) for f in self._guarded(d, observe, ev))
            for i, f in pairs:
                per_event.setdefault(i, []).append(f)
        out: list[Finding] = []
        campaign = self.campaign
        for i in sorted(per_event):
            got = per_event[i]
            if campaign is not None:
                got.extend(campaign.observe_findings(got))
            out.extend(got)
        stats.findings.update(f.detector for f in out)
        keyed_batch.forget()  # the batch's shared columns hold its events
        return out

    def _guarded(self, d: Detector, observe: Callable[[TelemetryEvent], list[Finding]],
                 event: TelemetryEvent) -> list[Finding]:
        try:
            return observe(event)
        except Exception as exc:
            self._failed(d, exc)
            return []

    def _failed(self, d: Detector, exc: Exception) -> None:
        self.stats.errors[d.name] += 1
        self.stats.last_error[d.name] = f"{type(exc).__name__}: {exc}"[:300]

    def flush(self) -> list[Finding]:
        out: list[Finding] = []
        for d in self.detectors:
            out.extend(d.flush())
        if out and self.campaign is not None:
            out.extend(self.campaign.observe_findings(out))
        for f in out:
            self.stats.findings[f.detector] += 1
        return out
