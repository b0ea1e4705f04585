"""The C accelerator (``ircon.detect._fast``) gives the answers of the pure-Python
paths it stands in for: compared on the labelled prompts, on generated and hostile
text, and on every code point."""

from __future__ import annotations

import os
import shutil
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ircon.detect import suffix
from ircon.detect.accel import fast
from ircon.detect.base import current_turn
from ircon.detect.gate import _APP_ROLES, MergedGate, turn_texts
from ircon.detect.pipeline import DetectorSet
from ircon.detect.settings import DetectConfig
from ircon.model.telemetry import Message, TelemetryEvent
from tests.test_detect_gates import NO_EXTRA, _events, _texts


def test_the_accelerator_is_built_where_a_compiler_is() -> None:
    if os.environ.get("IRCON_PURE_PYTHON"):
        pytest.skip("pure Python asked for")
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler: the pure-Python paths serve")
    assert fast is not None, "ircon.detect._fast was not built (see hatch_build.py)"


needs_fast = pytest.mark.skipif(fast is None, reason="the C accelerator is not built")


def _gates() -> tuple[MergedGate, MergedGate]:
    ds = DetectorSet.from_config(DetectConfig(), rules_dir=NO_EXTRA)
    gates = [g for g in (d.text_gate() for d in ds.detectors  # type: ignore[attr-defined]
                         if hasattr(d, "text_gate")) if g is not None]
    c, py = MergedGate(gates), MergedGate(gates, accelerated=False)
    assert c.c_gate is not None and py.c_gate is None
    return c, py


def _ev(text: str, i: int = 0, role: str = "user") -> TelemetryEvent:
    return TelemetryEvent(request_id=f"r{i}", ts=1.0 + i, format="t", key="k",
                          messages=(Message(role, text),))  # type: ignore[arg-type]


# Characters around which the gate's parts turn: breaks, symbols, case flips, literal
# starts, letters whose lowercase is longer (U+0130) or depends on context (sigma),
# invisible and look-alike characters, surrogates, astral letters.
_TRICKY = ("aZ ()[]{}<>#*V|=_-'\n\t\x1c\u00a0\u00e9\u00dc\u0130\u03a3\u03c3\u200b\u202e"
           "\U000e0041\u0410\u0391\ufb01\u2019\u3000\ud800\U0001d400\u212a\u00b5"
           "IGNOREignore DAN dan [INST] <|im_start|> base64 rot13 vtaber")


@needs_fast
def test_the_c_gate_opens_exactly_the_texts_the_python_gate_opens() -> None:
    c, py = _gates()
    texts = _texts()
    texts += [t.upper() for t in texts[:400]] + [t.swapcase() for t in texts[:400]]
    events = [_ev(t, i) for i, t in enumerate(texts)]
    assert c.open_indices(events) == py.open_indices(events)
    for e in events:
        assert c.quiet(e) == py.quiet(e), e.messages[0].content[:200]


@needs_fast
@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(
    st.text(alphabet=st.sampled_from(_TRICKY), max_size=120),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=80)),
    min_size=1, max_size=6))
def test_the_c_gate_agrees_on_generated_text(parts: list[str]) -> None:
    c, py = _GATES
    text = " ".join(parts)
    assert c.quiet(_ev(text)) == py.quiet(_ev(text))


@needs_fast
def test_the_c_gate_agrees_around_every_code_point() -> None:
    """Every code point, inside a word, as a word of its own and next to gate words:
    the C scan lowercases, splits and encodes each one as str.lower, the separators
    and UTF-8 (surrogatepass) do."""
    c, py = _GATES
    texts = []
    for lo in range(0, sys.maxunicode + 1, 64):
        chunk = "".join(chr(cp) for cp in range(lo, min(lo + 64, sys.maxunicode + 1)))
        texts.append(chunk)
        texts.append("ignore" + chunk[:8] + "instructions " + chunk[8:])
        texts.append("disregard all previous " + " ".join(chunk[:16]))
    events = [_ev(t, i) for i, t in enumerate(texts)]
    assert c.open_indices(events) == py.open_indices(events)


@needs_fast
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(_TRICKY + "(){}[]<>aBcD"), max_size=400))
def test_the_c_suffix_gate_is_the_python_one(text: str) -> None:
    assert fast is not None
    gate = fast.SuffixGate(suffix.TAIL_CHARS, 40, suffix._SYMBOL_BYTES)
    assert gate(text) == suffix.SuffixDetector.gate(text)
    assert gate(text * 3) == suffix.SuffixDetector.gate(text * 3)


@needs_fast
def test_turn_texts_in_c_are_the_python_ones() -> None:
    assert fast is not None
    m = Message
    shapes: list[tuple[Message, ...]] = [
        (), (m("user", "a"),), (m("system", "s"), m("user", "b")),
        (m("developer", "d"), m("user", "")), (m("user", "x"), m("assistant", "y"), m("user", "z")),
        (m("user", "one"), m("user", "two")), (m("system", "s"), m("tool", "t")),
        (m("assistant", "only"),), (m("user", "u"), m("tool", "t"), m("user", "v")),
        (m("system", "s"), m("system", "t"), m("user", "w")),
    ]
    events = [TelemetryEvent(request_id=str(i), ts=float(i), format="t", messages=ms)
              for i, ms in enumerate(shapes * 3)]
    assert fast.turn_texts(events, _APP_ROLES, current_turn) == turn_texts(events)


@needs_fast
def test_the_c_gate_is_the_python_one_over_whole_detector_sets() -> None:
    """Findings, batched and one at a time, with and without the C gate."""
    events = _events(_texts())
    c = DetectorSet.from_config(DetectConfig(), rules_dir=NO_EXTRA)
    py = DetectorSet.from_config(DetectConfig(), rules_dir=NO_EXTRA)
    assert c._gate is not None and py._gate is not None
    gates = [d.text_gate() for d in py.detectors  # type: ignore[attr-defined]
             if hasattr(d, "text_gate")]
    py._gate = MergedGate([g for g in gates if g is not None], accelerated=False)
    assert c.observe_batch(events) == py.observe_batch(events)


@needs_fast
def test_hostile_text_costs_the_c_gate_little() -> None:
    c, _py = _GATES
    texts = ["a" * 1_000_000, "(" * 500_000 + "aB", "\u0130" * 300_000,
             "\U000e0041" * 200_000, ("ignore " * 100_000), "\ud800\udfff" * 200_000]
    for t in texts:
        t0 = time.perf_counter()
        c.c_gate.opened([t])
        assert time.perf_counter() - t0 < 0.5, t[:20]


@needs_fast
def test_the_c_gate_refuses_what_it_cannot_read() -> None:
    c, _py = _GATES
    with pytest.raises(TypeError):
        c.c_gate.opened([b"bytes"])
    with pytest.raises(TypeError):
        c.c_gate.opened(None)
    assert fast is not None
    with pytest.raises(TypeError):
        fast.Gate([("word", True, False, [], [])], 0, 0, 10, [], b"", [], [], None)
    with pytest.raises(ValueError):
        fast.Gate([(b"w", True, False, [5], [])], 1, 0, 10, [], b"", [], [], None)


_GATES = _gates() if fast is not None else (None, None)  # type: ignore[assignment]
