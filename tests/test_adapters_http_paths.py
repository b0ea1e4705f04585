"""A value placed in a URL path stays inside the segment it was configured for.

``/`` is percent-encoded, but ``.`` and ``..`` are unreserved: a client resolves
them as path steps, so ``/api/users/{user}/disable`` with ``..`` would reach
``/api/disable``. Such values are refused before anything is sent.
"""

from __future__ import annotations

from typing import Any

import pytest

from ircon.adapters import runner
from ircon.config import IrconConfig
from tests.adapters_support import FakeAPI, FakeLiteLLM


class Admin(FakeAPI):
    def handle(self, req: Any) -> tuple[int, Any]:
        return 200, {"ok": True}


@pytest.fixture
def admin():
    api = Admin()
    yield api
    api.close()


def _cfg(url: str) -> IrconConfig:
    return IrconConfig.model_validate({"adapters": {"adm": {
        "type": "http", "url": url + "/api/users/{user}/disable",
        "params": {"user": "user_id"}}}})


@pytest.mark.parametrize("value", ["..", ".", "..."])
def test_dot_segments_are_refused_and_nothing_is_sent(store, admin, value: str) -> None:
    with pytest.raises(runner.ActionInputError, match="URL path"):
        runner.run_action(store, _cfg(admin.url), "adm", "call", {"user": value},
                          incident=None, actor="a@x")
    assert admin.requests == []


def test_ordinary_values_with_dots_still_reach_their_segment(store, admin) -> None:
    for value in ("alice.smith", "..a", "a..b"):
        out = runner.run_action(store, _cfg(admin.url), "adm", "call", {"user": value},
                                incident=None, actor="a@x")
        assert out.ok, out.error
    assert [r.path for r in admin.requests] == [
        "/api/users/alice.smith/disable", "/api/users/..a/disable",
        "/api/users/a..b/disable"]


def test_litellm_model_switch_refuses_a_dot_segment_deployment(store) -> None:
    api = FakeLiteLLM()
    try:
        cfg = IrconConfig.model_validate({"adapters": {"gw": {
            "type": "litellm", "url": api.url, "master_key": "env:LITELLM_MASTER_KEY"}}})
        with pytest.raises(runner.ActionInputError, match="URL path"):
            runner.run_action(store, cfg, "gw", "switch-model",
                              {"model_id": "..", "target": "openai/gpt-4o-mini"},
                              incident=None, actor="a@x")
        assert not any(m == "PATCH" for m, _ in api.paths())
    finally:
        api.close()
