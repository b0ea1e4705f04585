"""Loader and lint on broken and hostile files: every problem, with its line and a fix."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ircon.response import template
from ircon.response.library import discover, find, playbook_dirs
from ircon.response.lint import lint_file, lint_text
from ircon.response.loader import MAX_BYTES, load_bytes, load_text
from ircon.response.problems import Problem
from ircon.response.taxonomy import ATLAS_TECHNIQUES, ATLAS_VERSION

GOOD = """\
name: good
version: "1.0"
title: Good
description: A valid playbook.
kinds: [other]
roles:
  - {id: commander, title: Incident commander}
steps:
  - id: look
    kind: manual
    title: Look
    phase: detect
  - id: ask
    kind: decision
    title: Ask
    phase: analyze
    question: Bad?
    options:
      - {id: "yes", label: "Yes", next: block}
      - {id: "no", label: "No", next: end}
  - id: block
    kind: action
    title: Block
    phase: contain
    adapter: litellm
    action: block-key
    params: {key: "{finding.key}"}
"""


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.level == "error"]


def only(problems: list[Problem], needle: str) -> Problem:
    hits = [p for p in problems if needle in p.message]
    assert len(hits) == 1, [str(p) for p in problems]
    return hits[0]


def test_good_file_is_clean() -> None:
    assert lint_text(GOOD) == []


def test_every_bundled_playbook_lints_clean_and_uses_real_atlas_ids(shared_dir: Path) -> None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    atlas = yaml.load((shared_dir / "atlas" / "ATLAS.yaml").read_text(), Loader=loader)
    ids = {t["id"]: t["name"] for m in atlas["matrices"] for t in m["techniques"]}
    assert atlas["version"] == ATLAS_VERSION
    assert ids == ATLAS_TECHNIQUES  # the embedded copy matches the reference
    results = discover(playbook_dirs())
    names = {r.playbook.name for r in results if r.playbook}
    assert {"jailbreak-campaign", "prompt-injection", "adversarial-suffix", "model-extraction",
            "training-data-poisoning", "rag-poisoning", "sensitive-data-leakage",
            "agent-tool-misuse", "denial-of-wallet"} <= names
    for r in results:
        assert lint_file(r.file) == [], r.file
        assert r.playbook is not None
        assert r.playbook.atlas and all(t in ids for t in r.playbook.atlas)
        assert r.playbook.owasp and all(o.split(":")[1] in ("2023", "2025")
                                         for o in r.playbook.owasp)
        assert any(s.kind == "action" for s in r.playbook.steps), r.file


def test_model_problems_are_all_reported_with_lines_and_fixes() -> None:
    text = GOOD.replace("    phase: detect\n", "    phase: detect\n    tme_limit: 10m\n") \
        .replace("version: \"1.0\"", "version: one") \
        .replace("kind: action", "kind: acton")
    problems = lint_text(text, "pb.yaml")
    assert len(problems) == 3, [str(p) for p in problems]
    typo = only(problems, "tme_limit")
    assert typo.line == 13 and "did you mean `time_limit`" in typo.fix
    assert str(typo).startswith("pb.yaml:13: steps[0].tme_limit")
    assert " — " in str(typo)
    ver = only(problems, "version")
    assert ver.line == 2 and "quote a version" in ver.fix
    kind = only(problems, "acton")
    assert kind.line == 23 and "manual, decision, action, notify, wait" in kind.fix


def test_graph_problems_cycles_unreachable_unknown_ids() -> None:
    text = GOOD.replace('{id: "no", label: "No", next: end}',
                        '{id: "no", label: "No", next: nowhere}') + """\
    next: look
  - id: orphan
    kind: manual
    title: Never reached
    phase: recover
