"""Subcommand modules of the ``ircon`` command.

Each module's ``register(sub)`` adds its parsers; handlers are referenced as
"module:function" strings and imported only when run, so ``ircon --help``
stays fast. Modules import nothing heavy at import time.
"""
