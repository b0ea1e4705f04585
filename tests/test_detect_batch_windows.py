"""Probing and wallet: ``observe_batch`` is ``observe`` one event at a time.

Seeded random streams (thousands of events, many keys and a few busy ones, bursts,
windows closing inside a batch, out-of-order and equal timestamps, gaps longer than
the idle time, more keys than ``max_keys``, extraction-like parameters, templated and
hostile prompts, odd spend values) are fed to one detector event by event and to
another in random batch splits (1 to 5000 events). Every finding (all fields, with
its event index), the behaviour afterwards and the per-key state must be identical.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from ircon.detect import keyed_batch, probing, wallet
from ircon.detect.base import BuildContext, KeyedState
from ircon.detect.rules import load_rules
from ircon.detect.settings import DetectConfig
from ircon.model.finding import Finding
from ircon.model.telemetry import Message, RequestParams, TelemetryEvent

ROOT = Path(__file__).resolve().parent.parent
NO_EXTRA = ROOT / "tests" / "data" / "detect" / "no-extra-rules"

HOSTILE = [
    "", "Σ", "ΑΣ ΟΔΟΣ", "ΣΑΣ12", "٣٤٥ digits ٦", "१२३ ४५", "x\x00y", "\x01\x01",
    "\ud800 lone", "😀" * 30, "İstanbul 12", "ǅ title 7", "a" * 600, "12345678901234567890",
    "ÜBERNACHTUNG 3 Nächte", "tab\tand\nnewline 9", "#### 12 ####",
]
TEMPLATES = [
    "Translate the word {w} into French and give {n} synonyms please",
    "What is the capital of country number {n}? Answer with {w} only.",
    "Classify sentence {n}: the {w} sat on the mat",
]
WORDS = ["cat", "dog", "sun", "Straße", "naïve", "ΣΟΦΙΑ", "٧", "ok"]


def _prompt(rng: random.Random, key: str) -> str:
    r = rng.random()
    if r < 0.35:
        return rng.choice(TEMPLATES).format(w=rng.choice(WORDS), n=rng.randrange(10**6))
    if r < 0.55:
        return f"{key} asks: " + " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 9)))
    if r < 0.7:
        return rng.choice(HOSTILE) + rng.choice(HOSTILE)
    if r < 0.8:
        return "same prompt every time"
    return f"question {rng.randrange(10**9)} about order {rng.randrange(100)}"


def _messages(rng: random.Random, prompt: str) -> tuple[Message, ...]:
    shape = rng.random()
    if shape < 0.75:
        return (Message("system", "You are helpful."), Message("user", prompt))
    if shape < 0.82:
        return (Message("user", "first"), Message("assistant", "ok"), Message("user", prompt))
    if shape < 0.88:
        return (Message("user", prompt), Message("assistant", "answer"))
    if shape < 0.93:
        return (Message("user", prompt), Message("tool", "tool output 42"))
    if shape < 0.97:
        return ()
    return (Message("system", prompt),)


def _params(rng: random.Random, extracting: bool) -> RequestParams:
    if not extracting and rng.random() < 0.8:
        return RequestParams(temperature=rng.choice((0.7, 1.0, None)), max_tokens=512)
    return RequestParams(
        temperature=rng.choice((0, 0.0, 0.2, None)),
        max_tokens=rng.choice((None, 100, 4096)),
        n=rng.choice((None, 1, 2, 5)),
        logprobs=rng.choice((None, False, True)),
        top_logprobs=rng.choice((None, 0, 1, 5, 20)),
        logit_bias_size=rng.choice((0, 0, 3, 50)),
    )


def stream(seed: int, n: int, *, keys: int = 160, t0: float = 1000.0, spread: float = 0.3,
           disorder: float = 0.03) -> list[TelemetryEvent]:
    """A hostile but plausible event stream; ``spread`` is the mean gap in seconds,
    ``disorder`` the share of events that arrive with an earlier time."""
    rng = random.Random(seed)
    busy = [f"busy-{i}" for i in range(4)]
    extracting = {busy[0], busy[2]}
    t = t0
    out: list[TelemetryEvent] = []
    for i in range(n):
        r = rng.random()
        if r < 0.002:
            t += rng.choice((50.0, 400.0, 5000.0))  # idle gaps: evictions, empty windows
        elif r < 0.05:
            pass  # equal timestamps
        else:
            t += rng.expovariate(1 / spread)
        ts = t
        if rng.random() < disorder:
            ts = t - rng.uniform(0, 40)  # out of order, sometimes across a window
        phase = (i // 700) % 3  # a burst of one busy key now and then
        if rng.random() < 0.15:
            key: str | None = busy[3]
        elif rng.random() < (0.5 if phase == 1 else 0.2):
            key = busy[(i // 700) % 4] if phase == 1 else rng.choice(busy)
        else:
            key = f"k{rng.randrange(keys)}"
        user = ip = None
        if rng.random() < 0.05:  # no key: the actor falls back to user, IP, "unknown"
            user = rng.choice((None, "", f"u{rng.randrange(5)}"))
            ip = rng.choice((None, "10.0.0.1"))
            key = rng.choice((None, ""))
        prompt = _prompt(rng, str(key))
        if key == busy[1] and rng.random() < 0.9:  # one skeleton, varying fillers
            prompt = TEMPLATES[0].format(w=rng.choice(WORDS), n=rng.randrange(10**6))
        if key == busy[3]:  # a sweep: every prompt new, prefixes and suffixes varied
            prompt = (f"{rng.choice(WORDS)} {rng.choice(TEMPLATES)[:rng.randrange(4, 30)]} "
                      f"item {rng.randrange(10**12)} {rng.choice(WORDS)}{rng.choice(WORDS)}")
        big = key in busy and rng.random() < 0.3
        pt = rng.choice((None, 0, 10, 200, 3000)) if not big else rng.choice((5000, 40000))
        ct = rng.choice((None, 0, 50, 800))
        cost = rng.choice((None, 0.0, 0.0004, 0.02, 1.5)) if not big else rng.choice((2.0, 9.0))
        if rng.random() < 0.02:
            cost = -0.5  # refunds exist in some logs: spend need not only grow
        out.append(TelemetryEvent(
            request_id=f"r{i}", ts=ts, format="test", model="m", key=key, user=user, ip=ip,
            team=rng.choice((None, "", "team-a", "team-b", "team-c")),
            messages=(Message("user", prompt),) if key == busy[3] else _messages(rng, prompt),
            prompt_tokens=pt, completion_tokens=ct,
            cost=cost, params=_params(rng, key in extracting)))
    return out


CONFIGS: list[dict[str, Any]] = [
    dict(window_seconds=10, min_requests=8, idle_seconds=5, max_keys=100, rate_factor=2,
         spend_factor=2, spend_min_tokens=100, spend_new_key_tokens=5000),
    dict(window_seconds=30, min_requests=3, idle_seconds=200, max_keys=100, rate_factor=3,
         spend_factor=3, spend_min_tokens=1000, spend_new_key_tokens=20000),
    dict(window_seconds=7.3, min_requests=20, idle_seconds=1, max_keys=150, rate_factor=1.5,
         spend_factor=1.5, spend_min_tokens=0, spend_new_key_tokens=0),
    dict(window_seconds=300, min_requests=16, max_keys=100_000),
]


def _rules():
    return load_rules([NO_EXTRA])


def make(name: str, cfg: DetectConfig) -> probing.ProbingDetector | wallet.WalletDetector:
    ctx = BuildContext(cfg=cfg, rules=_rules())
    return probing.from_context(ctx) if name == "probing" else wallet.from_context(ctx)


def shape(i: int, f: Finding) -> tuple[int, str]:
    return i, repr(asdict(f))


def per_event(d, events: list[TelemetryEvent], base: int = 0) -> list[tuple[int, str]]:
    return [shape(base + i, f) for i, ev in enumerate(events) for f in d.observe(ev)]


def batched(d, events: list[TelemetryEvent], rng: random.Random,
            sizes: tuple[int, ...] = (1, 2, 3, 7, 64, 500, 1000, 4096, 5000)
            ) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pos = 0
    while pos < len(events):
        chunk = events[pos:pos + rng.choice(sizes)]
        got = d.observe_batch(chunk)
        assert [i for i, _ in got] == sorted(i for i, _ in got)
        out += [shape(pos + i, f) for i, f in got]
        pos += len(chunk)
    return out


def _settled_probing(d: probing.ProbingDetector) -> list[tuple[object, ...]]:
    """Every key's state in ``KeyedState`` order, deferred work folded in."""
    rows: list[tuple[object, ...]] = []
    for key, (seen, st) in d.state._d.items():
        if st.unjudged:
            st.extraction += d._count_extraction(st.unjudged)
            st.unjudged = None
        busy = st.busy
        b: tuple[object, ...] | None = None
        if busy is not None:
            busy.settle()
            b = (list(busy.recent), list(busy.prefixes.items()), list(busy.suffixes.items()),
                 sorted(busy.distinct), busy.total, busy.busy_windows)
        rows.append((key, seen, st.start, st.count, st.extraction, st.baseline, st.windows,
                     st.reported, b, list(st.early or ())))
    return rows


