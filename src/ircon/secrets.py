"""Secret references: config holds ``env:VAR`` or ``keyring:SERVICE/NAME``, never a value."""

from __future__ import annotations

import os
import re
from typing import Any

REF_RE = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|keyring:[^/\s]+/\S+)$")
DEFAULT_SERVICE = "ircon"


class SecretError(Exception):
    pass


def is_ref(value: str) -> bool:
    return bool(REF_RE.match(value))


def _keyring() -> Any:
    import keyring
    from keyring.backends import fail

    kr = keyring.get_keyring()
    if isinstance(kr, fail.Keyring):
        raise SecretError(
            "no keyring backend is available on this machine (common on headless hosts). "
            "Use an env:VAR reference instead, or install a file backend: "
            "`pip install keyrings.alt` and set PYTHON_KEYRING_BACKEND="
            "keyrings.alt.file.PlaintextKeyring (or EncryptedKeyring)"
        )
    return keyring


def resolve(ref: str) -> str:
    """The secret value behind a reference; SecretError says what is missing."""
    if ref.startswith("env:"):
        var = ref[4:]
        value = os.environ.get(var)
        if value is None:
            raise SecretError(f"secret {ref}: environment variable {var} is not set")
        return value
    if ref.startswith("keyring:"):
        service, _, name = ref[8:].partition("/")
        kr = _keyring()
        value = kr.get_password(service, name)
        if value is None:
            raise SecretError(
                f"secret {ref}: not in the keyring; store it with `ircon secrets set {name}`"
                + (f" --service {service}" if service != DEFAULT_SERVICE else "")
            )
        return str(value)
    raise SecretError(f"{ref!r} is not a secret reference (env:VAR or keyring:SERVICE/NAME)")


def set_secret(name: str, value: str, service: str = DEFAULT_SERVICE) -> None:
    _keyring().set_password(service, name, value)
    _index_update(service, name, add=True)


def delete_secret(name: str, service: str = DEFAULT_SERVICE) -> None:
    import keyring.errors

    try:
        _keyring().delete_password(service, name)
    except keyring.errors.PasswordDeleteError as exc:
        raise SecretError(f"no secret {service}/{name} in the keyring") from exc
    _index_update(service, name, add=False)


def list_secrets(service: str = DEFAULT_SERVICE) -> list[str]:
    """Names only (keyring backends cannot enumerate, so ircon keeps an index of names)."""
    kr = _keyring()
    raw = kr.get_password(service, "__ircon_index__") or ""
    return sorted(n for n in raw.split("\n") if n)


def _index_update(service: str, name: str, *, add: bool) -> None:
    kr = _keyring()
    names = set(list_secrets(service))
    (names.add if add else names.discard)(name)
    kr.set_password(service, "__ircon_index__", "\n".join(sorted(names)))


class Redactor:
    """Replaces every known secret value in text with a mask before it is stored or shown."""

    MASK = "********"

    def __init__(self, values: list[str] | None = None) -> None:
        self._values = sorted({v for v in (values or []) if len(v) >= 4}, key=len, reverse=True)

    def add(self, value: str) -> None:
        if len(value) >= 4 and value not in self._values:
            self._values.append(value)
            self._values.sort(key=len, reverse=True)

    def text(self, s: str) -> str:
        for v in self._values:
            if v in s:
                s = s.replace(v, self.MASK)
        return s

    def obj(self, o: object) -> object:
        if isinstance(o, str):
            return self.text(o)
        if isinstance(o, dict):
            return {self.text(str(k)): self.obj(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [self.obj(v) for v in o]
        return o
