"""Cross-field checks of [[sources]] and [triage] (beyond what each model validates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ircon.sources.settings import AlertmanagerSource


def config_problems(cfg: Any) -> list[str]:
    problems: list[str] = []
    for i, s in enumerate(cfg.sources):
        if not isinstance(s, AlertmanagerSource):
            continue
        where = f"sources[{i}] ({s.name})"
        if not s.url.startswith(("http://", "https://")):
            problems.append(f"{where}.url: {s.url!r} is not an http(s) URL — "
                            "use e.g. http://127.0.0.1:9093")
        if s.basic_password and s.basic_user is None:
            problems.append(f"{where}.basic_password is set without basic_user — add basic_user")
        if s.bearer_token and s.basic_user is not None:
            problems.append(f"{where}: both bearer_token and basic_user are set — keep one")
        if s.client_key and not s.client_cert:
            problems.append(f"{where}.client_key is set without client_cert — add client_cert")
        for key in ("ca_file", "client_cert", "client_key"):
            path = getattr(s, key)
            if path and not Path(path).expanduser().is_file():
                problems.append(f"{where}.{key}: {path} does not exist — fix the path")
        if s.timeout > s.interval * 10:
            problems.append(f"{where}.timeout ({s.timeout:g} s) is over ten intervals — "
                            "lower it or raise interval")
        if not (s.active or s.silenced or s.inhibited or s.unprocessed):
            problems.append(f"{where}: active, silenced, inhibited and unprocessed are all "
                            "false, so nothing would be pulled — enable at least one")
    t = cfg.triage.thresholds
    if t.affected_medium > t.affected_high:
        problems.append("triage.thresholds.affected_medium is above affected_high — "
                        "medium must not exceed high")
    return problems
