"""The dependency rules of DESIGN.md, checked on the source (imports point inward)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "ircon"

PURE_FORBIDDEN = ("store", "sources", "adapters", "escalation", "report", "tui", "engine")
RULES: dict[str, tuple[str, ...]] = {
    # package -> ircon packages it must never import
    "model": ("*",),
    "detect": PURE_FORBIDDEN,
    "triage": PURE_FORBIDDEN,
    "response": PURE_FORBIDDEN,
    "engine": ("tui",),
}
NOBODY_BUT_CLI_IMPORTS = "tui"


def ircon_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        for n in names:
            parts = n.split(".")
            if parts[0] == "ircon" and len(parts) > 1:
                out.add(parts[1])
    return out


def modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("package", sorted(RULES))
def test_pure_packages_import_inward_only(package: str) -> None:
    bad = []
    for path in (SRC / package).rglob("*.py"):
        for imp in ircon_imports(path):
            forbidden = RULES[package]
            if imp == package:
                continue
            if forbidden == ("*",):
                # model may import only other model modules
                bad.append(f"{path.relative_to(SRC)} imports ircon.{imp}")
            elif imp in forbidden:
                bad.append(f"{path.relative_to(SRC)} imports ircon.{imp}")
    assert not bad, "\n".join(bad)


def test_only_the_command_line_imports_the_console() -> None:
    bad = []
    for path in modules():
        rel = path.relative_to(SRC)
        if rel.parts[0] in ("tui", "commands") or rel.name == "cli.py":
            continue
        if NOBODY_BUT_CLI_IMPORTS in ircon_imports(path):
            bad.append(str(rel))
    assert not bad, bad


def test_help_does_not_import_heavy_libraries() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from ircon.cli import build_parser; build_parser(); "
        "heavy = [m for m in ('sqlalchemy', 'sqlmodel', 'textual', 'httpx', 'pydantic', "
        "'apscheduler', 'apprise', 'jinja2', 'stix2', 'yaml') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
