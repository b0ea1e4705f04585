"""Adapter type name -> class, and building a configured instance by name."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ircon.adapters.settings import AdapterSettingsError, parse_settings

if TYPE_CHECKING:
    from ircon.adapters.base import Adapter
    from ircon.config import IrconConfig

# Imported lazily so `ircon --help` stays fast; one line per adapter type.
TYPES: dict[str, str] = {
    "shell": "ircon.adapters.shell:ShellAdapter",
    "http": "ircon.adapters.http:HttpAdapter",
    "litellm": "ircon.adapters.litellm:LitellmAdapter",
    "alertmanager": "ircon.adapters.alertmanager:AlertmanagerAdapter",
    "flags": "ircon.adapters.flags:FlagsAdapter",
    "kubernetes": "ircon.adapters.kubernetes:KubernetesAdapter",
    "guardrail": "ircon.adapters.guardrail:GuardrailAdapter",
}


class UnknownInstance(LookupError):
    pass


def adapter_class(type_name: str) -> type[Adapter]:
    target = TYPES.get(type_name)
    if target is None:
        raise AdapterSettingsError(
            f"unknown adapter type {type_name!r}; known: {', '.join(TYPES)}"
        )
    mod, _, cls = target.partition(":")
    return getattr(importlib.import_module(mod), cls)


def instance(cfg: IrconConfig, name: str) -> Adapter:
    """The adapter configured as ``[adapters.NAME]``."""
    ac = cfg.adapters.get(name)
    if ac is None:
        known = ", ".join(sorted(cfg.adapters)) or "none are configured"
        raise UnknownInstance(
            f"no adapter instance {name!r} in the config ([adapters.{name}]); known: {known}"
        )
    settings = parse_settings(name, ac)
    return adapter_class(ac.type)(name, settings)
