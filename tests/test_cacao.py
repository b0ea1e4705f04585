"""CACAO 2.0: export validated against the official schemas, round trip, foreign imports."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from ircon.response import cacao
from ircon.response.library import discover, playbook_dirs
from ircon.response.lint import lint_text
from tests.conftest import run_ircon

DATA = Path(__file__).parent / "data" / "cacao"
ID_RE = re.compile(r"^([a-z][a-z0-9-]+[a-z0-9])--([0-9a-f-]{36})$")


_VALIDATORS: dict[str, Any] = {}


@pytest.fixture
def validators(shared_dir: Path) -> dict[str, Any]:
    """Draft-7 validators for the playbook and for each command type, with a registry.

    The schemas declare draft-07 and ``$ref`` each other by relative paths
    resolved against their ``$id`` URLs; every file is registered under its
    ``$id`` so nothing is fetched from the network.
    """
    if _VALIDATORS:
        return _VALIDATORS
    root = shared_dir / "cacao" / "schemas"
    if not root.is_dir():
        pytest.skip("../shared/cacao/schemas is not present")
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource

    docs = {f: json.loads(f.read_text()) for f in root.rglob("*.json")}
    registry = Registry().with_resources(
        (d["$id"], Resource.from_contents(d)) for d in docs.values()
    )
    out = {"playbook": Draft7Validator(docs[root / "playbook.json"], registry=registry)}
    for name in ("manual", "bash", "http-api"):
        out[name] = Draft7Validator(docs[root / "commands" / f"{name}.json"], registry=registry)
    _VALIDATORS.update(out)
    return out


def schema_errors(validators: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    errs = [f"{list(e.absolute_path)}: {e.message}"
            for e in validators["playbook"].iter_errors(doc)]
    # action.json checks commands only against the generic command-data schema;
    # check each against its own type's schema too.
    for sid, step in doc.get("workflow", {}).items():
        for i, cmd in enumerate(step.get("commands", [])):
            v = validators.get(cmd.get("type"))
            if v is None:
                errs.append(f"{sid} command {i}: unexpected type {cmd.get('type')}")
                continue
            errs += [f"{sid} command {i}: {e.message}" for e in v.iter_errors(cmd)]
    return errs


def bundled() -> list[Any]:
    return [r for r in discover(playbook_dirs()) if r.playbook is not None]


def test_every_bundled_playbook_exports_valid_cacao_and_round_trips(validators) -> None:
    seen_types: set[str] = set()
    for res in bundled():
        pb = res.playbook
        doc = cacao.export(pb)
        assert schema_errors(validators, doc) == [], pb.name
        types = {s["type"] for s in doc["workflow"].values()}
        assert {"start", "end", "action", "if-condition"} <= types
        cmd_types = {c["type"] for s in doc["workflow"].values() for c in s.get("commands", [])}
        assert "manual" in cmd_types and cmd_types <= {"manual", "bash", "http-api"}
        seen_types.update(cmd_types)
        assert doc["workflow_start"] in doc["workflow"]
        for name, var in doc["playbook_variables"].items():
            assert re.fullmatch(r"__[a-z][a-z0-9_-]*__", name) and isinstance(var["value"], str)
        back = cacao.import_cacao(json.dumps(doc), file=f"{pb.name}.json")
        assert back.errors == [] and back.warnings == []
        assert back.playbook == pb, pb.name
        assert lint_text(back.yaml_text) == []
    assert seen_types == {"manual", "bash", "http-api"}


def test_export_is_deterministic_with_spec_conformant_ids() -> None:
    pb = next(r.playbook for r in bundled() if r.playbook.name == "jailbreak-campaign")
    a, b = cacao.export_json(pb), cacao.export_json(pb)
    assert a == b
    doc = json.loads(a)
    m = ID_RE.match(doc["id"])
    assert m and uuid.UUID(m.group(2)).version == 5
    assert doc["id"] == "playbook--" + str(uuid.uuid5(
        cacao.CACAO_NAMESPACE,
        json.dumps({"name": doc["name"], "playbook_types": doc["playbook_types"]},
                   sort_keys=True, separators=(",", ":")),
    ))
    ids = list(doc["workflow"]) + list(doc["agent_definitions"]) + list(doc["target_definitions"])
    assert len(ids) == len(set(ids))
    for oid in ids:
        m = ID_RE.match(oid)
        assert m, oid
        assert uuid.UUID(m.group(2)).version == 4  # steps MUST use UUIDv4 (spec 10.10)
        step = doc["workflow"].get(oid) or doc["agent_definitions"].get(oid) or \
            doc["target_definitions"][oid]
        assert step["type"] == m.group(1)
    assert doc["created"] == doc["modified"] == "2026-01-15T00:00:00.000Z"
    # templated parameters became variable references
    block = next(s for s in doc["workflow"].values() if s.get("name") == "Block the attacking key")
    cmd = block["commands"][0]
    assert cmd["command"] == "POST /key/block HTTP/1.1"
    assert json.loads(cmd["content"]) == {"key": "__finding_key__:value"}
    assert "__finding_key__" in doc["playbook_variables"]
    assert block["agent"] in doc["agent_definitions"]
    assert all(t in doc["target_definitions"] for t in block["targets"])
    # decisions with four options are chained if-conditions
    high_risk = [s for s in doc["workflow"].values() if s["type"] == "if-condition"
                 and s["name"].startswith("Serious incident")]
    assert len(high_risk) == 3


def test_conforming_files_written_from_the_spec(validators) -> None:
    for name in ("key-compromise.json", "model-rollback.json"):
        doc = json.loads((DATA / name).read_text())
        assert schema_errors(validators, doc) == [], name


def test_import_key_compromise_maps_the_http_call() -> None:
    res = cacao.import_cacao((DATA / "key-compromise.json").read_bytes(), file="kc.json")
    assert res.errors == [] and res.warnings == []
    pb = res.playbook
    assert pb is not None
    assert pb.atlas == ["AML.T0040"] and pb.owasp == ["LLM10:2025"]
    assert pb.severity_hint == "SEV2" and pb.version == "2025.3.5"
    kinds = [s.kind for s in pb.steps]
    assert kinds == ["manual", "decision", "action"]
    review, question, block = pb.steps
    assert review.role == "soc-analyst" and review.time_limit == "30m"
    assert "{input.compromised_key}" in review.description
    assert question.options[0].next == block.id and question.options[1].next == "end"
    assert (block.adapter, block.action, block.params) == (
        "litellm", "block-key", {"key": "{input.compromised_key}"})
    assert lint_text(res.yaml_text) == []


def test_import_model_rollback_keeps_what_it_cannot_map() -> None:
    res = cacao.import_cacao((DATA / "model-rollback.json").read_bytes(), file="mr.json")
    assert res.errors == []
    assert any("parallel" in w for w in res.warnings)
    assert any("another playbook" in w for w in res.warnings)
    pb = res.playbook
    assert pb is not None
    by_title = {s.title: s for s in pb.steps}
    count = by_title["Count recent errors"]
    # base64 command decoded, kept verbatim as manual text
    assert count.kind == "manual"
    assert 'kubectl logs deployment/model-server -n ml --since=1h | grep -c "error"' in \
        count.description
    # on_success/on_failure of a manual step became a follow-up question
    result = pb.step(count.next)
    assert result is not None and result.kind == "decision"
    assert {o.id for o in result.options} == {"succeeded", "failed"}
    rollback = by_title["Roll back the deployment"]
    assert (rollback.adapter, rollback.action) == ("kubernetes", "rollback")
    assert rollback.params == {"deployment": "model-server", "namespace": "{input.namespace}"}
    scale = by_title["Scale the model server to zero"]
    assert (scale.action, scale.params["namespace"]) == ("scale-zero", "ml")
    switch = by_title["How bad is it?"]
    assert [o.id for o in switch.options] == ["low", "high", "critical"]
    assert "playbook--33cc44dd" in by_title["Run the customer communication playbook"].description
    assert lint_text(res.yaml_text) == []


def test_import_nonconforming_file_warns_and_still_converts(validators) -> None:
    raw = (DATA / "nonconforming.json").read_bytes()
    assert schema_errors(validators, json.loads(raw))  # it really is non-conforming
    res = cacao.import_cacao(raw, file="nc.json")
    assert res.errors == []
    w = "\n".join(res.warnings)
    for needle in (
        "spec_version is 'cacao-1.0'",
        "required property 'created_by' is missing",
        "playbook id is not an identifier of the form type--UUID",
        "workflow step 'action--2' is not an identifier",
        "variable '__max_requests__' has a non-string value (int)",
        "variable '__auto_block__' has a non-string value (bool)",
        "variable '__context__' has a non-string value (dict)",
        "variable name 'user_id' is not of the form __name__",
        "workflow_start does not name a step",
        "'action--missing', which is not in the workflow",
        "'action--orphan' cannot be reached",
        "loop from step-4 back to while-condition--3 cut",
        "powershell command kept as manual text",
        "command_b64 value is not valid base64",
        "created is not a UTC timestamp",
        "severity 'high' is not a whole number",
    ):
        assert needle in w, needle
    pb = res.playbook
    assert pb is not None
    first = pb.steps[0]
    assert first.title == "Pull the chat transcript"
    assert "Get-Transcript -User $user_id" in first.description  # original text kept
    assert lint_text(res.yaml_text) == []


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "a CACAO playbook is a JSON object"),
        (b"[" * 100 + b"]" * 100, "nested deeper"),
        (b'{"type": "playbook", "workflow": {}}', "no workflow steps"),
        (b" " * (cacao.MAX_CACAO_BYTES + 1), "larger than"),
    ],
)
def test_import_refuses_what_it_cannot_read(data: bytes, needle: str) -> None:
    res = cacao.import_cacao(data)
    assert res.playbook is None and any(needle in e for e in res.errors), res.errors


def test_hostile_text_in_a_foreign_file_stays_inert() -> None:
    doc = json.loads((DATA / "key-compromise.json").read_text())
    step = doc["workflow"]["action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"]
    step["name"] = "\x1b]8;;http://evil\x07click\x1b]8;;\x07 {incident.__class__} {{x}}"
    step["commands"][0]["command"] = "$(reboot); rm -rf / {secrets.token}"
    res = cacao.import_cacao(json.dumps(doc))
    assert res.errors == [] and res.playbook is not None
    s = res.playbook.steps[0]
    assert "$(reboot); rm -rf / {{secrets.token}}" in s.description  # braces escaped
    assert s.kind == "manual"  # never turned into something that runs


def test_cli_export_and_import(tmp_path: Path) -> None:
    out = tmp_path / "dow.json"
    r = run_ircon("playbook", "export-cacao", "denial-of-wallet", "-o", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["spec_version"] == "cacao-2.0"
    r = run_ircon("playbook", "export-cacao", "denial-of-wallet")
    assert json.loads(r.stdout) == doc
    back = tmp_path / "dow.yaml"
    r = run_ircon("playbook", "import-cacao", str(out), "-o", str(back))
    assert r.returncode == 0 and r.stderr.strip() == f"wrote {back}"
    r = run_ircon("playbook", "lint", str(back))
    assert r.returncode == 0, r.stdout
    r = run_ircon("playbook", "import-cacao", str(DATA / "nonconforming.json"))
    assert r.returncode == 0
    assert "warning: spec_version is 'cacao-1.0'" in r.stderr
    assert r.stdout.startswith("# Imported from CACAO")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    r = run_ircon("playbook", "import-cacao", str(bad))
    assert r.returncode == 1 and "not JSON" in " ".join(r.stderr.split())
    r = run_ircon("playbook", "export-cacao", "no-such-playbook")
    assert r.returncode == 1 and "no playbook named" in " ".join(r.stderr.split())