"""
    problems = lint_text(text, "pb.yaml")
    assert len(errors(problems)) == 3, [str(p) for p in problems]
    unknown = only(problems, "nowhere")
    assert unknown.line == 20 and "or `end`" in unknown.fix
    cycle = only(problems, "cycle")
    assert "look → ask → block → look" in cycle.message and cycle.line == 28
    orphan = only(problems, "never be reached")
    assert "orphan" in orphan.message and orphan.line == 29


def test_duplicate_step_ids_and_unknown_roles() -> None:
    text = GOOD.replace("  - id: block\n", "  - id: look\n").replace(
        'next: block}', 'next: look}') + "    role: janitor\n"
    problems = errors(lint_text(text, "pb.yaml"))
    only(problems, "duplicate step id 'look'")
    only(problems, "unknown role 'janitor'")


def test_unknown_adapter_action_params_and_fields() -> None:
    cases = {
        "adapter: litellm": ("adapter: litelm", "unknown adapter 'litelm'"),
        "action: block-key": ("action: block-keys", "no action 'block-keys'"),
        'params: {key: "{finding.key}"}': ('params: {ky: "x"}', "needs parameter 'key'"),
    }
    for old, (new, needle) in cases.items():
        text = GOOD.replace(old, new)
        problems = errors(lint_text(text, "pb.yaml"))
        assert problems and needle in problems[0].message, [str(p) for p in problems]
        assert problems[0].line == text.splitlines().index("    " + new) + 1
    p = errors(lint_text(GOOD.replace('params: {key: "{finding.key}"}',
                                      'params: {key: "x", rpm: "3"}'), "pb.yaml"))
    assert "has no parameter 'rpm'" in p[0].message
    # an instance name from the config is accepted in place of a type
    inst = GOOD.replace("adapter: litellm", "adapter: prod-gateway")
    assert errors(lint_text(inst, instances={"prod-gateway": "litellm"})) == []
    assert "configured instances: prod-gateway" in errors(
        lint_text(inst.replace("prod-gateway", "staging"), instances={"prod-gateway": "litellm"})
    )[0].fix
    for bad, needle in (("{finding.keys}", "unknown field {finding.keys}"),
                        ("{incident.__class__}", "unknown field"),
                        ("{finding.key.__globals__}", "unknown field"),
                        ("{ incident.id }", "is not a placeholder"),
                        ("{incident.id", "unbalanced"),
                        ("{secrets.token}", "fields live under")):
        text = GOOD.replace('"{finding.key}"', repr(bad).replace("'", '"'))
        problems = errors(lint_text(text, "pb.yaml"))
        assert problems and needle in problems[0].message, (bad, [str(p) for p in problems])
        assert problems[0].line == 27


def test_unknown_tags_and_clock() -> None:
    text = GOOD.replace("kinds: [other]", 'kinds: [other]\natlas: [AML.T9999]\n'
                        'owasp: ["LLM09:2023", "LLM01:2019"]')
    problems = errors(lint_text(text))
    assert len(problems) == 2, [str(p) for p in problems]
    assert only(problems, "unknown MITRE ATLAS technique AML.T9999").line == 6
    assert only(problems, "edition in LLM01:2019").line == 7
    problems = errors(lint_text(text.replace("LLM09:2023", "LLM11:2025")))
    assert "owasp[0]" in problems[0].message and "LLM01:2025" in problems[0].fix
    text = GOOD.replace('next: block}', 'next: block, starts_clock: gdpr-48h}')
    only(errors(lint_text(text)), "starts_clock")


def test_yaml_bombs_refused_without_expanding() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    bomb = "\n".join(lines) + "\nname: x\n"
    t0 = time.perf_counter()
    res = load_text(bomb, "bomb.yaml")
    assert time.perf_counter() - t0 < 1.0
    assert res.playbook is None
    assert any("alias *a0" in p.message for p in res.problems)
    assert any("anchor &a9" in p.message and p.line == 10 for p in res.problems)
    # merge keys and custom tags too
    res = load_text(GOOD + "x: !!python/object/apply:os.system ['echo pwned']\n")
    assert any("tag tag:yaml.org,2002:python/object/apply:os.system" in p.message
               for p in res.problems)


def test_huge_deep_tabs_duplicates_and_encoding() -> None:
    big = GOOD + "# " + "x" * MAX_BYTES + "\n"
    res = load_bytes(big.encode())
    assert res.problems[0].line == 0 and "larger than 256 KiB" in res.problems[0].message
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    t0 = time.perf_counter()
    res = load_text(deep)
    assert time.perf_counter() - t0 < 1.0
    assert "nesting" in res.problems[0].message
    res = load_text("a: " + "[" * 30 + "]" * 30 + "\n")
    assert "nesting deeper than 24 levels" in res.problems[0].message
    tabs = GOOD.replace("    kind: manual", "\tkind: manual").replace(
        "    phase: analyze", "  \tphase: analyze")
    res = load_text(tabs, "t.yaml")
    assert [(p.line, p.message) for p in res.problems] == [
        (10, "tab character in indentation"), (16, "tab character in indentation")]
    dup = GOOD.replace("    title: Block\n", "    title: Block\n    title: Again\n")
    res = load_text(dup, "d.yaml")
    assert res.playbook is None
    p = only(res.problems, "duplicate key 'title'")
    assert p.line == 24 and "first at line 23" in p.message
    res = load_bytes(GOOD.encode() + b"# \xff\xfe\n")
    assert res.problems[0].line == 28 and "UTF-8" in res.problems[0].message
    res = load_text(GOOD + "---\nname: second\n")
    assert "more than one YAML document" in res.problems[0].message
    res = load_text("- just\n- a list\n")
    assert "top level must be a mapping" in res.problems[0].message
    res = load_text("name: [unclosed\n")
    assert res.problems[0].message.startswith("YAML syntax")


def test_yaml_11_booleans_and_floats_stay_text() -> None:
    text = GOOD.replace('version: "1.0"', "version: 1.10").replace('{id: "no"', "{id: no")
    res = load_text(text)
    assert res.playbook is not None
    assert res.playbook.version == "1.10"
    step = res.playbook.step("ask")
    assert step is not None and [o.id for o in step.options] == ["yes", "no"]  # type: ignore[union-attr]


def test_find_by_name_and_path_and_override(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(GOOD.replace("name: good", "name: jailbreak-campaign"))
    (tmp_path / "broken.yaml").write_text("name: [\n")
    dirs = playbook_dirs([tmp_path])
    res = find("jailbreak-campaign", dirs)
    assert res.file.startswith(str(tmp_path))  # the configured directory overrides
    assert find(str(tmp_path / "mine.yaml"), dirs).playbook is not None
    listed = discover(dirs)
    assert any(r.playbook is None and r.file.endswith("broken.yaml") for r in listed)
    with pytest.raises(LookupError, match="available:"):
        find("nope", dirs)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_loader_never_crashes_on_arbitrary_text(text: str) -> None:
    res = load_text(text)
    assert res.playbook is not None or res.problems
    for p in res.problems:
        assert p.message and p.fix


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.dictionaries(st.sampled_from(["key", "user"]), st.text()))
def test_template_render_is_inert(text: str, finding: dict[str, str]) -> None:
    values = {"finding": finding, "incident": {"id": "IR-2026-0001"}}
    try:
        out = template.render(text, values)
    except template.TemplateError:
        return
    # Whatever came in, rendering only substituted known fields (no re-expansion).
    assert len(out) <= len(text) + sum(len(v) for v in finding.values()) * text.count("{") + 20 * \
        text.count("{")
