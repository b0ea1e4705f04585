"""STIX 2.1 export: parsed back with stix2, the expected objects, nothing private."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import stix2

from ircon.model import kinds as K
from ircon.report import stix
from ircon.store import incidents, journal
from ircon.store.tables import Incident
from tests.conftest import run_ircon
from tests.report_support import HOSTILE, frozen_clock, scripted_incident


@pytest.fixture
def scripted(store):  # type: ignore[no-untyped-def]
    with frozen_clock() as clock:
        hid = scripted_incident(store, clock)
    return store, hid


def _set_tlp(store, hid: str, tlp: str) -> None:  # type: ignore[no-untyped-def]
    t = Incident.__table__  # type: ignore[attr-defined]
    with store.write() as conn:
        conn.execute(t.update().where(t.c.human_id == hid).values(tlp=tlp))


def _by_type(bundle) -> dict[str, list]:  # type: ignore[no-untyped-def]
    out: dict[str, list] = {}
    for o in bundle.objects:
        out.setdefault(o.type, []).append(o)
    return out


def test_bundle_parses_back_with_expected_objects(scripted) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    text = stix.export(store, hid)
    bundle = stix2.parse(text, allow_custom=False)
    objs = _by_type(bundle)
    # Attack patterns carry their ATLAS ids as external references.
    aps = {o.external_references[0].external_id: o for o in objs["attack-pattern"]}
    assert set(aps) == {"AML.T0043", "AML.T0054"}
    ref = aps["AML.T0054"].external_references[0]
    assert ref.source_name == "mitre-atlas"
    assert ref.url == "https://atlas.mitre.org/techniques/AML.T0054"
    assert aps["AML.T0054"].name == "AML.T0054 LLM Jailbreak"
    # One campaign for the correlated activity.
    (camp,) = objs["campaign"]
    assert "camp-7f3a" in camp.name and "4 member(s)" in camp.description
    # Indicators: the suffix text (literal PCRE), the public IP only, keys hashed.
    inds = objs["indicator"]
    text_inds = [i for i in inds if i.pattern_type == "pcre"]
    assert len(text_inds) == 1 and text_inds[0].name.startswith("Adversarial suffix")
    # The PCRE matches the attacker text exactly (\x{..} rewritten for Python's re).
    py = re.sub(r"\\x\{([0-9a-f]+)\}", lambda m: f"\\U{int(m.group(1), 16):08x}",
                text_inds[0].pattern)
    assert re.fullmatch(py, HOSTILE) and not re.fullmatch(py, HOSTILE + "x")
    ips = [i.pattern for i in inds if "addr:value" in i.pattern]
    assert ips == ["[ipv4-addr:value = '185.220.101.4']"]
    key_patterns = {i.pattern for i in inds if "artifact:hashes" in i.pattern}
    assert key_patterns == {
        f"[artifact:hashes.'SHA-256' = '{hashlib.sha256(k.encode()).hexdigest()}']"
        for k in ("key-alias-0", "key-alias-1")}
    # Indicators point at the campaign; the campaign uses the attack patterns.
    rels = {(r.source_ref.split("--")[0], r.relationship_type, r.target_ref.split("--")[0])
            for r in objs["relationship"]}
    assert rels == {("indicator", "indicates", "campaign"), ("campaign", "uses", "attack-pattern")}
    # The incident as a report referencing everything, with the OWASP category.
    (report,) = objs["report"]
    assert report.name.startswith(hid)
    ids = {o.id for o in bundle.objects if o.type not in ("report", "marking-definition")}
    assert set(report.object_refs) == ids
    assert any(r.get("external_id") == "LLM01:2025" for r in report.external_references)
    # TLP:AMBER (the default) on every object.
    for o in bundle.objects:
        if o.type != "marking-definition":
            assert o.object_marking_refs == [stix2.TLP_AMBER.id]


def test_nothing_private_leaves(scripted) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    text = stix.export(store, hid)
    for private in ("key-alias-0", "key-alias-1", "key-alias-2", "user-0", "user-1",
                    "10.0.0.5", "hunter2", "alice@sec", "bob@sec"):
        assert private not in text, private
    assert "\x1b" not in text and "\u202e" not in text  # attacker text only as \\x{..} escapes


def test_same_journal_same_objects(scripted) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    assert stix.export(store, hid) == stix.export(store, hid)
    before = json.loads(stix.export(store, hid))
    journal.append(store, hid, K.NOTE, {"text": "later"})
    after = json.loads(stix.export(store, hid))
    # Re-exports update the same objects (consumers do not get duplicates).
    assert {o["id"] for o in before["objects"]} == {o["id"] for o in after["objects"]}
    assert before["id"] != after["id"]


@pytest.mark.parametrize("tlp,marking", [("clear", stix2.TLP_WHITE), ("green", stix2.TLP_GREEN),
                                         ("red", stix2.TLP_RED), ("AMBER", stix2.TLP_AMBER)])
def test_tlp_marking_follows_the_incident(scripted, tlp: str, marking) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    _set_tlp(store, hid, tlp)
    bundle = stix2.parse(stix.export(store, hid), allow_custom=False)
    assert marking.id in {o.id for o in bundle.objects if o.type == "marking-definition"}
    assert all(o.object_marking_refs == [marking.id] for o in bundle.objects
               if o.type != "marking-definition")


def test_amber_strict_adds_a_statement(scripted) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    _set_tlp(store, hid, "amber+strict")
    bundle = stix2.parse(stix.export(store, hid), allow_custom=False)
    report = next(o for o in bundle.objects if o.type == "report")
    assert stix2.TLP_AMBER.id in report.object_marking_refs and len(report.object_marking_refs) == 2


def test_incident_without_findings_is_still_a_valid_report(store) -> None:  # type: ignore[no-untyped-def]
    hid = incidents.create(store, "manual <b>{{x}}</b>")["id"]
    bundle = stix2.parse(stix.export(store, hid), allow_custom=False)
    types = sorted(o.type for o in bundle.objects)
    assert types == ["identity", "marking-definition", "report"]


def test_cli_stix(scripted, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    out = tmp_path / "intel.json"
    r = run_ircon("stix", hid, "-o", str(out), db=db_path)
    assert r.returncode == 0, r.stderr
    assert "TLP:AMBER" in r.stdout
    stix2.parse(out.read_text(), allow_custom=False)
    last = journal.entries(store, hid)[-1]
    assert last.kind == K.EXPORT and json.loads(last.body)["format"] == "stix-2.1"
    _set_tlp(store, hid, "purple")
    r = run_ircon("stix", hid, db=db_path)
    assert r.returncode == 2 and "TLP" in r.stderr
