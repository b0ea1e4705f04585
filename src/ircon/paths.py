"""Where ircon keeps things (XDG via platformdirs), and bundled data."""

from __future__ import annotations

import os
from pathlib import Path

APP = "ircon"


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP, appauthor=False))


def default_db() -> str:
    return os.environ.get("IRCON_DB") or str(data_dir() / "ircon.db")


def default_config() -> Path:
    env = os.environ.get("IRCON_CONFIG")
    return Path(env) if env else config_dir() / "ircon.toml"


def bundled_playbooks() -> Path:
    """The playbooks shipped with ircon: inside the wheel, or the source tree."""
    here = Path(__file__).resolve().parent
    wheel = here / "_playbooks"
    if wheel.is_dir():
        return wheel
    return here.parent.parent / "playbooks"
