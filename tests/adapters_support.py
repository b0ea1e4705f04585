"""Loopback stand-ins for the admin APIs adapters talk to.

Each server implements the documented endpoints it is asked about, keeps
state like the real service would, and records every request it received
(method, path, query, headers, JSON body) so tests assert on the wire.
Faults are switched on per test: a status to answer with, a delay longer
than the client's timeout, or a connection reset.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.services import free_port

MASTER_KEY = "sk-master-Zq8Xv3Lw0PsecretVALUE"
UNLEASH_TOKEN = "user:unleash-admin-token-Hk29fQsecret"


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Faults:
    status: list[int] = field(default_factory=list)  # answer the next requests with these
    delay: float = 0.0  # seconds before answering (longer than the client timeout: a timeout)
    reset: int = 0  # reset this many connections without answering


class FakeAPI:
    """Base: a threaded HTTP server that records requests and routes to ``handle``."""

    def __init__(self) -> None:
        self.requests: list[Req] = []
        self.faults = Faults()
        self.lock = threading.Lock()
        self.port = free_port()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _do(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                u = urlsplit(self.path)
                req = Req(self.command, u.path, parse_qs(u.query),
                          {k.lower(): v for k, v in self.headers.items()}, body)
                with api.lock:
                    api.requests.append(req)
                    reset = api.faults.reset > 0
                    if reset:
                        api.faults.reset -= 1
                    status = api.faults.status.pop(0) if api.faults.status else None
                    delay = api.faults.delay
                if reset:
                    # SO_LINGER 0: close sends RST, the client sees a connection reset.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                if delay:
                    time.sleep(delay)
                if status is not None:
                    self._send(status, {"error": {"message": f"injected {status}"}})
                    return
                code, payload = api.handle(req)
                self._send(code, payload)

            def _send(self, code: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _do

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, req: Req) -> tuple[int, Any]:
        return 404, {"error": "not found"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest() if key.startswith("sk-") else key


class FakeLiteLLM(FakeAPI):
    """The LiteLLM proxy management endpoints ircon uses, with state."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}
        self.teams: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.models: dict[str, dict[str, Any]] = {}
        super().__init__()

    def add_key(self, key: str, **info: Any) -> None:
        self.keys[_hash(key)] = {"token": _hash(key), "blocked": False, "rpm_limit": None,
                                 "tpm_limit": None, "max_parallel_requests": None,
                                 "models": [], **info}

    def handle(self, req: Req) -> tuple[int, Any]:
        if req.headers.get("authorization") != f"Bearer {MASTER_KEY}":
            return 401, {"error": {"message": "Authentication Error, invalid proxy key"}}
        b = req.body if isinstance(req.body, dict) else {}
        p = req.path
        if p in ("/key/block", "/key/unblock"):
            tok = _hash(str(b.get("key", "")))
            if tok not in self.keys:
                return 404, {"error": {"message": "key not found"}}
            self.keys[tok]["blocked"] = p == "/key/block"
            return 200, self.keys[tok]
        if p == "/key/update" and req.method == "POST":
            tok = _hash(str(b.get("key", "")))
            if tok not in self.keys:
                return 404, {"error": {"message": "key not found"}}
            for f in ("rpm_limit", "tpm_limit", "max_parallel_requests", "models"):
                if f in b:
                    self.keys[tok][f] = b[f]
            return 200, {"key": tok, **self.keys[tok]}
        if p == "/key/info" and req.method == "GET":
            tok = _hash(req.query.get("key", [""])[0])
            if tok not in self.keys:
                return 404, {"error": {"message": "key not found"}}
            return 200, {"key": tok, "info": self.keys[tok]}
        if p in ("/team/block", "/team/unblock"):
            tid = str(b.get("team_id"))
            self.teams.setdefault(tid, {"team_id": tid})["blocked"] = p == "/team/block"
            return 200, self.teams[tid]
        if p in ("/customer/block", "/customer/unblock"):
            ids = b.get("user_ids")
            if not isinstance(ids, list):
                return 422, {"detail": "user_ids must be a list"}
            for uid in ids:
                self.customers.setdefault(uid, {})["blocked"] = p == "/customer/block"
            return 200, {"blocked_users" if p == "/customer/block" else "unblocked_users": ids}
        if p == "/model/info" and req.method == "GET":
            mid = req.query.get("litellm_model_id", [""])[0]
            m = self.models.get(mid)
            return 200, {"data": [m] if m else []}
        if p.startswith("/model/") and p.endswith("/update") and req.method == "PATCH":
            mid = p[len("/model/"):-len("/update")]
            if mid not in self.models:
                return 404, {"error": {"message": "model not found"}}
            self.models[mid]["litellm_params"].update(b.get("litellm_params") or {})
            return 200, self.models[mid]
        return 404, {"error": {"message": f"no route {req.method} {p}"}}


class FakeUnleash(FakeAPI):
    """Unleash admin API: feature environments on/off, and the feature read."""

    def __init__(self) -> None:
        self.features: dict[tuple[str, str], dict[str, bool]] = {}
        super().__init__()

    def handle(self, req: Req) -> tuple[int, Any]:
        if req.headers.get("authorization") != UNLEASH_TOKEN:
            return 401, {"message": "You must log in to use Unleash"}
        parts = req.path.strip("/").split("/")
        # api/admin/projects/{p}/features/{f}[/environments/{e}/on|off]
        if parts[:3] != ["api", "admin", "projects"] or len(parts) < 6 or parts[4] != "features":
            return 404, {"message": "not found"}
        proj, feat = parts[3], parts[5]
        envs = self.features.get((proj, feat))
        if envs is None:
            return 404, {"message": f"feature {feat} not found"}
        if len(parts) == 6 and req.method == "GET":
            return 200, {"name": feat, "project": proj, "environments": [
                {"name": e, "enabled": on} for e, on in envs.items()]}
        if len(parts) == 9 and parts[6] == "environments" and req.method == "POST" \
                and parts[8] in ("on", "off"):
            if parts[7] not in envs:
                return 404, {"message": "environment not found"}
            envs[parts[7]] = parts[8] == "on"
            return 200, {}
        return 404, {"message": "not found"}


def write_config(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


KUBECTL_STANDIN = """#!/usr/bin/env python3
import json, os, sys
log = os.environ.get("KUBECTL_LOG") or os.path.join(os.path.dirname(__file__), "kubectl.log")
with open(log, "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if "get" in args:
    out = next((a for a in args if a.startswith("--output=jsonpath=")), "")
    sys.stdout.write("7" if "revision" in out else "3")
    sys.exit(0)
if os.path.exists(os.path.join(os.path.dirname(__file__), "FAIL")):
    sys.stderr.write("error: deployments.apps not found\\n")
    sys.exit(1)
sys.stdout.write("deployment.apps/x rolled back\\n" if "rollout" in args else "scaled\\n")
"""


def kubectl_standin(bindir: Path) -> Path:
    """A kubectl on PATH that records its argv (one JSON list per line) in kubectl.log."""
    bindir.mkdir(parents=True, exist_ok=True)
    exe = bindir / "kubectl"
    exe.write_text(KUBECTL_STANDIN)
    exe.chmod(0o755)
    return bindir / "kubectl.log"


def kubectl_calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
