"""TOML config -> validated models; XDG paths; secret references.

A bad file never produces a traceback: ``ConfigError`` names the file, the
line (when it can be found), the key, what was expected and the fix.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from ircon.adapters.settings import AdapterConfig
from ircon.detect.settings import DetectConfig
from ircon.engine.settings import EngineConfig, PolicyConfig
from ircon.escalation.settings import EscalationConfig
from ircon.settings_base import Section
from ircon.sources.settings import SourceConfig
from ircon.triage.settings import TriageConfig

MAX_CONFIG_BYTES = 4 * 1024 * 1024


class IdentityConfig(Section):
    actor: str | None = None
    """Journal actor for this responder; default user@host from the OS."""


class DatabaseConfig(Section):
    url: str | None = None
    """Database path or SQLAlchemy URL; default ircon.db in the XDG data directory."""


class PlaybooksConfig(Section):
    dirs: list[str] = []
    """Extra directories of playbook YAML files (bundled ones are always loaded)."""


class UiConfig(Section):
    timezone: str | None = None
    """IANA zone for displayed times (stored times are always UTC); default: local zone."""
    refresh_seconds: float = Field(default=1.0, gt=0, le=10)
    """How often the console polls the database for changes by other processes."""


class IrconConfig(Section):
    identity: IdentityConfig = IdentityConfig()
    """Who you are in the journal."""
    database: DatabaseConfig = DatabaseConfig()
    """Where the incident store lives."""
    sources: list[SourceConfig] = []
    """Detection backends to pull alerts and telemetry from."""
    detectors: DetectConfig = DetectConfig()
    """AI-specific detectors over telemetry."""
    triage: TriageConfig = TriageConfig()
    """Dedup, grouping and severity."""
    adapters: dict[str, AdapterConfig] = {}
    """Containment adapter instances by name."""
    escalation: EscalationConfig = EscalationConfig()
    """On-call roster, ladders, notifications and clocks."""
    engine: EngineConfig = EngineConfig()
    """Headless engine and containment policies."""
    policies: dict[str, PolicyConfig] = {}
    """Automated containment policies by name ([policies.NAME])."""
    playbooks: PlaybooksConfig = PlaybooksConfig()
    """Where playbooks come from."""
    ui: UiConfig = UiConfig()
    """Console preferences."""


class ConfigError(Exception):
    """A config problem, already worded for the user."""


@dataclass(frozen=True)
class LoadedConfig:
    config: IrconConfig
    path: Path | None  # None: embedded defaults (no file found)

    @property
    def described(self) -> str:
        return str(self.path) if self.path else "built-in defaults (no config file)"


def _loc_to_key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _find_line(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best effort: the line of the key the error is about."""
    lines = text.splitlines()
    strs = [p for p in loc if isinstance(p, str)]
    # Narrow to the section header first ([a.b] or [[a]] with the n-th occurrence).
    start = 0
    if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
        hdr = re.compile(r"^\s*\[\[\s*" + re.escape(loc[0]) + r"\s*\]\]")
        hits = [i for i, line in enumerate(lines) if hdr.match(line)]
        if loc[1] < len(hits):
            start = hits[loc[1]]
    elif len(strs) >= 2:
        for depth in range(len(strs) - 1, 0, -1):
            name = r"\s*\.\s*".join(re.escape(s) for s in strs[:depth])
            hdr = re.compile(r'^\s*\[\s*"?' + name + r'"?\s*\]')
            hits = [i for i, line in enumerate(lines) if hdr.match(line)]
            if hits:
                start = hits[0]
                break
    if not strs:
        return None
    key = re.compile(r"^\s*" + re.escape(strs[-1]) + r"\s*=")
    for i in range(start, len(lines)):
        if key.match(lines[i]):
            return i + 1
    return start + 1 if start else None


def _hint(err: Any) -> str:
    typ = err.get("type", "")
    if typ == "extra_forbidden":
        return "remove it or check its spelling against config/ircon.toml"
    if typ == "missing":
        return "add this key"
    if typ.startswith("literal_error") or typ == "union_tag_invalid":
        ctx = err.get("ctx") or {}
        return f"use one of {ctx.get('expected', 'the documented values')}"
    return "see config/ircon.toml for the documented form"


def format_errors(path: Path, text: str, exc: ValidationError) -> str:
    out = [f"{path}: invalid configuration ({exc.error_count()} problem(s))"]
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # Discriminated unions put the tag in the loc; drop it for the user.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p in ("alertmanager", "telemetry")
                                           and loc.index(p) == 2)) or loc
        line = _find_line(text, loc)
        where = f"{path}:{line}" if line else str(path)
        out.append(f"  {where}: {_loc_to_key(loc)}: {err['msg']} — fix: {_hint(err)}")
    return "\n".join(out)


def parse(text: str, path: Path) -> IrconConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc} — fix the syntax at that line") from exc
    try:
        return IrconConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(path, text, exc)) from exc


def load(path: Path | None = None, *, required: bool = False) -> LoadedConfig:
    """Load the config from ``path``, IRCON_CONFIG or the XDG default.

    With no file at the default location, embedded defaults are used; a path
    given explicitly (or ``required``) must exist.
    """
    from ircon.paths import default_config

    explicit = path is not None
    p = Path(path) if path is not None else default_config()
    if not p.exists():
        if explicit or required:
            raise ConfigError(f"{p}: config file not found — create it (see config/ircon.toml)")
        return LoadedConfig(IrconConfig(), None)
    try:
        if p.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{p}: config file is larger than {MAX_CONFIG_BYTES} bytes")
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the config file: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: config file is not UTF-8 (byte {exc.start})") from exc
    return LoadedConfig(parse(text, p), p)


def deep_check(cfg: IrconConfig) -> list[str]:
    """Cross-field checks beyond the schema (names unique, references resolvable).

    Each area adds its checks here through ``CHECKS``; each returns problems
    worded as "key: what is wrong — fix".
    """
    problems: list[str] = []
    names = [s.name for s in cfg.sources]
    for n in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"sources: two sources are named {n!r} — give each a unique name")
    import importlib

    for modname in CHECK_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:
                continue  # that area has no cross-field checks yet
            raise
        problems.extend(mod.config_problems(cfg))
    return problems


# Each area's ``config_problems(cfg) -> list[str]``: checks that need more than
# one section (an adapter named by a policy exists, a person in a ladder exists).
CHECK_MODULES = (
    "ircon.sources.checks",
    "ircon.detect.checks",
    "ircon.adapters.checks",
    "ircon.escalation.checks",
    "ircon.engine.checks",
)
