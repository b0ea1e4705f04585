"""A real loopback HTTP server that plays Alertmanager's API v2, and misbehaves on demand."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from ircon.sources.alertmanager import labels_fingerprint


def am_alert(labels: dict[str, str], *, state: str = "active", summary: str = "s",
             ends_in: float = 300.0) -> dict[str, Any]:
    """One alert as Alertmanager's GET /api/v2/alerts returns it."""
    now = datetime.now(UTC)
    return {
        "annotations": {"summary": summary},
        "endsAt": (now + timedelta(seconds=ends_in)).isoformat().replace("+00:00", "Z"),
        "fingerprint": labels_fingerprint(labels),
        "receivers": [{"name": "team"}],
        "startsAt": (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        "status": {"inhibitedBy": [], "silencedBy": [], "state": state},
        "updatedAt": now.isoformat().replace("+00:00", "Z"),
        "labels": labels,
        "generatorURL": "http://prometheus/graph",
    }


@dataclass
class FakeAM:
    """Mode: ok | slow | 500 | malformed | partial | notlist | down-after-headers."""

    port: int = 0
    mode: str = "ok"
    alerts: list[dict[str, Any]] = field(default_factory=list)
    body_override: bytes | None = None
    slow_seconds: float = 3.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def groups(self) -> list[dict[str, Any]]:
        by: dict[str, list[dict[str, Any]]] = {}
        for a in self.alerts:
            by.setdefault(a["labels"].get("alertname", ""), []).append(a)
        return [{"labels": {"alertname": k}, "receiver": {"name": "team"}, "alerts": v}
                for k, v in by.items()]


def _handler(fake: FakeAM) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, code: int, body: bytes, length: int | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            try:
                self.wfile.write(body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): expected

        def do_GET(self) -> None:
            u = urlparse(self.path)
            fake.requests.append({"path": u.path, "query": parse_qs(u.query),
                                  "headers": dict(self.headers)})
            mode = fake.mode
            if mode == "slow":
                time.sleep(fake.slow_seconds)
            if mode == "500":
                self._send(500, b"internal error \x1b[31m boom")
                return
            if mode == "malformed":
                self._send(200, b'[{"labels": {"alertname": "x"}, ')
                return
            if mode == "partial":
                self.close_connection = True
                self._send(200, b'[{"labels":', length=100_000)
                return
            if mode == "notlist":
                self._send(200, b'{"alerts": []}')
                return
            if u.path == "/api/v2/status":
                self._send(200, json.dumps({
                    "cluster": {"status": "disabled"}, "uptime": "2026-01-01T00:00:00Z",
                    "versionInfo": {"version": "fake-0.1"},
                }).encode())
                return
            if fake.body_override is not None and u.path == "/api/v2/alerts":
                self._send(200, fake.body_override)
                return
            data = fake.groups() if u.path == "/api/v2/alerts/groups" else fake.alerts
            self._send(200, json.dumps(data).encode())

    return H


@pytest.fixture
def fake_am() -> Iterator[FakeAM]:
    fake = FakeAM()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    srv.daemon_threads = True
    fake.server = srv
    fake.port = int(srv.server_address[1])
    t = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    t.start()
    try:
        yield fake
    finally:
        srv.shutdown()
        srv.server_close()


HOSTILE_LABELS = {
    "alertname": "[bold red]Pwned[/] \x1b[31mRED\x1b[0m \x1b]8;;http://evil\x07link\x1b]8;;\x07",
    "model": "gpt\u202eevil\u200b\x00\x07",
    "huge": "A" * 1_000_000,
}
