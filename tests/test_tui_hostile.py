"""Attacker text on screen: markup, ANSI, OSC 8 links, title escapes and bidi overrides
in labels, titles and notes are shown as visible text and never reach the terminal."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from ircon.store import incidents
from ircon.tui import safe
from ircon.tui.screens.modals import AlertDetailScreen
from tests.tui_support import HOSTILE, add_alert, add_incident, make_app, seed_demo, settle

DANGEROUS = ("\x1b", "\x07", "\x9b", "\x9d", "\u202e", "\u2066", "\u200b", "\U000e0041")


def _assert_inert(rendered: str) -> None:
    for ch in DANGEROUS:
        assert ch not in rendered, repr(ch)


def _ansi(renderable: Any) -> str:
    buf = io.StringIO()
    Console(file=buf, force_terminal=True, color_system="truecolor", width=200).print(renderable)
    return buf.getvalue()


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_safe_text_never_carries_control_characters(s: str) -> None:
    t = safe.text(s, 500)
    assert isinstance(t, Text) and not t.spans
    out = _ansi(t)
    # The only escapes in the output are the console's own SGR codes.
    for ch in ("\x07", "\x9b", "\x9d", "\u202e", "\u2066", "\u200b", "\x00"):
        assert ch not in t.plain
    assert "\x1b]" not in out  # no OSC: no title change, no hyperlink


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
@settings(max_examples=300, deadline=None)
def test_label_survives_textual_markup_literally(s: str) -> None:
    from textual.content import Content

    content = Content.from_markup(safe.label(s, 500))
    assert content.plain == safe.plain(s, 500)
    assert not content.spans  # no style, link or action came from the text


async def test_hostile_alerts_and_titles_render_as_plain_text(store: Any) -> None:
    seed_demo(store, hostile=True)
    hid = add_incident(store, 50, HOSTILE[0] + HOSTILE[1], severity="SEV1")
    incidents.note(store, hid, HOSTILE[2] + HOSTILE[3], actor="x\x1b]0;t\x07@evil")
    app = make_app(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        _assert_inert(app.export_screenshot())
        assert "[bold red]PWNED[/]" in app.export_screenshot().replace("&#160;", " ")
        app.switch_mode("alerts")
        await settle(pilot)
        svg = app.export_screenshot()
        _assert_inert(svg)
        assert "\\e]0;owned" in svg
        screen: Any = app.screen
        hostile_id = next(r.id for r in screen.page.rows if r.name.startswith("\x1b"))
        app.push_screen(AlertDetailScreen(hostile_id))
        await settle(pilot)
        _assert_inert(app.export_screenshot())
        app.pop_screen()
        app.switch_mode("incidents")
        app.open_incident(hid)
        await settle(pilot)
        svg = app.export_screenshot()
        _assert_inert(svg)
        assert "&lt;U+202E&gt;" in svg or "<U+202E>" in svg
        assert app.is_running  # the [@click=app.quit] in the title did nothing


async def test_huge_labels_are_bounded(store: Any) -> None:
    big = "A" * 1_000_000
    add_alert(store, 1, big, big, labels={"alertname": "big", "x": big})
    app = make_app(store, start_mode="alerts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        detail: Any = app.screen.query_one("#detail")
        assert len(str(detail.render())) < 40_000