def _wallet_state(d: wallet.WalletDetector) -> list[tuple[object, ...]]:
    return [(scope, k, seen, repr((s.start, s.tokens, s.cost, s.base_tokens, s.base_cost,
                                   s.windows, s.reported)))
            for scope, ks in (("key", d.keys), ("team", d.teams))
            for k, (seen, s) in ks._d.items()]


def _state(d) -> list[tuple[object, ...]]:
    return _settled_probing(d) if isinstance(d, probing.ProbingDetector) else _wallet_state(d)


@pytest.mark.parametrize("name", ["probing", "wallet"])
@pytest.mark.parametrize("case", range(10))
def test_batches_equal_one_event_at_a_time(name: str, case: int) -> None:
    cfg = DetectConfig(**CONFIGS[case % len(CONFIGS)])
    rng = random.Random(100 + case)
    # cases 8 and 9: a handful of keys at a high rate, judged at many powers of two
    # odd cases: some events arrive out of order (batches not in time order)
    events = stream(case, 6000, keys=rng.choice((40, 160, 400)) if case < 8 else 3,
                    spread=rng.choice((0.05, 0.3, 2.0)) if case < 8 else 0.02,
                    disorder=0.03 * (case % 2))
    ref, fast = make(name, cfg), make(name, cfg)
    want = per_event(ref, events)
    got = batched(fast, events, rng)
    assert got == want
    # the same behaviour afterwards, one event at a time and in batches
    more = stream(1000 + case, 1500, t0=events[-1].ts + rng.choice((0.0, 3.0, 50.0)))
    assert per_event(fast, more[:700]) == per_event(ref, more[:700])
    assert batched(fast, more[700:], rng) == per_event(ref, more[700:])
    assert _state(fast) == _state(ref)


