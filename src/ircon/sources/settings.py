"""Config models of detection sources (``[[sources]]``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ircon.settings_base import SecretRef, Section


class AlertmanagerSource(Section):
    type: Literal["alertmanager"] = "alertmanager"
    name: str = "alertmanager"
    """Unique name of this source, shown in the console and the journal."""
    url: str = "http://127.0.0.1:9093"
    """Base URL of the Alertmanager (without /api/v2)."""
    interval: float = Field(default=15.0, gt=0)
    """Seconds between pulls."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds before one pull is abandoned."""
    filter: list[str] = Field(default_factory=list)
    """Alertmanager matchers, e.g. ['team="ml"']."""
    receiver: str | None = None
    """Only alerts routed to this receiver (a regex, as Alertmanager takes it)."""
    active: bool = True
    """Include active (neither silenced nor inhibited) alerts."""
    silenced: bool = True
    """Include silenced alerts (stored with state suppressed)."""
    inhibited: bool = True
    """Include inhibited alerts (stored with state suppressed)."""
    unprocessed: bool = True
    """Include alerts Alertmanager has not yet processed."""
    fetch_groups: bool = True
    """Also read /api/v2/alerts/groups to keep Alertmanager's grouping (receiver + labels)."""
    max_response_mb: float = Field(default=256.0, gt=0)
    """Refuse a response body larger than this many MiB (a runaway or hostile server)."""
    bearer_token: SecretRef | None = None
    """Reference to a bearer token (env:VAR or keyring:SERVICE/NAME)."""
    basic_user: str | None = None
    """User for HTTP basic auth."""
    basic_password: SecretRef | None = None
    """Reference to the basic-auth password."""
    verify_tls: bool = True
    """Verify the server certificate."""
    ca_file: str | None = None
    """PEM bundle of CAs to trust instead of the system store."""
    client_cert: str | None = None
    """PEM client certificate for mutual TLS."""
    client_key: str | None = None
    """PEM private key of client_cert (if not inside the certificate file)."""


class TelemetrySource(Section):
    type: Literal["telemetry"] = "telemetry"
    name: str = "telemetry"
    """Unique name of this source."""
    paths: list[str] = Field(default_factory=list)
    """JSONL files to follow (like tail -F); globs allowed."""
    format: Literal["auto", "litellm", "otel", "openai", "langfuse"] = "auto"
    """Log format; auto detects it per line."""
    interval: float = Field(default=0.5, gt=0)
    """Seconds between checks for new lines."""
    from_start: bool = False
    """Read files from the beginning instead of only new lines."""
    max_line_bytes: int = Field(default=8 << 20, ge=1024, le=1 << 30)
    """Longest line kept, in bytes; longer lines are reported as skipped and discarded."""


SourceConfig = Annotated[AlertmanagerSource | TelemetrySource, Field(discriminator="type")]
