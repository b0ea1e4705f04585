"""Config checks of adapter instances beyond the schema (wired into `ircon config check`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ircon.adapters.params import KINDS, ParamError, parse_duration
from ircon.adapters.placeholders import PlaceholderError, json_names, names
from ircon.adapters.settings import (
    AdapterSettingsError,
    AlertmanagerSettings,
    FlagsSettings,
    HttpSettings,
    KubernetesSettings,
    ShellSettings,
    parse_settings,
)

if TYPE_CHECKING:
    from ircon.config import IrconConfig


def config_problems(cfg: IrconConfig) -> list[str]:
    problems: list[str] = []
    for name, ac in cfg.adapters.items():
        where = f"adapters.{name}"
        try:
            s = parse_settings(name, ac)
        except AdapterSettingsError as exc:
            problems.extend(str(exc).splitlines())
            continue
        if isinstance(s, ShellSettings | HttpSettings):
            problems += _param_problems(where, s.params, s.optional)
            declared = set(s.params)
            templates: list[tuple[str, Any]] = []
            if isinstance(s, ShellSettings):
                templates += [("argv", s.argv), ("undo_argv", s.undo_argv or [])]
                if _ok(s.argv[0]) and names(s.argv[0]):
                    problems.append(f"{where}.argv[0]: the program may not be a placeholder "
                                    "— fix: name the program literally")
            else:
                templates += [("url", s.url), ("body", s.body), ("undo_url", s.undo_url or ""),
                              ("undo_body", s.undo_body), ("static_headers",
                                                           list(s.static_headers.values()))]
                if bool(s.undo_method) != bool(s.undo_url):
                    problems.append(f"{where}: undo_method and undo_url go together — fix: set "
                                    "both or neither")
            for key, t in templates:
                try:
                    used = json_names(t)
                except PlaceholderError as exc:
                    problems.append(f"{where}.{key}: {exc}")
                    continue
                for n in sorted(set(used) - declared):
                    problems.append(f"{where}.{key}: placeholder {{{n}}} is not a declared "
                                    f"parameter — fix: add {n} = \"KIND\" to {where}.params")
        elif isinstance(s, AlertmanagerSettings):
            for key in ("default_duration", "max_duration"):
                try:
                    parse_duration(key, getattr(s, key))
                except ParamError as exc:
                    problems.append(f"{where}.{key}: {exc} — fix: use a form like 2h or 7d")
        elif isinstance(s, FlagsSettings):
            if s.backend == "unleash" and not s.url:
                problems.append(f"{where}.url: the Unleash backend needs the server URL — fix: "
                                "add url = \"https://unleash.example\"")
            if s.backend == "unleash" and not (s.api_token or s.bearer_token or s.headers):
                problems.append(f"{where}.api_token: the Unleash admin API needs a token — fix: "
                                "add api_token = \"env:UNLEASH_TOKEN\"")
            if s.backend == "flagd" and not s.path:
                problems.append(f"{where}.path: the flagd backend needs the flag file — fix: "
                                "add path = \"/etc/flagd/flags.json\"")
            if bool(s.off_variant) != bool(s.on_variant):
                problems.append(f"{where}: off_variant and on_variant go together — fix: set "
                                "both or neither")
        elif isinstance(s, KubernetesSettings):
            try:
                KINDS["namespace"].check("namespace", s.namespace)
            except ParamError as exc:
                problems.append(f"{where}.namespace: {exc}")
    return problems


def _ok(t: str) -> bool:
    try:
        names(t)
        return True
    except PlaceholderError:
        return False


def _param_problems(where: str, params: dict[str, str], optional: list[str]) -> list[str]:
    out = []
    for n, kind in params.items():
        if kind not in KINDS:
            out.append(f"{where}.params.{n}: unknown kind {kind!r} — fix: use one of "
                       + ", ".join(KINDS))
    for n in optional:
        if n not in params:
            out.append(f"{where}.optional: {n!r} is not a declared parameter — fix: declare it "
                       "in params or remove it")
    return out
