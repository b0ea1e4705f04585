"""Safe, bounded loading of playbook YAML, with a line number for every problem.

Playbooks are reviewed in code review, but a loader must still survive any
file: size is capped before parsing; tabs in indentation, anchors and
aliases (the "billion laughs" expansion bomb), custom tags, several
documents and deep nesting are refused from the parser's event stream
(which never expands anything); duplicate keys are errors, not silent
overwrites. Plain scalars are text except ``true``/``false``/``null``: no
YAML 1.1 surprises such as ``yes`` becoming a boolean or ``1.10`` a float.
Every problem found is reported at once, as ``file:line: problem — fix``.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ircon.response.model import (
    STEP_KINDS,
    ActionStep,
    DecisionStep,
    Escalation,
    ManualStep,
    NotifyStep,
    Option,
    Playbook,
    Role,
    Undo,
    WaitStep,
)
from ircon.response.problems import Problem

MAX_BYTES = 256 * 1024
MAX_DEPTH = 24
MAX_EVENTS = 100_000

Path_ = tuple[str | int, ...]


# libyaml when present (ten times faster); the pure-Python parser otherwise.
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):
    """SafeLoader whose only implicit types are bool (true/false) and null."""

    yaml_implicit_resolvers: dict[Any, Any] = {}


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)

_ALLOWED_TAGS = {
    f"tag:yaml.org,2002:{t}" for t in ("str", "bool", "null", "seq", "map")
}


@dataclass(slots=True)
class LoadResult:
    file: str
    source: str | None = None
    sha256: str | None = None
    playbook: Playbook | None = None
    problems: list[Problem] = field(default_factory=list)
    lines: dict[Path_, int] = field(default_factory=dict)
    data: Any = None  # the parsed mapping (before validation), for lint

    @property
    def ok(self) -> bool:
        return self.playbook is not None and not any(
            p.level == "error" for p in self.problems
        )

    def line_of(self, path: Path_) -> int:
        """Line of ``path``, or of its nearest enclosing element."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(path[:cut])
            if line:
                return line
        return 1 if self.source is not None else 0

    def problem(self, path: Path_, message: str, fix: str, level: str = "error") -> Problem:
        return Problem(self.file, self.line_of(path), message, fix, level)  # type: ignore[arg-type]