def test_streams_find_every_kind_of_finding() -> None:
    """The random streams are worth comparing: they make every rule fire."""
    seen: set[str] = set()
    for case in range(8):
        cfg = DetectConfig(**CONFIGS[case % len(CONFIGS)])
        rng = random.Random(100 + case)
        events = stream(case, 6000, keys=rng.choice((40, 160, 400)),
                        spread=rng.choice((0.05, 0.3, 2.0)))
        for name in ("probing", "wallet"):
            d = make(name, cfg)
            for ev in events:
                seen.update(f.rule_id for f in d.observe(ev))
    assert {"probe.rate", "probe.extraction", "probe.templated", "probe.coverage",
            "wallet.spend"} <= seen


def test_bench_mix_batches_equal_one_event_at_a_time() -> None:
    """The realistic case: LiteLLM lines from the throughput bench, 4096 at a time, with
    a small window so that keys are judged, close windows and turn busy."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bench_detect
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from ircon.sources.telemetry import parse_line

    rng = random.Random(5)
    events = []
    for i in range(12000):
        ev = parse_line(bench_detect.make_line(i, rng), "litellm")
        assert isinstance(ev, TelemetryEvent)
        events.append(ev)
    cfg = DetectConfig(window_seconds=20, min_requests=4, spend_min_tokens=1000,
                       spend_new_key_tokens=1500, spend_factor=1.5)
    for name in ("probing", "wallet"):
        ref, fast = make(name, cfg), make(name, cfg)
        want = per_event(ref, events)
        assert want
        assert batched(fast, events, rng, sizes=(4096,)) == want
        assert _state(fast) == _state(ref)


@pytest.mark.parametrize("seed", range(6))
def test_touch_leaves_keyed_state_as_get_does(seed: int) -> None:
    """``keyed_batch.touch`` against ``KeyedState.get`` one call at a time: the same
    states for the same positions, the same keys in the same order with the same
    times, through capacity and idle evictions and keys coming back."""
    rng = random.Random(seed)
    ks_ref: KeyedState[list[int]] = KeyedState(list, max_keys=100, idle=rng.choice((3, 50)))
    ks: KeyedState[list[int]] = KeyedState(list, max_keys=100, idle=ks_ref.idle)
    t = 0.0
    for _ in range(60):
        n = rng.choice((1, 5, 50, 300))
        keys, ts = [], []
        for _ in range(n):
            t += rng.choice((0.0, 0.01, 0.5, 2.0, 20.0)) if rng.random() < 0.9 else -5.0
            keys.append(f"k{rng.randrange(rng.choice((20, 120, 400)))}")
            ts.append(t)
        want = [ks_ref.get(k, x) for k, x in zip(keys, ts, strict=True)]
        for i, st in enumerate(want):
            st.append(i)  # mark which positions got which state
        got = keyed_batch.touch(ks, keyed_batch.group(keys), keys, ts)
        for st, idx in got:
            st.extend(idx)
        assert [(k, x, s) for k, (x, s) in ks._d.items()] == [
            (k, x, s) for k, (x, s) in ks_ref._d.items()]
        assert sorted(i for _, idx in got for i in idx) == list(range(n))


def test_touch_with_odd_times_replays() -> None:
    ks_ref: KeyedState[list[int]] = KeyedState(list, max_keys=100, idle=10)
    ks: KeyedState[list[int]] = KeyedState(list, max_keys=100, idle=10)
    keys = ["a", "b", "c", "a", "d"]
    ts = [1.0, math.nan, 50.0, math.inf, 2.0]
    for k, x in zip(keys, ts, strict=True):
        ks_ref.get(k, x)
    keyed_batch.touch(ks, keyed_batch.group(keys), keys, ts)
    assert repr(list(ks._d.items())) == repr(list(ks_ref._d.items()))


def test_columns_are_not_reused_for_a_refilled_list() -> None:
    events = stream(3, 50)
    cols = keyed_batch.columns(events)
    assert keyed_batch.columns(events) is cols
    refilled = list(events)
    refilled[20] = stream(4, 30)[25]
    assert keyed_batch.columns(refilled) is not cols
    assert keyed_batch.columns(refilled).actors[20] == refilled[20].actor()
    keyed_batch.forget()


def test_actors_column_matches_actor() -> None:
    events = stream(9, 2000)
    assert keyed_batch.actors(events) == [e.actor() for e in events]


@settings(max_examples=300, deadline=None)
@given(hs.lists(hs.text(max_size=40) | hs.sampled_from(HOSTILE), min_size=0, max_size=30))
def test_skeletons_of_many_equal_one_at_a_time(prompts: list[str]) -> None:
    pres, sufs = probing.skeletons_of(prompts)
    assert list(zip(pres, sufs, strict=True)) == [probing.skeleton(p) for p in prompts]


def test_digit_masking_matches_the_expression_for_every_digit() -> None:
    digits = [chr(c) for c in range(sys.maxunicode + 1) if re.fullmatch(r"\d", chr(c))]
    texts = [f"a{d}{d}b" for d in digits] + ["x1y", "Σ7", "zz"] * 5
    assert probing._mask_all(texts) == [probing._DIGITS.sub("#", t) for t in texts]


def test_last_user_texts_match_the_event_property() -> None:
    events = stream(12, 3000)
    assert probing.last_user_texts([e.messages for e in events]) == [
        e.last_user_text for e in events]


def test_deferred_work_stays_bounded() -> None:
    """A key that never closes a window and is never judged again keeps at most
    ``_PENDING_CAP`` deferred items."""
    cfg = DetectConfig(window_seconds=10_000, min_requests=3)
    d = make("probing", cfg)
    assert isinstance(d, probing.ProbingDetector)
    events = [TelemetryEvent(request_id=f"r{i}", ts=1000.0 + i * 0.001, format="test",
                             key="k", messages=(Message("user", f"p{i}"),))
              for i in range(50_000)]
    for i in range(0, len(events), 777):
        d.observe_batch(events[i:i + 777])
    st = d.state.peek("k")
    assert st is not None and st.busy is not None
    assert len(st.unjudged or ()) <= probing._PENDING_CAP
    assert len(st.busy.pending) <= probing._PENDING_CAP
    assert len(st.busy.unskeletoned) <= probing._PENDING_CAP


def test_busy_key_caps_batched() -> None:
    """One key at a high rate with ever-new prompts: more than 256 distinct prefixes and
    suffixes in a window and more than 4096 distinct prompts in all (the caps of the
    prompt statistics), judged at many powers of two."""
    rng = random.Random(77)
    events = []
    for i in range(24_000):
        words = " ".join(rng.choice(WORDS) for _ in range(4))
        text = f"{rng.choice(WORDS)}{rng.randrange(99)} {words} {i} {words[::-1]}"
        events.append(TelemetryEvent(
            request_id=f"r{i}", ts=1000.0 + i * 0.01, format="test", key="sweeper",
            messages=(Message("user", text),),
            params=_params(rng, rng.random() < 0.5)))
    cfg = DetectConfig(window_seconds=50, min_requests=3)
    ref, fast = make("probing", cfg), make("probing", cfg)
    want = per_event(ref, events)
    assert any("'probe.coverage'" in f for _, f in want)
    assert batched(fast, events, rng) == want
    assert _state(fast) == _state(ref)
    assert isinstance(ref, probing.ProbingDetector)
    st = ref.state.peek("sweeper")
    assert st is not None and st.busy is not None
    assert len(st.busy.distinct) == probing._COVERAGE_CAP
    assert len(st.busy.prefixes) == probing._SKELETON_CAP


@pytest.mark.parametrize("new", [1, 2, 3])
@pytest.mark.parametrize("all_held", [False, True])
def test_touch_at_the_key_cap(new: int, all_held: bool) -> None:
    """A batch that brings the number of keys just to, or just past, ``max_keys``;
    with ``all_held`` it touches every key held first, so that the key evicted for the
    cap is one the batch itself touched."""
    ks_ref: KeyedState[list[int]] = KeyedState(list, max_keys=100, idle=1000)
    ks: KeyedState[list[int]] = KeyedState(list, max_keys=100, idle=1000)
    first = [f"k{i}" for i in range(99)]
    keys = ([*first[5:9], *(f"n{i}" for i in range(new)), *first[:3]] if not all_held
            else [*first[::-1], *(f"n{i}" for i in range(new))])
    for batch in (first, keys):
        ts = [float(i) for i in range(len(batch))]
        for k, x in zip(batch, ts, strict=True):
            ks_ref.get(k, x)
        keyed_batch.touch(ks, keyed_batch.group(batch), batch, ts)
        assert list(ks._d) == list(ks_ref._d)
    assert len(ks) == min(100, 99 + new)


@pytest.mark.parametrize("mr", [4, 5])
def test_judged_where_a_batch_ends(mr: int) -> None:
    """A burst judged at a power of two that is the last event of a batch: every split
    point of the burst window is tried."""
    events = []
    t = 0.0
    for w in range(5):  # quiet windows of 10 requests: a baseline of 10
        for i in range(10):
            events.append(TelemetryEvent(request_id=f"q{w}-{i}", ts=t, format="test", key="k",
                                         messages=(Message("user", f"q {w} {i}"),)))
            t += 1.0
    for i in range(40):  # then 40 in one window: reported at the judge at 32
        events.append(TelemetryEvent(request_id=f"b{i}", ts=t + i * 0.2, format="test",
                                     key="k", messages=(Message("user", f"b {i}"),)))
    cfg = DetectConfig(window_seconds=10, min_requests=mr, rate_factor=2.5)
    want = per_event(make("probing", cfg), events)
    assert any("'probe.rate'" in f for _, f in want)
    at32 = 50 + 31  # the burst's 32nd request: judged at 32
    for cut in range(45, len(events)):
        for cuts in ((0, cut, len(events)), (0, cut, at32 + 1, len(events))):
            if sorted(set(cuts)) != list(cuts):
                continue
            d = make("probing", cfg)
            got = []
            for a, b in itertools.pairwise(cuts):
                got += [shape(a + i, f) for i, f in d.observe_batch(events[a:b])]
            assert got == want, cuts


@pytest.mark.parametrize("name", ["probing", "wallet"])
def test_window_edge_where_rounding_disagrees(name: str) -> None:
    """``now - start >= window`` is the test; ``now >= start + window`` (what a bisection
    on times looks for) differs from it by rounding at some times. Here the second event
    closes the window although it is below ``start + window``."""
    start, window, t = 7.107524936739401, 8.087716127889905, 15.195241064629306
    assert t - start >= window and t < start + window
    times = [start, start + 1, start + 2, t, t + 0.5, t + 1, t + 2, t + 3]
    events = [TelemetryEvent(request_id=f"r{i}", ts=x, format="test", key="k",
                             prompt_tokens=5000, cost=3.0,
                             messages=(Message("user", f"p {i}"),))
              for i, x in enumerate(times)]
    cfg = DetectConfig(window_seconds=window, min_requests=3, spend_min_tokens=100,
                       spend_new_key_tokens=12_000)
    ref, fast = make(name, cfg), make(name, cfg)
    want = per_event(ref, events)
    assert [shape(i, f) for i, f in fast.observe_batch(events)] == want
    assert _state(fast) == _state(ref)


@settings(max_examples=200, deadline=None)
@given(hs.lists(hs.integers(0, 400), max_size=900), hs.integers(0, 300),
       hs.lists(hs.integers(1, 40), min_size=1, max_size=5))
def test_count_capped_is_counting_one_at_a_time(items: list[int], held: int,
                                                chunks: list[int]) -> None:
    words = [f"w{i}" for i in items]
    ref: dict[str, int] = {f"h{i}": 1 for i in range(min(held, probing._SKELETON_CAP))}
    counts = probing._new_counter(probing.Counter)
    counts.update(ref)
    for w in words:
        if len(ref) < probing._SKELETON_CAP or w in ref:
            ref[w] = ref.get(w, 0) + 1
    pos = 0
    while pos < len(words):
        size = chunks[pos % len(chunks)]
        probing._count_capped(counts, words[pos:pos + size])
        pos += size
    assert list(counts.items()) == list(ref.items())


@pytest.mark.parametrize("seed", range(4))
def test_wallet_refunds_and_odd_counts(seed: int) -> None:
    """Spend that falls back within a window (refunds), negative and float counts, costs
    without tokens and tokens without costs: the batched sums are the loop's."""
    rng = random.Random(seed)
    events = []
    t = 0.0
    for i in range(4000):
        t += rng.choice((0.0, 0.5, 3.0))
        events.append(TelemetryEvent(
            request_id=f"r{i}", ts=t, format="test", key=f"k{rng.randrange(6)}",
            team=rng.choice(("a", "b", None)),
            prompt_tokens=rng.choice((None, 0, 300, 5000, -4000, 2.5)),  # type: ignore[arg-type]
            completion_tokens=rng.choice((None, 0, 100, 0.0)),  # type: ignore[arg-type]
            cost=rng.choice((None, 0.0, 1.0, 30.0, 60.0, -30.0, 0.1))))
    cfg = DetectConfig(window_seconds=20, spend_factor=2, spend_min_tokens=100,
                       spend_new_key_tokens=6000)
    ref, fast = make("wallet", cfg), make("wallet", cfg)
    want = per_event(ref, events)
    assert want
    assert batched(fast, events, rng) == want
    assert _state(fast) == _state(ref)


