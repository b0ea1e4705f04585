"""Structured logs of the headless engine: key=value lines, or one JSON object a line.

Log records carry their fields in ``extra={"fields": {...}}`` (``event`` below
does that). Field values can hold attacker text (rule titles, user ids): they
are made printable and bounded before they reach the terminal or a journal
collector.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from ircon.model.text import one_line

MAX_FIELD = 500


def _safe(v: Any) -> Any:
    if isinstance(v, str):
        return one_line(v, MAX_FIELD)
    if isinstance(v, bool | int | float) or v is None:
        return v
    if isinstance(v, list | tuple):
        return [_safe(x) for x in list(v)[:50]]
    if isinstance(v, dict):
        return {one_line(str(k), 60): _safe(x) for k, x in list(v.items())[:50]}
    return one_line(str(v), MAX_FIELD)


def event(log: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    """Log ``msg`` with structured fields."""
    if log.isEnabledFor(level):
        log.log(level, msg, extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": one_line(record.getMessage(), 2000),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for k, v in fields.items():
                if k not in out:
                    out[k] = _safe(v)
        if record.exc_info:
            out["error"] = one_line(self.formatException(record.exc_info), 4000)
        return json.dumps(out, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts = [ts, record.levelname.lower(), record.name, one_line(record.getMessage(), 2000)]
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for k, v in fields.items():
                sv = _safe(v)
                text = sv if isinstance(sv, str) else json.dumps(sv, default=str)
                parts.append(f"{k}={json.dumps(text) if ' ' in text or not text else text}")
        line = " ".join(parts)
        if record.exc_info:
            line += " error=" + json.dumps(one_line(self.formatException(record.exc_info), 4000))
        return line


def setup(*, json_logs: bool, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send ircon's logs (and only ircon's: libraries stay at WARNING) to stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else PlainFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("ircon").setLevel(level)
