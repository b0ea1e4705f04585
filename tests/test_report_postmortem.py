"""Post-mortem drafts: golden file, hostile text, condensed timelines, team templates."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ircon.model import kinds as K
from ircon.report import postmortem
from ircon.report.facts import derive
from ircon.report.markdown import md_code, md_text
from ircon.store import incidents, journal
from ircon.store.journal import NewEntry, append_many
from tests.conftest import run_ircon
from tests.report_support import frozen_clock, scripted_incident

GOLDEN = Path(__file__).parent / "report_golden" / "postmortem.md"
GENERATED = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def scripted(store):  # type: ignore[no-untyped-def]
    with frozen_clock() as clock:
        hid = scripted_incident(store, clock)
    return store, hid


def _draft(store, hid, **kw):  # type: ignore[no-untyped-def]
    return postmortem.draft_markdown(store, hid, generated_at=GENERATED, **kw)


def test_golden_postmortem(scripted) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    text = _draft(store, hid)
    if os.environ.get("IRCON_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_sections_teams_expect(scripted) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    text = _draft(store, hid)
    for heading in ("# Post-mortem:", "## Authors", "## Summary", "## Impact", "## Detection",
                    "## Response timeline", "## Containment and recovery", "## Metrics",
                    "## Regulatory and contractual clocks",
                    "## Root cause, trigger and contributing factors", "### What went well",
                    "### What went badly", "### Where we got lucky", "## Action items",
                    "## Supporting information"):
        assert heading in text, heading
    # Facts computed from the journal, not placeholders.
    assert "| Time to contain (TTC) | 18m 30s |" in text
    assert "| Time to detect (TTD) | 20m 00s |" in text
    assert "| gdpr-72h | 2026-03-14 09:07:00 | 2026-03-17 09:07:00 |" in text
    assert "| SEV2 | 3h 12m 15s |" in text and "| SEV3 | 6m 30s |" in text
    assert "AML.T0054 (LLM Jailbreak)" in text
    assert "Campaign camp-7f3a: 4 member(s)" in text
    assert "- alice@sec — commander" in text
    assert "edge block\\_ip | \\{\"ip\": \"185.220.101.4\"\\} | failed: HTTP 503" in text
    head = journal.head(store, hid)[1]
    assert head in text


def _outside_fences(md: str) -> str:
    """The draft without its fenced blocks (where text is literal by construction)."""
    return re.sub(r"(?ms)^(`{3,})[a-z]*\n.*?\n\1$", "", md)


def test_hostile_text_is_literal(scripted) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    text = _draft(store, hid)
    # Never evaluated: {{ 7*7 }} stays an expression, the {% if %} tags stay around JINJA.
    assert not re.search(r"(?<![0-9a-f])49(?![0-9a-f])", text)
    assert all(text[m.start() - 2:m.start()] in ("%}", "\\}")
               for m in re.finditer("JINJA", text))
    assert "\x1b" not in text and "\u202e" not in text
    prose = _outside_fences(text)
    # Outside code fences no metacharacter of attacker text survives unescaped.
    hostile = [line for line in prose.splitlines() if "7\\*7" in line]
    assert len(hostile) >= 2  # the note and the first finding's title
    for line in hostile:
        for raw in ("{", "}", "<", "*", "[", "`", "|"):
            body = line.strip("|")  # table cell borders are the template's own
            assert not re.search(r"(?<!\\)" + re.escape(raw), body.replace(" | ", "  ")), (
                raw, line)
    assert "\\{\\{ 7\\*7 \\}\\}" in prose and "\\<script\\>" in prose
    # Inside the evidence fence the text is shown as it was, with control characters visible.
    assert "{{ 7*7 }} {% if true %}JINJA{% endif %}" in text
    assert "\\e[31mRED" in text and "<U+202E>evil" in text
    # The fence is longer than any backtick run inside it, so nothing closes it early.
    assert "````text\n{{ 7*7 }}" in text
    # Table rows keep their column count: pipes in attacker text are escaped.
    for line in text.splitlines():
        if line.startswith("| 2026-03-14 09:07:00 | bob@sec |"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 4


def test_hostile_title_and_team_template_cannot_evaluate(store, tmp_path: Path) -> None:
    hid = incidents.create(store, "{{ 7*7 }} {% for x in range(3) %}L{% endfor %} <b>x</b>")["id"]
    journal.append(store, hid, K.NOTE, {"text": "{{ config }} {{ ''.__class__ }}"})
    text = _draft(store, hid)
    words = re.sub(r"[0-9a-f]{12,}", "", text)  # hashes may contain any digits
    assert "49" not in words and "LLL" not in words and "<class" not in words
    assert "\\{\\{ 7\\*7 \\}\\}" in text and "\\<b\\>x\\</b\\>" in text


def test_sandbox_refuses_python_internals(scripted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    evil = tmp_path / "evil.md.j2"
    evil.write_text("{{ pm.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(postmortem.TemplateProblem) as err:
        _draft(store, hid, template=evil)
    assert str(evil) in str(err.value)


def test_team_template_extends_default(scripted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    team = tmp_path / "team.md.j2"
    team.write_text(
        '{% extends "postmortem.md.j2" %}\n'
        "{% block lessons %}\n## Our lessons\n\n{{ pm.incident }} by {{ pm.commander }}\n"
        "{% endblock %}\n")
    text = _draft(store, hid, template=team)
    assert "## Our lessons" in text and "IR-2026-0001 by alice@sec" in text
    assert "### What went well" not in text and "## Metrics" in text


def test_team_template_values_are_escaped_too(scripted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    team = tmp_path / "notes.md.j2"
    team.write_text("{% for i in pm.timeline %}{{ i.text }}\n{% endfor %}"
                    "{{ pm.excerpts[0][1] }}\n{{ pm.excerpts[0][1]|tojson }}\n")
    text = _draft(store, hid, template=team)
    assert "{{" not in text and "<script>" not in text and "\x1b" not in text


def test_html_template_autoescapes(scripted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    team = tmp_path / "pm.html.j2"
    team.write_text("<h1>{{ pm.title }}</h1><ul>{% for i in pm.timeline %}<li>{{ i.text }}</li>"
                    "{% endfor %}</ul>{{ pm.excerpts[0][1]|codeblock }}")
    text = _draft(store, hid, template=team)
    assert "<script>" not in text and "&lt;script&gt;" in text and "<pre>" in text


def test_template_errors_name_file_and_line(scripted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    bad = tmp_path / "bad.md.j2"
    bad.write_text("ok\n\n{% if pm.title %}\nno endif\n")
    with pytest.raises(postmortem.TemplateProblem, match=r"bad\.md\.j2:\d+: template syntax"):
        _draft(store, hid, template=bad)
    typo = tmp_path / "typo.md.j2"
    typo.write_text("line one\n{{ pm.titel }}\n")
    with pytest.raises(postmortem.TemplateProblem, match=r"typo\.md\.j2.*titel"):
        _draft(store, hid, template=typo)


def test_condensed_timeline_stays_readable(store) -> None:  # type: ignore[no-untyped-def]
    hid = incidents.create(store, "flood", severity="SEV2", kind="probing")["id"]
    batch = []
    for i in range(6000):
        batch.append(NewEntry(K.ALERT, {"source": "am", "fingerprint": f"f{i % 50}",
                                        "name": f"Probe{i % 7}", "labels": {"ip": "198.51.100.9"}}))
        if i % 1000 == 999:
            batch.append(NewEntry(K.DECISION, {"step": f"s{i}", "option": "block", "next": "x"}))
            batch.append(NewEntry(K.ESCALATION, {"what": f"page {i}", "targets": ["leads"]}))
        if i % 10 == 0:
            batch.append(NewEntry(K.NOTE, {"text": f"note {i}"}))
    append_many(store, hid, batch)
    pm = derive(incidents.get(store, hid), journal.iter_entries(store, hid))
    kept = {k: sum(1 for t in pm.timeline if t.kind == k) for k in (K.DECISION, K.ESCALATION)}
    assert kept == {K.DECISION: 6, K.ESCALATION: 6}  # every decision and escalation kept
    assert sum(1 for t in pm.timeline if t.kind == K.NOTE) == 200  # notes up to a budget
    # Bounded by what is kept one by one (each may split a run), not by the entry count.
    assert len(pm.timeline) <= 2 * (200 + 12) + 1
    total = sum(t.count for t in pm.timeline)
    assert total == pm.journal_count == len(batch) + 1  # nothing silently dropped
    runs = [t for t in pm.timeline if t.count > 1]
    assert runs and "alerts (Probe" in runs[0].text
    assert pm.impact.alerts == 6000 and pm.impact.ip_count == 1


def test_cli_postmortem_writes_and_journals(scripted, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, hid = scripted
    out = tmp_path / "pm.md"
    before = journal.head(store, hid)[0]
    r = run_ircon("postmortem", hid, "-o", str(out), db=db_path)
    assert r.returncode == 0, r.stderr
    assert "## Response timeline" in out.read_text()
    last = journal.entries(store, hid, after_seq=before)
    assert [e.kind for e in last] == [K.EXPORT]
    body = json.loads(last[0].body)
    assert body["format"] == "postmortem" and body["file"] == "pm.md" and body["head_seq"] == before
    r = run_ircon("postmortem", hid, db=db_path)
    assert r.returncode == 0 and r.stdout.startswith("# Post-mortem:")
    bad = tmp_path / "bad.j2"
    bad.write_text("{% if %}")
    r = run_ircon("postmortem", hid, "--template", str(bad), db=db_path)
    assert r.returncode == 2 and "bad.j2" in r.stderr
    r = run_ircon("postmortem", "IR-2026-9999", db=db_path)
    assert r.returncode != 0 and "no incident IR-2026-9999" in r.stderr


def test_facts_tolerate_missing_and_odd_bodies(store) -> None:  # type: ignore[no-untyped-def]
    hid = incidents.create(store, "odd")["id"]
    for kind, body in ((K.ALERT, {}), (K.FINDING, {"evidence": "x", "atlas": "AML.T0051"}),
                       (K.ACTION_RESULT, {"ok": "yes"}), (K.CLOCK, {"deadline": "soon"}),
                       (K.STATUS, {}), (K.SEVERITY, {"reasons": None}), (K.ROLE, {"person": 3}),
                       (K.DECISION, {}), ("future.kind", {"x": [1, 2]}),
                       (K.ESCALATION, {"targets": "x"}), (K.NOTIFICATION, {})):
        journal.append(store, hid, kind, body)
    text = _draft(store, hid)
    assert "## Metrics" in text and "future.kind" not in text.split("## Metrics")[1]


ESCAPED = set("\\`*_{}[]<>|~&$")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_md_text_leaves_no_live_markup(s: str) -> None:
    out = md_text(s, None)
    assert "\n" not in out and "\x1b" not in out
    i = 0
    while i < len(out):  # every special character is preceded by a backslash escape
        c = out[i]
        if c == "\\":
            i += 2
            continue
        assert c not in ESCAPED, (s, out)
        i += 1
    assert not re.match(r"\s*(#{1,6}(\s|$)|[-+](\s|$)|>|\d{1,9}[.)](\s|$))", out)


@given(st.text(max_size=40))
def test_md_code_span_cannot_be_closed(s: str) -> None:
    out = md_code(s, None)
    fence = re.match(r"`+", out)
    assert fence is not None
    inner = out[len(fence.group(0)):-len(fence.group(0))]
    assert fence.group(0) not in inner


def test_running_clock_judged_at_draft_time(store) -> None:  # type: ignore[no-untyped-def]
    hid = incidents.create(store, "clock")["id"]
    journal.append(store, hid, K.CLOCK, {"action": "start", "clock": "nis2-24h",
                                         "deadline": "2026-01-02T00:00:00+00:00"})
    early = datetime(2026, 1, 1, tzinfo=UTC)
    late = datetime(2026, 1, 3, tzinfo=UTC)
    assert "| nis2-24h |" in _draft(store, hid)
    pm_early = derive(incidents.get(store, hid), journal.iter_entries(store, hid), now=early)
    pm_late = derive(incidents.get(store, hid), journal.iter_entries(store, hid), now=late)
    assert pm_early.clocks[0].outcome == "running" and pm_late.clocks[0].outcome == "breached"
    text = postmortem.draft_markdown(store, hid, generated_at=late)
    assert re.search(r"\| nis2-24h \|.*\| breached \|", text)
