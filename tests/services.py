"""Real services for tests: a real Alertmanager on a free loopback port.

A missing binary skips the test with the reason, unless IRCON_REQUIRE_SERVICES=1
(set by .ci/run), where it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

AM_CONFIG = """\
route:
  receiver: ircon-null
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: ircon-null
"""


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path:
        return path
    msg = f"{binary} is not installed (apt-get install the package that provides it)"
    if os.environ.get("IRCON_REQUIRE_SERVICES") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Alertmanager:
    binary: str
    workdir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cfg = self.workdir / "alertmanager.yml"
        cfg.write_text(AM_CONFIG)
        log = (self.workdir / "alertmanager.log").open("ab")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={cfg}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                f"--storage.path={self.workdir / 'data'}",
            ],
            stdout=log, stderr=log,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log_text = (self.workdir / "alertmanager.log").read_text()[-2000:]
                raise RuntimeError("alertmanager exited: " + log_text)
            try:
                if httpx.get(self.url + "/-/ready", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("alertmanager did not become ready within 20 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def post_alerts(self, alerts: list[dict[str, object]]) -> None:
        r = httpx.post(self.url + "/api/v2/alerts", json=alerts, timeout=30)
        r.raise_for_status()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    binary = require("prometheus-alertmanager") if shutil.which(
        "prometheus-alertmanager"
    ) else require("alertmanager")
    am = Alertmanager(binary=binary, workdir=tmp_path / "am", port=free_port())
    am.workdir.mkdir()
    am.start()
    try:
        yield am
    finally:
        am.stop()
