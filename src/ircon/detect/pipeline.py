"""The detector set: the one entry point the engine, the demo and ``ircon scan`` use.

    ds = DetectorSet.from_config(cfg)        # cfg: DetectConfig
    for event in events:
        for f in ds.observe(event): ...
    for f in ds.flush(): ...

A detector that raises on some input is counted (``errors``) and skipped for
that event; one hostile event never stops detection for the others.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ircon.detect import base
from ircon.detect.base import BuildContext, Detector, TextGate, current_turn
from ircon.detect.campaign import CampaignCorrelator
from ircon.detect.campaign import from_context as campaign_from_context
from ircon.detect.leakage import read_system_prompts
from ircon.detect.patterns import remember_words
from ircon.detect.rules import Rule, load_rules, word_bytes
from ircon.detect.settings import DetectConfig
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


_LONG_RUN_TABLE = bytes.maketrans(bytes(range(256)), b"x" * 32 + b" " + b"x" * 223)


class _MergedGate:
    """The text gates of several detectors as one test (see ``base.TextGate``).

    Per new-turn text: one word split, one set test for the keywords of every
    rule (and rot13 forms), one ``bytes.translate`` that keeps only the bytes
    any gate looks for, and a search for a long word in a byte mask - all C
    loops. Detectors' own checks run only when one of their bytes is present.
    """

    __slots__ = ("any_words", "check_delete", "checks", "delete", "finders", "long_run",
                 "max_chars", "pivot_delete", "rot13", "suspect", "words")

    def __init__(self, gates: list[TextGate]) -> None:
        self.words = frozenset().union(*(g.words for g in gates))
        self.rot13 = frozenset().union(*(g.rot13_words for g in gates))
        self.any_words = self.words | self.rot13
        pivots = set(b"".join(g.pivot_bytes for g in gates))
        # A pivot byte is only a sign when every gate that lists it has a finder for it:
        # then the finders decide; otherwise its presence alone opens the gate.
        finders: dict[int, list[re.Pattern[str]]] = {}
        bare: set[int] = set()
        for g in gates:
            found = {b for b, _rx in g.pivot_finders}
            bare.update(b for b in g.pivot_bytes if b not in found)
            for b, rx in g.pivot_finders:
                finders.setdefault(b, []).append(rx)
        self.finders = {b: tuple(v) for b, v in finders.items() if b not in bare}
        self.checks: tuple[tuple[Callable[[str], bool], bytes | None], ...] = tuple(
            (g.check, g.check_bytes) for g in gates if g.check is not None)
        wanted = pivots.union(*(set(cb) for _c, cb in self.checks if cb is not None))
        self.delete = bytes(b for b in range(256) if b not in wanted)
        self.pivot_delete = bytes(b for b in range(256) if b not in pivots)
        self.check_delete = [bytes(b for b in range(256) if b not in cb) if cb is not None
                             else None for _c, cb in self.checks]
        long_word = min((g.long_word for g in gates if g.long_word), default=0)
        self.long_run = b"x" * long_word if long_word else b""
        self.max_chars = min((g.max_chars for g in gates if g.max_chars), default=1 << 62)
        self.suspect = tuple(g.suspect for g in gates if g.suspect is not None)

    def quiet(self, event: TelemetryEvent) -> bool:
        """True when no new-turn text of ``event`` opens any of the gates."""
        for _idx, _role, text in current_turn(event):
            if len(text) > self.max_chars:
                return False
            wb = word_bytes(text)
            words = wb.split()
            remember_words(text, words)  # the detectors reuse them if the gate opens
            if words:
                if not self.any_words.isdisjoint(words) and (
                        not self.words.isdisjoint(words)
                        or len(self.rot13.intersection(words)) >= 2):
                    return False
                # a word of long_run bytes: a run of that many non-spaces in the mask
                if self.long_run and self.long_run in wb.translate(_LONG_RUN_TABLE):
                    return False
            present = text.encode("utf-8", "surrogatepass").translate(None, self.delete)
            if present:
                hits = present.translate(None, self.pivot_delete)
                if hits:
                    finders = self.finders
                    for b in set(hits):
                        group = finders.get(b)
                        if group is None:
                            return False
                        for rx in group:
                            if rx.search(text) is not None:
                                return False
                for (check, _cb), cd in zip(self.checks, self.check_delete, strict=True):
                    if (cd is None or present.translate(None, cd)) and check(text):
                        return False
            elif self.checks:
                for (check, cb) in self.checks:
                    if cb is None and check(text):
                        return False
            if not text.isascii():
                for rx in self.suspect:
                    if rx.search(text) is not None:
                        return False
        return True


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
        for d in detectors:
            tg = getattr(d, "text_gate", None)
            g = tg() if callable(tg) else None
            if isinstance(g, TextGate):
                gates.append(g)
            else:
                ungated.append(d)
        self._gate = _MergedGate(gates) if gates else None
        self._ungated = ungated

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
        for d in (self._ungated if gate is not None and gate.quiet(event)
                  else self._detectors):
            try:
                got = d.observe(event)
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

    def flush(self) -> list[Finding]:
        out: list[Finding] = []
        for d in self.detectors:
            out.extend(d.flush())
        if out and self.campaign is not None:
            out.extend(self.campaign.observe_findings(out))
        for f in out:
            self.stats.findings[f.detector] += 1
        return out
