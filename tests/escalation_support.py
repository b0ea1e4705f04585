"""Real receivers for escalation tests: a loopback HTTP endpoint and an SMTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Receiver:
    """Collects what apprise's json:// plugin POSTs, per path."""

    port: int = 0
    got: list[dict[str, Any]] = field(default_factory=list)
    fail_paths: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def at(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [g for g in self.got if g["path"] == "/" + path]

    def wait(self, n: int, timeout: float = 10.0, path: str | None = None) -> list[dict[str, Any]]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            items = self.at(path) if path else list(self.got)
            if len(items) >= n:
                return items
            time.sleep(0.02)
        return self.at(path) if path else list(self.got)


def _handler(rec: Receiver) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(n, 1_000_000))
            path = self.path.split("?", 1)[0]
            if path.strip("/") in rec.fail_paths:
                self.send_response(503)
                self.end_headers()
                return
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"raw": raw.decode("utf-8", "replace")}
            with rec.lock:
                rec.got.append({"path": path, "body": body})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    return H


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    rec.port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield rec
    srv.shutdown()
    srv.server_close()


@dataclass
class Mailbox:
    port: int
    messages: list[dict[str, Any]] = field(default_factory=list)

    def wait(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        end = time.monotonic() + timeout
        while time.monotonic() < end and len(self.messages) < n:
            time.sleep(0.02)
        return list(self.messages)


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    from tests.services import free_port

    box = Mailbox(port=free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            msg = message_from_bytes(envelope.content, policy=policy.default)
            body = msg.get_body(preferencelist=("plain", "html"))
            box.messages.append({
                "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                "subject": str(msg["subject"]),
                "text": body.get_content() if body is not None else "",
            })
            return "250 OK"

    ctl = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    ctl.start()
    yield box
    ctl.stop()


class FakeClock:
    """An injectable wall clock that only moves when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when
