"""One pull of 10,000 active alerts from a real Alertmanager: time until they are stored
and triaged, against the bare HTTP GET + JSON parse of the same alerts in the same run.

Needs the `prometheus-alertmanager` (or `alertmanager`) binary; started on a free
loopback port with a throwaway storage directory.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _common import figure, median, write

from ircon.engine.ingest import ingest_alerts
from ircon.sources.alertmanager import AlertmanagerClient
from ircon.sources.settings import AlertmanagerSource
from ircon.store import open_store
from ircon.triage.settings import TriageConfig

N = 10_000
RUNS = 3
AM_CONFIG = """\
route:
  receiver: oncall
  group_by: ['alertname', 'model']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: oncall
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_am(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        sys.exit("bench_alerts: the prometheus-alertmanager binary is not installed")
    port = free_port()
    (workdir / "am.yml").write_text(AM_CONFIG)
    log = (workdir / "am.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={workdir / 'am.yml'}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address=", f"--storage.path={workdir / 'data'}"],
        stdout=log, stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/-/ready", timeout=0.5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    sys.exit("bench_alerts: Alertmanager did not become ready")


def load(url: str) -> None:
    """10,000 firing alerts: 25 alert names x 4 models, 100 keys, realistic annotations."""
    alerts = [
        {
            "labels": {
                "alertname": f"LLMAbuse{i % 25}", "model": f"gpt-{i % 4}", "key": f"key-{i % 100}",
                "team": f"team-{i % 7}", "severity": ("critical", "warning", "info")[i % 3],
                "instance": f"gw-{i}",
            },
            "annotations": {"summary": f"abuse pattern {i % 25} on key-{i % 100}",
                            "runbook_url": "https://runbooks.example/llm-abuse"},
            "generatorURL": f"http://prometheus:9090/graph?g0.expr=abuse{i % 25}",
        }
        for i in range(N)
    ]
    with httpx.Client(timeout=60) as c:
        for i in range(0, N, 1000):
            c.post(url + "/api/v2/alerts", json=alerts[i : i + 1000]).raise_for_status()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(c.get(url + "/api/v2/alerts").json()) >= N:
                return
            time.sleep(0.5)
    sys.exit("bench_alerts: Alertmanager did not list all alerts")


def bare_get(url: str) -> float:
    t = time.perf_counter()
    with httpx.Client(timeout=60) as c:
        data = orjson.loads(c.get(url + "/api/v2/alerts").content)
    dt = time.perf_counter() - t
    assert len(data) == N
    return dt


def ircon_pull(url: str, db: Path) -> tuple[float, float, int]:
    """(seconds to stored+triaged, of which pulling, alerts new) on a fresh database."""
    store = open_store(str(db))
    cfg = TriageConfig()

    async def go() -> tuple[float, float, int]:
        client = AlertmanagerClient(AlertmanagerSource(url=url, timeout=60))
        t = time.perf_counter()
        res = await client.pull()
        pulled = time.perf_counter() - t
        rep = ingest_alerts(store, res.alerts, cfg, actor="bench@local",
                            complete_sources={client.name} if res.complete else set())
        total = time.perf_counter() - t
        await client.aclose()
        return total, pulled, len(rep.new)

    try:
        return asyncio.run(go())
    finally:
        store.close()


def ircon_repull(url: str, db: Path) -> float:
    """Steady state: the same 10,000 alerts again (all repeats) into the same database."""
    store = open_store(str(db))

    async def go() -> float:
        client = AlertmanagerClient(AlertmanagerSource(url=url, timeout=60))
        t = time.perf_counter()
        res = await client.pull()
        ingest_alerts(store, res.alerts, TriageConfig(), actor="bench@local",
                      complete_sources={client.name})
        await client.aclose()
        return time.perf_counter() - t

    try:
        return asyncio.run(go())
    finally:
        store.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        proc, url = start_am(work)
        try:
            load(url)
            bare_get(url)  # warm the server and the connection path once
            bare, first, pull_only, repull = [], [], [], []
            for run in range(RUNS):
                bare.append(bare_get(url))
                total, pulled, new = ircon_pull(url, work / f"run{run}.db")
                assert new == N, new
                first.append(total)
                pull_only.append(pulled)
                repull.append(ircon_repull(url, work / f"run{run}.db"))
        finally:
            proc.terminate()
            proc.wait(10)
    b = median(bare)
    figures = [
        figure("10k alerts: first pull stored+triaged", median(first), "s",
               baseline="bare GET+parse", baseline_value=b, ratio=median(first) / b,
               goal="a few seconds"),
        figure("10k alerts: pull+normalize (alerts+groups)", median(pull_only), "s",
               baseline="bare GET+parse", baseline_value=b, ratio=median(pull_only) / b),
        figure("10k alerts: repeat pull stored+triaged", median(repull), "s",
               baseline="bare GET+parse", baseline_value=b, ratio=median(repull) / b),
    ]
    write("bench_alerts", figures)


if __name__ == "__main__":
    main()
