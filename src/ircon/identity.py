"""Who is acting: ``user@host`` unless the config or IRCON_ACTOR says otherwise."""

from __future__ import annotations

import getpass
import os
import socket


def default_actor() -> str:
    env = os.environ.get("IRCON_ACTOR")
    if env:
        return env
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"
