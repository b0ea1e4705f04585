"""Playbook figures: safe loading vs plain yaml.safe_load, engine replay vs decoding the journal.

Baselines run in the same process on the same input:
- loading a bundled playbook with every check (event scan for bombs, duplicate
  keys, line map, typed validation) against PyYAML's C ``safe_load`` alone;
- replaying a long incident journal through the step engine against merely
  JSON-decoding the same entries (the least any reader of the journal does).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from _common import figure, median, timed, write

from ircon.model import kinds
from ircon.model.journal import format_ts
from ircon.paths import bundled_playbooks
from ircon.response import engine
from ircon.response.lint import lint
from ircon.response.loader import load_text

REPEAT = 30


def main() -> None:
    figures = []
    text = (bundled_playbooks() / "jailbreak-campaign.yaml").read_text()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    ours = median([timed(lambda: lint(load_text(text))) for _ in range(REPEAT)])
    base = median([timed(lambda: yaml.load(text, Loader=loader)) for _ in range(REPEAT)])
    figures.append(figure(
        "load+lint one playbook (20 steps)", ours * 1000, "ms",
        baseline="yaml C safe_load only (ms)", baseline_value=base * 1000, ratio=ours / base,
        goal="< 50 ms absolute: listing 50 playbooks stays instant",
    ))

    res = load_text(text)
    assert res.playbook is not None and res.source and res.sha256
    pb = res.playbook
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    entries = []
    kind, body = engine.start_entry(pb, res.source, res.sha256)
    entries.append({"seq": 1, "ts": format_ts(t0), "actor": "a@h", "kind": kind, "body": body})
    # A long-running incident: 5,000 entries, mostly notes and findings, with step changes.
    ids = [s.id for s in pb.steps if s.kind != "decision"]
    for i in range(2, 5001):
        ts = format_ts(t0 + timedelta(seconds=i))
        if i % 50 == 0:
            b = {"step": ids[(i // 50) % len(ids)], "state": "in_progress", "reason": ""}
            entries.append({"seq": i, "ts": ts, "actor": "a@h", "kind": kinds.STEP, "body": b})
        else:
            entries.append({"seq": i, "ts": ts, "actor": "a@h", "kind": kinds.NOTE,
                            "body": {"text": "x" * 80}})
    encoded = [dict(e, body=json.dumps(e["body"])) for e in entries]
    ours = median([timed(lambda: engine.replay(pb, encoded, now=t0)) for _ in range(10)])
    base = median([timed(lambda: [json.loads(e["body"]) for e in encoded]) for _ in range(10)])
    figures.append(figure(
        "replay a 5,000-entry journal", ours * 1000, "ms",
        baseline="JSON-decode the entries only (ms)", baseline_value=base * 1000,
        ratio=ours / base, goal="< 10x the decode: cheap enough to recompute on every refresh",
    ))
    write("playbooks", figures)


if __name__ == "__main__":
    main()
