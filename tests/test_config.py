"""Config: validated models, precise errors, secret references."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ircon import secrets
from ircon.config import ConfigError, load
from tests.conftest import ROOT, run_ircon


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "ircon.toml"
    p.write_text(text)
    return p


def test_example_config_is_valid() -> None:
    r = run_ircon("config", "check", str(ROOT / "config" / "ircon.toml"))
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


def test_no_file_means_defaults(tmp_path: Path) -> None:
    loaded = load()
    assert loaded.path is None and loaded.config.sources == []


def test_bad_toml_names_file_and_line(tmp_path: Path) -> None:
    p = write(tmp_path, "[identity]\nactor = \"a\"\n\n[ui\nrefresh_seconds = 1\n")
    r = run_ircon("config", "check", str(p))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(p) in r.stderr and "line 4" in r.stderr


def test_unknown_key_names_key_line_and_fix(tmp_path: Path) -> None:
    p = write(tmp_path, "[ui]\nrefresh_seconds = 1\nrefersh = 2\n")
    with pytest.raises(ConfigError) as ei:
        load(p)
    msg = str(ei.value)
    assert f"{p}:3" in msg and "ui.refersh" in msg and "fix:" in msg


def test_wrong_type_is_explained(tmp_path: Path) -> None:
    p = write(tmp_path, "[ui]\nrefresh_seconds = \"fast\"\n")
    r = run_ircon("--config", str(p), "incidents", "list")
    assert r.returncode == 2 and "ui.refresh_seconds" in r.stderr and f"{p}:2" in r.stderr


def test_literal_secret_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, '[[sources]]\ntype = "alertmanager"\nbearer_token = "s3cr3t-value"\n')
    with pytest.raises(ConfigError) as ei:
        load(p)
    assert "sources[0].bearer_token" in str(ei.value) and "env:" in str(ei.value)
    assert "s3cr3t-value" not in str(ei.value)


def test_missing_explicit_file(tmp_path: Path) -> None:
    r = run_ircon("--config", str(tmp_path / "nope.toml"), "incidents", "list")
    assert r.returncode == 2 and "not found" in r.stderr


def test_env_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRCON_TEST_TOKEN", "tok")
    assert secrets.resolve("env:IRCON_TEST_TOKEN") == "tok"
    with pytest.raises(secrets.SecretError, match="not set"):
        secrets.resolve("env:IRCON_TEST_MISSING")


def test_keyring_round_trip_through_cli(tmp_path: Path) -> None:
    env = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
           "XDG_DATA_HOME": str(tmp_path / "kr")}
    r = run_ircon("secrets", "set", "gateway-admin", input="hunter2-admin\n", env=env)
    assert r.returncode == 0 and "keyring:ircon/gateway-admin" in r.stdout
    assert "hunter2" not in r.stdout + r.stderr
    listed = run_ircon("secrets", "list", "--json", env=env)
    assert json.loads(listed.stdout) == ["gateway-admin"]
    r = run_ircon("secrets", "delete", "gateway-admin", env=env)
    assert r.returncode == 0
    assert json.loads(run_ircon("secrets", "list", "--json", env=env).stdout) == []


def test_no_keyring_backend_says_how_to_fix(tmp_path: Path) -> None:
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    r = run_ircon("secrets", "list", env=env)
    assert r.returncode == 2 and "env:VAR" in r.stderr and "keyrings.alt" in r.stderr
