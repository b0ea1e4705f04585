"""What containment adapters can do, as data: types, actions, parameters.

This mirrors the adapters' own declarations (``ircon.adapters``) so that a
playbook can be checked without importing them (``response`` stays pure)
and without a config. A step's ``adapter`` is either a type below or an
instance name from ``[adapters.NAME]``; ``resolve_instances`` maps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ParamSpec:
    name: str
    required: bool = True
    kind: str = "text"  # key id, user id, pattern, deployment name, ... (validated by adapters)
    doc: str = ""


@dataclass(frozen=True, slots=True)
class ActionSpec:
    adapter: str
    name: str
    summary: str
    params: tuple[ParamSpec, ...] = ()
    destructive: bool = False
    inverse: str | None = None  # the action that undoes this one, when there is one
    free_params: bool = False  # accepts any NAME=VALUE (shell run, http call)
    # The CACAO command a step with this action is exported as (see response.cacao):
    # its type, a command line whose [bracketed] parts are dropped when their
    # parameter is absent, and the JSON body as (body key, parameter) pairs.
    cacao_type: str = "manual"
    cacao_command: str = ""
    cacao_body: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def required(self) -> list[str]:
        return [p.name for p in self.params if p.required]


def _p(name: str, kind: str = "text", doc: str = "", required: bool = True) -> ParamSpec:
    return ParamSpec(name, required, kind, doc)


_ACT = "ircon act {adapter} {action}"  # for actions whose request needs the instance's config

_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("shell", "run", "run the instance's configured argv (no shell)",
               destructive=True, free_params=True, cacao_type="bash", cacao_command=_ACT),
    ActionSpec("http", "call", "send the instance's configured HTTP request",
               destructive=True, free_params=True, cacao_type="bash", cacao_command=_ACT),
    ActionSpec("litellm", "block-key", "block a LiteLLM virtual key",
               (_p("key", "key id", "virtual key or its hash"),),
               destructive=True, inverse="unblock-key",
               cacao_type="http-api", cacao_command="POST /key/block HTTP/1.1",
               cacao_body=(("key", "key"),)),
    ActionSpec("litellm", "unblock-key", "unblock a LiteLLM virtual key",
               (_p("key", "key id"),), inverse="block-key",
               cacao_type="http-api", cacao_command="POST /key/unblock HTTP/1.1",
               cacao_body=(("key", "key"),)),
    ActionSpec("litellm", "limit-key", "set rate limits (rpm/tpm/parallel) or models on a key",
               (_p("key", "key id"), _p("rpm", "integer", required=False),
                _p("tpm", "integer", required=False),
                _p("max_parallel_requests", "integer", required=False),
                _p("models", "model list", required=False)),
               cacao_type="http-api", cacao_command="POST /key/update HTTP/1.1",
               cacao_body=(("key", "key"), ("rpm_limit", "rpm"), ("tpm_limit", "tpm"),
                           ("max_parallel_requests", "max_parallel_requests"),
                           ("models", "models"))),
    ActionSpec("litellm", "block-team", "block every key of a LiteLLM team",
               (_p("team", "team id"),), destructive=True,
               cacao_type="http-api", cacao_command="POST /team/block HTTP/1.1",
               cacao_body=(("team_id", "team"),)),
    ActionSpec("litellm", "block-user", "block an end user (customer) on the LiteLLM proxy",
               (_p("user", "user id"),), destructive=True,
               cacao_type="http-api", cacao_command="POST /customer/block HTTP/1.1",
               cacao_body=(("user_ids", "user"),)),
    ActionSpec("litellm", "set-model-alias",
               "point a model alias at another deployment (roll a model back)",
               (_p("alias", "model name"), _p("model", "model name")), destructive=True,
               cacao_type="bash", cacao_command=_ACT),
    ActionSpec("alertmanager", "silence", "silence matching alerts for a while",
               (_p("matchers", "matchers", 'e.g. alertname="X",model="m"'),
                _p("duration", "duration", "e.g. 2h"),
                _p("comment", required=False)),
               inverse="expire", cacao_type="bash", cacao_command=_ACT),
    ActionSpec("alertmanager", "expire", "expire a silence",
               (_p("silence_id", "silence id"),),
               cacao_type="http-api", cacao_command="DELETE /api/v2/silence/{silence_id} HTTP/1.1"),
    ActionSpec("flags", "disable", "turn a feature flag off (circuit breaker)",
               (_p("flag", "flag name"),), destructive=True, inverse="enable",
               cacao_type="bash", cacao_command=_ACT),
    ActionSpec("flags", "enable", "turn a feature flag back on",
               (_p("flag", "flag name"),), inverse="disable",
               cacao_type="bash", cacao_command=_ACT),
    ActionSpec("kubernetes", "rollback", "roll a deployment back to its previous revision",
               (_p("deployment", "deployment name"), _p("revision", "integer", required=False),
                _p("namespace", "namespace", required=False)),
               destructive=True, cacao_type="bash",
               cacao_command="kubectl rollout undo deployment/{deployment}"
                             "[ --to-revision={revision}][ -n {namespace}]"),
    ActionSpec("kubernetes", "scale-zero", "scale a deployment to zero replicas (emergency stop)",
               (_p("deployment", "deployment name"), _p("namespace", "namespace", required=False)),
               destructive=True, cacao_type="bash",
               cacao_command="kubectl scale deployment/{deployment} --replicas=0"
                             "[ -n {namespace}]"),
    ActionSpec("guardrail", "block-pattern", "add a pattern to the gateway guardrail blocklist",
               (_p("pattern", "pattern"),), destructive=True, inverse="unblock-pattern",
               cacao_type="bash", cacao_command=_ACT),
    ActionSpec("guardrail", "unblock-pattern", "remove a pattern from the guardrail blocklist",
               (_p("pattern", "pattern"),), inverse="block-pattern",
               cacao_type="bash", cacao_command=_ACT),
)

CATALOG: dict[str, dict[str, ActionSpec]] = {}
for _a in _ACTIONS:
    CATALOG.setdefault(_a.adapter, {})[_a.name] = _a

ADAPTER_TYPES: tuple[str, ...] = tuple(CATALOG)


def spec(adapter_type: str, action: str) -> ActionSpec | None:
    return CATALOG.get(adapter_type, {}).get(action)


def adapter_type(adapter: str, instances: Mapping[str, str] | None = None) -> str | None:
    """The type behind a step's ``adapter`` (a type, or an instance name in ``instances``)."""
    if instances and adapter in instances:
        return instances[adapter]
    return adapter if adapter in CATALOG else None


def resolve_instances(adapter: str, instances: Mapping[str, str]) -> list[str]:
    """Instance names a step's ``adapter`` can run on (``instances``: name -> type).

    An instance name resolves to itself; a type to every instance of that
    type (the caller asks the responder when there are several).
    """
    if adapter in instances:
        return [adapter]
    return sorted(n for n, t in instances.items() if t == adapter)
