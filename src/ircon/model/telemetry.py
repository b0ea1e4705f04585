"""The normalized LLM gateway event every telemetry format is mapped onto.

The types are plain slotted dataclasses, not frozen ones: a frozen dataclass pays
an ``object.__setattr__`` per field on construction, which for a 20-field event
costs as much as parsing its JSON line. Treat instances as read-only all the same.

Sources (``ircon.sources.telemetry``) produce these; detectors
(``ircon.detect``) consume them. Everything in here is attacker-influenced
text except the numbers, so nothing here is ever rendered as markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant", "tool", "developer", "other"]


@dataclass(slots=True)
class Message:
    """One prompt message as the gateway saw it."""

    role: Role
    content: str
    name: str | None = None


@dataclass(slots=True)
class RequestParams:
    """Sampling parameters that matter to probing / extraction detection."""

    temperature: float | None = None
    max_tokens: int | None = None
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias_size: int = 0  # number of tokens biased; the map itself is not kept
    stream: bool | None = None


@dataclass(slots=True)
class TelemetryEvent:
    """One LLM request/response pair, normalized from any supported format.

    ``ts`` is seconds since the epoch (UTC). ``key`` is the gateway's virtual
    key identifier as logged (LiteLLM logs a hash, never the raw key).
    """

    request_id: str
    ts: float
    format: str
    model: str | None = None
    key: str | None = None
    user: str | None = None
    team: str | None = None
    ip: str | None = None
    messages: tuple[Message, ...] = ()
    response: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    params: RequestParams = field(default_factory=RequestParams)
    status: str = "success"
    latency_ms: float | None = None
    origin: str = ""  # file path or source name the event came from
    line: int = 0  # 1-based line number within ``origin``
    key_alias: str | None = None  # human name of the key (LiteLLM key alias), for display
    end_user: str | None = None  # end-user id the application passed (OpenAI ``user`` param)

    @property
    def prompt_text(self) -> str:
        """All user/tool-visible prompt text joined, for pattern rules."""
        return "\n".join(m.content for m in self.messages)

    @property
    def last_user_text(self) -> str:
        for m in reversed(self.messages):
            if m.role == "user":
                return m.content
        return ""

    @property
    def total_tokens(self) -> int:
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)

    def actor(self) -> str:
        """The most specific identity for per-key state."""
        return self.key or self.user or self.ip or "unknown"
