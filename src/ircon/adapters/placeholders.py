"""``{param}`` placeholders in configured argv items, URLs and JSON bodies.

Deliberately not ``str.format`` or a template engine: a placeholder is a bare
name, the value is inserted as data, and nothing in a value is ever
interpreted (no attribute access, no nested expansion). ``{{`` and ``}}`` are
literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(r"\{\{|\}\}|\{([a-z_][a-z0-9_]*)\}|[{}]", re.IGNORECASE)


class PlaceholderError(ValueError):
    pass


class Missing(Exception):
    """An optional parameter was not given: the item that needs it is dropped."""


def names(template: str) -> list[str]:
    """Placeholder names in ``template``; PlaceholderError on a stray brace."""
    out: list[str] = []
    for m in _TOKEN.finditer(template):
        tok = m.group(0)
        if tok in ("{{", "}}"):
            continue
        if m.group(1) is None:
            raise PlaceholderError(
                f"stray {tok!r} in {template!r} (write {{{{ or }}}} for a literal brace)"
            )
        out.append(m.group(1))
    return out


def is_whole(template: str) -> str | None:
    """The name if ``template`` is exactly one placeholder, else None."""
    m = re.fullmatch(r"\{([a-z_][a-z0-9_]*)\}", template, re.IGNORECASE)
    return m.group(1) if m else None


def fill(template: str, values: dict[str, Any], encode: Callable[[str], str] = str) -> str:
    """The template with each placeholder replaced by ``encode(str(value))``.

    Raises Missing when a placeholder has no value (an optional parameter left out).
    """

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "{{":
            return "{"
        if tok == "}}":
            return "}"
        name = m.group(1)
        if name is None:
            raise PlaceholderError(f"stray {tok!r} in {template!r}")
        if name not in values:
            raise Missing(name)
        return encode(str(values[name]))

    return _TOKEN.sub(sub, template)


def fill_json(template: Any, values: dict[str, Any]) -> Any:
    """A JSON template filled: "{p}" alone keeps the value's type; keys are not templated.

    Object members whose value needs a missing optional parameter are dropped.
    """
    if isinstance(template, str):
        whole = is_whole(template)
        if whole is not None:
            if whole not in values:
                raise Missing(whole)
            return values[whole]
        return fill(template, values)
    if isinstance(template, list):
        out_list = []
        for item in template:
            try:
                out_list.append(fill_json(item, values))
            except Missing:
                continue
        return out_list
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for k, v in template.items():
            try:
                out[str(k)] = fill_json(v, values)
            except Missing:
                continue
        return out
    return template


def json_names(template: Any) -> list[str]:
    if isinstance(template, str):
        return names(template)
    if isinstance(template, list):
        return [n for item in template for n in json_names(item)]
    if isinstance(template, dict):
        return [n for v in template.values() for n in json_names(v)]
    return []
