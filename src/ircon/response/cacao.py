"""OASIS CACAO 2.0: export ircon playbooks, import playbooks written by other tools.

Export maps each step to a CACAO workflow step: manual checks, notifications
and waits become ``action`` steps with ``manual`` commands; containment
actions become ``http-api`` commands where the adapter speaks a documented
admin API (LiteLLM) or ``bash`` commands (``kubectl``, or ``ircon act`` when
the request depends on the adapter instance's configuration); decisions
become chains of ``if-condition`` steps. Template fields become playbook
variables (``{incident.id}`` -> ``__incident_id__``, referenced as
``__incident_id__:value``). Everything ircon needs to rebuild the playbook
exactly travels in an extension, so ircon -> CACAO -> ircon is lossless.

Identifiers are deterministic: the playbook id is a UUIDv5 in the CACAO
namespace over the JCS of ``name`` and ``playbook_types`` (spec 10.10); every
other object gets a version-4-format UUID derived from a hash of the playbook
name and the object's role, because the spec requires UUIDv4 for steps and
exports must be reproducible.

Import maps what it can (our extension; known admin API calls and commands;
if/switch conditions) and keeps the rest as manual steps carrying the
original command text. Real-world files deviate from the schema; such
deviations are warnings, not refusals.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import shlex
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from ircon.response import actions_catalog as cat
from ircon.response import template
from ircon.response.loader import LoadResult, load_text
from ircon.response.model import (
    END,
    MAX_ID,
    ActionStep,
    DecisionStep,
    ManualStep,
    NotifyStep,
    Playbook,
    Step,
    WaitStep,
    format_duration,
)
from ircon.response.problems import Problem
from ircon.response.taxonomy import ATLAS_TECHNIQUES, owasp_name

CACAO_NAMESPACE = uuid.UUID("aa7caf3a-d55a-4e9a-b34e-056215fba56a")
EXTENSION_ID = "extension-definition--0c5a3f5e-2b7d-4e59-9a4c-6f1d8e2b7a31"
IDENTITY_ID = "identity--7d3e9b1c-5a2f-4c8e-b6d4-2e9f1a7c3b58"
MAX_CACAO_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
_ID_RE = re.compile(r"^([a-z][a-z0-9-]+[a-z0-9])--(" + _UUID + r")$")
_VAR_RE = re.compile(r"__([A-Za-z_][A-Za-z0-9_-]{0,199})__(?::value)?")
_VAR_NAME_RE = re.compile(r"^__[a-zA-Z_][a-zA-Z0-9_-]{0,199}__$")

_PHASE_TYPES = {
    "detect": "detection", "analyze": "investigation", "contain": "mitigation",
    "eradicate": "remediation", "recover": "remediation", "post-incident": "investigation",
}
_SEVERITY = {"SEV1": 90, "SEV2": 70, "SEV3": 50, "SEV4": 20}
_TARGETS: dict[str, tuple[str, str]] = {
    "litellm": ("LLM gateway (LiteLLM proxy)", "content-gateway"),
    "guardrail": ("LLM gateway guardrail blocklist", "content-gateway"),
    "alertmanager": ("Prometheus Alertmanager", "analytics"),
    "flags": ("Feature flag service", "orchestrator"),
    "kubernetes": ("Kubernetes deployment serving the model", "server"),
    "shell": ("System changed by the configured command", "server"),
    "http": ("Service behind the configured HTTP call", "server"),
}


# --- identifiers ----------------------------------------------------------------------

def _jcs(value: Any) -> str:
    # RFC 8785 for the simple values used here (strings and lists of strings).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def playbook_id(name: str, playbook_types: list[str]) -> str:
    return "playbook--" + str(uuid.uuid5(
        CACAO_NAMESPACE, _jcs({"name": name, "playbook_types": playbook_types})
    ))


def _oid(kind: str, *parts: str) -> str:
    """``kind--UUID`` with a version-4-format UUID derived from ``parts`` (reproducible)."""
    digest = bytearray(hashlib.sha256("\x00".join((kind, *parts)).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    return f"{kind}--{uuid.UUID(bytes=bytes(digest))}"


def _var(field_name: str) -> str:
    return "__" + field_name.replace(".", "_") + "__"


def _cacao_text(text: str) -> str:
    """A template with ``{a.b}`` placeholders as CACAO variable references."""
    found, _ = template.scan(text)
    out, pos = [], 0
    for p in found:
        out.append(text[pos:p.start].replace("{{", "{").replace("}}", "}"))
        out.append(_var(p.field) + ":value")
        pos = p.end
    out.append(text[pos:].replace("{{", "{").replace("}}", "}"))
    return "".join(out)


# --- export ---------------------------------------------------------------------------

def _timestamp(pb: Playbook, now: datetime | None) -> str:
    if pb.updated is not None:
        when = datetime(pb.updated.year, pb.updated.month, pb.updated.day, tzinfo=UTC)
    else:
        when = (now or datetime.now(UTC)).astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _activity(step: Step) -> str:
    if isinstance(step, NotifyStep):
        return "deliver-content"
    if isinstance(step, ActionStep):
        act = step.action
        if act.startswith(("block", "limit", "silence")):
            return "restrict-access"
        if act in ("rollback", "set-model-alias"):
            return "revert-system"
        if act in ("disable", "scale-zero"):
            return "disconnect-system"
        if act.startswith(("unblock", "enable", "expire")):
            return "restore-capabilities"
        return "execute-operation"
    if step.phase in ("eradicate",):
        return "eliminate-risk"
    if step.phase == "recover":
        return "restore-capabilities"
    return "analyze-collected-data"


def _manual_text(step: Step) -> str:
    parts: list[str] = []
    if isinstance(step, NotifyStep):
        parts.append(f"Notify {', '.join(step.to)}: {_cacao_text(step.message)}")
    if isinstance(step, WaitStep):
        parts.append(f"Wait {step.duration}.")
    if step.description:
        parts.append(step.description)
    if isinstance(step, ManualStep):
        parts.extend(f"- {item}" for item in step.checklist)
        if step.evidence:
            parts.append("Evidence to capture:")
            parts.extend(f"- {item}" for item in step.evidence)
    return "\n".join(parts) or step.title


def _drop_absent(command: str, params: Mapping[str, str]) -> str:
    """Fill ``{param}`` slots; drop ``[ ...]`` segments whose parameter is absent."""
    def seg(m: re.Match[str]) -> str:
        names = re.findall(r"\{(\w+)\}", m.group(1))
        return m.group(1) if all(n in params for n in names) else ""

    command = re.sub(r"\[([^\]]*)\]", seg, command)
    return re.sub(r"\{(\w+)\}", lambda m: params.get(m.group(1), ""), command)


def _action_command(step: ActionStep, typ: str | None) -> dict[str, Any]:
    spec = cat.spec(typ, step.action) if typ else None
    params = {k: _cacao_text(v) for k, v in step.params.items()}
    activity = _activity(step)
    if spec is not None and spec.cacao_type == "http-api":
        cmd: dict[str, Any] = {
            "type": "http-api", "command": _drop_absent(spec.cacao_command, params),
            "description": spec.summary, "playbook_activity": activity,
        }
        if spec.cacao_body:
            body: dict[str, Any] = {}
            for key, pname in spec.cacao_body:
                if pname in params:
                    body[key] = [params[pname]] if key.endswith("_ids") else params[pname]
            cmd["headers"] = {
                "Content-Type": ["application/json"],
                "litellm-changed-by": [_var("responder.actor") + ":value"],
            }
            cmd["content"] = json.dumps(body, sort_keys=True)
        return cmd
    if spec is not None and spec.cacao_command.startswith("kubectl"):
        quoted = {k: shlex.quote(v) for k, v in params.items()}
        return {"type": "bash", "command": _drop_absent(spec.cacao_command, quoted),
                "description": spec.summary, "playbook_activity": activity}
    argv = ["ircon", "act", step.adapter, step.action]
    for k, v in params.items():
        argv += ["-p", f"{k}={v}"]
    argv += ["--incident", _var("incident.id") + ":value"]
    return {"type": "bash", "command": " ".join(shlex.quote(a) for a in argv),
            "description": spec.summary if spec else f"{step.adapter} {step.action}",
            "playbook_activity": activity}


def export(
    pb: Playbook, *, now: datetime | None = None, instances: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The CACAO 2.0 JSON object of ``pb`` (deterministic when ``pb.updated`` is set)."""
    name = pb.name
    types = sorted({_PHASE_TYPES[s.phase] for s in pb.steps}
                   | ({"notification"} if any(isinstance(s, NotifyStep) for s in pb.steps)
                      else set()))
    stamp = _timestamp(pb, now)
    ids = {s.id: _oid("if-condition" if isinstance(s, DecisionStep) else "action", name, s.id)
           for s in pb.steps}
    workflow: dict[str, Any] = {}
    agents: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    activities: set[str] = set()

    def target_of(ref: str, origin: str) -> str:
        if ref == END:
            eid = _oid("end", name, "end", origin)
            workflow[eid] = {"type": "end", "name": "End"}
            return eid
        return ids[ref]

    def role_agent(role_id: str | None) -> str:
        role = pb.role(role_id or "") or pb.role("responder") or pb.roles[0]
        aid = _oid("individual", name, "role", role.id)
        agent: dict[str, Any] = {"type": "individual", "name": role.title}
        if role.description:
            agent["description"] = role.description
        agents[aid] = agent
        return aid

    def api_agent(typ: str) -> str:
        aid = _oid("http-api", name, "agent", typ)
        host = _var(f"adapter.{typ}_host")
        variables[host] = {
            "type": "string", "value": "", "external": True,
            "description": f"host of the {typ} admin API (the ircon adapter instance's url)",
        }
        agents[aid] = {"type": "http-api", "name": f"{typ} admin API",
                       "address": {"dname": [host + ":value"]}}
        return aid

    def shell_agent() -> str:
        aid = _oid("linux", name, "agent", "responder-host")
        host = _var("adapter.responder_host")
        variables[host] = {"type": "string", "value": "", "external": True,
                           "description": "host where the responder runs ircon and kubectl"}
        agents[aid] = {"type": "linux", "name": "Responder workstation (ircon, kubectl)",
                       "address": {"dname": [host + ":value"]}}
        return aid

    def target(typ: str) -> str:
        label, category = _TARGETS.get(typ, (typ, "server"))
        tid = _oid("security-category", name, "target", typ)
        targets[tid] = {"type": "security-category", "name": label, "category": [category]}
        return tid

    for f_name in sorted({f for _, text in pb.iter_templates() for f in template.fields(text)}
                         | {"incident.id", "responder.actor"}):
        variables[_var(f_name)] = {
            "type": "string", "value": "", "external": True,
            "description": f"ircon template field {{{f_name}}}",
        }

    start_id = _oid("start", name, "start")
    workflow[start_id] = {"type": "start", "name": "Start", "on_completion": ids[pb.start]}
    for pos, s in enumerate(pb.steps):
        ext = {"position": pos, **s.model_dump(mode="json", exclude_none=True)}
        base: dict[str, Any] = {"name": s.title}
        if s.description:
            base["description"] = s.description
        if s.time_limit_s:
            base["timeout"] = s.time_limit_s * 1000
        base["step_extensions"] = {EXTENSION_ID: ext}
        if isinstance(s, DecisionStep):
            var = _var(f"decision.{s.id.replace('-', '_')}")
            variables[var] = {"type": "string", "value": "", "description": s.question}
            opts = s.options
            for k, o in enumerate(opts[:-1]):
                sid = ids[s.id] if k == 0 else _oid("if-condition", name, s.id, str(k))
                step: dict[str, Any] = {"type": "if-condition"}
                step.update(base if k == 0 else {"name": f"{s.title} ({o.label})"})
                step.update({
                    "description": s.question if k == 0 else f"Option: {o.label}",
                    "condition": f"{var}:value = '{o.id}'",
                    "on_true": target_of(o.next, f"{s.id}:{o.id}"),
                })
                last = k == len(opts) - 2
                step["on_false"] = (target_of(opts[-1].next, f"{s.id}:{opts[-1].id}") if last
                                    else _oid("if-condition", name, s.id, str(k + 1)))
                workflow[sid] = step
            continue
        if isinstance(s, ActionStep):
            typ = cat.adapter_type(s.adapter, instances)
            cmd = _action_command(s, typ)
            agent = api_agent(typ or s.adapter) if cmd["type"] == "http-api" else shell_agent()
            step = {"type": "action", **base, "commands": [cmd], "agent": agent,
                    "targets": [target(typ or s.adapter)]}
            if s.on_failure:
                step["on_success"] = target_of(pb.successor(s), s.id)
                step["on_failure"] = target_of(s.on_failure, f"{s.id}:failure")
            else:
                step["on_completion"] = target_of(pb.successor(s), s.id)
            activities.add(cmd["playbook_activity"])
            workflow[ids[s.id]] = step
            continue
        activity = _activity(s)
        activities.add(activity)
        cmd = {"type": "manual", "command": _manual_text(s), "playbook_activity": activity}
        step = {"type": "action", **base, "commands": [cmd], "agent": role_agent(s.role),
                "on_completion": target_of(pb.successor(s), s.id)}
        if isinstance(s, WaitStep):
            step["delay"] = s.duration_s * 1000
        workflow[ids[s.id]] = step

    refs: list[dict[str, Any]] = []
    for t in pb.atlas:
        refs.append({"name": f"MITRE ATLAS {t} {ATLAS_TECHNIQUES.get(t, '')}".strip(),
                     "source": "MITRE ATLAS", "external_id": t,
                     "url": f"https://atlas.mitre.org/techniques/{t}"})
    for t in pb.owasp:
        refs.append({"name": f"OWASP {t} {owasp_name(t) or ''}".strip(),
                     "source": f"OWASP Top 10 for LLM Applications {t.partition(':')[2]}",
                     "external_id": t})
    refs.extend({"name": r, "url": r} for r in pb.references)
    out: dict[str, Any] = {
        "type": "playbook",
        "spec_version": "cacao-2.0",
        "id": playbook_id(pb.title, types),
        "name": pb.title,
        "description": pb.description,
        "playbook_types": types,
        "playbook_activities": sorted(activities),
        "created_by": IDENTITY_ID,
        "created": stamp,
        "modified": stamp,
        "severity": _SEVERITY[pb.severity_hint],
        "labels": [*(f"kind:{k}" for k in pb.kinds), *pb.atlas, *pb.owasp,
                   f"version:{pb.version}"],
        "playbook_variables": dict(sorted(variables.items())),
        "workflow_start": start_id,
        "workflow": workflow,
        "playbook_extensions": {EXTENSION_ID: {
            **pb.model_dump(mode="json", exclude_none=True, exclude={"steps"}),
        }},
        "agent_definitions": agents,
        "extension_definitions": {EXTENSION_ID: {
            "type": "extension-definition", "name": "ircon playbook",
            "description": "ircon's own playbook and step fields, for a lossless round trip",
            "created_by": IDENTITY_ID,
            "schema": "urn:ircon:cacao-extension:playbook",
            "version": "1.0",
        }},
    }
    if refs:
        out["external_references"] = refs
    if targets:
        out["target_definitions"] = targets
    return out


