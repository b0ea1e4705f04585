"""A value that starts an argv item never turns into an option of the command.

Free-text kinds (``text``, ``pattern``) may start with '-'. Spliced at the front
of a configured item ("{note}.txt", "{a}{b}"), such a value would be read by
the program as an option, so it is refused unless the item follows '--'.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ircon.adapters import runner
from ircon.adapters.params import ParamError
from ircon.adapters.shell import fill_argv
from ircon.config import IrconConfig

RECORDER = """import json, os, sys
with open(os.environ["ARGV_LOG"], "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def _cfg(script: Path, log: Path, argv_tail: list[str]) -> IrconConfig:
    inst = {"type": "shell", "argv": [sys.executable, str(script), *argv_tail],
            "params": {"note": "text", "tag": "text"}, "optional": ["tag"],
            "env": {"ARGV_LOG": str(log)}, "timeout": 10}
    return IrconConfig.model_validate({"adapters": {"sh": inst}})


@pytest.mark.parametrize("item, values", [
    ("{note}.txt", {"note": "--kubeconfig=/etc/x"}),
    ("{note}{tag}", {"note": "-", "tag": "-exec=x"}),
    ("{tag}{note}", {"tag": "", "note": "-rf"}),
])
def test_value_at_the_front_of_an_item_cannot_become_an_option(
        store, tmp_path: Path, item: str, values: dict[str, str]) -> None:
    script, log = tmp_path / "rec.py", tmp_path / "argv.log"
    script.write_text(RECORDER)
    with pytest.raises(runner.ActionInputError, match="option"):
        runner.run_action(store, _cfg(script, log, ["--out", item]), "sh", "run", values,
                          incident=None, actor="a@x")
    assert not log.exists()  # the command never ran


def test_dashes_of_the_configured_item_and_after_double_dash_still_pass(
        store, tmp_path: Path) -> None:
    script, log = tmp_path / "rec.py", tmp_path / "argv.log"
    script.write_text(RECORDER)
    out = runner.run_action(store, _cfg(script, log, ["--note={note}", "--", "{tag}.txt"]),
                            "sh", "run", {"note": "-x", "tag": "-y"}, incident=None,
                            actor="a@x")
    assert out.ok, out.error
    assert [json.loads(x) for x in log.read_text().splitlines()] == \
        [["--note=-x", "--", "-y.txt"]]
    assert fill_argv(["/bin/tool", "x-{note}"], {"note": "-y"}, optional=set()) == \
        ["/bin/tool", "x--y"]
    with pytest.raises(ParamError, match="note: a value starting with '-'"):
        fill_argv(["/bin/tool", "{note}/x"], {"note": "-y"}, optional=set())