@pytest.mark.parametrize("name", ["probing", "wallet"])
def test_keys_left_to_python_mix_with_keys_handled_in_c(name: str) -> None:
    """One C call handles a batch's keys; a key whose values C leaves to Python (a
    time that is an int, a count beyond 2**53) takes the Python steps in the same
    batch, and every key's findings and state are those of one event at a time."""
    cfg = DetectConfig(**CONFIGS[0])
    rng = random.Random(77)
    events = stream(77, 4000, keys=40, spread=0.05, disorder=0.0)
    odd = {"busy-1", "k3"}
    for i, ev in enumerate(events):
        if ev.key in odd and i % 50 == 7:
            changes: dict[str, Any] = ({"ts": int(ev.ts)} if ev.key == "busy-1"
                                       else {"prompt_tokens": 2**60})
            events[i] = replace(ev, **changes)
    ref, fast = make(name, cfg), make(name, cfg)
    want = per_event(ref, events)
    assert batched(fast, events, rng, sizes=(500, 1000, 4096)) == want
    assert _state(fast) == _state(ref)


@pytest.mark.parametrize("accelerated", [True, False])
def test_keys_long_below_min_requests_equal_one_event_at_a_time(accelerated: bool) -> None:
    """Until a key is judged its prompt statistics are not made: the messages from the
    ``min_requests // 2``-th request on are kept, and the statistics are made from them
    early once they outgrow the pending cap. With a large ``min_requests`` a few fast
    keys go through all of that, in windows that close below it and windows that
    reach it; the findings and the state are those of one event at a time, at the end
    and at the points where each case shows."""
    from ircon.detect import accel

    cfg = DetectConfig(window_seconds=60, min_requests=700, max_keys=1000)
    rng = random.Random(21)
    keys = ["fast-a", "fast-b", "fast-c"]
    events, t = [], 1000.0
    for i in range(9000):
        # ~650 requests per key and window (made early, then dropped), then ~1,000
        # (judged), then ~400 (kept, then dropped)
        t += 0.0308 if i < 3000 else 0.012 if i < 6000 else 0.05
        prompt = (TEMPLATES[0].format(w=rng.choice(WORDS), n=rng.randrange(10**6))
                  if i % 2 else _prompt(rng, "k"))
        events.append(TelemetryEvent(
            request_id=f"r{i}", ts=t, format="test", model="m", key=rng.choice(keys),
            messages=_messages(rng, prompt), params=_params(rng, i % 5 == 0)))
    saved = accel.fast
    if not accelerated:
        accel.fast = None
    try:
        for upto, shows in ((1900, lambda st: st.busy is not None and st.count < 700),
                            (5000, lambda st: st.busy is not None and st.count >= 700),
                            (8150, lambda st: st.busy is None and st.early),
                            (9000, None)):
            ref, fast = make("probing", cfg), make("probing", cfg)
            want = per_event(ref, events[:upto])
            assert batched(fast, events[:upto], random.Random(upto)) == want
            assert _state(fast) == _state(ref)
            assert shows is None or any(shows(st) for _k, st in ref.state.items()), upto
    finally:
        accel.fast = saved
