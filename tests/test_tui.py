"""The console driven with Textual's Pilot on a real SQLite file; assertions on the journal."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from ircon.config import IrconConfig, LoadedConfig
from ircon.store import incidents, journal
from ircon.store import open_store as _open
from tests.tui_support import (
    ACTOR,
    NOW,
    TZ,
    add_alert,
    add_incident,
    make_app,
    seed_demo,
    settle,
)


def kinds_of(store: Any, hid: str) -> list[str]:
    return [e.kind for e in journal.entries(store, hid)]


def bodies(store: Any, hid: str, kind: str) -> list[dict[str, Any]]:
    return [json.loads(e.body) for e in journal.entries(store, hid) if e.kind == kind]


async def wait_for(pilot: Any, cond: Any, timeout: float = 5.0) -> None:
    import asyncio
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        await settle(pilot, 1)
        if cond():
            return
        await asyncio.sleep(0.05)
    app = pilot.app
    raise AssertionError(f"condition not met in time: {app.screen_stack} "
                         f"{getattr(app.screen, 'playbook', None)}")


async def type_text(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press("space" if ch == " " else ch)


def guardrail_config(tmp_path: Path) -> LoadedConfig:
    cfg = IrconConfig.model_validate({
        "ui": {"timezone": "Europe/Berlin"},
        "adapters": {"guard": {"type": "guardrail", "path": str(tmp_path / "blocklist.txt")}},
    })
    return LoadedConfig(cfg, None)


async def test_full_flow_alert_to_resolved(store: Any, tmp_path: Path) -> None:
    """New alert -> incident -> acknowledge -> playbook step, decision and a confirmed
    containment action -> note -> severity -> resolve; everything lands in the journal."""
    add_alert(store, 1, "LLMJailbreakTemplate", "DAN template on 3 keys", severity="SEV2")
    app = make_app(store, loaded=guardrail_config(tmp_path), start_mode="alerts")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        # alert -> a new incident for it
        await pilot.press("i")
        await settle(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(incidents.list_incidents(store)) == 1)
        hid = incidents.list_incidents(store)[0].id
        await wait_for(pilot, lambda: type(app.screen).__name__ == "IncidentScreen")
        assert kinds_of(store, hid)[:2] == ["incident.opened", "alert"]

        # acknowledge
        await pilot.press("a")
        await wait_for(pilot, lambda: incidents.get(store, hid)["status"] == "acknowledged")

        # start the playbook from the picker
        from ircon.tui.services import list_playbooks

        names = [n for n, _ in list_playbooks(None)]
        await pilot.press("p")
        await settle(pilot)
        await pilot.press(*["down"] * names.index("jailbreak-campaign"), "enter", "enter")
        await wait_for(pilot, lambda: "playbook.started" in kinds_of(store, hid))
        await wait_for(pilot, lambda: app.screen.playbook is not None
                       and app.screen.playbook.current == "confirm")

        # manual step done, then the decision
        await pilot.press("k")
        await wait_for(pilot, lambda: app.screen.playbook.current == "authorised-test")
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("down", "enter", "enter")
        await wait_for(pilot, lambda: app.screen.playbook.current == "block-template")
        assert bodies(store, hid, "decision")[-1]["option"] == "no"

        # containment: input, preview, confirmation, live result
        await pilot.press("x")
        await settle(pilot)
        await type_text(pilot, "DAN mode")
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ActionScreen")
        assert not (tmp_path / "blocklist.txt").exists()  # nothing before confirmation
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen.state == "done")
        assert "DAN mode" in (tmp_path / "blocklist.txt").read_text()
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.playbook.current != "block-template")

        # note, severity, resolve
        await pilot.press("n")
        await settle(pilot)
        await type_text(pilot, "template blocked at the guardrail")
        await pilot.press("enter")
        await wait_for(pilot, lambda: bodies(store, hid, "note") != [])
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("home", "enter")
        await type_text(pilot, "customer data seen")
        await pilot.press("enter")
        await wait_for(pilot, lambda: incidents.get(store, hid)["severity"] == "SEV1")
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("enter")
        await type_text(pilot, "contained and verified")
        await pilot.press("enter")
        await wait_for(pilot, lambda: incidents.get(store, hid)["status"] == "resolved")

    ks = kinds_of(store, hid)
    for k in ("incident.opened", "alert", "status", "playbook.started", "step", "decision",
              "action.request", "action.result", "note", "severity"):
        assert k in ks, (k, ks)
    assert bodies(store, hid, "note")[-1]["text"] == "template blocked at the guardrail"
    assert bodies(store, hid, "severity")[-1]["reasons"] == ["customer data seen"]
    assert bodies(store, hid, "status")[-1] == {"status": "resolved",
                                                "reason": "contained and verified"}
    assert bodies(store, hid, "action.result")[-1]["ok"] is True
    assert {e.actor for e in journal.entries(store, hid)} == {ACTOR}
    assert journal.verify(store).ok


async def test_bulk_acknowledge_and_assign(store: Any) -> None:
    ids = seed_demo(store)
    app = make_app(store, start_mode="alerts")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen: Any = app.screen
        unassigned = [r.id for r in screen.page.rows if r.incident is None
                      and r.status == "firing"]
        assert len(unassigned) == 2
        for _ in range(2):  # the unassigned firing alerts sort first (unacknowledged)
            pass
        screen.selected.update(unassigned)
        await pilot.press("a")
        await wait_for(pilot, lambda: all(r.acknowledged for r in screen.page.rows
                                          if r.id in unassigned))
        screen.selected.update(unassigned)
        await pilot.press("i")
        await settle(pilot)
        await pilot.press("down", "enter")  # the first open incident: the most urgent
        await wait_for(pilot, lambda: all(r.incident == ids["jailbreak"]
                                          for r in screen.page.rows if r.id in unassigned))
    assert bodies(store, ids["jailbreak"], "alert")


async def test_space_selects_and_filter_narrows(store: Any) -> None:
    seed_demo(store)
    app = make_app(store, start_mode="alerts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen: Any = app.screen
        await pilot.press("space", "space")
        assert len(screen.selected) == 2
        await pilot.press("escape")
        await settle(pilot)
        assert not screen.selected
        await pilot.press("slash")
        await type_text(pilot, "gateway")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.page.total == 2)
        assert {r.source for r in screen.page.rows} == {"gateway"}


async def _timeline_of(pilot: Any, app: Any, hid: str) -> tuple[Any, int]:
    """Open an incident; return its screen and the last journal seq it shows."""
    await settle(pilot)
    app.open_incident(hid)
    await settle(pilot)
    screen: Any = app.screen
    return screen, screen.query_one("#timeline").last_seq


def _note_from_another_process(db_path: Path, hid: str, text: str) -> None:
    """A second handle on the file: another process's view and write."""
    other = _open(str(db_path))
    incidents.note(other, hid, text, actor="bob@jump-2")
    other.close()


