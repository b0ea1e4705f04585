"""What every command handler gets: args, lazily-loaded config and store, output."""

from __future__ import annotations

import argparse
import json
import sys
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ircon.config import LoadedConfig
    from ircon.store import Store


class CliError(Exception):
    """A failure already worded for the user, with its exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def not_yet(feature: str) -> CliError:
    return CliError(f"{feature} is not yet available in this version of ircon", 2)


class Ctx:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    @cached_property
    def loaded(self) -> LoadedConfig:
        from ircon import config

        path = getattr(self.args, "config", None)
        return config.load(path)

    @property
    def db(self) -> str:
        from ircon.paths import default_db

        if getattr(self.args, "db", None):
            return str(self.args.db)
        import os

        if os.environ.get("IRCON_DB"):
            return os.environ["IRCON_DB"]
        url = self.loaded.config.database.url
        return url or default_db()

    @cached_property
    def store(self) -> Store:
        from ircon.store import open_store

        return open_store(self.db)

    @cached_property
    def actor(self) -> str:
        import os

        from ircon.identity import default_actor

        if os.environ.get("IRCON_ACTOR"):
            return os.environ["IRCON_ACTOR"]
        return self.loaded.config.identity.actor or default_actor()

    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        # Markup and emoji off: everything printed may contain attacker text.
        return Console(markup=False, emoji=False, highlight=False, soft_wrap=False)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, markup=False, emoji=False, highlight=False)

    def json(self, obj: Any) -> None:
        # ASCII-only: attacker text in a field (C1 controls, bidi overrides) cannot act on
        # a terminal the JSON is printed to; it is the same JSON to any parser.
        sys.stdout.write(json.dumps(obj, ensure_ascii=True, default=str) + "\n")
        sys.stdout.flush()
