"""Severity levels, SEV1 (worst) .. SEV4."""

from __future__ import annotations

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")


def is_severity(value: str) -> bool:
    return value in SEVERITIES


def rank(sev: str) -> int:
    """1 for SEV1 .. 4 for SEV4; unknown values sort last."""
    try:
        return SEVERITIES.index(sev) + 1
    except ValueError:
        return 5


def worst(*sevs: str) -> str:
    return min(sevs, key=rank) if sevs else "SEV4"
