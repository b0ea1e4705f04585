"""Notifications through apprise: message text, sending with retries, outcomes.

Apprise URLs embed credentials (tokens, passwords, webhook paths), so a URL
never leaves this module: outcomes name the target by its place in the
roster (``person:alice#1``) and the URL's scheme, and error text is passed
through a ``Redactor`` loaded with every part of the URL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from ircon.model.text import no_mentions, one_line, visible
from ircon.secrets import Redactor


@dataclass(frozen=True)
class Message:
    incident: str
    severity: str
    title: str  # may be attacker-written (derived from alerts): made safe here
    ask: str
    head_hash: str
    key: str
    late: bool = False

    @property
    def subject(self) -> str:
        return f"[{self.incident} {self.severity}] {one_line(no_mentions(self.title), 120)}"

    @property
    def text(self) -> str:
        lines = [
            f"Incident: {self.incident}",
            f"Severity: {self.severity}",
            f"Title: {one_line(no_mentions(self.title), 300)}",
            f"Asked of you: {visible(self.ask, 600)}",
            f"Journal head: {self.head_hash}",
            "(the journal's SHA-256 head hash when this was sent: keep it as a witness)",
        ]
        if self.late:
            lines.append("Note: sent late — ircon was not running when this fell due.")
        lines.append(f"Ref: {self.key}")
        return "\n".join(lines)


class SendError(Exception):
    """One attempt failed; the message is already redacted."""


class Notifier(Protocol):
    async def send(self, url: str, subject: str, body: str) -> None:
        """Deliver once or raise SendError."""


def scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "?"


def url_redactor(url: str) -> Redactor:
    r = Redactor([url])
    try:
        parts = urlsplit(url)
    except ValueError:
        return r
    # The host stays readable (it says which service failed); credentials do not.
    for piece in (parts.username, parts.password):
        if piece:
            r.add(unquote(piece))
            r.add(piece)
    for seg in parts.path.split("/"):
        if seg:
            r.add(seg)
            r.add(unquote(seg))
    for _, v in parse_qsl(parts.query, keep_blank_values=False):
        r.add(v)
    return r


class AppriseNotifier:
    """Sends through apprise in a worker thread (apprise plugins block)."""

    def __init__(self, timeout: float = 20.0) -> None:
        self.timeout = timeout

    async def send(self, url: str, subject: str, body: str) -> None:
        await asyncio.to_thread(self._send, url, subject, body)

    def _send(self, url: str, subject: str, body: str) -> None:
        import apprise

        red = url_redactor(url)
        ap = apprise.Apprise()
        if not ap.add(url):
            raise SendError(f"apprise does not accept this {scheme(url)}:// URL "
                            "(check it against the apprise documentation)")
        res = ap.notify(body=body, title=subject, body_format=apprise.NotifyFormat.TEXT,
                        timeout=self.timeout)
        if bool(res):
            return
        msgs = [str(getattr(e, "message", e)) for e in res.logs()
                if getattr(e, "level", "") in ("WARNING", "ERROR", "CRITICAL")]
        detail = "; ".join(msgs[-3:]) or f"delivery failed ({res.status!s})"
        raise SendError(one_line(red.text(detail), 400))


@dataclass
class Outcome:
    spec: str  # policy target (person:alice, rotation:primary, channel:ops, commander)
    who: str
    via: str  # "who#n (scheme)": which of their targets, never the URL
    ok: bool
    attempts: int
    error: str | None = None
    seconds: float = 0.0

    def body(self, key: str) -> dict[str, Any]:
        return {
            "firing": key, "target": self.spec, "who": self.who, "via": self.via,
            "ok": self.ok, "attempts": self.attempts, "error": self.error,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RetryPolicy:
    attempts: int = 4
    backoff: float = 2.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)


async def deliver(
    notifier: Notifier, url: str, subject: str, body: str, retry: RetryPolicy
) -> tuple[bool, int, str | None]:
    """Send with exponential backoff; (ok, attempts, last error)."""
    delay = retry.backoff
    err: str | None = None
    for attempt in range(1, retry.attempts + 1):
        try:
            await notifier.send(url, subject, body)
            return True, attempt, None
        except SendError as exc:
            err = str(exc)
        except Exception as exc:  # a plugin bug must not kill the ladder
            err = one_line(url_redactor(url).text(f"{type(exc).__name__}: {exc}"), 400)
        if attempt < retry.attempts:
            await retry.sleep(delay)
            delay *= 2
    return False, retry.attempts, err


def now_s() -> float:
    return time.monotonic()
