"""Sandboxed substitution for playbook parameters: ``{incident.id}`` and nothing more.

A placeholder is a dotted name looked up in a plain dict of allowed fields;
there is no attribute access, indexing, filter, expression or code, and
substituted values are never re-scanned (a value containing ``{x}`` stays
literal). ``{{`` and ``}}`` write literal braces. Values usually come from
alerts and prompts, i.e. from attackers: they are passed on as data, and the
adapters validate them against each parameter's type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_OUTPUT = 64 * 1024

# Namespaces and the fields each offers. ``None``: any simple name (the
# responder types ``input.*`` values when the step runs; labels are free-form).
FIELDS: dict[str, frozenset[str] | None] = {
    "incident": frozenset(
        {"id", "title", "severity", "kind", "status", "commander", "campaign", "playbook"}
    ),
    "finding": frozenset(
        {"key", "user", "team", "ip", "model", "campaign", "detector", "rule_id", "title"}
    ),
    "alert": frozenset({"name", "fingerprint", "source", "severity", "summary"}),
    "alert.labels": None,
    "alert.annotations": None,
    "input": None,
    "responder": frozenset({"actor"}),
}

_NAME = r"[a-z][a-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)+"
_TOKEN = re.compile(r"\{\{|\}\}|\{(" + _NAME + r")\}|\{|\}")
_SIMPLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


class TemplateError(ValueError):
    """A template that cannot be rendered; ``missing`` names absent fields."""

    def __init__(self, message: str, missing: list[str] | None = None) -> None:
        super().__init__(message)
        self.missing = missing or []


@dataclass(slots=True, frozen=True)
class Placeholder:
    field: str
    start: int
    end: int


def scan(text: str) -> tuple[list[Placeholder], list[str]]:
    """Placeholders in ``text`` and syntax problems (unbalanced or malformed braces)."""
    found: list[Placeholder] = []
    problems: list[str] = []
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok in ("{{", "}}"):
            continue
        if m.group(1):
            found.append(Placeholder(m.group(1), m.start(), m.end()))
            continue
        # A lone brace: either a malformed placeholder or a literal brace.
        close = text.find("}", m.end()) if tok == "{" else -1
        inner = text[m.end():close] if 0 <= close - m.end() <= 80 else ""
        if inner:
            problems.append(
                f"'{{{inner}}}' is not a placeholder: use a dotted field such as "
                "{incident.id} (no spaces, calls or indexing); write {{ and }} for literal braces"
            )
        else:
            problems.append(
                f"unbalanced '{tok}' at offset {m.start()}: write {tok}{tok} for a literal brace"
            )
    return found, problems


def field_problem(name: str) -> str | None:
    """Why ``name`` is not an allowed field, or None."""
    parts = name.split(".")
    for cut in (2, 1):  # longest namespace first: alert.labels.X before alert.X
        ns = ".".join(parts[:cut])
        if ns in FIELDS and len(parts) == cut + 1:
            allowed = FIELDS[ns]
            leaf = parts[cut]
            if allowed is None:
                if _SIMPLE.match(leaf):
                    return None
                return f"{{{name}}}: '{leaf}' is not a simple name"
            if leaf in allowed:
                return None
            return f"unknown field {{{name}}}: {ns} has {', '.join(sorted(allowed))}"
    namespaces = ", ".join(sorted(n for n in FIELDS if "." not in n))
    return f"unknown field {{{name}}}: fields live under {namespaces} (e.g. {{incident.id}})"


def check(text: str) -> list[str]:
    """Every problem with a template (syntax and unknown fields)."""
    found, problems = scan(text)
    for p in found:
        why = field_problem(p.field)
        if why:
            problems.append(why)
    return problems


def fields(text: str) -> list[str]:
    """The fields a template uses, in order of first use."""
    out: list[str] = []
    for p in scan(text)[0]:
        if p.field not in out:
            out.append(p.field)
    return out


def lookup(values: Mapping[str, Any], name: str) -> str | None:
    """The value at a dotted path through nested *dicts* only, as text; None if absent."""
    cur: Any = values
    for part in name.split("."):
        # Mapping lookups only: objects' attributes and sequences are never reached.
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    if cur is None:
        return None
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, str | int | float):
        return str(cur)
    return None


def render(text: str, values: Mapping[str, Any]) -> str:
    """Substitute every placeholder; TemplateError naming all missing fields."""
    found, problems = scan(text)
    if problems:
        raise TemplateError("; ".join(problems))
    missing = [p.field for p in found if lookup(values, p.field) is None]
    if missing:
        uniq = list(dict.fromkeys(missing))
        raise TemplateError(f"no value for {', '.join('{' + m + '}' for m in uniq)}", uniq)
    out: list[str] = []
    size = 0

    def emit(piece: str) -> None:
        nonlocal size
        size += len(piece)
        if size > MAX_OUTPUT:
            raise TemplateError(f"rendered text would exceed {MAX_OUTPUT} characters")
        out.append(piece)

    pos = 0
    for m in _TOKEN.finditer(text):
        emit(text[pos:m.start()])
        tok = m.group(0)
        if tok == "{{":
            emit("{")
        elif tok == "}}":
            emit("}")
        else:
            emit(lookup(values, m.group(1)) or "")
        pos = m.end()
    emit(text[pos:])
    return "".join(out)
