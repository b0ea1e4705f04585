"""Run every bench/bench_*.py and print one table of their figures.

Each script prints its own table and writes bench/out/<name>.json:
{"figures": [{"name", "value", "unit", "baseline", "baseline_value", "ratio", "goal"}]}.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        rc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode
        if rc:
            failed.append(script.name)
    print("\n| figure | value | baseline | ratio | goal |\n|---|---|---|---|---|")
    for f in sorted(out.glob("*.json")):
        for fig in json.loads(f.read_text()).get("figures", []):
            ratio = fig.get("ratio")
            print(
                f"| {fig['name']} | {fig['value']} {fig.get('unit', '')} | "
                f"{fig.get('baseline', '')} {fig.get('baseline_value', '')} | "
                f"{'' if ratio is None else f'{ratio:.2f}x'} | {fig.get('goal', '')} |"
            )
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
