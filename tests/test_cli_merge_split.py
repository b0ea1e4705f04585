"""A responder merges and splits incidents from the command line; both are journaled."""

from __future__ import annotations

import json
from pathlib import Path

from ircon.model.alert import AlertIn
from ircon.store import open_store
from ircon.triage.settings import TriageConfig
from tests.conftest import run_ircon


def two_incidents(db: Path) -> tuple[list[str], list[int]]:
    from ircon.engine.ingest import ingest_alerts
    from ircon.store.alerts import list_alerts

    store = open_store(str(db))
    alerts = [
        AlertIn(source="am", fingerprint=f"fp{i}", status="firing",
                labels={"alertname": name, "model": "gpt-4o"},
                annotations={"summary": f"{name} seen"})
        for i, name in enumerate(("JailbreakSpike", "PromptInjectionSpike"))
    ]
    ingest_alerts(store, alerts, TriageConfig(), actor="tester@ci")
    rows = list_alerts(store, limit=10)
    ids = sorted({r.incident for r in rows if r.incident})
    store.close()
    return ids, [r.id for r in rows]


def kinds(db: Path, iid: str) -> list[str]:
    shown = json.loads(run_ircon("incident", "show", iid, "--json", db=db).stdout)
    return [e["kind"] for e in shown["journal"]]


def test_merge_then_split(db_path: Path) -> None:
    (first, second), alert_ids = two_incidents(db_path)
    r = run_ircon("incident", "merge", first, second, "--reason", "same campaign",
                  "--json", db=db_path)
    assert r.returncode == 0, r.stderr
    assert "merge" in kinds(db_path, first) and "merge" in kinds(db_path, second)
    listed = {i["id"]: i for i in json.loads(run_ircon("incidents", "list", "--json",
                                                        db=db_path).stdout)}
    assert listed[second]["status"] == "closed"

    r = run_ircon("incident", "split", str(alert_ids[0]), "--reason", "unrelated",
                  "--json", db=db_path)
    assert r.returncode == 0, r.stderr
    new = json.loads(r.stdout)["incident"]
    assert new not in (first, second)
    assert run_ircon("journal", "verify", db=db_path).returncode == 0


def test_merge_refuses_itself_and_unknown_ids(db_path: Path) -> None:
    (first, _), _ = two_incidents(db_path)
    r = run_ircon("incident", "merge", first, first, "--reason", "x", db=db_path)
    assert r.returncode == 2 and "itself" in r.stderr
    r = run_ircon("incident", "merge", first, "IR-1999-0001", "--reason", "x", db=db_path)
    assert r.returncode == 2 and "IR-1999-0001" in r.stderr
