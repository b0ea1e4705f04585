"""Checks of containment policies against the rest of the config.

Run by ``ircon config check`` and at the start of ``ircon watch``: a policy
naming an unknown detector, rule, adapter instance or action, or a parameter
the action does not take, is reported at start with its key — never at the
moment of an attack.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from ircon.engine.policies import TemplateError, expiry_seconds, template_names

if TYPE_CHECKING:
    from ircon.config import IrconConfig


@lru_cache(maxsize=8)
def _rule_ids(rules_dir: str | None) -> frozenset[str]:
    from pathlib import Path

    from ircon.detect.pipeline import default_rules_dir
    from ircon.detect.rules import load_rules

    extra = Path(rules_dir).expanduser() if rules_dir else default_rules_dir()
    try:
        return frozenset(r.id for r in load_rules([extra]))
    except Exception:  # a broken rule pack is the detectors' check to report
        return frozenset(r.id for r in load_rules([]))


def config_problems(cfg: IrconConfig) -> list[str]:
    from ircon.detect.base import CAMPAIGN, REGISTRY

    problems: list[str] = []
    if not cfg.policies:
        return problems
    detectors = [*REGISTRY, CAMPAIGN]
    rules = _rule_ids(cfg.detectors.rules_dir)
    for name, p in cfg.policies.items():
        where = f"policies.{name}"
        w = p.when
        if w.detector is None and w.rule is None:
            problems.append(f"{where}.when: name a detector or a rule — fix: add detector = "
                            "\"jailbreak\" or rule = \"jb.persona.unrestricted\"")
        if w.detector is not None and w.detector not in detectors:
            problems.append(f"{where}.when.detector: unknown detector {w.detector!r} — fix: use "
                            "one of " + ", ".join(detectors))
        elif w.detector is not None and w.detector in cfg.detectors.disabled:
            problems.append(f"{where}.when.detector: detector {w.detector!r} is disabled in "
                            "detectors.disabled — fix: enable it or change the policy")
        if w.rule is not None:
            if w.rule.endswith("*"):
                known = any(r.startswith(w.rule[:-1]) for r in rules)
            else:
                known = w.rule in rules
            if not known:
                near = sorted(r for r in rules if r.split(".")[0] == w.rule.split(".")[0])[:8]
                problems.append(f"{where}.when.rule: unknown rule id {w.rule!r} — fix: use a rule "
                                "id from the rule packs" + (f" (e.g. {', '.join(near)})"
                                                            if near else ""))
        try:
            exp = expiry_seconds(p.expire_after)
        except ValueError as exc:
            problems.append(f"{where}.expire_after: {exc}")
            exp = None
        problems += _action_problems(cfg, where, p.then.adapter, p.then.action, p.then.params,
                                     expires=exp is not None)
        problems += _notify_problems(cfg, where, p.notify)
    return problems


def _action_problems(cfg: IrconConfig, where: str, inst: str, action: str,
                     params: dict[str, str], *, expires: bool) -> list[str]:
    from ircon.adapters.params import ParamError
    from ircon.adapters.registry import UnknownInstance, instance
    from ircon.adapters.settings import AdapterSettingsError

    out: list[str] = []
    try:
        adapter = instance(cfg, inst)
    except UnknownInstance:
        known = ", ".join(sorted(cfg.adapters)) or "none are configured"
        return [f"{where}.then.adapter: no adapter instance {inst!r} — fix: add "
                f"[adapters.{inst}] or use one of: {known}"]
    except AdapterSettingsError:
        return []  # reported under adapters.NAME by the adapters' own check
    try:
        spec = adapter.action(action)
    except ParamError:
        return [f"{where}.then.action: {inst} ({adapter.type_name}) has no action {action!r} "
                f"— fix: use one of {', '.join(adapter.actions())}"]
    declared = {p.name for p in spec.params}
    for k, v in params.items():
        if k not in declared:
            out.append(f"{where}.then.params.{k}: {action} takes no parameter {k!r} — fix: use "
                       f"{', '.join(sorted(declared)) or 'no parameters'}")
        try:
            template_names(v)
        except TemplateError as exc:
            out.append(f"{where}.then.params.{k}: {exc}")
    for p in spec.params:
        if p.required and p.name not in params:
            out.append(f"{where}.then.params: {action} needs {p.name!r} ({p.kind}) — fix: add "
                       f"{p.name} = \"{{finding.key}}\" or a fixed value")
    if expires and not spec.undo:
        out.append(f"{where}.expire_after: {inst} {action} cannot be undone, so it cannot "
                   "expire — fix: set expire_after = \"never\" or choose an undoable action")
    return out


def _notify_problems(cfg: IrconConfig, where: str, targets: list[str]) -> list[str]:
    from ircon.escalation.checks import _target_problem

    out = []
    for i, t in enumerate(targets):
        why = _target_problem(cfg.escalation, t)
        if why:
            out.append(f"{where}.notify[{i}]: {why}")
    return out
