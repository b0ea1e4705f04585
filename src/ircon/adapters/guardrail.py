"""A pattern blocklist file read by a gateway guardrail (adversarial suffixes,
jailbreak templates): add or remove one entry, atomically, with undo.

``lines``: one pattern per line (other lines, comments included, are kept as
they are); ``json``: a JSON array of strings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from ircon.adapters import atomic
from ircon.adapters.base import Adapter, Context, Plan, Result
from ircon.adapters.params import ActionSpec, ParamError, ParamSpec
from ircon.adapters.settings import GuardrailSettings
from ircon.model.text import one_line


class GuardrailAdapter(Adapter):
    type_name: ClassVar[str] = "guardrail"
    settings: GuardrailSettings
    ACTIONS = (
        ActionSpec("block-pattern", "add a pattern to the blocklist",
                   (ParamSpec("pattern", "pattern", "text to block (one line)"),),
                   destructive=False, idempotent=True, undo="remove the pattern again"),
        ActionSpec("unblock-pattern", "remove a pattern from the blocklist",
                   (ParamSpec("pattern", "pattern", "text to unblock"),),
                   destructive=False, idempotent=True, undo="add the pattern again"),
    )

    def build(self, spec: ActionSpec, values: dict[str, Any], plan: Plan, ctx: Context) -> None:
        pat = values["pattern"]
        if len(pat) > self.settings.max_pattern:
            raise ParamError(f"pattern: longer than {self.settings.max_pattern} characters "
                             f"(adapters.{self.name}.max_pattern)")
        if self.settings.format == "lines" and pat != pat.strip():
            raise ParamError("pattern: leading or trailing white space would be lost in a "
                             "line-based blocklist; trim it")
        if self.settings.format == "lines" and pat.startswith("#"):
            raise ParamError("pattern: a line starting with '#' is a comment in a line-based "
                             "blocklist; use format = \"json\" for such patterns")
        add = spec.name == "block-pattern"
        plan.file = self.settings.path
        plan.change = {"add" if add else "remove": pat}
        plan.summary = f"{'add' if add else 'remove'} pattern {one_line(pat, 60)}"

    def execute(self, plan: Plan) -> Result:
        pat = plan.private["values"]["pattern"]
        add = plan.action == "block-pattern"
        return self._edit(plan.action, pat, add, plan.summary)

    def _edit(self, action: str, pat: str, add: bool, summary: str) -> Result:
        path = Path(self.settings.path)
        fmt = self.settings.format
        try:
            with atomic.locked(path):
                atomic.clean_stale(path)
                text = atomic.read_text(path)
                items, raw_lines = _parse(text, fmt, path)
                present = pat in items
                if add == present:
                    changed = False
                else:
                    changed = True
                    if add:
                        items.append(pat)
                        raw_lines.append(pat)
                    else:
                        items = [i for i in items if i != pat]
                        raw_lines = [ln for ln in raw_lines if ln != pat]
                    atomic.write_atomic(path, _render(fmt, items, raw_lines))
        except atomic.FileEditError as exc:
            return Result.failed(action, str(exc))
        except OSError as exc:
            return Result.failed(action, f"cannot rewrite {path}: {exc.strerror or exc}")
        note = "" if changed else " (already so; file unchanged)"
        # Undo only reverts what this run changed.
        return Result(ok=True, action=action, summary=summary + note,
                      details={"changed": changed, "entries": len(items)},
                      undo={"pattern": pat, "added": add} if changed else None)

    def undo(self, result: Result, ctx: Context) -> Result:
        u = result.undo or {}
        pat = u.get("pattern")
        if not isinstance(pat, str):
            return super().undo(result, ctx)
        add = not bool(u.get("added"))
        return self._edit("undo", pat, add, f"{'re-added' if add else 'removed'} pattern "
                          f"{one_line(pat, 60)}")


def _parse(text: str | None, fmt: str, path: Path) -> tuple[list[str], list[str]]:
    """(patterns, lines to keep) — for json the two are the same list."""
    if text is None:
        return [], []
    if fmt == "json":
        try:
            data = json.loads(text) if text.strip() else []
        except ValueError as exc:
            raise atomic.FileEditError(f"{path} is not valid JSON ({exc}); left untouched") \
                from exc
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise atomic.FileEditError(f"{path} is not a JSON array of strings; left untouched")
        return list(data), list(data)
    lines = text.splitlines()
    items = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return items, lines


def _render(fmt: str, items: list[str], lines: list[str]) -> bytes:
    if fmt == "json":
        return (json.dumps(items, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")