async def test_changes_by_another_process_appear_without_a_keypress(
    store: Any, db_path: Path
) -> None:
    ids = seed_demo(store)
    app = make_app(store)
    async with app.run_test(size=(120, 36)) as pilot:
        screen, before = await _timeline_of(pilot, app, ids["injection"])
        t = threading.Thread(target=_note_from_another_process,
                             args=(db_path, ids["injection"], "seen from jump-2"))
        t.start()
        t.join()
        await wait_for(pilot, lambda: screen.query_one("#timeline").last_seq == before + 1,
                       timeout=3.0)
        add_alert(store, 50, "LLMNewThing", "arrived meanwhile", minutes_ago=0)
        app.switch_mode("alerts")
        alerts_screen: Any = app.screen
        await wait_for(pilot, lambda: alerts_screen.page is not None and any(
            r.name == "LLMNewThing" for r in alerts_screen.page.rows), timeout=3.0)


async def test_board_is_sorted_by_urgency_and_paged(store: Any) -> None:
    for n in range(1, 131):
        add_incident(store, n, f"incident {n}", severity="SEV4" if n % 2 else "SEV2",
                     status="resolved" if n % 5 == 0 else "open")
    add_incident(store, 131, "the worst one", severity="SEV1")
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen: Any = app.screen
        rows = screen.page.rows
        assert len(rows) == 100 and screen.page.total == 131
        assert rows[0].title == "the worst one"
        table = screen.query_one("#board")
        assert table.row_count == 100
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: screen.page.offset == 100)
        assert len(screen.page.rows) == 31
        assert all(r.status == "resolved" for r in screen.page.rows[-26:])


async def test_take_and_hand_over_command(store: Any) -> None:
    hid = add_incident(store, 1, "nobody in charge")
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_incident(hid)
        await settle(pilot)
        await pilot.press("c")
        await wait_for(pilot, lambda: incidents.get(store, hid)["commander"] == ACTOR)
        await pilot.press("h")
        await settle(pilot)
        await type_text(pilot, "bob@jump-2")
        await pilot.press("enter")
        await wait_for(pilot, lambda: incidents.get(store, hid)["commander"] == "bob@jump-2")
    roles = bodies(store, hid, "role")
    assert [r["person"] for r in roles] == [ACTOR, "bob@jump-2"]


async def test_declare_from_anywhere(store: Any) -> None:
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("N")
        await settle(pilot)
        await type_text(pilot, "model exfiltration")
        await pilot.press("enter", "up", "up", "enter")
        await wait_for(pilot, lambda: len(incidents.list_incidents(store)) == 1)
    row = incidents.list_incidents(store)[0]
    assert (row.title, row.severity) == ("model exfiltration", "SEV1")


