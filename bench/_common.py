"""Helpers shared by the benchmark scripts: timing and writing figures."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"


def figure(
    name: str, value: float, unit: str, *, baseline: str = "", baseline_value: float | None = None,
    ratio: float | None = None, goal: str = "",
) -> dict[str, Any]:
    return {
        "name": name, "value": round(value, 4), "unit": unit, "baseline": baseline,
        "baseline_value": None if baseline_value is None else round(baseline_value, 4),
        "ratio": None if ratio is None else round(ratio, 3), "goal": goal,
    }


def write(bench: str, figures: list[dict[str, Any]]) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / f"{bench}.json").write_text(json.dumps({"figures": figures}, indent=2))
    print("| figure | value | baseline | ratio | goal |\n|---|---|---|---|---|")
    for f in figures:
        r = f["ratio"]
        print(f"| {f['name']} | {f['value']} {f['unit']} | {f['baseline']} "
              f"{'' if f['baseline_value'] is None else f['baseline_value']} | "
              f"{'' if r is None else f'{r:.2f}x'} | {f['goal']} |")


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def percentile(samples: list[float], p: float) -> float:
    s = sorted(samples)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


median = statistics.median
