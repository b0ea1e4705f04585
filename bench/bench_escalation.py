"""Escalation figures, each against a baseline measured in this same run.

- sweep: one pass of the service over N open incidents with nothing due (what every
  tick costs), against reading the same journals and nothing else.
- claim: claiming and journaling one firing (stale check + claim row + entry in one
  BEGIN IMMEDIATE transaction), against a plain journal append of the same body.
- delivery: one notification through apprise to a loopback json:// receiver, against a
  bare urllib POST of the same payload to the same receiver.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import figure, median, write

from ircon.config import IrconConfig
from ircon.escalation import scheduler as sch
from ircon.escalation.ladder import Firing
from ircon.escalation.notify import AppriseNotifier
from ircon.escalation.service import EscalationService
from ircon.store import incidents, journal, open_store
from ircon.store.engine import utcnow

N_INC = int(os.environ.get("BENCH_ESC_INCIDENTS", "200"))
N_CLAIM = int(os.environ.get("BENCH_ESC_CLAIMS", "200"))
N_SEND = int(os.environ.get("BENCH_ESC_SENDS", "60"))


class _H(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a: Any) -> None:
        pass


def main() -> None:
    figs = []
    with tempfile.TemporaryDirectory() as d:
        store = open_store(str(Path(d) / "bench.db"))
        cfg = IrconConfig.model_validate({"escalation": {
            "people": {"a": {"targets": ["env:BENCH_URL"]}},
            "policies": {"p": {"levels": [{"after_minutes": 600, "notify": ["person:a"]}]}},
            "severity_policy": {"SEV1": "p", "SEV2": "p"}, "status_update_minutes": {},
        }})
        ids = []
        for i in range(N_INC):
            hid = incidents.create(store, f"incident {i}", severity="SEV2")["id"]
            for k in range(20):
                incidents.note(store, hid, f"note {k}", actor="bench@x")
            ids.append(hid)

        svc = EscalationService(store, cfg, use_scheduler=False,
                                clock=lambda: utcnow() - timedelta(minutes=1))

        async def sweep() -> float:
            t = time.perf_counter()
            out = await svc.sweep()
            assert out == []
            return time.perf_counter() - t

        def read_all() -> float:
            t = time.perf_counter()
            for hid in ids:
                journal.entries(store, hid)
            return time.perf_counter() - t

        sweeps = [asyncio.run(sweep()) for _ in range(5)]
        reads = [read_all() for _ in range(5)]
        s, r = median(sweeps), median(reads)
        figs.append(figure(f"escalation sweep, {N_INC} open incidents x 21 entries", s * 1000,
                           "ms", baseline="read the same journals", baseline_value=r * 1000,
                           ratio=s / r, goal="< tick (15 s); ratio < 2"))

        hid = ids[0]
        claims, appends = [], []
        for i in range(N_CLAIM):
            seq = journal.head(store, hid)[0]
            f = Firing(f"{hid}/bench/{i}", utcnow(), "level", ("person:a",), "ack")
            t = time.perf_counter()
            got = sch.claim(store, hid, seq, f, holder="bench", actor="bench@x",
                            now=utcnow(), late_after=60)
            claims.append(time.perf_counter() - t)
            assert got is not None
            body = f.body(now=utcnow(), late_after=60)
            t = time.perf_counter()
            journal.append(store, hid, "escalation.bench", body, actor="bench@x")
            appends.append(time.perf_counter() - t)
        c, a = median(claims), median(appends)
        figs.append(figure("claim + journal one firing (median)", c * 1000, "ms",
                           baseline="journal.append, same body", baseline_value=a * 1000,
                           ratio=c / a, goal="ratio < 1.5"))
        store.close()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), _H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    url = f"json://127.0.0.1:{port}/hook"
    notifier = AppriseNotifier(10)
    payload = json.dumps({"version": "1.0", "title": "t", "message": "m" * 300}).encode()

    async def apprise_sends() -> list[float]:
        out = []
        for _ in range(N_SEND):
            t = time.perf_counter()
            await notifier.send(url, "[IR-2026-0001 SEV1] title", "m" * 300)
            out.append(time.perf_counter() - t)
        return out

    def bare_sends() -> list[float]:
        out = []
        for _ in range(N_SEND):
            t = time.perf_counter()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/hook", data=payload,
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=10).read()
            out.append(time.perf_counter() - t)
        return out

    ap = median(asyncio.run(apprise_sends()))
    bare = median(bare_sends())
    srv.shutdown()
    figs.append(figure("one notification via apprise json:// (median)", ap * 1000, "ms",
                       baseline="bare urllib POST, same receiver", baseline_value=bare * 1000,
                       ratio=ap / bare, goal="< 100 ms absolute"))
    write("escalation", figs)


if __name__ == "__main__":
    main()
