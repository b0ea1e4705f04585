"""Shared pieces for config models: strict base class, secret references."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from ircon.secrets import is_ref


class Section(BaseModel):
    """Base of every config section: unknown keys are errors; docstrings document fields."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


def _check_ref(value: str) -> str:
    if not is_ref(value):
        raise ValueError(
            "secrets are never written in the config file: use a reference such as "
            '"env:VAR_NAME" or "keyring:ircon/NAME" (store it with `ircon secrets set NAME`)'
        )
    return value


SecretRef = Annotated[str, AfterValidator(_check_ref)]
