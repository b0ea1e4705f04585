"""Containment adapter figures: what recording an action costs on top of doing it.

- a journaled LiteLLM `block-key` through the runner (validate, plan, journal the
  request, call, journal the result) against a bare httpx POST of the same request
  to the same loopback proxy;
- a journaled shell action against a bare subprocess.run of the same argv;
- refusing a hostile 1 MB parameter against validating an ordinary key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.adapters_support
import httpx
from _common import figure, median, write
from tests.adapters_support import MASTER_KEY, FakeLiteLLM

from ircon.adapters import runner
from ircon.adapters.params import KINDS, ParamError
from ircon.config import IrconConfig
from ircon.store import incidents, open_store

N = int(os.environ.get("BENCH_ACTIONS", "60"))


def main() -> None:
    os.environ["LITELLM_MASTER_KEY"] = MASTER_KEY
    proxy = FakeLiteLLM()
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.db"))
        inc = incidents.create(store, "bench", severity="SEV3")["id"]
        keys = [f"sk-bench-{i:06d}" for i in range(N)]
        for k in keys:
            proxy.add_key(k)
        cfg = IrconConfig.model_validate({"adapters": {
            "gw": {"type": "litellm", "url": proxy.url, "master_key": "env:LITELLM_MASTER_KEY"},
            "sh": {"type": "shell", "argv": ["/bin/true", "{user}"],
                   "params": {"user": "user_id"}},
        }})
        headers = {"Authorization": f"Bearer {MASTER_KEY}", "litellm-changed-by": "bench@x"}

        bare, full = [], []
        with httpx.Client() as client:
            for k in keys:  # interleaved, so drift affects both the same way
                t = time.perf_counter()
                client.post(proxy.url + "/key/block", json={"key": k}, headers=headers)
                bare.append(time.perf_counter() - t)
                t = time.perf_counter()
                out = runner.run_action(store, cfg, "gw", "block-key", {"key": k},
                                        incident=inc, actor="bench@x")
                full.append(time.perf_counter() - t)
                assert out.ok, out.error
        b, f = median(bare) * 1000, median(full) * 1000
        figures.append(figure("journaled block-key (median)", f, "ms",
                              baseline="bare HTTP POST", baseline_value=b, ratio=f / b,
                              goal="< 100 ms absolute"))

        bare, full = [], []
        for i in range(N // 2):
            t = time.perf_counter()
            subprocess.run(["/bin/true", f"user{i}"], check=True)
            bare.append(time.perf_counter() - t)
            t = time.perf_counter()
            out = runner.run_action(store, cfg, "sh", "run", {"user": f"user{i}"},
                                    incident=inc, actor="bench@x")
            full.append(time.perf_counter() - t)
            assert out.ok, out.error
        b, f = median(bare) * 1000, median(full) * 1000
        figures.append(figure("journaled shell action (median)", f, "ms",
                              baseline="bare subprocess.run", baseline_value=b, ratio=f / b,
                              goal="< 100 ms absolute"))
        store.close()
    proxy.close()

    hostile = "A" * 1_000_000 + "$(reboot)"
    check = KINDS["user_id"].check
    reps = 2000

    def refuse() -> None:
        try:
            check("user", hostile)
        except ParamError:
            return
        raise AssertionError("accepted")

    t = time.perf_counter()
    for _ in range(reps):
        refuse()
    bad = (time.perf_counter() - t) / reps * 1e6
    t = time.perf_counter()
    for _ in range(reps):
        check("user", "user-1337")
    ok = (time.perf_counter() - t) / reps * 1e6
    figures.append(figure("refuse a 1 MB parameter", bad, "µs",
                          baseline="accept a 9-char id", baseline_value=ok, ratio=bad / ok,
                          goal="bounded: no work proportional to the input"))
    write("adapters", figures)


if __name__ == "__main__":
    main()
