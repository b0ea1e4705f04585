"""The playbook format: typed models of ``playbooks/*.yaml``.

A playbook is a small directed acyclic graph of steps. Each step says what a
responder does (``manual``), asks (``decision``), runs through a containment
adapter (``action``), tells someone (``notify``) or waits for (``wait``).
Without ``next`` a step continues with the step written after it; ``next:
end`` finishes the playbook. Decisions continue with the chosen option's
``next``. Graph-level rules (known ids, no cycles, everything reachable,
known adapters) are checked by ``ircon.response.lint``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

PHASES = ("detect", "analyze", "contain", "eradicate", "recover", "post-incident")
Phase = Literal["detect", "analyze", "contain", "eradicate", "recover", "post-incident"]

STEP_KINDS = ("manual", "decision", "action", "notify", "wait")

# Regulatory clocks a decision option may start (read by the escalation area):
# GDPR art. 33 (72 h from awareness) and EU AI Act art. 73 (15 days; 10 days
# where a death may be involved; 2 days for widespread infringement or serious
# and irreversible disruption of critical infrastructure).
CLOCKS = ("gdpr-72h", "ai-act-15d", "ai-act-10d", "ai-act-2d")
Clock = Literal["gdpr-72h", "ai-act-15d", "ai-act-10d", "ai-act-2d"]

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")

END = "end"  # the pseudo step id that finishes a playbook

ID_PATTERN = r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$"
_ID_RE = re.compile(ID_PATTERN)
MAX_ID = 64

_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_DURATION_S = 400 * 24 * 3600


def parse_duration(text: str) -> int:
    """Seconds in ``1d``, ``2h``, ``90m``, ``1h30m``, ``45s``; ValueError otherwise."""
    m = _DURATION_RE.match(text.strip()) if isinstance(text, str) else None
    if not m or not any(m.groups()):
        raise ValueError(f"{text!r} is not a duration; write it like 15m, 2h, 1h30m or 3d")
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    total = d * 86400 + h * 3600 + mi * 60 + s
    if total <= 0:
        raise ValueError("a duration must be longer than zero")
    if total > MAX_DURATION_S:
        raise ValueError("a duration longer than 400 days is surely a mistake")
    return total


def format_duration(seconds: int) -> str:
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            out += f"{n}{unit}"
    return out or "0s"


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


def _check_id(text: str) -> str:
    if len(text) > MAX_ID or not _ID_RE.match(text):
        raise ValueError(
            f"{text!r} is not an id: use lower-case letters, digits and single hyphens, "
            f"starting with a letter, at most {MAX_ID} characters (e.g. block-key)"
        )
    if text == END:
        raise ValueError("'end' is reserved for `next: end`")
    return text


def _scalar_to_str(value: Any) -> Any:
    # YAML turns `rpm: 10` into an int; parameters are always text for adapters.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Id = Annotated[str, AfterValidator(_check_id)]
Duration = Annotated[str, AfterValidator(_check_duration)]
ParamValue = Annotated[str, BeforeValidator(_scalar_to_str), Field(max_length=4096)]
Text = Annotated[str, Field(max_length=20_000)]
Line = Annotated[str, Field(min_length=1, max_length=300)]
AtlasId = Annotated[str, Field(pattern=r"^AML\.T\d{4}(?:\.\d{3})?$")]
OwaspId = Annotated[str, Field(pattern=r"^LLM(?:0[1-9]|10):20\d\d$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Role(_Strict):
    id: Id
    title: Line
    description: Text = ""


class Escalation(_Strict):
    """Who hears about it when a step's time limit passes."""

    notify: list[Id] = Field(default_factory=lambda: ["commander"], min_length=1)
    message: Text = ""


class _StepBase(_Strict):
    id: Id
    title: Line
    phase: Phase
    role: Id | None = None
    description: Text = ""
    time_limit: Duration | None = None
    escalate: Escalation | None = None
    next: str | None = None

    @property
    def time_limit_s(self) -> int | None:
        return parse_duration(self.time_limit) if self.time_limit else None


class ManualStep(_StepBase):
    kind: Literal["manual"]
    checklist: list[Line] = []
    evidence: list[Line] = []


class Option(_Strict):
    id: Id
    label: Line
    next: str
    starts_clock: Clock | None = None


