"""Errors shown as console notifications carry outside text (an admin API's error body):
it is made visible there, never passed to the terminal as control sequences."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import Static

from ircon.config import IrconConfig, LoadedConfig
from ircon.tui import services
from ircon.tui.screens.base import IoMixin
from tests.tui_support import add_alert

EVIL = "bad matcher\x1b]0;owned\x07\x1b[2J\u202egnp.exe"


class HostileAlertmanager:
    """Answers every request with HTTP 400 and a plain-text body full of control sequences."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.requests.append(self.path)
                data = EVIL.encode()
                self.send_response(400)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Host(IoMixin, App[None]):
    def compose(self) -> ComposeResult:
        yield Static("host")


async def test_failed_silence_error_body_is_escaped_in_the_notification(store: Any) -> None:
    am = HostileAlertmanager()
    try:
        loaded = LoadedConfig(IrconConfig.model_validate({"adapters": {"am": {
            "type": "alertmanager", "url": am.url, "timeout": 5}}}), None)
        aid = add_alert(store, 1, "JailbreakAttempt", "x", labels={"alertname": "J"})
        app = Host()
        async with app.run_test() as pilot:
            app.io(lambda: services.silence_alerts(store, loaded, [aid], hours=1,
                                                   comment="c", actor="a@x"))
            for _ in range(50):
                await pilot.pause(0.05)
                if app._notifications:
                    break
            [note] = list(app._notifications)
        assert am.requests, "the silence was attempted"
        assert note.severity == "error"
        assert "silence failed" in note.message and "bad matcher" in note.message
        for ch in ("\x1b", "\x07", "\u202e"):
            assert ch not in note.message
        assert "\\e]0;owned" in note.message
    finally:
        am.close()
