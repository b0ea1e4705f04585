"""Whole-playbook checks beyond the typed model: the step graph, adapters, templates, tags.

A playbook that lints clean is one the engine can walk to the end on every
path: ids are unique and known, the graph has no cycles (a repeated check is
a new step, so the journal never has to say which pass of a loop a step
belonged to), every step is reachable, every action exists in the adapter
catalogue with its required parameters, and every template names a known
field.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ircon.response import actions_catalog as cat
from ircon.response import template
from ircon.response.loader import LoadResult, load_file, load_text
from ircon.response.model import END, ActionStep, DecisionStep, NotifyStep, Playbook, WaitStep
from ircon.response.problems import Problem
from ircon.response.taxonomy import ATLAS_TECHNIQUES, OWASP_LLM

P = tuple[str | int, ...]


def lint_file(path: str | Path, *, instances: Mapping[str, str] | None = None) -> list[Problem]:
    return lint(load_file(path), instances=instances)


def lint_text(
    text: str, file: str = "<playbook>", *, instances: Mapping[str, str] | None = None
) -> list[Problem]:
    return lint(load_text(text, file), instances=instances)


def lint(res: LoadResult, *, instances: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem of a loaded file: the loader's, then the graph and reference checks.

    ``instances`` maps adapter instance names from the config to their type,
    so steps may name an instance instead of a type.
    """
    out = list(res.problems)
    pb = res.playbook
    if pb is None:
        return out
    _Checker(res, pb, instances or {}, out).run()
    return out


