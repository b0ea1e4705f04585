"""Finding playbooks: the bundled ones, then the configured directories.

A playbook in a configured directory with the same ``name`` as a bundled
one replaces it (a team adapts the shipped playbook to its systems).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ircon.paths import bundled_playbooks
from ircon.response.loader import LoadResult, load_file

MAX_FILES = 500


class PlaybookNotFound(LookupError):
    pass


def playbook_dirs(extra: Iterable[str | Path] = ()) -> list[Path]:
    """The bundled directory, then ``extra`` (``[playbooks] dirs`` from the config)."""
    out = [bundled_playbooks()]
    for d in extra:
        p = Path(d).expanduser()
        if p not in out:
            out.append(p)
    return out


def files(dirs: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for d in dirs:
        if not d.is_dir():
            continue
        found = sorted(p for p in d.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        out.extend(found[: MAX_FILES - len(out)])
    return out


def discover(dirs: Sequence[Path]) -> list[LoadResult]:
    """Every playbook file in ``dirs``, later directories overriding earlier names.

    Files that do not load are returned too (with their problems), so a
    listing can say which file is broken instead of hiding it.
    """
    by_name: dict[str, LoadResult] = {}
    broken: list[LoadResult] = []
    for f in files(dirs):
        res = load_file(f)
        if res.playbook is None:
            broken.append(res)
        else:
            by_name[res.playbook.name] = res
    return sorted(by_name.values(), key=lambda r: r.playbook.name) + broken  # type: ignore[union-attr]


def find(name: str, dirs: Sequence[Path]) -> LoadResult:
    """The playbook called ``name``, or the file at path ``name``."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return load_file(p)
    for res in reversed(discover(dirs)):
        if res.playbook is not None and res.playbook.name == name:
            return res
    known = ", ".join(r.playbook.name for r in discover(dirs) if r.playbook)
    raise PlaybookNotFound(f"no playbook named {name!r}; available: {known or 'none'}")