async def test_help_lists_the_active_bindings(store: Any) -> None:
    hid = add_incident(store, 1, "x")
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_incident(hid)
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        from ircon.tui.screens.help import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        descs = [d for _, d in app.screen.rows]
        for expected in ("Note", "Severity", "Status", "Resolve", "Take cmd", "Hand over",
                         "Run step", "Decide", "Help", "Quit"):
            assert expected in descs, expected
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_finds_actions_incidents_and_playbooks(store: Any) -> None:
    ids = seed_demo(store)
    app = make_app(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        await settle(pilot)
        await type_text(pilot, "wallet")
        await pilot.pause(0.6)
        await pilot.press("enter")
        await wait_for(pilot, lambda: getattr(app.screen, "human_id", None) == ids["wallet"])
        await pilot.press("ctrl+p")
        await settle(pilot)
        await type_text(pilot, "Take cmd")
        await pilot.pause(0.6)
        await pilot.press("enter")
        await wait_for(pilot, lambda: incidents.get(store, ids["wallet"])["commander"] == ACTOR)


async def test_empty_state_without_config_explains_itself(store: Any) -> None:
    app = make_app(store, loaded=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = str(app.screen.query_one("#empty").render())
        assert "/etc/ircon/ircon.toml" in text and "[[sources]]" in text


async def test_unopenable_database_is_explained_not_fatal(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-db"
    bad.write_bytes(b"this is not sqlite at all" * 10)
    from ircon.tui.app import IrconApp

    app = IrconApp(db=str(bad), loaded=None, actor=ACTOR, tz=TZ, start_engine=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause(0.3)
        assert app.store_error and "not an ircon database" in app.store_error
        assert "not an ircon database" in str(app.screen.query_one("#empty").render())


def test_time_formats_name_utc_and_the_local_zone() -> None:
    from ircon.tui.timefmt import age, countdown, stamp

    assert stamp("2026-03-14T02:13:07.000001Z", TZ) == "2026-03-14 02:13:07Z (03:13 CET)"
    assert age(NOW.replace(hour=1, minute=0), NOW) == "1h30m"
    assert countdown(NOW.replace(hour=3, minute=0), NOW) == "in 30m"
    assert countdown(NOW.replace(hour=2, minute=0), NOW) == "OVERDUE 30m"


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_every_screen_fits(store: Any, size: tuple[int, int]) -> None:
    """No screen raises at the smallest and the usual size (the layout is exercised)."""
    ids = seed_demo(store, hostile=True)
    app = make_app(store)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for keys in (["2"], ["enter"], ["escape", "1"]):
            await pilot.press(*keys)
            await settle(pilot)
        app.open_incident(ids["jailbreak"])
        await settle(pilot)
        await pilot.press("m")
        await pilot.pause(0.5)
        await settle(pilot)
        md = app.screen.query_one("#postmortem")
        assert md is not None


async def test_kill_switch_pauses_and_resumes_automation(tmp_path: Path) -> None:
    from ircon.engine import automation
    from ircon.store import open_store
    from tests.tui_support import make_app

    store = open_store(str(tmp_path / "k.db"))
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("K")
        for _ in range(50):
            await pilot.pause(0.05)
            if automation.pause_state(store) is not None:
                break
        assert automation.pause_state(store) is not None
        await pilot.press("K")
        for _ in range(50):
            await pilot.pause(0.05)
            if automation.pause_state(store) is None:
                break
        assert automation.pause_state(store) is None


async def test_repaint_waits_for_an_in_process_ingest_then_shows_it(
    store: Any, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ircon.engine import ingest

    busy = {"on": False}
    monkeypatch.setattr(ingest, "in_progress", lambda: busy["on"])
    ids = seed_demo(store)
    app = make_app(store)  # refresh every 0.2 s
    async with app.run_test(size=(120, 36)) as pilot:
        screen, before = await _timeline_of(pilot, app, ids["injection"])
        busy["on"] = True  # an ingest starts in this process
        _note_from_another_process(db_path, ids["injection"], "written during a burst")
        await pilot.pause(0.3)  # a poll or two: held back while the ingest runs
        assert screen.query_one("#timeline").last_seq == before
        busy["on"] = False
        await wait_for(pilot, lambda: screen.query_one("#timeline").last_seq == before + 1,
                       timeout=3.0)


async def test_a_long_ingest_holds_a_repaint_back_at_most_a_second(
    store: Any, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ircon.engine import ingest

    monkeypatch.setattr(ingest, "in_progress", lambda: True)
    ids = seed_demo(store)
    app = make_app(store)
    async with app.run_test(size=(120, 36)) as pilot:
        screen, before = await _timeline_of(pilot, app, ids["injection"])
        _note_from_another_process(db_path, ids["injection"], "still shown")
        await wait_for(pilot, lambda: screen.query_one("#timeline").last_seq == before + 1,
                       timeout=3.0)
