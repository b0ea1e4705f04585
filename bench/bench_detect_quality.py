"""Detection quality on the shipped labelled set (tests/data/detect/).

Per attack category: recall (share of attacks with at least one finding) and
the share caught by the expected detector family; on benign prompts
(including hard negatives): the false-positive rate. Goal: recall >= 90% at
a false-positive rate <= 2%, on the authored set and on the held-out set.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from ircon.detect.pipeline import DetectorSet  # noqa: E402
from ircon.detect.settings import DetectConfig  # noqa: E402
from ircon.model.telemetry import Message, TelemetryEvent  # noqa: E402

DATA = ROOT / "tests" / "data" / "detect"
TOOL_CATEGORIES = {"indirect", "tools_benign"}
EXPECTED = {
    "jailbreak": {"jailbreak"}, "injection": {"injection"}, "extraction": {"injection"},
    "indirect": {"injection"}, "suffix": {"suffix"}, "obfuscation": {"obfuscation"},
}


def load(name: str) -> dict[str, list[str]]:
    return yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))


def event_for(text: str, category: str, i: int) -> TelemetryEvent:
    if category in TOOL_CATEGORIES:
        msgs = (Message("user", "Please summarize the result for me."), Message("tool", text))
    else:
        msgs = (Message("user", text),)
    # one key per prompt: behavioural detectors must not see a "campaign" here
    return TelemetryEvent(request_id=f"{category}-{i}", ts=1_700_000_000.0 + i, format="eval",
                          key=f"eval-{category}-{i}", messages=msgs)


def evaluate(name: str, *, benign: bool) -> dict[str, Any]:
    """Per-category counts for one data file."""
    ds = DetectorSet.from_config(DetectConfig(), rules_dir=DATA / "no-extra-rules")
    out: dict[str, Any] = {}
    for category, items in load(name).items():
        hit = family = 0
        misses: list[str] = []
        for i, text in enumerate(items):
            found = ds.observe(event_for(text, category, i))
            if found:
                hit += 1
                if not benign and {f.detector for f in found} & EXPECTED.get(category, set()):
                    family += 1
            if (not found) != benign:
                misses.append(text if benign is False else f"{text} -> "
                              f"{sorted({f.rule_id for f in found})}")
        out[category] = {"n": len(items), "hit": hit, "family": family, "misses": misses}
    return out


def summary() -> dict[str, Any]:
    attacks = evaluate("attacks", benign=False)
    heldout = evaluate("heldout", benign=False)
    benign = evaluate("benign", benign=True)
    n_benign = sum(c["n"] for c in benign.values())
    fp = sum(c["hit"] for c in benign.values())
    return {"attacks": attacks, "heldout": heldout, "benign": benign,
            "fpr": fp / max(n_benign, 1), "benign_n": n_benign, "benign_fp": fp}


def main() -> None:
    from _common import figure, write

    s = summary()
    figures = []
    for part in ("attacks", "heldout"):
        for cat, c in s[part].items():
            figures.append(figure(f"recall {part}/{cat}", 100 * c["hit"] / c["n"], "%",
                                  baseline=f"{c['n']} prompts", baseline_value=c["n"],
                                  ratio=c["hit"] / c["n"], goal=">= 90%"))
        tot = sum(c["hit"] for c in s[part].values())
        n = sum(c["n"] for c in s[part].values())
        figures.append(figure(f"recall {part} (all)", 100 * tot / n, "%", baseline=f"{n} prompts",
                              baseline_value=n, ratio=tot / n, goal=">= 90%"))
    figures.append(figure("false-positive rate (benign)", 100 * s["fpr"], "%",
                          baseline=f"{s['benign_n']} benign prompts",
                          baseline_value=s["benign_n"], ratio=s["fpr"], goal="<= 2%"))
    write("detect_quality", figures)
    for part in ("attacks", "heldout"):
        for cat, c in s[part].items():
            for m in c["misses"]:
                print(f"  missed [{part}/{cat}] {m[:110]!r}")
    for cat, c in s["benign"].items():
        for m in c["misses"]:
            print(f"  false positive [{cat}] {m[:140]!r}")


if __name__ == "__main__":
    main()
