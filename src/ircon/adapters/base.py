"""The adapter protocol: declared actions, a plan that shows exactly what will happen,
execution with a result that never claims more than happened, and undo.

Adding a backend is one module with an ``Adapter`` subclass and one line in
``registry.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ircon.adapters.params import ActionSpec, ParamError, display, sensitive_values, validate
from ircon.adapters.settings import CommonSettings
from ircon.secrets import Redactor

OUTPUT_EXCERPT = 4000  # characters of output kept in a result / journal entry
MASK = Redactor.MASK


@dataclass(frozen=True)
class Context:
    """Who acts, for which incident: shown in audit headers, silence comments, etc."""

    actor: str
    incident: str | None = None


@dataclass
class Plan:
    """Exactly what an action will do. ``to_dict`` is safe to journal and show;
    ``private`` holds what execution needs (raw parameter values) and is never written."""

    instance: str
    type: str
    action: str
    summary: str
    destructive: bool
    idempotent: bool
    params: dict[str, Any] = field(default_factory=dict)  # display form
    argv: list[str] | None = None
    method: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # secrets masked
    body: Any = None
    file: str | None = None
    change: Any = None  # file adapters: the edit, in words / data
    undo: str | None = None
    private: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("private")
        return {k: v for k, v in d.items() if v not in (None, {}, [])}

    def lines(self) -> list[str]:
        """The plan as a responder reads it before confirming."""
        import json

        out = [f"{self.instance} ({self.type}) {self.action}: {self.summary}"]
        if self.argv is not None:
            out.append("  argv: " + json.dumps(self.argv, ensure_ascii=False))
        if self.method:
            out.append(f"  {self.method} {self.url}")
            for k, v in self.headers.items():
                out.append(f"  {k}: {v}")
            if self.body is not None:
                out.append("  body: " + json.dumps(self.body, ensure_ascii=False))
        if self.file:
            out.append(f"  file: {self.file}")
            out.append("  change: " + json.dumps(self.change, ensure_ascii=False))
        out.append("  destructive: " + ("yes" if self.destructive else "no"))
        out.append("  undo: " + (self.undo or "not possible"))
        return out


@dataclass
class Result:
    """What happened. ``undo`` holds the identifiers an undo needs (never a secret)."""

    ok: bool
    action: str
    summary: str
    output: str = ""
    error: str | None = None
    status_code: int | None = None
    exit_code: int | None = None
    attempts: int = 1
    details: dict[str, Any] = field(default_factory=dict)
    undo: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, {}, "")}

    @classmethod
    def failed(cls, action: str, cause: str, **kw: Any) -> Result:
        return cls(ok=False, action=action, summary=f"failed: {cause}", error=cause, **kw)


class UndoNotPossible(Exception):
    """This run cannot be undone (the action has no undo, or it did not succeed)."""


class Adapter:
    """One configured instance of an adapter type."""

    type_name: ClassVar[str] = ""
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = ()

    def __init__(self, name: str, settings: CommonSettings) -> None:
        self.name = name
        self.settings = settings
        self._secrets: list[str] = []

    # --- declaration -----------------------------------------------------------
    def actions(self) -> dict[str, ActionSpec]:
        return {a.name: a for a in self.ACTIONS}

    def action(self, name: str) -> ActionSpec:
        spec = self.actions().get(name)
        if spec is None:
            known = ", ".join(self.actions()) or "none"
            raise ParamError(f"{self.name} ({self.type_name}) has no action {name!r}; "
                             f"actions: {known}")
        return spec

    # --- the three verbs ---------------------------------------------------------
    def plan(self, action: str, params: dict[str, str], ctx: Context) -> Plan:
        """Validate and describe; never performs I/O."""
        spec = self.action(action)
        values = validate(spec, params)
        plan = Plan(
            instance=self.name, type=self.type_name, action=action, summary="",
            destructive=spec.destructive, idempotent=spec.idempotent,
            params=display(spec, values), undo=spec.undo,
        )
        plan.private["values"] = values
        plan.private["sensitive"] = sensitive_values(spec, params)
        plan.private["ctx"] = ctx
        self.build(spec, values, plan, ctx)
        return plan

    def build(self, spec: ActionSpec, values: dict[str, Any], plan: Plan, ctx: Context) -> None:
        raise NotImplementedError

    def execute(self, plan: Plan) -> Result:
        raise NotImplementedError

    def undo(self, result: Result, ctx: Context) -> Result:
        raise UndoNotPossible(f"{result.action} on {self.name} cannot be undone")

    # --- secrets -----------------------------------------------------------------
    def remember_secret(self, value: str) -> None:
        """Every secret value used goes through here, so the runner can redact it."""
        if value and value not in self._secrets:
            self._secrets.append(value)

    def secret_values(self) -> list[str]:
        return list(self._secrets)

    def redactor(self, extra: list[str] | None = None) -> Redactor:
        return Redactor(self._secrets + list(extra or []))


def excerpt(text: str, limit: int = OUTPUT_EXCERPT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… ({len(text) - limit} more characters not kept)"


def mask_values(obj: Any, values: list[str], shown: dict[str, str] | None = None) -> Any:
    """``obj`` with each sensitive value replaced (by its display form or the mask)."""
    red = Redactor()
    for v in values:
        red.add(v)
    if shown:
        # Replace with the display form where one exists: keeps the plan readable.
        def sub(s: str) -> str:
            for raw, disp in sorted(shown.items(), key=lambda kv: -len(kv[0])):
                s = s.replace(raw, disp)
            return red.text(s)
    else:
        sub = red.text

    def walk(o: Any) -> Any:
        if isinstance(o, str):
            return sub(o)
        if isinstance(o, dict):
            return {sub(str(k)): walk(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [walk(v) for v in o]
        return o

    return walk(obj)
