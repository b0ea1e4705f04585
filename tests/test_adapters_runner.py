"""The runner's record keeping: journal before and after, action_run rows, the two-person
rule, plans without I/O, and config checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ircon.adapters import runner
from ircon.adapters.checks import config_problems
from ircon.config import IrconConfig
from ircon.store import incidents
from ircon.store import journal as jr


def _cfg(tmp_path: Path, **extra: object) -> IrconConfig:
    return IrconConfig.model_validate({"adapters": {"bl": {
        "type": "guardrail", "path": str(tmp_path / "bl.txt"), **extra}}})


def _destructive(tmp_path: Path, require: bool) -> IrconConfig:
    return IrconConfig.model_validate({"adapters": {"stop": {
        "type": "shell", "argv": [sys.executable, "-c", "print('stopped')"],
        "destructive": True, "require_approval": require}}})


def test_request_and_result_are_journaled_with_a_run_row(store, tmp_path):
    inc = incidents.create(store, "suffix attack", severity="SEV3")["id"]
    out = runner.run_action(store, _cfg(tmp_path), "bl", "block-pattern", {"pattern": "zz top"},
                            incident=inc, actor="alice@ops", policy="auto-block")
    assert out.ok
    req, res = jr.entries(store, inc)[-2:]
    rb, sb = json.loads(req.body), json.loads(res.body)
    assert req.kind == "action.request" and res.kind == "action.result"
    assert rb["run_id"] == sb["run_id"] == out.run_id
    assert rb["params"] == {"pattern": "zz top"} and rb["policy"] == "auto-block"
    assert rb["plan"]["file"].endswith("bl.txt") and sb["ok"] is True
    assert req.actor == "alice@ops"
    [run] = runner.list_runs(store, incident=inc)
    assert run["status"] == "succeeded" and run["undo_available"] and run["policy"] == \
        "auto-block"
    assert jr.verify(store).ok


def test_plan_action_does_no_io(tmp_path):
    plan = runner.plan_action(_cfg(tmp_path), "bl", "block-pattern", {"pattern": "p q"},
                              actor="a@x")
    assert plan.change == {"add": "p q"}
    assert not (tmp_path / "bl.txt").exists()
    assert any("undo" in line for line in plan.lines())


def test_two_person_rule_on_sev1(store, tmp_path):
    inc = incidents.create(store, "exfiltration", severity="SEV1")["id"]
    cfg = _destructive(tmp_path, require=True)
    with pytest.raises(runner.ApprovalRequired, match="second responder"):
        runner.run_action(store, cfg, "stop", "run", {}, incident=inc, actor="alice@ops")
    with pytest.raises(runner.ApprovalRequired, match="someone other"):
        runner.run_action(store, cfg, "stop", "run", {}, incident=inc, actor="alice@ops",
                          approved_by="alice@ops")
    assert [e.kind for e in jr.entries(store, inc)] == ["incident.opened"]
    out = runner.run_action(store, cfg, "stop", "run", {}, incident=inc, actor="alice@ops",
                            approved_by="bob@ops")
    assert out.ok
    kinds = [e.kind for e in jr.entries(store, inc)]
    assert kinds == ["incident.opened", "action.request", "approval", "action.result"]
    appr = json.loads(jr.entries(store, inc)[2].body)
    assert appr["approved_by"] == "bob@ops" and appr["requested_by"] == "alice@ops"


def test_two_person_rule_does_not_apply_below_sev2_or_when_off(store, tmp_path):
    sev3 = incidents.create(store, "probe", severity="SEV3")["id"]
    sev1 = incidents.create(store, "big", severity="SEV1")["id"]
    assert runner.run_action(store, _destructive(tmp_path, True), "stop", "run", {},
                             incident=sev3, actor="a@x").ok
    assert runner.run_action(store, _destructive(tmp_path, False), "stop", "run", {},
                             incident=sev1, actor="a@x").ok
    # A dry run executes nothing, so it needs no approval either.
    assert runner.run_action(store, _destructive(tmp_path, True), "stop", "run", {},
                             incident=sev1, actor="a@x", dry_run=True).status == "dry-run"


def test_unknown_incident_and_undo_errors(store, tmp_path):
    with pytest.raises(runner.ActionInputError, match="no incident"):
        runner.run_action(store, _cfg(tmp_path), "bl", "block-pattern", {"pattern": "x"},
                          incident="IR-1999-0001", actor="a@x")
    with pytest.raises(runner.ActionInputError, match="no action run"):
        runner.undo_action(store, _cfg(tmp_path), 999, actor="a@x")
    dry = runner.run_action(store, _cfg(tmp_path), "bl", "block-pattern", {"pattern": "x"},
                            incident=None, actor="a@x", dry_run=True)
    with pytest.raises(runner.ActionInputError, match="dry-run"):
        runner.undo_action(store, _cfg(tmp_path), dry.run_id or 0, actor="a@x")


def test_adapter_bug_still_ends_as_a_journaled_failure(store, tmp_path, monkeypatch):
    from ircon.adapters.guardrail import GuardrailAdapter

    def boom(self, plan):  # type: ignore[no-untyped-def]
        raise RuntimeError("unexpected")

    monkeypatch.setattr(GuardrailAdapter, "execute", boom)
    inc = incidents.create(store, "x")["id"]
    out = runner.run_action(store, _cfg(tmp_path), "bl", "block-pattern", {"pattern": "x"},
                            incident=inc, actor="a@x")
    assert not out.ok and "RuntimeError: unexpected" in (out.error or "")
    assert json.loads(jr.entries(store, inc)[-1].body)["ok"] is False


def test_config_problems_name_the_key():
    cfg = IrconConfig.model_validate({"adapters": {
        "a": {"type": "nope"},
        "b": {"type": "shell", "argv": ["/bin/x", "{user}", "{oops"], "params": {"u": "bogus"}},
        "c": {"type": "litellm", "master_key": "plain-secret-in-file"},
        "d": {"type": "flags", "backend": "unleash"},
        "e": {"type": "guardrail"},
        "f": {"type": "kubernetes", "namespace": "Bad_NS"},
        "g": {"type": "alertmanager", "max_duration": "forever"},
        "h": {"type": "http", "url": "http://x/{rule}", "undo_method": "POST"},
    }})
    text = "\n".join(config_problems(cfg))
    for expected in ("adapters.a.type", "adapters.b.params.u", "adapters.b.argv",
                     "adapters.c.master_key", "adapters.d.url", "adapters.d.api_token",
                     "adapters.e.path", "adapters.f.namespace", "adapters.g.max_duration",
                     "adapters.h.url", "adapters.h: undo_method"):
        assert expected in text, expected
    assert "plain-secret-in-file" not in text


def test_generic_http_call_encodes_values_and_undoes(store, monkeypatch):
    from tests.adapters_support import FakeAPI

    class Waf(FakeAPI):
        def handle(self, req):  # type: ignore[no-untyped-def]
            return 200, {"ok": True}

    waf = Waf()
    monkeypatch.setenv("WAF_TOKEN", "waf-token-value-123")
    try:
        cfg = IrconConfig.model_validate({"adapters": {"waf": {
            "type": "http", "url": waf.url + "/api/rules/{rule}/enable",
            "params": {"rule": "identifier", "why": "text"}, "optional": ["why"],
            "bearer_token": "env:WAF_TOKEN", "body": {"rule": "{rule}", "note": "{why}"},
            "undo_method": "POST", "undo_url": waf.url + "/api/rules/{rule}/disable"}}})
        out = runner.run_action(store, cfg, "waf", "call", {"rule": "../../admin"},
                                incident=None, actor="a@x")
        assert out.ok, out.error
        req = waf.requests[-1]
        assert req.path == "/api/rules/..%2F..%2Fadmin/enable"  # one path segment
        assert req.body == {"rule": "../../admin"}  # the optional note was dropped
        assert req.headers["authorization"] == "Bearer waf-token-value-123"
        assert out.plan["headers"]["Authorization"] == "Bearer ********"
        assert runner.undo_action(store, cfg, out.run_id or 0, actor="a@x").ok
        assert waf.requests[-1].path == "/api/rules/..%2F..%2Fadmin/disable"
    finally:
        waf.close()