class _Checker:
    def __init__(
        self, res: LoadResult, pb: Playbook, instances: Mapping[str, str], out: list[Problem]
    ) -> None:
        self.res = res
        self.pb = pb
        self.instances = instances
        self.out = out

    def err(self, path: P, message: str, fix: str) -> None:
        self.out.append(self.res.problem(path, message, fix))

    def warn(self, path: P, message: str, fix: str) -> None:
        self.out.append(self.res.problem(path, message, fix, "warning"))

    def run(self) -> None:
        self.tags()
        ids_ok = self.unique_ids()
        self.references()
        if ids_ok:
            self.graph()
        self.actions()
        self.templates()
        self.timers()

    # --- tags --------------------------------------------------------------------------
    def tags(self) -> None:
        for i, t in enumerate(self.pb.atlas):
            if t not in ATLAS_TECHNIQUES:
                self.err(("atlas", i), f"unknown MITRE ATLAS technique {t}",
                         "check the id at https://atlas.mitre.org/techniques")
        for i, t in enumerate(self.pb.owasp):
            ident, _, edition = t.partition(":")
            if edition not in OWASP_LLM:
                self.err(("owasp", i), f"unknown OWASP LLM Top 10 edition in {t}",
                         f"use one of the editions {', '.join(OWASP_LLM)}, e.g. LLM01:2025")
            elif ident not in OWASP_LLM[edition]:
                self.err(("owasp", i), f"{t} is not in the OWASP LLM Top 10 {edition}",
                         "use LLM01 to LLM10")

    # --- ids and references ------------------------------------------------------------
    def unique_ids(self) -> bool:
        ok = True
        seen: dict[str, int] = {}
        for i, s in enumerate(self.pb.steps):
            if s.id in seen:
                ok = False
                self.err(("steps", i, "id"),
                         f"duplicate step id '{s.id}' (also step {seen[s.id] + 1})",
                         "give every step its own id")
            else:
                seen[s.id] = i
        roles: set[str] = set()
        for i, r in enumerate(self.pb.roles):
            if r.id in roles:
                self.err(("roles", i, "id"), f"duplicate role id '{r.id}'",
                         "give every role its own id")
            roles.add(r.id)
        return ok

    def _ref(self, target: str, path: P, what: str) -> None:
        if target != END and self.pb.step(target) is None:
            self.err(path, f"{what} '{target}' is not a step of this playbook",
                     f"use one of: {', '.join(s.id for s in self.pb.steps)}, or `end`")

    def _role(self, role: str, path: P) -> None:
        if self.pb.role(role) is None:
            self.err(path, f"unknown role '{role}'",
                     f"declare it under `roles:` or use one of: "
                     f"{', '.join(r.id for r in self.pb.roles)}")

    def references(self) -> None:
        for i, s in enumerate(self.pb.steps):
            base: P = ("steps", i)
            if s.next is not None:
                self._ref(s.next, (*base, "next"), "next step")
            if isinstance(s, DecisionStep):
                for j, o in enumerate(s.options):
                    self._ref(o.next, (*base, "options", j, "next"), f"option '{o.id}' leads to")
            if isinstance(s, ActionStep) and s.on_failure:
                self._ref(s.on_failure, (*base, "on_failure"), "on_failure")
            if s.role:
                self._role(s.role, (*base, "role"))
            if isinstance(s, NotifyStep):
                for j, r in enumerate(s.to):
                    self._role(r, (*base, "to", j))
            if s.escalate:
                for j, r in enumerate(s.escalate.notify):
                    self._role(r, (*base, "escalate", "notify", j))

    # --- graph -------------------------------------------------------------------------
    def _edges(self) -> dict[str, list[tuple[str, P]]]:
        edges: dict[str, list[tuple[str, P]]] = {}
        for i, s in enumerate(self.pb.steps):
            out: list[tuple[str, P]] = []
            if isinstance(s, DecisionStep):
                out = [(o.next, ("steps", i, "options", j, "next"))
                       for j, o in enumerate(s.options)]
            else:
                path: P = ("steps", i, "next") if s.next is not None else ("steps", i)
                out = [(self.pb.successor(s), path)]
                if isinstance(s, ActionStep) and s.on_failure:
                    out.append((s.on_failure, ("steps", i, "on_failure")))
            edges[s.id] = [(t, p) for t, p in out if t != END and self.pb.step(t) is not None]
        return edges

    def graph(self) -> None:
        edges = self._edges()
        # Cycles: iterative DFS (a recursive one would fail on a 200-step chain).
        color: dict[str, int] = {}
        reported: set[frozenset[str]] = set()
        for root in edges:
            if color.get(root):
                continue
            stack: list[tuple[str, int]] = [(root, 0)]
            trail: list[str] = []
            color[root] = 1
            trail.append(root)
            while stack:
                node, idx = stack[-1]
                if idx < len(edges[node]):
                    stack[-1] = (node, idx + 1)
                    target, path = edges[node][idx]
                    c = color.get(target, 0)
                    if c == 0:
                        color[target] = 1
                        trail.append(target)
                        stack.append((target, 0))
                    elif c == 1:
                        loop = trail[trail.index(target):]
                        key = frozenset(loop)
                        if key not in reported:
                            reported.add(key)
                            self.err(path, "cycle: " + " → ".join([*loop, target]),
                                     "playbooks must not loop; to repeat a check, add a new "
                                     "step for the second pass")
                else:
                    color[node] = 2
                    trail.pop()
                    stack.pop()
        # Reachability from the first step.
        seen = {self.pb.start}
        todo = [self.pb.start]
        while todo:
            for t, _ in edges[todo.pop()]:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        for i, s in enumerate(self.pb.steps):
            if s.id not in seen:
                self.err(("steps", i, "id"), f"step '{s.id}' can never be reached",
                         "point a `next` or a decision option at it, or remove it")

    # --- actions -----------------------------------------------------------------------
    def actions(self) -> None:
        for i, s in enumerate(self.pb.steps):
            if not isinstance(s, ActionStep):
                continue
            base: P = ("steps", i)
            typ = cat.adapter_type(s.adapter, self.instances)
            if typ is None:
                known = ", ".join(cat.ADAPTER_TYPES)
                inst = f"; configured instances: {', '.join(sorted(self.instances))}" \
                    if self.instances else ""
                self.err((*base, "adapter"), f"unknown adapter '{s.adapter}'",
                         f"use an adapter type ({known}) or an instance name from "
                         f"[adapters.NAME] in the config{inst}")
                continue
            spec = cat.spec(typ, s.action)
            if spec is None:
                self.err((*base, "action"), f"adapter type {typ} has no action '{s.action}'",
                         f"use one of: {', '.join(cat.CATALOG[typ])}")
                continue
            self._params(spec, s.params, (*base, "params"))
            if spec.destructive and not s.requires_confirmation:
                self.warn((*base, "requires_confirmation"),
                          f"{typ} {s.action} is destructive but runs without confirmation",
                          "keep requires_confirmation: true unless a policy has been agreed")
            if s.undo and s.undo.action:
                uspec = cat.spec(typ, s.undo.action)
                if uspec is None:
                    self.err((*base, "undo", "action"),
                             f"undo action '{s.undo.action}' does not exist for {typ}",
                             f"use one of: {', '.join(cat.CATALOG[typ])}")
                else:
                    self._params(uspec, s.undo.params, (*base, "undo", "params"))

    def _params(self, spec: cat.ActionSpec, params: Mapping[str, str], path: P) -> None:
        if spec.free_params:
            return
        for name in spec.required:
            if name not in params:
                self.err(path, f"{spec.adapter} {spec.name} needs parameter '{name}'",
                         f"add `{name}:` under params")
        for name in params:
            if spec.param(name) is None:
                allowed = ", ".join(p.name for p in spec.params)
                self.err((*path, name), f"{spec.adapter} {spec.name} has no parameter '{name}'",
                         f"use: {allowed}")

    # --- templates and timers ----------------------------------------------------------
    def templates(self) -> None:
        for path, text in self.pb.iter_templates():
            for why in template.check(text):
                self.err(path, why, "use a known field, e.g. {incident.id} or {finding.key}; "
                         "{input.NAME} asks the responder when the step runs")

    def timers(self) -> None:
        for i, s in enumerate(self.pb.steps):
            if s.escalate and not s.time_limit:
                self.warn(("steps", i, "escalate"), "escalate has no effect without time_limit",
                          "add `time_limit:` (e.g. 30m) or remove escalate")
            if isinstance(s, WaitStep) and s.time_limit_s and s.time_limit_s < s.duration_s:
                self.warn(("steps", i, "time_limit"), "time_limit is shorter than the wait",
                          "make the time limit longer than the duration")
