"""Probing and wallet (the per-key window detectors): batched against one event at a time.

100k LiteLLM lines from ``bench_detect.make_line`` (400 keys, 8 teams), parsed with
``parse_line``, fed in batches of 4096 to ``observe_batch`` and one by one to
``observe``, on one core (CPU time, best of two). Baselines in the same run: the
per-event path, and ``orjson.loads`` of the lines (the budget of issue 4 is the
whole detector set at no more than the cost of parsing). The degenerate mix (every
event its own key, 100k keys) is measured the same way: it may cost more, but
must stay bounded.
"""

from __future__ import annotations

import gc
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _common import figure, write  # noqa: E402
from bench_detect import make_line  # noqa: E402

from ircon.detect import keyed_batch, probing, wallet  # noqa: E402
from ircon.detect.base import BuildContext  # noqa: E402
from ircon.detect.rules import load_rules  # noqa: E402
from ircon.detect.settings import DetectConfig  # noqa: E402
from ircon.model.telemetry import TelemetryEvent  # noqa: E402
from ircon.sources.telemetry import parse_line  # noqa: E402

N = 100_000
BATCH = 4096
ROUNDS = 2


def _cpu(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def _per_event(make, events):
    def run() -> None:
        d = make()
        for ev in events:
            d.observe(ev)
    return run


def _batched(makers, batches):
    def run() -> None:
        ds = [m() for m in makers]
        keyed_batch.forget()
        for b in batches:
            for d in ds:
                d.observe_batch(b)
        keyed_batch.forget()
    return run


def _measure(events: list[TelemetryEvent], ctx: BuildContext) -> dict[str, float]:
    batches = [events[i:i + BATCH] for i in range(0, len(events), BATCH)]
    make_p = lambda: probing.from_context(ctx)  # noqa: E731
    make_w = lambda: wallet.from_context(ctx)  # noqa: E731
    runs = {
        "probing per event": _per_event(make_p, events),
        "probing batched": _batched([make_p], batches),
        "wallet per event": _per_event(make_w, events),
        "wallet batched": _batched([make_w], batches),
        "both batched": _batched([make_p, make_w], batches),
    }
    best = dict.fromkeys(runs, float("inf"))
    gc.collect()
    gc.disable()
    try:
        for _ in range(ROUNDS):
            for name, fn in runs.items():
                best[name] = min(best[name], _cpu(fn))
    finally:
        gc.enable()
    return {k: 1e6 * v / len(events) for k, v in best.items()}


def main() -> None:
    rng = random.Random(7)
    lines = [make_line(i, rng) for i in range(N)]
    events = []
    for ln in lines:
        ev = parse_line(ln, "litellm")
        assert isinstance(ev, TelemetryEvent)
        events.append(ev)
    def parse_all() -> None:
        loads = orjson.loads
        for ln in lines:
            loads(ln)

    parse_us = 1e6 * min(_cpu(parse_all) for _ in range(ROUNDS)) / N
    ctx = BuildContext(cfg=DetectConfig(), rules=load_rules())
    mix = _measure(events, ctx)
    base = events[0]
    flood = [replace(base, key=f"{i:064x}", request_id=f"{i:064x}", ts=base.ts + i * 0.05,
                     params=replace(base.params)) for i in range(N)]
    odd = _measure(flood, ctx)
    figures = []
    for label, got in (("", mix), ("100k distinct keys: ", odd)):
        for det in ("probing", "wallet"):
            per, fast = got[f"{det} per event"], got[f"{det} batched"]
            figures.append(figure(f"{label}{det} batched, per event", fast, "us",
                                  baseline="observe one at a time", baseline_value=per,
                                  ratio=fast / per))
        both = got["both batched"]
        per = got["probing per event"] + got["wallet per event"]
        figures.append(figure(f"{label}probing + wallet batched, per event", both, "us",
                              baseline="orjson.loads per line", baseline_value=parse_us,
                              ratio=both / parse_us))
        figures.append(figure(f"{label}probing + wallet speed-up", per / both, "x",
                              baseline="observe one at a time (us)", baseline_value=per))
    write("detect_windows", figures)


if __name__ == "__main__":
    main()
