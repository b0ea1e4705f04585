"""Deeply nested JSON in files from outside (evidence bundles, journal exports, CACAO
playbooks) is reported as a problem, never a crash: Python's decoder recurses per
level and raises RecursionError, which is not a ValueError."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

from tests.conftest import run_ircon

DEEP = "[" * 100_000
DATA = Path(__file__).parent / "data" / "cacao"


def test_evidence_bundle_with_deeply_nested_files_does_not_verify(
        tmp_path: Path, db_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name in ("manifest.json", "journal.jsonl", "findings.jsonl"):
            data = DEEP.encode()
            info = tarfile.TarInfo(f"evidence-IR-2026-0001/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    bundle = tmp_path / "deep.tar.gz"
    bundle.write_bytes(gzip.compress(buf.getvalue()))
    r = run_ircon("evidence", "verify", str(bundle), db=db_path)
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.returncode == 1
    assert "manifest.json: not valid JSON" in r.stderr
    assert "journal.jsonl: line 1 is not a journal entry" in r.stderr


def test_journal_export_nested_too_deeply_is_a_clean_error(
        tmp_path: Path, db_path: Path) -> None:
    f = tmp_path / "deep.json"
    f.write_text('{"format":' + DEEP, encoding="utf-8")
    r = run_ircon("journal", "verify", "--file", str(f), db=db_path)
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.returncode == 2
    assert "not a readable ircon journal export" in r.stderr


def test_cacao_command_content_nested_too_deeply_imports_without_a_crash(
        tmp_path: Path, db_path: Path) -> None:
    doc = json.loads((DATA / "key-compromise.json").read_text(encoding="utf-8"))
    n = 0
    for step in doc["workflow"].values():
        for cmd in step.get("commands") or []:
            if cmd.get("type") == "http-api":
                cmd["content"] = DEEP
                n += 1
    assert n, "the sample has an http-api command"
    src = tmp_path / "deep.json"
    src.write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "out.yaml"
    r = run_ircon("playbook", "import-cacao", str(src), "-o", str(out), db=db_path)
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.returncode in (0, 1)
    assert out.exists()


def test_admin_api_reply_nested_too_deeply_is_an_http_failure(store, tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from typing import Any

    from ircon.adapters import runner
    from ircon.config import IrconConfig

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data = DEEP.encode()
            self.send_response(500)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        cfg = IrconConfig.model_validate({"adapters": {"h": {
            "type": "http", "url": f"http://127.0.0.1:{srv.server_address[1]}/x/{{u}}",
            "params": {"u": "user_id"}}}})
        out = runner.run_action(store, cfg, "h", "call", {"u": "bob"}, incident=None,
                                actor="a@x")
    finally:
        srv.shutdown()
        srv.server_close()
    assert not out.ok
    assert out.error and "HTTP 500" in out.error and "internal error" not in out.error