class DecisionStep(_StepBase):
    kind: Literal["decision"]
    question: Text
    options: list[Option] = Field(min_length=2, max_length=20)
    default: Id | None = None  # the option followed when the decision is skipped

    @model_validator(mode="after")
    def _options(self) -> DecisionStep:
        ids = [o.id for o in self.options]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"option ids must be unique; repeated: {', '.join(dup)}")
        if self.default is not None and self.default not in ids:
            raise ValueError(f"default {self.default!r} is not one of the options {ids}")
        if self.next is not None:
            raise ValueError("a decision continues through its options: put `next` on each option")
        return self

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    @property
    def default_option(self) -> Option:
        return self.option(self.default) if self.default else self.options[0]  # type: ignore[return-value]


class Undo(_Strict):
    """How to revert an action: the inverse action of the same adapter, or a note."""

    action: str | None = None
    params: dict[str, ParamValue] = {}
    note: Text = ""


class ActionStep(_StepBase):
    kind: Literal["action"]
    adapter: Line  # an adapter type (litellm, flags, ...) or an instance name from the config
    action: Line
    params: dict[str, ParamValue] = {}
    requires_confirmation: bool = True
    undo: Undo | None = None
    on_failure: str | None = None  # where to continue when the action fails


class NotifyStep(_StepBase):
    kind: Literal["notify"]
    to: list[Id] = Field(min_length=1)  # role ids
    message: Text


class WaitStep(_StepBase):
    kind: Literal["wait"]
    duration: Duration

    @property
    def duration_s(self) -> int:
        return parse_duration(self.duration)


Step = Annotated[
    ManualStep | DecisionStep | ActionStep | NotifyStep | WaitStep, Field(discriminator="kind")
]


class Playbook(_Strict):
    name: Id
    version: Annotated[str, Field(pattern=r"^\d+(?:\.\d+){0,2}$")]
    title: Line
    description: Text
    kinds: list[Id] = Field(min_length=1)  # incident kinds this playbook answers
    atlas: list[AtlasId] = []
    owasp: list[OwaspId] = []
    severity_hint: Literal["SEV1", "SEV2", "SEV3", "SEV4"] = "SEV3"
    updated: date | None = None  # last review; also the CACAO `modified` time
    references: list[Line] = []
    roles: list[Role] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1, max_length=200)

    @property
    def start(self) -> str:
        return self.steps[0].id

    def step(self, step_id: str) -> Step | None:
        return self._index.get(step_id)

    def role(self, role_id: str) -> Role | None:
        return next((r for r in self.roles if r.id == role_id), None)

    @cached_property
    def _index(self) -> dict[str, Step]:
        idx: dict[str, Step] = {}
        for s in self.steps:
            idx.setdefault(s.id, s)
        return idx

    @cached_property
    def _following(self) -> dict[str, str]:
        ids = [s.id for s in self.steps]
        out: dict[str, str] = {}
        for i, sid in enumerate(ids):
            out.setdefault(sid, ids[i + 1] if i + 1 < len(ids) else END)
        return out

    def following(self, step_id: str) -> str:
        """The step written after ``step_id`` (or END): the implicit ``next``."""
        return self._following[step_id]

    def successor(self, step: Step) -> str:
        """Where a finished non-decision step continues."""
        if step.next is not None:
            return step.next
        return self.following(step.id)

    def successors(self, step: Step) -> list[str]:
        """Every possible continuation (all options of a decision, failure paths)."""
        if isinstance(step, DecisionStep):
            return [o.next for o in step.options]
        out = [self.successor(step)]
        if isinstance(step, ActionStep) and step.on_failure:
            out.append(step.on_failure)
        return out

    def iter_templates(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Every templated text with its location (for lint and CACAO variables)."""
        for i, s in enumerate(self.steps):
            if isinstance(s, ActionStep):
                for k, v in s.params.items():
                    yield ("steps", i, "params", k), v
                if s.undo:
                    for k, v in s.undo.params.items():
                        yield ("steps", i, "undo", "params", k), v
            elif isinstance(s, NotifyStep):
                yield ("steps", i, "message"), s.message
            if s.escalate and s.escalate.message:
                yield ("steps", i, "escalate", "message"), s.escalate.message