def export_json(pb: Playbook, *, now: datetime | None = None) -> str:
    return json.dumps(export(pb, now=now), indent=2, ensure_ascii=False) + "\n"


# --- import ---------------------------------------------------------------------------

@dataclass(slots=True)
class ImportResult:
    playbook: Playbook | None
    yaml_text: str
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # of the converted playbook


class CacaoError(ValueError):
    pass


def _depth_ok(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def _slug(text: str, fallback: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    s = re.sub(r"^[^a-z]+", "", s)[:MAX_ID].strip("-")
    return s if s and s != END else fallback


def parse(data: bytes | str) -> Any:
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_CACAO_BYTES:
        raise CacaoError(f"file is larger than {MAX_CACAO_BYTES // (1024 * 1024)} MiB")
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CacaoError(f"not JSON: {exc}") from exc
    except RecursionError as exc:
        raise CacaoError("JSON nested too deeply") from exc
    if not _depth_ok(doc, MAX_DEPTH):
        raise CacaoError(f"JSON nested deeper than {MAX_DEPTH} levels")
    return doc


def import_cacao(data: bytes | str | Mapping[str, Any], *, file: str = "<cacao>") -> ImportResult:
    """Convert a CACAO playbook to ircon's format (YAML text and model) with warnings."""
    try:
        doc = parse(data) if isinstance(data, bytes | str) else data
    except CacaoError as exc:
        return ImportResult(None, "", errors=[str(exc)])
    if not isinstance(doc, Mapping):
        return ImportResult(None, "", errors=["a CACAO playbook is a JSON object"])
    conv = _Importer(doc)
    try:
        built = conv.build()
    except CacaoError as exc:
        return ImportResult(None, "", warnings=conv.warnings, errors=[str(exc)])
    text = dump_yaml(built, header=f"Imported from CACAO: {file}")
    res: LoadResult = load_text(text, file + " (converted)")
    if res.playbook is not None:  # re-dump from the model: fields in their usual order
        text = dump_yaml(_plain(res.playbook), header=f"Imported from CACAO: {file}")
        res = load_text(text, file + " (converted)")
    from ircon.response.lint import lint  # local: lint imports loader, not cacao

    problems = lint(res)
    errors = [str(p) for p in problems if p.level == "error"]
    return ImportResult(res.playbook if not errors else None, text, conv.warnings, errors,
                        problems)


def dump_yaml(data: Mapping[str, Any], header: str = "") -> str:
    body = yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, width=100)
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    return "\n".join([*lines, body]) if lines else body


def playbook_yaml(pb: Playbook) -> str:
    return dump_yaml(_plain(pb))


def _plain(pb: Playbook) -> dict[str, Any]:
    """The playbook as plain data in the order people write it (defaults left out)."""
    head = {"name": pb.name, "version": pb.version, "title": pb.title,
            "description": pb.description, "kinds": pb.kinds}
    rest = pb.model_dump(mode="json", exclude_none=True, exclude_defaults=True,
                         exclude={"steps", "roles", *head})
    roles = [{"id": r.id, "title": r.title}
             | r.model_dump(mode="json", exclude_defaults=True, exclude={"id", "title"})
             for r in pb.roles]
    steps = []
    for s in pb.steps:
        body = s.model_dump(mode="json", exclude_none=True, exclude_defaults=True,
                            exclude={"id", "kind", "title", "phase"})
        steps.append({"id": s.id, "kind": s.kind, "title": s.title, "phase": s.phase, **body})
    return {**head, **rest, "roles": roles, "steps": steps}


class _Importer:
    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self.warnings: list[str] = []
        wf = doc.get("workflow")
        self.workflow: dict[str, Any] = dict(wf) if isinstance(wf, Mapping) else {}
        self.variables: dict[str, str] = {}  # CACAO var name -> ircon template field
        self.step_ids: dict[str, str] = {}  # CACAO id -> ircon step id
        self.roles: dict[str, dict[str, str]] = {}

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    # -- checks that only warn ---------------------------------------------------------
    def check_shape(self) -> None:
        d = self.doc
        if d.get("type") != "playbook":
            self.warn(f"type is {d.get('type')!r}, expected 'playbook'")
        if d.get("spec_version") != "cacao-2.0":
            self.warn(f"spec_version is {d.get('spec_version')!r}, expected 'cacao-2.0'; "
                      "reading it as 2.0")
        for key in ("id", "name", "created_by", "created", "modified", "workflow_start",
                    "workflow"):
            if key not in d:
                self.warn(f"required property {key!r} is missing")
        self._check_id(d.get("id"), "playbook", "playbook id")
        for sid, step in self.workflow.items():
            typ = step.get("type") if isinstance(step, Mapping) else None
            self._check_id(sid, typ, f"workflow step {sid!r}")
        for key in ("agent_definitions", "target_definitions"):
            defs = d.get(key)
            if isinstance(defs, Mapping):
                for oid, obj in defs.items():
                    typ = obj.get("type") if isinstance(obj, Mapping) else None
                    self._check_id(oid, typ, f"{key} entry {oid!r}")
        for key in ("created", "modified"):
            v = d.get(key)
            if v is not None and not (isinstance(v, str) and re.fullmatch(
                    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z", v)):
                self.warn(f"{key} is not a UTC timestamp like 2025-01-31T12:00:00.000Z")
        sev = d.get("severity")
        if sev is not None and (not isinstance(sev, int) or isinstance(sev, bool)
                                or not 0 <= sev <= 100):
            self.warn(f"severity {sev!r} is not a whole number from 0 to 100; ignored")
        pv = d.get("playbook_variables")
        if isinstance(pv, Mapping):
            for vname, var in pv.items():
                if not _VAR_NAME_RE.match(str(vname)):
                    self.warn(f"variable name {vname!r} is not of the form __name__")
                if isinstance(var, Mapping) and "value" in var:
                    v = var["value"]
                    if v is not None and not isinstance(v, str):
                        self.warn(f"variable {vname!r} has a non-string value "
                                  f"({type(v).__name__}); read as text")
                desc = str(var.get("description", "")) if isinstance(var, Mapping) else ""
                m = re.fullmatch(r"ircon template field \{([^}]+)\}", desc)
                if m and template.field_problem(m.group(1)) is None:
                    self.variables[str(vname).strip("_")] = m.group(1)

    def _check_id(self, value: Any, typ: Any, what: str) -> None:
        if not isinstance(value, str):
            if value is not None:
                self.warn(f"{what} is not a string")
            return
        m = _ID_RE.match(value)
        if not m:
            self.warn(f"{what} is not an identifier of the form type--UUID")
        elif isinstance(typ, str) and m.group(1) != typ:
            self.warn(f"{what} has prefix {m.group(1)!r} but type {typ!r}")

    # -- conversion --------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        self.check_shape()
        if not self.workflow:
            raise CacaoError("the playbook has no workflow steps")
        ext = self.doc.get("playbook_extensions")
        meta = ext.get(EXTENSION_ID) if isinstance(ext, Mapping) else None
        steps_ext = [s.get("step_extensions", {}).get(EXTENSION_ID)
                     for s in self.workflow.values()
                     if isinstance(s, Mapping) and isinstance(s.get("step_extensions"), Mapping)]
        if isinstance(meta, Mapping) and steps_ext:
            return self._from_extension(meta)
        return self._foreign()

    def _from_extension(self, meta: Mapping[str, Any]) -> dict[str, Any]:
        steps: list[tuple[int, dict[str, Any]]] = []
        for step in self.workflow.values():
            if not isinstance(step, Mapping):
                continue
            ext = (step.get("step_extensions") or {}).get(EXTENSION_ID)
            if not isinstance(ext, Mapping) or "id" not in ext:
                continue
            data = dict(ext)
            pos = data.pop("position", len(steps))
            # Another tool may have renamed the step: the CACAO name is the title.
            if isinstance(step.get("name"), str) and step["name"].strip():
                data["title"] = step["name"][:300]
            steps.append((int(pos) if isinstance(pos, int) else len(steps), data))
        out = dict(meta)
        out["steps"] = [d for _, d in sorted(steps, key=lambda t: t[0])]
        return out

    def _start(self) -> str | None:
        start = self.doc.get("workflow_start")
        if isinstance(start, str) and start in self.workflow:
            return start
        starts = [k for k, v in self.workflow.items()
                  if isinstance(v, Mapping) and v.get("type") == "start"]
        if starts:
            self.warn("workflow_start does not name a step of the workflow; "
                      f"using the start step {starts[0]}")
            return starts[0]
        self.warn("no start step; starting at the first workflow step")
        return next(iter(self.workflow), None)

    def _ref(self, value: Any, origin: str) -> str | None:
        """The workflow step an on_* pointer names (None: end of the playbook)."""
        if value is None:
            return None
        if isinstance(value, str) and value in self.workflow:
            step = self.workflow[value]
            if isinstance(step, Mapping) and step.get("type") == "end":
                return None
            return value
        self.warn(f"{origin} points at {value!r}, which is not in the workflow; "
                  "treated as the end")
        return None

    def _foreign(self) -> dict[str, Any]:
        d = self.doc
        start = self._start()
        first = start
        if first is not None:
            s0 = self.workflow.get(first)
            if isinstance(s0, Mapping) and s0.get("type") == "start":
                first = self._ref(s0.get("on_completion") or s0.get("on_success"),
                                  "start step")
        if first is None:
            raise CacaoError("the workflow has no step after its start")
        # Breadth-first over the graph: ids assigned in reading order.
        order: list[str] = []
        todo = [first]
        seen: set[str] = set()
        while todo:
            cid = todo.pop(0)
            if cid in seen:
                continue
            seen.add(cid)
            order.append(cid)
            todo.extend(t for t in self._edges(cid) if t not in seen)
        used: set[str] = set()
        for cid in order:
            step = self.workflow[cid]
            name = step.get("name") if isinstance(step, Mapping) else None
            base = _slug(str(name or ""), "step")
            sid, n = base, 2
            while sid in used:
                sid = f"{base[: MAX_ID - 4]}-{n}"
                n += 1
            used.add(sid)
            self.step_ids[cid] = sid
        unreachable = [k for k, v in self.workflow.items()
                       if k not in seen and isinstance(v, Mapping)
                       and v.get("type") not in ("start", "end")]
        for k in unreachable:
            self.warn(f"workflow step {k!r} cannot be reached from the start; left out")
        back = self._back_edges(order)
        steps: list[dict[str, Any]] = []
        for cid in order:
            steps.extend(self._convert(cid, back))
        roles = [{"id": "commander", "title": "Incident commander"},
                 *(r for r in self.roles.values() if r["id"] != "commander")]
        if not any(r["id"] == "responder" for r in roles):
            roles.append({"id": "responder", "title": "Responder"})
        name = str(d.get("name") or "Imported playbook")
        atlas, owasp, kinds_ = self._tags()
        sev = d.get("severity")
        hint = "SEV3"
        if isinstance(sev, int) and not isinstance(sev, bool) and sev > 0:
            hint = "SEV1" if sev >= 80 else "SEV2" if sev >= 60 else "SEV3" if sev >= 30 \
                else "SEV4"
        refs = [r["url"] for r in d.get("external_references", [])
                if isinstance(r, Mapping) and isinstance(r.get("url"), str)][:50]
        out: dict[str, Any] = {
            "name": _slug(name, "imported-playbook"),
            "version": self._version(),
            "title": name[:300],
            "description": str(d.get("description") or f"Imported from CACAO playbook {name}"),
            "kinds": kinds_ or ["other"],
            "atlas": atlas,
            "owasp": owasp,
            "severity_hint": hint,
            "references": [r[:300] for r in refs],
            "roles": roles,
            "steps": steps,
        }
        return {k: v for k, v in out.items() if v != [] or k in ("kinds", "roles", "steps")}

    def _version(self) -> str:
        mod = self.doc.get("modified")
        if isinstance(mod, str) and re.match(r"^\d{4}-\d\d-\d\d", mod):
            y, m, dd = mod[:10].split("-")
            return f"{int(y)}.{int(m)}.{int(dd)}"
        return "1.0"

    def _tags(self) -> tuple[list[str], list[str], list[str]]:
        texts: list[str] = [str(x) for x in self.doc.get("labels", []) if isinstance(x, str)]
        for r in self.doc.get("external_references", []) or []:
            if isinstance(r, Mapping):
                texts += [str(r.get("external_id", "")), str(r.get("name", ""))]
        atlas = sorted({m for t in texts for m in re.findall(r"AML\.T\d{4}(?:\.\d{3})?", t)})
        owasp = sorted({m for t in texts for m in re.findall(r"LLM(?:0[1-9]|10):20\d\d", t)})
        kinds_ = sorted({_slug(t[5:], "") for t in texts if t.startswith("kind:")} - {""})
        return atlas, owasp, kinds_

    def _edges(self, cid: str) -> list[str]:
        step = self.workflow.get(cid)
        if not isinstance(step, Mapping):
            return []
        keys = ["on_completion", "on_success", "on_failure", "on_true", "on_false"]
        out = [step.get(k) for k in keys]
        if isinstance(step.get("next_steps"), list):
            out += step["next_steps"]
        if isinstance(step.get("cases"), Mapping):
            out += list(step["cases"].values())
        return [r for r in (self._ref(v, f"step {cid}") for v in out if v is not None)
                if r is not None]

    def _back_edges(self, order: list[str]) -> set[tuple[str, str]]:
        """Edges that close a loop (ircon playbooks are acyclic): cut to the end."""
        back: set[tuple[str, str]] = set()
        state: dict[str, int] = {}
        for root in order:
            if state.get(root):
                continue
            stack = [(root, iter(self._edges(root)))]
            state[root] = 1
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    state[node] = 2
                    stack.pop()
                elif state.get(nxt) == 1:
                    back.add((node, nxt))
                elif not state.get(nxt):
                    state[nxt] = 1
                    stack.append((nxt, iter(self._edges(nxt))))
        for a, b in sorted(back):
            self.warn(f"loop from {a} back to {b} cut: ircon playbooks do not loop")
        return back

    def _next(self, cid: str, value: Any, back: set[tuple[str, str]]) -> str:
        ref = self._ref(value, f"step {cid}")
        if ref is None or (cid, ref) in back:
            return END
        return self.step_ids.get(ref, END)

    def _text(self, text: str) -> str:
        """CACAO text as an ircon template: variables become fields, braces literal."""
        text = text.replace("{", "{{").replace("}", "}}")

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            known = self.variables.get(name)
            if known:
                return "{" + known + "}"
            simple = re.sub(r"[^A-Za-z0-9_]", "_", name)[:64] or "value"
            if not simple[0].isalpha():
                simple = "v" + simple
            return "{input." + simple + "}"

        return _VAR_RE.sub(sub, text)

    def _agent_role(self, step: Mapping[str, Any]) -> str | None:
        agent_id = step.get("agent")
        defs = self.doc.get("agent_definitions")
        agent = defs.get(agent_id) if isinstance(defs, Mapping) and isinstance(agent_id, str) \
            else None
        if not isinstance(agent, Mapping) or agent.get("type") not in (
            "individual", "group", "organization"
        ):
            return None
        name = str(agent.get("name") or agent.get("type"))
        rid = _slug(name, "responder")
        self.roles.setdefault(rid, {"id": rid, "title": name[:300]})
        return rid

    def _command_text(self, cmd: Mapping[str, Any]) -> str:
        text = cmd.get("command")
        if not isinstance(text, str) and isinstance(cmd.get("command_b64"), str):
            try:
                text = base64.b64decode(cmd["command_b64"], validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                self.warn("a command_b64 value is not valid base64 UTF-8; kept as it is")
                text = cmd["command_b64"]
        parts = [str(text or "")]
        if cmd.get("type") == "http-api":
            headers = cmd.get("headers")
            for h, vals in (headers.items() if isinstance(headers, Mapping) else []):
                joined = ", ".join(str(v) for v in vals) if isinstance(vals, list) else str(vals)
                parts.append(f"{h}: {joined}")
            content = cmd.get("content")
            if isinstance(content, str):
                parts.append(content)
        return "\n".join(p for p in parts if p)

    def _map_action(self, cmd: Mapping[str, Any]) -> tuple[str, str, dict[str, str]] | None:
        """A command ircon can run through an adapter: (type, action, params)."""
        ctype = cmd.get("type")
        text = cmd.get("command")
        if not isinstance(text, str):
            return None
        text = text.strip()
        if ctype == "http-api":
            line = " ".join(text.split()[:2])
            for spec in (a for acts in cat.CATALOG.values() for a in acts.values()):
                if spec.cacao_type != "http-api":
                    continue
                pattern = re.escape(" ".join(spec.cacao_command.split()[:2]))
                pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/ ]+)", pattern)
                m = re.fullmatch(pattern, line)
                if not m:
                    continue
                params = {k: v for k, v in m.groupdict().items()}
                try:
                    body = json.loads(cmd.get("content") or "{}")
                except (json.JSONDecodeError, RecursionError):  # nesting bounds the stack
                    body = {}
                if isinstance(body, Mapping):
                    for key, pname in spec.cacao_body:
                        v = body.get(key)
                        if isinstance(v, list) and len(v) == 1:
                            v = v[0]
                        if isinstance(v, str | int | float) and not isinstance(v, bool):
                            params[pname] = str(v)
                if all(p in params for p in spec.required):
                    return spec.adapter, spec.name, params
            return None
        if ctype == "bash":
            try:
                argv = shlex.split(text)
            except ValueError:
                return None
            if argv[:2] == ["ircon", "act"] and len(argv) >= 4:
                typ = argv[2]
                aspec = cat.spec(cat.adapter_type(typ) or "", argv[3])
                if aspec is None:
                    return None
                params = {}
                it = iter(argv[4:])
                for a in it:
                    if a == "-p":
                        k, _, v = next(it, "").partition("=")
                        if k:
                            params[k] = v
                return typ, aspec.name, params
            m = re.fullmatch(r"kubectl rollout undo deployment/(\S+)(?: --to-revision=(\d+))?"
                             r"(?: -n (\S+))?", " ".join(argv))
            if m:
                p = {"deployment": m.group(1)}
                if m.group(2):
                    p["revision"] = m.group(2)
                if m.group(3):
                    p["namespace"] = m.group(3)
                return "kubernetes", "rollback", p
            m = re.fullmatch(r"kubectl scale deployment/(\S+) --replicas=0(?: -n (\S+))?",
                             " ".join(argv))
            if m:
                p = {"deployment": m.group(1)}
                if m.group(2):
                    p["namespace"] = m.group(2)
                return "kubernetes", "scale-zero", p
        return None

    def _convert(self, cid: str, back: set[tuple[str, str]]) -> list[dict[str, Any]]:
        step = self.workflow[cid]
        sid = self.step_ids[cid]
        if not isinstance(step, Mapping):
            self.warn(f"workflow step {cid!r} is not an object; kept as an empty manual step")
            return [{"id": sid, "kind": "manual", "title": sid, "phase": "analyze", "next": END}]
        typ = step.get("type")
        title = str(step.get("name") or typ or "Step")[:300] or "Step"
        desc = self._text(str(step.get("description") or ""))
        common: dict[str, Any] = {"id": sid, "title": title}
        timeout = step.get("timeout")
        if isinstance(timeout, int) and not isinstance(timeout, bool) and timeout >= 1000:
            common["time_limit"] = format_duration(max(1, timeout // 1000))
        if typ == "if-condition":
            cond = str(step.get("condition") or "")
            false_target = step.get("on_false", step.get("on_completion"))
            return [{**common, "kind": "decision", "phase": "analyze",
                     "question": desc or title,
                     "description": f"CACAO condition: {self._text(cond)}",
                     "options": [
                         {"id": "true", "label": "Yes (condition true)",
                          "next": self._next(cid, step.get("on_true"), back)},
                         {"id": "false", "label": "No (condition false)",
                          "next": self._next(cid, false_target, back)},
                     ]}]
        if typ in ("switch-condition", "parallel"):
            targets: list[tuple[str, Any]] = []
            if typ == "switch-condition":
                cases = step.get("cases")
                targets = list(cases.items()) if isinstance(cases, Mapping) else []
                question = desc or f"Which case applies? ({self._text(str(step.get('switch')))})"
            else:
                self.warn(f"parallel step {cid} became a decision: ircon works one branch at "
                          "a time; the responder picks the branch")
                raw = step.get("next_steps")
                names: list[Any] = raw if isinstance(raw, list) else []
                targets = [(str(self.workflow.get(n, {}).get("name") or n)
                            if isinstance(self.workflow.get(n), Mapping) else str(n), n)
                           for n in names]
                question = desc or "Which branch do we work first?"
            opts, used = [], set()
            for label, tgt in targets[:20]:
                oid = _slug(str(label), "case")
                while oid in used:
                    oid += "-x"
                used.add(oid)
                opts.append({"id": oid, "label": str(label)[:300] or oid,
                             "next": self._next(cid, tgt, back)})
            if len(opts) < 2:
                opts.append({"id": "continue", "label": "Continue",
                             "next": self._next(cid, step.get("on_completion"), back)})
            return [{**common, "kind": "decision", "phase": "analyze", "question": question,
                     "options": opts}]
        nxt = self._next(cid, step.get("on_completion") or step.get("on_success"), back)
        fail = step.get("on_failure")
        fail_next = self._next(cid, fail, back) if fail is not None else None
        if typ == "while-condition":
            self.warn(f"while-condition {cid} became a decision: the loop body runs at most "
                      "once in ircon")
            return [{**common, "kind": "decision", "phase": "analyze",
                     "question": desc or self._text(str(step.get("condition") or title)),
                     "options": [
                         {"id": "run", "label": "Run the loop body",
                          "next": self._next(cid, step.get("on_true"), back)},
                         {"id": "skip", "label": "Condition false, continue",
                          "next": nxt}]}]
        cmds = [c for c in step.get("commands", []) if isinstance(c, Mapping)] \
            if isinstance(step.get("commands"), list) else []
        if typ == "action" and len(cmds) == 1:
            mapped = self._map_action(cmds[0])
            if mapped is not None:
                adapter, action, params = mapped
                spec = cat.spec(adapter, action)
                out = {**common, "kind": "action",
                       "phase": "contain" if spec and spec.destructive else "recover",
                       "adapter": adapter, "action": action,
                       "params": {k: self._text(v) for k, v in params.items()},
                       "next": nxt}
                if desc:
                    out["description"] = desc
                if fail_next is not None:
                    out["on_failure"] = fail_next
                return [out]
        if typ == "playbook-action":
            self.warn(f"step {cid} runs another playbook ({step.get('playbook_id')}); kept as a "
                      "manual step")
            desc = (desc + "\n" if desc else "") + \
                f"Run the CACAO playbook {step.get('playbook_id')}."
        elif typ not in ("action", None):
            self.warn(f"step {cid} has type {typ!r}, which ircon does not run; kept as a "
                      "manual step")
        texts = [(str(c.get("type") or "command"), self._command_text(c)) for c in cmds]
        for ctype, _ in texts:
            if ctype not in ("manual", "bash", "http-api"):
                self.warn(f"step {cid}: {ctype} command kept as manual text")
        parts = [desc] if desc else []
        parts += [self._text(f"[{ctype}] {t}" if ctype != "manual" else t) for ctype, t in texts]
        checklist = []
        for ctype, t in texts:
            first_line = (t.splitlines() or [""])[0].strip()
            if first_line:
                line = first_line if ctype == "manual" else f"Run ({ctype}): {first_line}"
                item = self._text(line)
                checklist.append(item[:300])
        manual: dict[str, Any] = {**common, "kind": "manual", "phase": "analyze",
                                  "description": "\n".join(parts)[:20_000]}
        if checklist:
            manual["checklist"] = checklist
        role = self._agent_role(step)
        if role:
            manual["role"] = role
        if isinstance(step.get("delay"), int) and step["delay"] >= 1000:
            manual["description"] += f"\n(The source waits {step['delay'] // 1000} s first.)"
        if fail_next is None:
            manual["next"] = nxt
            return [manual]
        # A manual step has no failure exit: ask how it went.
        taken = set(self.step_ids.values())
        ask_id, n = f"{sid[: MAX_ID - 9]}-result", 2
        while ask_id in taken:
            ask_id, n = f"{sid[: MAX_ID - 12]}-result-{n}", n + 1
        self.step_ids[f"{cid}#result"] = ask_id
        manual["next"] = ask_id
        return [manual, {
            "id": ask_id, "kind": "decision", "title": f"Did '{title[:250]}' succeed?",
            "phase": "analyze", "question": f"Did '{title}' succeed?",
            "options": [{"id": "succeeded", "label": "Yes", "next": nxt},
                        {"id": "failed", "label": "No", "next": fail_next}],
        }]
