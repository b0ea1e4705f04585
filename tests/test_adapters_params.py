"""Typed parameters and placeholders: hostile values are refused or stay one inert value."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ircon.adapters.params import (
    KINDS,
    ActionSpec,
    ParamError,
    ParamSpec,
    display,
    format_matchers,
    key_display,
    parse_duration,
    parse_matchers,
    validate,
)
from ircon.adapters.placeholders import Missing, PlaceholderError, fill, fill_json, names
from ircon.adapters.shell import fill_argv

HOSTILE = ["$(reboot)", "; rm -rf /", "--kubeconfig=/etc/x", "a\nb", "a\x00b", "`id`",
           "-n", "x" * 1_000_000, "a b", "\r\nX-Injected: 1"]


@pytest.mark.parametrize("kind", ["key_id", "user_id", "team_id", "identifier", "model",
                                  "flag", "deployment", "namespace", "integer", "silence_id"])
@pytest.mark.parametrize("value", HOSTILE)
def test_identifier_kinds_refuse_hostile_values(kind: str, value: str) -> None:
    with pytest.raises(ParamError):
        KINDS[kind].check("p", value)


def test_a_one_megabyte_value_is_refused_quickly_and_not_echoed() -> None:
    spec = ActionSpec("a", "", (ParamSpec("user", "user_id"),))
    t0 = time.perf_counter()
    with pytest.raises(ParamError) as ei:
        validate(spec, {"user": "u" * 1_000_000})
    assert time.perf_counter() - t0 < 0.5
    assert len(str(ei.value)) < 300


def test_pattern_and_text_kinds() -> None:
    assert KINDS["pattern"].check("p", "describing.\\ + similarlyNow") == \
        "describing.\\ + similarlyNow"
    for bad in ["a\nb", "a\rb", "a\x00b", "   ", "a\u2028b", "x" * 5000]:
        with pytest.raises(ParamError):
            KINDS["pattern"].check("p", bad)
    assert KINDS["text"].check("c", "line one\nline two") == "line one\nline two"
    with pytest.raises(ParamError):
        KINDS["text"].check("c", "bell\x07")


def test_validate_reports_unknown_missing_and_range() -> None:
    spec = ActionSpec("limit", "", (ParamSpec("key", "key_id"),
                                    ParamSpec("rpm", "integer", required=False, maximum=100)))
    with pytest.raises(ParamError, match="key: required"):
        validate(spec, {})
    with pytest.raises(ParamError, match="unknown parameter"):
        validate(spec, {"key": "sk-1", "evil": "x"})
    with pytest.raises(ParamError, match="at most 100"):
        validate(spec, {"key": "sk-1", "rpm": "101"})
    assert validate(spec, {"key": "sk-abc", "rpm": "10"}) == {"key": "sk-abc", "rpm": 10}


def test_keys_are_never_displayed_whole() -> None:
    spec = ActionSpec("b", "", (ParamSpec("key", "key_id"),))
    shown = display(spec, {"key": "sk-live-ABCDEFGH12345678"})
    assert "ABCDEFGH" not in shown["key"] and shown["key"].startswith("sk-…5678")
    assert key_display("0123abcd" * 8).endswith("…")


def test_durations() -> None:
    assert parse_duration("d", "2h") == 7200
    assert parse_duration("d", "1h30m") == 5400
    assert parse_duration("d", "7d") == 7 * 86400
    for bad in ["", "0s", "2x", "h", "-1h", "1h 2m", "99999999999s"]:
        with pytest.raises(ParamError):
            parse_duration("d", bad)


def test_matchers_parse_like_alertmanager() -> None:
    ms = parse_matchers("m", 'alertname="JailbreakCampaign",model=~"gpt-4.*", team!="x"')
    assert ms == [
        {"name": "alertname", "value": "JailbreakCampaign", "isRegex": False, "isEqual": True},
        {"name": "model", "value": "gpt-4.*", "isRegex": True, "isEqual": True},
        {"name": "team", "value": "x", "isRegex": False, "isEqual": False},
    ]
    assert parse_matchers("m", '{a="q\\"uote,d"}')[0]["value"] == 'q"uote,d'
    assert parse_matchers("m", format_matchers(ms)) == ms


@pytest.mark.parametrize("bad", ['alertname=""', 'x=~".*"', "", "=x", 'a="unterminated',
                                 'a=~"("', 'a="1" b="2"', "a" * 9000])
def test_bad_or_match_everything_matchers_are_refused(bad: str) -> None:
    with pytest.raises(ParamError):
        parse_matchers("matchers", bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_refused_or_safe_as_an_identifier(s: str) -> None:
    for kind in ("user_id", "team_id", "identifier", "key_id", "deployment", "flag"):
        try:
            v = KINDS[kind].check("p", s)
        except ParamError:
            continue
        assert not v.startswith("-")
        assert all(c.isprintable() and not c.isspace() for c in v)
        assert not any(c in v for c in "$`;|&<>\"'\\")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_matchers_parser_never_crashes(s: str) -> None:
    try:
        ms = parse_matchers("m", s)
    except ParamError:
        return
    assert 1 <= len(ms) <= 32


def test_placeholders_are_data_not_expressions() -> None:
    assert fill("--user={u}", {"u": "{x}"}) == "--user={x}"
    assert fill("{{literal}} {u}", {"u": "v"}) == "{literal} v"
    with pytest.raises(PlaceholderError):
        names("{u.__class__}")
    with pytest.raises(Missing):
        fill("{missing}", {})
    assert fill_json({"ids": ["{u}"], "n": "{n}", "s": "x-{n}"}, {"u": "a", "n": 3}) == \
        {"ids": ["a"], "n": 3, "s": "x-3"}


def test_argv_fill_keeps_each_value_one_item_and_refuses_option_values() -> None:
    argv = fill_argv(["/bin/tool", "--user", "{u}", "--note={t}"],
                     {"u": "alice", "t": "; rm -rf / $(reboot)"}, optional=set())
    assert argv == ["/bin/tool", "--user", "alice", "--note=; rm -rf / $(reboot)"]
    with pytest.raises(ParamError, match="option"):
        fill_argv(["/bin/tool", "{t}"], {"t": "--kubeconfig=/etc/x"}, optional=set())
    assert fill_argv(["/bin/tool", "--", "{t}"], {"t": "-x"}, optional=set()) == \
        ["/bin/tool", "--", "-x"]
    assert fill_argv(["/bin/tool", "--r={r}"], {}, optional={"r"}) == ["/bin/tool"]
