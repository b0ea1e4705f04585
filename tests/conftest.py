"""Shared fixtures. Area-specific fixtures live in tests/fixtures_*.py plugins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ircon.store import Store

pytest_plugins = ["tests.services"]

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ircon.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    from ircon.store import open_store

    s = open_store(str(db_path))
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real user's config, data or keyring."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("IRCON_ACTOR", "tester@ci")
    monkeypatch.delenv("IRCON_DB", raising=False)
    monkeypatch.delenv("IRCON_CONFIG", raising=False)
    monkeypatch.setenv(
        "PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring"
    )


def run_ircon(
    *args: str, db: Path | None = None, input: str | None = None, env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """The real `ircon` command in a subprocess (the installed console script's code)."""
    cmd = [sys.executable, "-m", "ircon.cli"]
    if db is not None:
        cmd += ["--db", str(db)]
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        cmd + list(args), capture_output=True, text=True, input=input, env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present beside the project")
    return SHARED
