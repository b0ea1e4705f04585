"""Console figures: start-up on a big store, event-loop stall during a 10,000-alert pull, RSS.

* start-up to the first painted screen with 10,000 incidents and 1,000,000 journal
  entries, against a bare Textual "hello" app started the same way in the same run
  (goal <= 1.5x); the time until the board shows its rows is reported beside it;
* the longest event-loop stall (a 10 ms timer recording its own lateness) while
  10,000 alerts arrive in one pull and go through ingest, against the same timer on
  the idle console (goal < 50 ms);
* peak RSS of the process in that run.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from _common import figure, median, write  # noqa: E402

N_INCIDENTS = 10_000
N_ENTRIES = 1_000_000
N_ALERTS = 10_000
RUNS = 5

CHILD = r'''
import sys, time
mode, db = sys.argv[1], sys.argv[2]
from textual.app import App
from textual.widgets import Static
if mode == "hello":
    class Hello(App):
        def compose(self):
            yield Static("hello")
        def on_mount(self):
            self.call_after_refresh(self.painted)
        def painted(self):
            print("painted", flush=True)
            self.exit()
    Hello().run(headless=True, size=(120, 36))
else:
    from ircon.tui.app import IrconApp
    class Timed(IrconApp):
        CSS_PATH = IrconApp.CSS_PATH
        def on_mount(self):
            super().on_mount()
            self.call_after_refresh(self.painted)
            self.set_interval(0.005, self.check)
        def painted(self):
            print("painted", flush=True)
        def check(self):
            page = getattr(self.screen, "page", None)
            if page is not None and page.rows:
                print("data", flush=True)
                self.exit()
    Timed(db=db, actor="bench@host", start_engine=False).run(headless=True, size=(120, 36))
'''


def build_big_store(path: Path) -> None:
    """10,000 incidents x 100 entries with valid chains, in one transaction of batches."""
    from ircon.model.journal import GENESIS, canonical_body, entry_hash, format_ts
    from ircon.store import open_store

    open_store(str(path)).close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    per = N_ENTRIES // N_INCIDENTS
    sevs = ("SEV1", "SEV2", "SEV3", "SEV4")
    with con:
        inc_rows, heads, entries = [], [], []
        for n in range(1, N_INCIDENTS + 1):
            hid = f"IR-2026-{n:05d}"
            opened = start + timedelta(minutes=n)
            status = "resolved" if n % 10 else "open"
            inc_rows.append((n, hid, 2026, n, f"incident {n}", "jailbreak", sevs[n % 4], "[]",
                             False, status, "amber", "[]", "[]", opened.isoformat(" "),
                             opened.isoformat(" ")))
            prev = GENESIS
            for seq in range(1, per + 1):
                ts = format_ts(opened + timedelta(seconds=seq))
                kind = "incident.opened" if seq == 1 else "note"
                body = canonical_body({"text": f"entry {seq} of {hid}"})
                h = entry_hash(hid, seq, ts, "bench@host", kind, body, prev)
                entries.append((n, seq, ts, "bench@host", kind, body, prev, h))
                prev = h
            heads.append((n, per, prev))
            if len(entries) >= 100_000:
                con.executemany("INSERT INTO journal_entry (incident_id, seq, ts, actor, kind, "
                                "body, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)", entries)
                entries.clear()
        con.executemany(
            "INSERT INTO incident (id, human_id, year, number, title, kind, severity, "
            "severity_reasons, severity_override, status, tlp, atlas, owasp, created_at, "
            "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", inc_rows)
        if entries:
            con.executemany("INSERT INTO journal_entry (incident_id, seq, ts, actor, kind, "
                            "body, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)", entries)
        con.executemany("INSERT INTO journal_head (incident_id, count, head_hash) "
                        "VALUES (?,?,?)", heads)
    con.close()
    _ = hashlib  # the chain above is the same SHA-256 chain `ircon journal verify` checks


def time_to(mode: str, db: Path) -> tuple[float, float | None]:
    """Seconds from spawning the process to its first painted frame (and to data)."""
    script = db.parent / "child_app.py"  # a file: Textual resolves CSS paths from it
    if not script.exists():
        script.write_text(CHILD)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script), mode, str(db)],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "IRCON_NO_ENGINE": "1"})
    assert proc.stdout is not None
    painted = data = None
    for line in proc.stdout:
        if line.startswith("painted") and painted is None:
            painted = time.perf_counter() - t0
        if line.startswith("data"):
            data = time.perf_counter() - t0
    proc.wait(60)
    assert painted is not None, f"{mode} never painted"
    return painted, data


async def stall_during_pull(db: Path) -> tuple[float, float, float, float]:
    """(idle max lateness, pull max lateness, pull seconds, rows shown after) in ms/s."""
    from ircon.config import IrconConfig
    from ircon.engine.ingest import ingest_alerts
    from ircon.model.alert import AlertIn
    from ircon.tui.app import IrconApp

    app = IrconApp(db=str(db), actor="bench@host", start_engine=False, start_mode="alerts",
                   refresh_seconds=float(os.environ.get("BENCH_REFRESH", "1.0")))
    late: list[float] = []
    tick = 0.010

    async def probe(seconds: float) -> float:
        late.clear()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            await asyncio.sleep(tick)
            late.append(time.perf_counter() - t - tick)
        return max(late) * 1000

    async with app.run_test(size=(120, 36)) as pilot:
        while app.store is None:
            await pilot.pause(0.05)
        await pilot.pause(1.5)
        idle = await probe(3.0)
        now = datetime.now(UTC)
        alerts = [
            AlertIn(source="am-bench", fingerprint=f"bench{i:06d}",
                    labels={"alertname": f"LLMProbe{i % 50}", "model": "chat-prod",
                            "key": f"k-{i % 700}", "severity": "warning"},
                    annotations={"summary": f"probe burst {i} from 203.0.113.{i % 250}"},
                    status="firing", starts_at=now)
            for i in range(N_ALERTS)
        ]
        cfg = IrconConfig().triage
        store = app.store
        assert store is not None
        # The console's pull path: the poller's ingest callback runs ingest in a thread.
        t0 = time.perf_counter()
        pull = asyncio.create_task(asyncio.to_thread(
            ingest_alerts, store, alerts, cfg, actor="bench@host"))
        during = 0.0
        while not pull.done():
            during = max(during, await probe(0.2))
        pull_s = time.perf_counter() - t0
        in_pull = during
        # ...and while the console notices and repaints the queue
        during = max(during, await probe(2.5))
        if os.environ.get("BENCH_DEBUG"):
            print(f"stall in pull {in_pull:.1f} ms, after {max(late) * 1000:.1f} ms")
        screen = app.screen
        shown = screen.page.total if getattr(screen, "page", None) else 0
    return idle, during, pull_s, float(shown)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.db"
        t = time.perf_counter()
        build_big_store(big)
        print(f"built {N_INCIDENTS:,} incidents / {N_ENTRIES:,} entries in "
              f"{time.perf_counter() - t:.1f}s", flush=True)
        hello, ircon, data = [], [], []
        time_to("hello", big)  # warm the file cache and .pyc files
        time_to("ircon", big)
        for _ in range(RUNS):
            hello.append(time_to("hello", big)[0])
            p, d = time_to("ircon", big)
            ircon.append(p)
            if d is not None:
                data.append(d)
        h, i = median(hello), median(ircon)
        d = median(data) if data else float("nan")
        small = Path(tmp) / "alerts.db"
        idle, during, pull_s, shown = asyncio.run(stall_during_pull(small))
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = [
        figure("tui start-up to first paint (10k incidents, 1M entries)", i, "s",
               baseline="textual hello app", baseline_value=h, ratio=i / h, goal="<= 1.5x"),
        figure("tui start-up to board rows shown", d, "s", baseline="textual hello app",
               baseline_value=h, ratio=d / h, goal="(reported)"),
        figure(f"tui longest event-loop stall during a {N_ALERTS:,}-alert pull", during, "ms",
               baseline="idle console, same timer", baseline_value=idle,
               ratio=during / idle if idle else None, goal="< 50 ms"),
        figure(f"{N_ALERTS:,}-alert pull (ingest, in a worker thread)", pull_s, "s",
               goal="(reported)"),
        figure("tui peak RSS in the pull run", rss_mb, "MB", goal="(reported)"),
    ]
    write("bench_tui", figures)
    if shown < N_ALERTS:
        print(f"warning: the queue showed {shown:.0f} alerts, expected {N_ALERTS}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
