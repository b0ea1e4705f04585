"""A problem found in a playbook file, worded as ``file:line: problem — fix``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["error", "warning"]


@dataclass(slots=True, frozen=True)
class Problem:
    file: str
    line: int  # 1-based; 0 when the problem concerns the whole file
    message: str
    fix: str
    level: Level = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        tag = "" if self.level == "error" else "warning: "
        return f"{where}: {tag}{self.message} — {self.fix}"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file, "line": self.line, "level": self.level,
            "message": self.message, "fix": self.fix,
        }


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.level == "error"]
