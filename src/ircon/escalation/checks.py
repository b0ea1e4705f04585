"""Cross-field checks of the escalation section: every problem names its key and the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ircon.escalation.clocks import BUILTIN
from ircon.escalation.settings import EscalationConfig
from ircon.model.severity import SEVERITIES

if TYPE_CHECKING:
    from ircon.config import IrconConfig

P = "escalation"


def _target_problem(cfg: EscalationConfig, spec: str) -> str | None:
    """Why a target spec reaches nobody, or None when it can reach someone."""
    kind, sep, name = spec.partition(":")
    if kind == "commander" and not sep:
        return None
    if not sep or not name:
        return (f"target {spec!r} is not of the form person:HANDLE, rotation:NAME, "
                "channel:NAME or commander")
    if kind == "person":
        p = cfg.people.get(name)
        if p is None:
            return f"unknown person {name!r} — add [escalation.people.{name}] or fix the handle"
        if not p.targets:
            return f"person {name!r} has no notification targets — add escalation.people." \
                   f"{name}.targets"
        return None
    if kind == "rotation":
        r = cfg.rotations.get(name)
        if r is None:
            return f"unknown rotation {name!r} — add [escalation.rotations.{name}]"
        if not r.members and not r.overrides:
            return f"rotation {name!r} has no members — add escalation.rotations.{name}.members"
        return None
    if kind == "channel":
        c = cfg.channels.get(name)
        if c is None:
            return f"unknown channel {name!r} — add [escalation.channels.{name}]"
        if not c.targets:
            return f"channel {name!r} has no targets — add escalation.channels.{name}.targets"
        return None
    return f"target kind {kind!r} is unknown; use person:, rotation:, channel: or commander"


def escalation_problems(cfg: EscalationConfig) -> list[str]:
    out: list[str] = []
    for h, person in cfg.people.items():
        if not h.strip() or any(c.isspace() for c in h):
            out.append(f"{P}.people.{h!r}: a handle has no spaces — rename the table")
        del person
    for rname, rot in cfg.rotations.items():
        key = f"{P}.rotations.{rname}"
        for i, m in enumerate(rot.members):
            if m not in cfg.people:
                out.append(f"{key}.members[{i}]: unknown person {m!r} — add "
                           f"[escalation.people.{m}] or remove the member")
        for i, o in enumerate(rot.overrides):
            if o.person not in cfg.people:
                out.append(f"{key}.overrides[{i}].person: unknown person {o.person!r} — add "
                           f"[escalation.people.{o.person}]")
            try:
                bad = o.end <= o.start
            except TypeError:
                out.append(f"{key}.overrides[{i}]: give start and end both with or both "
                           "without a UTC offset")
                continue
            if bad:
                out.append(f"{key}.overrides[{i}].end: the window ends before it starts — "
                           "end must be after start")
    for sev, pname in cfg.severity_policy.items():
        if sev not in SEVERITIES:
            out.append(f"{P}.severity_policy.{sev}: not a severity — use one of "
                       f"{', '.join(SEVERITIES)}")
        if pname not in cfg.policies:
            out.append(f"{P}.severity_policy.{sev}: unknown policy {pname!r} — add "
                       f"[escalation.policies.{pname}] or name an existing one")
    for pname, pol in cfg.policies.items():
        key = f"{P}.policies.{pname}"
        if not pol.levels:
            out.append(f"{key}.levels: the policy has no levels — add at least one "
                       "[[escalation.policies." + pname + ".levels]]")
        if pol.then is not None and pol.then not in cfg.policies:
            out.append(f"{key}.then: unknown policy {pol.then!r} — name an existing policy")
        for i, lv in enumerate(pol.levels):
            lk = f"{key}.levels[{i}]"
            if lv.after_minutes < 0:
                out.append(f"{lk}.after_minutes: negative delay ({lv.after_minutes:g}) — "
                           "use 0 or more minutes")
            if lv.repeat and lv.repeat_minutes <= 0:
                out.append(f"{lk}.repeat_minutes: must be more than 0 when repeat is set")
            if not lv.notify:
                out.append(f"{lk}.notify: this level notifies nobody — add a target such as "
                           '"rotation:primary" or "person:HANDLE"')
                continue
            reasons = [_target_problem(cfg, s) for s in lv.notify]
            for s, r in zip(lv.notify, reasons, strict=True):
                # Unknown names are always errors; "has no targets" only when the level
                # would then reach nobody at all.
                if r and not r.startswith(("person", "rotation", "channel")):
                    out.append(f"{lk}.notify: {r}")
                elif r and all(reasons):
                    out.append(f"{lk}.notify: this level notifies nobody: {s}: {r}")
    out.extend(_cycles(cfg))
    for i, f in enumerate(cfg.reminders):
        if not 0 < f <= 2:
            out.append(f"{P}.reminders[{i}]: {f:g} is not a fraction of the clock's time — use "
                       "values like 0.5, 0.8, 1.0")
    for i, s in enumerate(cfg.clock_notify):
        r = _target_problem(cfg, s)
        if r and not r.startswith(("person", "rotation", "channel")):
            out.append(f"{P}.clock_notify[{i}]: {r}")
    for field in ("status_update_minutes", "ack_within_minutes", "contain_within_minutes"):
        for sev, minutes in getattr(cfg, field).items():
            if sev not in SEVERITIES:
                out.append(f"{P}.{field}.{sev}: not a severity — use one of "
                           f"{', '.join(SEVERITIES)}")
            if minutes <= 0:
                out.append(f"{P}.{field}.{sev}: must be more than 0 minutes")
    for name in cfg.clocks:
        if name in BUILTIN:
            out.append(f"{P}.clocks.{name}: {name!r} is a built-in clock — choose another name")
    return out


def _cycles(cfg: EscalationConfig) -> list[str]:
    out = []
    reported: set[frozenset[str]] = set()
    for start in cfg.policies:
        path = [start]
        name = cfg.policies[start].then
        while name is not None and name in cfg.policies:
            if name in path:
                loop = path[path.index(name):]
                if frozenset(loop) not in reported:
                    reported.add(frozenset(loop))
                    out.append(f"{P}.policies.{loop[-1]}.then: policies form a cycle ("
                               + " -> ".join([*loop, name]) + ") — end the chain with a "
                               "policy that has no `then`")
                break
            path.append(name)
            name = cfg.policies[name].then
    return out


def config_problems(cfg: IrconConfig) -> list[str]:
    return escalation_problems(cfg.escalation)
