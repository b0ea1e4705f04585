"""Config of containment adapter instances (``[adapters.NAME]``).

``AdapterConfig`` is what the config loader accepts (``type`` plus any keys);
``parse_settings`` turns it into the typed settings model of that type, so a
misspelt key or a bad value is reported as ``adapters.NAME.KEY`` with a fix.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from ircon.settings_base import SecretRef, Section

ADAPTER_TYPES = ("shell", "http", "litellm", "alertmanager", "flags", "kubernetes", "guardrail")


class AdapterConfig(Section):
    """One adapter instance; ``type`` picks the adapter, the rest are its settings."""

    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True)
    type: str
    """shell | http | litellm | alertmanager | flags | kubernetes | guardrail"""

    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class AdapterSettingsError(ValueError):
    """Bad settings of one instance, worded as ``adapters.NAME.KEY: problem — fix``."""


class CommonSettings(Section):
    """Keys every adapter type accepts."""

    type: str
    timeout: float = Field(default=15.0, gt=0, le=600)
    """Seconds before one call (HTTP request or command) is abandoned and reported failed."""
    retries: int = Field(default=2, ge=0, le=5)
    """Extra attempts for idempotent actions after a connection error, timeout or 5xx."""
    require_approval: bool = False
    """Two-person rule: destructive actions on SEV1/SEV2 incidents need a second responder."""
    description: str = ""
    """Shown by `ircon act NAME --help`."""


class HttpAuth(Section):
    bearer_token: SecretRef | None = None
    """Reference to a bearer token sent as `Authorization: Bearer ...`."""
    basic_user: str | None = None
    """User for HTTP basic auth."""
    basic_password: SecretRef | None = None
    """Reference to the basic-auth password."""
    headers: dict[str, SecretRef] = {}
    """Extra headers whose values are secrets, e.g. {"X-Api-Key" = "env:API_KEY"}."""
    verify_tls: bool = True
    """Verify the server certificate."""
    ca_file: str | None = None
    """PEM bundle of CAs to trust instead of the system store."""


class ShellSettings(CommonSettings):
    type: Literal["shell"] = "shell"
    argv: list[str] = Field(min_length=1)
    """Command as a list; an item may hold {param} placeholders, each filling one argv item."""
    params: dict[str, str] = {}
    """Parameter name -> kind (key_id, user_id, team_id, pattern, deployment, namespace,
    duration, integer, text, identifier, flag, model)."""
    optional: list[str] = []
    """Parameters that may be left out (their argv items are then dropped)."""
    undo_argv: list[str] | None = None
    """Command that reverts `run`, with the same placeholders; none: no undo."""
    destructive: bool = True
    """Ask for confirmation (and apply the two-person rule) before running."""
    idempotent: bool = False
    """Running twice does no harm, so a timed-out run may be retried."""
    env: dict[str, str] = {}
    """Environment variables for the command (the rest of ircon's environment is not passed)."""
    secret_env: dict[str, SecretRef] = {}
    """Environment variables whose values are secrets."""
    cwd: str | None = None
    """Working directory; default: a private empty temporary directory."""
    max_output: int = Field(default=65536, ge=1024, le=16 * 1024 * 1024)
    """Bytes of stdout/stderr kept; the rest is counted and discarded."""


class HttpSettings(CommonSettings, HttpAuth):
    type: Literal["http"] = "http"
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    """HTTP method."""
    url: str
    """URL; {param} placeholders are percent-encoded into it."""
    static_headers: dict[str, str] = {}
    """Plain (non-secret) headers; values may hold placeholders."""
    body: Any = None
    """JSON body template: a string that is exactly "{param}" becomes the value."""
    params: dict[str, str] = {}
    """Parameter name -> kind, as for the shell adapter."""
    optional: list[str] = []
    """Parameters that may be left out."""
    undo_method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None = None
    """Method of the call that reverts this one; none: no undo."""
    undo_url: str | None = None
    """URL of the undo call."""
    undo_body: Any = None
    """JSON body template of the undo call."""
    destructive: bool = True
    """Ask for confirmation (and apply the two-person rule) before calling."""
    idempotent: bool = False
    """Calling twice does no harm, so a failed call may be retried."""


class LitellmSettings(CommonSettings, HttpAuth):
    type: Literal["litellm"] = "litellm"
    url: str = "http://127.0.0.1:4000"
    """Base URL of the LiteLLM proxy."""
    master_key: SecretRef | None = None
    """Reference to the proxy admin (master) key, sent as a bearer token."""


class AlertmanagerSettings(CommonSettings, HttpAuth):
    type: Literal["alertmanager"] = "alertmanager"
    url: str = "http://127.0.0.1:9093"
    """Base URL of the Alertmanager (without /api/v2)."""
    default_duration: str = "2h"
    """Silence length when no duration is given."""
    max_duration: str = "7d"
    """Longest silence ircon will create."""


class FlagsSettings(CommonSettings, HttpAuth):
    type: Literal["flags"] = "flags"
    backend: Literal["unleash", "flagd"]
    """unleash (admin API) or flagd (a JSON flag file ircon rewrites atomically)."""
    url: str | None = None
    """Unleash: base URL of the server (without /api)."""
    api_token: SecretRef | None = None
    """Unleash: reference to an admin API token (sent as the Authorization header)."""
    project: str = "default"
    """Unleash: project of the flags."""
    environment: str = "production"
    """Unleash: environment to switch."""
    path: str | None = None
    """flagd: the flag definition file."""
    off_variant: str | None = None
    """flagd: switch the default variant to this one to disable (instead of state DISABLED)."""
    on_variant: str | None = None
    """flagd: default variant set by `enable` when off_variant is used."""


class KubernetesSettings(CommonSettings):
    type: Literal["kubernetes"] = "kubernetes"
    kubectl: str = "kubectl"
    """kubectl binary (a name looked up on PATH, or an absolute path)."""
    namespace: str = "default"
    """Namespace when the action gives none."""
    kubeconfig: str | None = None
    """Kubeconfig file (passed as --kubeconfig); default: kubectl's own default."""
    context: str | None = None
    """kubeconfig context (passed as --context)."""
    max_output: int = Field(default=65536, ge=1024, le=16 * 1024 * 1024)
    """Bytes of kubectl output kept."""


class GuardrailSettings(CommonSettings):
    type: Literal["guardrail"] = "guardrail"
    path: str
    """The blocklist file the gateway guardrail reads."""
    format: Literal["lines", "json"] = "lines"
    """lines: one pattern per line; json: a JSON array of strings."""
    max_pattern: int = Field(default=4096, ge=16, le=65536)
    """Longest pattern accepted, in characters."""


SETTINGS_MODELS: dict[str, type[CommonSettings]] = {
    "shell": ShellSettings,
    "http": HttpSettings,
    "litellm": LitellmSettings,
    "alertmanager": AlertmanagerSettings,
    "flags": FlagsSettings,
    "kubernetes": KubernetesSettings,
    "guardrail": GuardrailSettings,
}


def parse_settings(name: str, cfg: AdapterConfig) -> CommonSettings:
    """The typed settings of instance ``name``; AdapterSettingsError names the bad key."""
    model = SETTINGS_MODELS.get(cfg.type)
    if model is None:
        raise AdapterSettingsError(
            f"adapters.{name}.type: unknown adapter type {cfg.type!r} — fix: use one of "
            + ", ".join(ADAPTER_TYPES)
        )
    data = {"type": cfg.type, **cfg.settings()}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            key = ".".join(str(p) for p in err["loc"]) or "(settings)"
            hint = (
                "remove it or check its spelling against config/ircon.toml"
                if err["type"] == "extra_forbidden"
                else "add this key" if err["type"] == "missing"
                else "see config/ircon.toml"
            )
            lines.append(f"adapters.{name}.{key}: {err['msg']} — fix: {hint}")
        raise AdapterSettingsError("\n".join(lines)) from exc