def content_hash(text: str) -> str:
    """The pinning hash of a playbook: SHA-256 of its UTF-8 source text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_file(path: str | Path) -> LoadResult:
    p = Path(path)
    name = str(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        return LoadResult(name, problems=[Problem(
            name, 0, f"cannot read the file: {exc.strerror or exc}",
            "check the path and its permissions",
        )])
    return load_bytes(data, name)


def load_bytes(data: bytes, file: str = "<playbook>") -> LoadResult:
    if len(data) > MAX_BYTES:
        return LoadResult(file, problems=[Problem(
            file, 0, f"file is larger than {MAX_BYTES // 1024} KiB",
            "a playbook is a reviewed text file: split it or remove embedded data",
        )])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return LoadResult(file, problems=[Problem(
            file, line, "the file is not valid UTF-8", "save it as UTF-8 text",
        )])
    return load_text(text, file)


def load_text(text: str, file: str = "<playbook>") -> LoadResult:
    res = LoadResult(file)
    if len(text) > MAX_BYTES:
        res.problems.append(Problem(
            file, 0, f"text is larger than {MAX_BYTES // 1024} KiB",
            "a playbook is a reviewed text file: split it or remove embedded data",
        ))
        return res
    text = text.removeprefix("\ufeff")
    res.source = text
    res.sha256 = content_hash(text)
    res.problems.extend(_tab_problems(text, file))
    if res.problems:
        return res  # the parser's own tab message would only repeat these, less clearly
    res.problems.extend(_event_problems(text, file))
    if res.problems:
        return res
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        res.problems.append(_yaml_problem(exc, file))
        return res
    if node is None:
        res.problems.append(Problem(file, 1, "the file is empty", "write a playbook mapping"))
        return res
    if not isinstance(node, yaml.MappingNode):
        res.problems.append(Problem(
            file, node.start_mark.line + 1, "the top level must be a mapping",
            "start with `name: ...`, `version: ...`, `steps: ...` (see playbooks/)",
        ))
        return res
    res.data = _Builder(file, res).build(node)
    try:
        playbook = Playbook.model_validate(res.data)
    except ValidationError as exc:
        res.problems.extend(_validation_problems(exc, res))
        return res
    # A duplicate key makes the file ambiguous: report the model's problems
    # too, but never hand out a playbook built from half of it.
    if not any(p.level == "error" for p in res.problems):
        res.playbook = playbook
    return res


def _tab_problems(text: str, file: str) -> list[Problem]:
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        lead = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in lead:
            out.append(Problem(
                file, i, "tab character in indentation",
                "indent with spaces; YAML does not allow tabs there",
            ))
    return out


def _yaml_problem(exc: yaml.YAMLError, file: str) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 0
    what = getattr(exc, "problem", None) or str(exc)
    ctx = getattr(exc, "context", None)
    msg = f"YAML syntax: {what}" + (f" ({ctx})" if ctx else "")
    return Problem(
        file, line, msg, "fix the YAML syntax at this line (quote text with ': ' or '#')"
    )


def _event_problems(text: str, file: str) -> list[Problem]:
    """Refuse expansion bombs and exotic YAML from the event stream (nothing expands)."""
    out: list[Problem] = []
    depth = 0
    docs = 0
    try:
        for n, ev in enumerate(yaml.parse(text, Loader=_Loader), 1):
            line = ev.start_mark.line + 1 if ev.start_mark else 0
            if n > MAX_EVENTS:
                out.append(Problem(
                    file, line, f"more than {MAX_EVENTS} YAML nodes",
                    "a playbook has a few hundred nodes: remove generated data",
                ))
                return out
            if isinstance(ev, yaml.AliasEvent):
                out.append(Problem(
                    file, line, f"alias *{ev.anchor} is not allowed",
                    "write the value out in full; anchors and aliases are refused "
                    "(they allow expansion bombs and hide what a step does)",
                ))
                continue
            anchor = getattr(ev, "anchor", None)
            if anchor is not None:
                out.append(Problem(
                    file, line, f"anchor &{anchor} is not allowed",
                    "remove the anchor and write values out in full",
                ))
            # The parser sets a tag only when one is written out (!!python/object, !x).
            tag = getattr(ev, "tag", None)
            if tag is not None and tag != "!" and tag not in _ALLOWED_TAGS:
                out.append(Problem(
                    file, line, f"tag {tag} is not allowed",
                    "remove the tag; playbooks hold plain text, lists and mappings",
                ))
            if isinstance(ev, yaml.DocumentStartEvent):
                docs += 1
                if docs > 1:
                    out.append(Problem(
                        file, line, "more than one YAML document in the file",
                        "put one playbook per file (remove the extra `---`)",
                    ))
            elif isinstance(ev, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    out.append(Problem(
                        file, line, f"nesting deeper than {MAX_DEPTH} levels",
                        "flatten the structure; a playbook needs about 5 levels",
                    ))
                    return out
            elif isinstance(ev, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        out.append(_yaml_problem(exc, file))
    return out


class _Builder:
    """Node tree -> plain values, recording lines and duplicate keys."""

    def __init__(self, file: str, res: LoadResult) -> None:
        self.file = file
        self.res = res
        self.ctor = _Loader("")

    def build(self, node: yaml.Node, path: Path_ = ()) -> Any:
        self.res.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self.ctor.construct_object(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)
        out: dict[str, Any] = {}
        first: dict[str, int] = {}
        for knode, vnode in node.value:
            kline = knode.start_mark.line + 1
            if not isinstance(knode, yaml.ScalarNode):
                self._err(kline, "a mapping key must be plain text", "use a simple word as key")
                continue
            key = knode.value
            if key == "<<" and knode.style is None:
                self._err(kline, "merge keys (<<) are not allowed", "write the keys out in full")
                continue
            if key in first:
                self._err(
                    kline, f"duplicate key '{key}' (first at line {first[key]})",
                    "remove one of them; YAML would silently keep only the last",
                )
                continue
            first[key] = kline
            self.res.lines[(*path, key)] = kline
            out[key] = self.build(vnode, (*path, key))
            self.res.lines[(*path, key)] = kline
        return out

    def _err(self, line: int, message: str, fix: str) -> None:
        self.res.problems.append(Problem(self.file, line, message, fix))


# --- pydantic errors -> problems ---------------------------------------------------------

_STEP_MODELS: dict[str, type[BaseModel]] = {
    "manual": ManualStep, "decision": DecisionStep, "action": ActionStep,
    "notify": NotifyStep, "wait": WaitStep,
}


def _real_path(loc: tuple[Any, ...], data: Any) -> Path_:
    """Follow a pydantic error location through the data, dropping union tags."""
    out: list[str | int] = []
    cur = data
    for part in loc:
        in_map = isinstance(cur, Mapping) and isinstance(part, str) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if in_map or in_list:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, Mapping) and isinstance(part, str) and part not in STEP_KINDS:
            out.append(part)  # a missing field: name it, it has no line of its own
            cur = None
        # else: a discriminator tag or function-validator label, not part of the data
    return tuple(out)


def _model_at(path: Path_, data: Any) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Playbook
    cur = data
    i = 0
    while i < len(path) and model is not None:
        part = path[i]
        nxt = cur.get(part) if isinstance(cur, Mapping) else None
        if model is Playbook and part == "steps" and i + 1 < len(path):
            idx = path[i + 1]
            step = nxt[idx] if isinstance(nxt, list) and isinstance(idx, int) \
                and idx < len(nxt) else None
            kind = step.get("kind") if isinstance(step, Mapping) else None
            model = _STEP_MODELS.get(kind) if isinstance(kind, str) else None
            cur, i = step, i + 2
            continue
        if model is Playbook and part == "roles" and i + 1 < len(path):
            model, cur, i = Role, None, i + 2
            continue
        if model is DecisionStep and part == "options" and i + 1 < len(path):
            model, cur, i = Option, None, i + 2
            continue
        if part == "escalate":
            model, cur, i = Escalation, nxt, i + 1
            continue
        if part == "undo":
            model, cur, i = Undo, nxt, i + 1
            continue
        return None
    return model


def _dotted(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out or "(top level)"


def _fix(err: Mapping[str, Any], path: Path_, data: Any) -> str:
    kind = err["type"]
    leaf = path[-1] if path else ""
    if kind == "missing":
        return f"add `{leaf}:` here"
    if kind == "extra_forbidden":
        model = _model_at(path[:-1], data)
        if model is not None:
            allowed = list(model.model_fields)
            close = difflib.get_close_matches(str(leaf), allowed, n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            return f"{hint}allowed here: {', '.join(allowed)}"
        return "remove it or check the spelling"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return f"set `kind:` to one of {', '.join(STEP_KINDS)}"
    if kind == "literal_error":
        return "use one of the values listed"
    if kind == "string_pattern_mismatch":
        hints = {
            "atlas": "use a MITRE ATLAS technique id such as AML.T0054 or AML.T0051.001",
            "owasp": "use an OWASP LLM id with its edition, such as LLM01:2025",
            "version": 'quote a version such as "1.2"',
        }
        for key, hint in hints.items():
            if key in path:
                return hint
        return "correct the value's format"
    if kind == "too_short":
        return "add the missing items"
    if kind == "string_type":
        return "write text here (quote it if YAML reads it as something else)"
    if kind in ("list_type", "dict_type", "model_type"):
        what = {"list_type": "a list (- item)", "dict_type": "a mapping (key: value)",
                "model_type": "a mapping (key: value)"}[kind]
        return f"write {what} here"
    if kind == "value_error":
        return "correct the value as the message says"
    return "see the bundled playbooks in playbooks/ for the format"


def _validation_problems(exc: ValidationError, res: LoadResult) -> list[Problem]:
    out: list[Problem] = []
    seen: set[tuple[Path_, str]] = set()
    for err in exc.errors(include_url=False, include_context=False):
        path = _real_path(tuple(err["loc"]), res.data)
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path = (*path, "kind")
        msg = str(err["msg"]).removeprefix("Value error, ")
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        out.append(res.problem(path, f"{_dotted(path)}: {msg}", _fix(err, path, res.data)))
    return out
