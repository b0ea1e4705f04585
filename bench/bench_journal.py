"""Journal figures: durable append latency, batched throughput, verify of 1M entries,
and `ircon --help` start-up — each against a baseline measured in this same run.

Baselines: a bare sqlite3 INSERT + COMMIT into an identical table with the same
pragmas (WAL, synchronous=FULL); a bare SELECT scan of the same 1M rows; `python -c pass`.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import figure, median, percentile, write

from ircon.store import incidents, open_store
from ircon.store.journal import NewEntry, append, append_many

N_LAT = int(os.environ.get("BENCH_APPENDS", "400"))
N_VERIFY = int(os.environ.get("BENCH_VERIFY_ENTRIES", "1000000"))
BODY = {"text": "rotated key sk-… for team support-bot; rpm limit set to 10", "n": 0}


def bare_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE journal_entry (id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL, "
        "seq INTEGER NOT NULL, ts TEXT NOT NULL, actor TEXT NOT NULL, kind TEXT NOT NULL, "
        "body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, "
        "UNIQUE (incident_id, seq))"
    )
    conn.execute("CREATE INDEX ix_kind ON journal_entry (kind)")
    return conn


def bare_insert(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO journal_entry (incident_id, seq, ts, actor, kind, body, prev_hash, hash) "
        "VALUES (1, ?, '2026-11-26T00:00:00.000000Z', 'a@b', 'note', ?, ?, ?)",
        (seq, '{"n":0,"text":"x"}', "0" * 64, "f" * 64),
    )
    conn.execute("COMMIT")


def latency(tmp: Path) -> list[dict[str, object]]:
    store = open_store(str(tmp / "lat.db"))
    inc = incidents.create(store, "bench")["id"]
    bare = bare_db(tmp / "bare.db")
    ircon_s: list[float] = []
    bare_s: list[float] = []
    # Interleave the two so machine noise hits both alike.
    for i in range(N_LAT):
        t = time.perf_counter()
        append(store, inc, "note", BODY, actor="bench@host")
        ircon_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        bare_insert(bare, i + 1)
        bare_s.append(time.perf_counter() - t)
    p50, p99 = percentile(ircon_s, 50) * 1e3, percentile(ircon_s, 99) * 1e3
    b50, b99 = percentile(bare_s, 50) * 1e3, percentile(bare_s, 99) * 1e3
    return [
        figure("journal append p50", p50, "ms", baseline="bare sqlite3 insert+commit p50",
               baseline_value=b50, ratio=p50 / b50, goal="<= 3x"),
        figure("journal append p99", p99, "ms", baseline="bare sqlite3 insert+commit p99",
               baseline_value=b99, ratio=p99 / b99),
    ]


def throughput(tmp: Path, batch: int = 1000, batches: int = 20) -> list[dict[str, object]]:
    store = open_store(str(tmp / "tp.db"))
    inc = incidents.create(store, "bench")["id"]
    items = [NewEntry("note", {"text": "x" * 80, "n": i}) for i in range(batch)]
    t = time.perf_counter()
    for _ in range(batches):
        append_many(store, inc, items)
    ircon_rate = batch * batches / (time.perf_counter() - t)
    bare = bare_db(tmp / "tp-bare.db")
    rows = [(i, '{"n":0,"text":"' + "x" * 80 + '"}', "0" * 64, "f" * 64)
            for i in range(batch * batches)]
    t = time.perf_counter()
    for b in range(batches):
        bare.execute("BEGIN IMMEDIATE")
        bare.executemany(
            "INSERT INTO journal_entry (incident_id, seq, ts, actor, kind, body, prev_hash, hash) "
            "VALUES (1, ?, '2026-11-26T00:00:00.000000Z', 'a@b', 'note', ?, ?, ?)",
            rows[b * batch:(b + 1) * batch],
        )
        bare.execute("COMMIT")
    bare_rate = batch * batches / (time.perf_counter() - t)
    return [figure(f"batched append ({batch}/txn)", ircon_rate, "entries/s",
                   baseline="bare sqlite3 executemany", baseline_value=bare_rate,
                   ratio=ircon_rate / bare_rate)]


def verify_big(tmp: Path) -> list[dict[str, object]]:
    db = tmp / "big.db"
    store = open_store(str(db))
    per_incident = 10_000
    n_inc = max(1, N_VERIFY // per_incident)
    items = [NewEntry("note", {"text": "entry " * 8, "n": i}) for i in range(1000)]
    t = time.perf_counter()
    for _ in range(n_inc):
        inc = incidents.create(store, "big")["id"]
        for _ in range(per_incident // 1000 - 1):
            append_many(store, inc, items)
        append_many(store, inc, items[:999])  # 1 opening entry + 9,999 = 10,000
    build = time.perf_counter() - t
    store.close()
    total = n_inc * per_incident
    env = dict(os.environ)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "ircon.cli", "--db", str(db), "journal", "verify"],
                       capture_output=True, text=True, env=env)
    verify_s = time.perf_counter() - t
    assert r.returncode == 0, r.stderr
    conn = sqlite3.connect(db)
    t = time.perf_counter()
    for _row in conn.execute(
        "SELECT incident_id, seq, ts, actor, kind, body, prev_hash, hash FROM journal_entry "
        "ORDER BY incident_id, seq"
    ):
        pass
    scan_s = time.perf_counter() - t
    print(f"(built {total} entries in {build:.1f} s: {total / build:.0f} entries/s)")
    return [figure(f"ircon journal verify, {total:,} entries", verify_s, "s",
                   baseline="bare sqlite3 ordered scan of the same rows", baseline_value=scan_s,
                   ratio=verify_s / scan_s, goal="< 10 s")]


def startup() -> list[dict[str, object]]:
    def wall(cmd: list[str]) -> float:
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        return time.perf_counter() - t

    runs = 15
    ircon = median([wall([sys.executable, "-m", "ircon.cli", "--help"]) for _ in range(runs)])
    bare = median([wall([sys.executable, "-c", "pass"]) for _ in range(runs)])
    return [figure("ircon --help wall time", ircon * 1e3, "ms", baseline="python -c pass",
                   baseline_value=bare * 1e3, ratio=ircon / bare)]


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        figs = latency(tmp) + throughput(tmp) + startup() + verify_big(tmp)
    write("journal", figs)


if __name__ == "__main__":
    main()
