"""The real ``ircon`` in a real pseudo-terminal (tmux, 80x24): keys in, screen out.

Skipped when tmux is absent, unless IRCON_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ircon.store import incidents, journal, open_store
from tests.services import require
from tests.tui_support import HOSTILE, add_alert, seed_demo

pytestmark = pytest.mark.services


class Tmux:
    def __init__(self, binary: str, socket: str) -> None:
        self.binary = binary
        self.socket = socket

    def run(self, *args: str) -> str:
        return subprocess.run([self.binary, "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=20, check=True).stdout

    def screen(self, escapes: bool = False) -> str:
        return self.run("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "ircon")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "ircon", *keys)

    def wait_for(self, cond: Callable[[str], bool], timeout: float = 20.0) -> str:
        end = time.monotonic() + timeout
        text = ""
        while time.monotonic() < end:
            text = self.screen()
            if cond(text):
                return text
            time.sleep(0.2)
        raise AssertionError("screen never matched; last screen:\n" + text)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    binary = require("tmux")
    t = Tmux(binary, f"ircon-test-{uuid.uuid4().hex[:8]}")
    yield t
    subprocess.run([binary, "-L", t.socket, "kill-server"], capture_output=True, timeout=20)


def start(tmux: Tmux, db: Path, tmp_path: Path) -> int:
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"), "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "IRCON_ACTOR": "tester@ci", "IRCON_NO_ENGINE": "1", "TERM": "xterm-256color",
    }
    cmd = "env " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " + \
        shlex.join([sys.executable, "-m", "ircon.cli", "--db", str(db)])
    tmux.run("new-session", "-d", "-s", "ircon", "-x", "80", "-y", "24", cmd)
    tmux.run("set-option", "-t", "ircon", "remain-on-exit", "on")
    tmux.run("select-pane", "-t", "ircon", "-T", "ircon-pane")
    return int(tmux.run("display-message", "-p", "-t", "ircon", "#{pane_pid}").strip())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_real_terminal_flow_and_hostile_text(tmux: Tmux, tmp_path: Path) -> None:
    db = tmp_path / "ircon.db"
    store = open_store(str(db))
    ids = seed_demo(store, hostile=True)
    store.close()
    pid = start(tmux, db, tmp_path)
    screen = tmux.wait_for(lambda s: "IR-2026-0001" in s and "Incidents" in s)
    assert "4 total" in screen
    # the alert queue, with attacker-written names shown as visible escapes
    tmux.keys("2")
    screen = tmux.wait_for(lambda s: "firing" in s and "sources:" in s)
    raw = tmux.screen(escapes=True)
    assert "\x1b]" not in raw  # no OSC (title, hyperlink) reached the terminal
    title = tmux.run("display-message", "-p", "-t", "ircon", "#{pane_title}").strip()
    assert title == "ircon-pane"  # nothing renamed the terminal
    # another process adds an alert: it appears without a keypress
    other = open_store(str(db))
    add_alert(other, 900, "LLMFreshFromElsewhere", "pulled by jump-2", minutes_ago=0)
    other.close()
    tmux.wait_for(lambda s: "LLMFreshFromElsewhere" in s)
    # back to the board, open the most urgent incident, write a note
    tmux.keys("1")
    tmux.wait_for(lambda s: "Incidents" in s and "IR-2026-0001" in s)
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "Journal" in s)
    tmux.keys("n")
    tmux.wait_for(lambda s: "Note on" in s)
    tmux.keys("-l", "typed in a real terminal")
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "typed in a real terminal" in s)
    store = open_store(str(db))
    # The text shows in the input before the write lands: wait for the journal.
    end = time.monotonic() + 15
    while True:
        notes = [e for e in journal.entries(store, ids["jailbreak"]) if e.kind == "note"]
        if "typed in a real terminal" in notes[-1].body or time.monotonic() > end:
            break
        time.sleep(0.05)
    assert notes[-1].actor == "tester@ci" and "typed in a real terminal" in notes[-1].body
    # the terminal goes away (SSH dropped): ircon exits, the journal is intact
    tmux.run("kill-session", "-t", "ircon")
    end = time.monotonic() + 10
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.1)
    assert not alive(pid)
    assert journal.verify(store).ok
    assert len(incidents.list_incidents(store)) == 4
    store.close()
    assert HOSTILE  # the hostile fixtures were part of what was shown


def test_no_config_opens_on_an_explained_empty_state(tmux: Tmux, tmp_path: Path) -> None:
    start(tmux, tmp_path / "fresh.db", tmp_path)
    screen = tmux.wait_for(lambda s: "No incidents yet" in s)
    assert "ircon.toml" in screen and "[[sources]]" in screen
    tmux.keys("q")
    tmux.wait_for(lambda s: "Pane is dead" in s or "ircon" not in s.split("\n")[0])
