"""The demo: deterministic sample, replay, the pipeline in the real console, interruption."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ircon.demo import generator
from ircon.demo.replay import Replayer, event_time, load_sample, schedule, shift
from ircon.demo.runtime import DemoRuntime, choose_playbook, prepare
from ircon.detect.pipeline import DetectorSet
from ircon.detect.settings import DetectConfig
from ircon.model.telemetry import TelemetryEvent
from ircon.sources.telemetry import parse_line, read_file
from ircon.store import incidents
from ircon.store.db import open_store
from tests.conftest import run_ircon

# --- the generator --------------------------------------------------------------------------


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    generator.write(a, seed=11)
    generator.write(b, seed=11)
    assert a.read_bytes() == b.read_bytes()
    c = tmp_path / "c.jsonl"
    generator.write(c, seed=12)
    assert c.read_bytes() != a.read_bytes()


def test_shipped_sample_is_the_default_seed(tmp_path: Path) -> None:
    # The committed file is exactly what `python -m ircon.demo.generator` writes.
    out = tmp_path / "g.jsonl"
    generator.write(out)
    shipped = generator.sample_path()
    assert shipped.read_bytes() == out.read_bytes()
    assert shipped.stat().st_size < 4 * 1024 * 1024


def test_sample_is_litellm_and_every_attack_is_detected() -> None:
    got = list(read_file(generator.sample_path(), "litellm"))
    events = [e for e in got if isinstance(e, TelemetryEvent)]
    assert len(events) == len(got), "every line parses as LiteLLM"
    keys = {e.key for e in events}
    teams = {e.team for e in events}
    assert len(keys) > 80 and len(teams) >= 9
    ds = DetectorSet.from_config(generator_detect_config())
    rules: dict[str, set[str]] = {}
    for e in events:
        for f in ds.observe(e):
            rules.setdefault(f.detector, set()).add(f.rule_id)
    assert "jb.persona.unrestricted" in rules["jailbreak"]
    assert "campaign" in rules["campaign"]
    assert "adv.suffix" in rules["suffix"]
    assert "probe.extraction" in rules["probing"]
    assert any(r.startswith("inj.") for r in rules["injection"])
    assert "leak.canary" in rules["leakage"]
    # Benign traffic is not flagged: findings come only from the attackers' keys.
    benign = {k.hash for k in generator.KEYS} - {
        k.hash for k in generator.KEYS if k.alias in ("support-bot-prod", "eng-sandbox",
                                                      "eval-harness")}
    ds2 = DetectorSet.from_config(generator_detect_config())
    flagged = {f.key for e in events for f in ds2.observe(e)}
    assert not flagged & benign


def generator_detect_config() -> DetectConfig:

    return DetectConfig(canaries=[generator.CANARY])


# --- replay ---------------------------------------------------------------------------------


def test_schedule_divides_by_speed_and_caps_gaps() -> None:
    assert schedule([100.0, 110.0, 110.0, None, 1000.0], 10, max_gap=2.0) == [
        0.0, 1.0, 1.0, 1.0, 3.0]
    with pytest.raises(ValueError):
        schedule([1.0], 0)


def test_shift_moves_every_timestamp() -> None:
    line = next(generator.lines())
    t = event_time(line)
    assert t is not None
    moved = shift(line, 1000.0)
    assert event_time(moved) == pytest.approx(t + 1000.0)
    ev = parse_line(moved, "litellm")
    assert getattr(ev, "ts", None) == pytest.approx(t + 1000.0)
    assert shift(b"not json\n", 5.0) == b"not json\n"


async def test_replayer_writes_whole_lines_and_stops(tmp_path: Path) -> None:
    lines = load_sample()[:200]
    target = tmp_path / "t.jsonl"
    stop = asyncio.Event()
    rep = Replayer(target, lines, speed=50.0)
    task = asyncio.create_task(rep.run(stop))
    await asyncio.sleep(0.5)
    stop.set()
    progress = await task
    data = target.read_bytes()
    assert data.endswith(b"\n")
    written = data.splitlines()
    assert 0 < len(written) == progress.written < 200
    # The sample's end lands at the replay's start: nothing is stamped in the future.
    assert all((event_time(x) or 0) <= time.time() + 1 for x in written)


def test_choose_playbook_prefers_the_specific_answer() -> None:
    catalog = [("adversarial-suffix", ["adversarial-suffix", "jailbreak"]),
               ("jailbreak-campaign", ["jailbreak", "jailbreak-campaign"]),
               ("model-extraction", ["model-extraction", "probing"])]
    assert choose_playbook("jailbreak", catalog) == "jailbreak-campaign"
    assert choose_playbook("suffix", catalog) == "adversarial-suffix"
    assert choose_playbook("probing", catalog) == "model-extraction"
    assert choose_playbook("weird", catalog) is None


# --- the console in demo mode ---------------------------------------------------------------


async def test_demo_in_the_console_opens_the_campaign_incident(tmp_path: Path) -> None:
    from ircon.tui.app import IrconApp

    session = prepare(speed=600.0, workdir=tmp_path / "demo")
    runtime = DemoRuntime(session)
    app = IrconApp(db=session.db, loaded=session.loaded, actor="tester@ci",
                   start_engine=False, demo=runtime)
    found = None
    async with app.run_test(size=(120, 36)) as pilot:
        assert "DEMO" in app.title
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and found is None:
            await pilot.pause(0.5)
            if app.store is None:
                continue
            for r in incidents.list_incidents(app.store):
                if r.kind == "jailbreak" and r.severity == "SEV1" \
                        and r.playbook == "jailbreak-campaign":
                    found = r
        assert found is not None, "the jailbreak campaign incident did not appear"
        assert found.campaign and "jb.persona" in found.campaign
        # The demo log screen shows the notifications that went out instead of paging anyone.
        await pilot.press("L")
        await pilot.pause(1.5)
        from textual.widgets import Log

        log = app.screen.query_one(Log)
        assert any("opened" in line for line in log.lines)
        await pilot.press("escape")
    store = open_store(session.db)
    from ircon.store import journal

    assert journal.verify(store).ok


@pytest.mark.slow
def test_demo_interrupted_leaves_a_journal_that_verifies(tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ircon.cli", "demo", "--headless", "--speed", "60",
         "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # Interrupt once incidents are being written, mid-replay.
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if db.exists():
            try:
                if incidents.list_incidents(open_store(str(db))):
                    break
            except Exception:  # the schema may still be being created
                continue
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    v = run_ircon("journal", "verify", "--json", db=db)
    assert v.returncode == 0, v.stdout + v.stderr
    assert incidents.list_incidents(open_store(str(db)))


def test_demo_rejects_a_bad_speed(tmp_path: Path) -> None:
    r = run_ircon("demo", "--speed", "0", "--headless", db=tmp_path / "x.db")
    assert r.returncode == 2
    assert "--speed" in r.stderr
