"""A separate ircon process running the escalation service (for multi-process tests).

Usage: python -m tests.escalation_worker DB CONFIG.json SECONDS
Prints one JSON line: the firings this process claimed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path


async def main(db: str, cfg_path: str, seconds: float) -> None:
    from ircon.config import IrconConfig
    from ircon.escalation.service import EscalationService
    from ircon.store import open_store

    cfg = IrconConfig.model_validate(json.loads(Path(cfg_path).read_text()))
    store = open_store(db)
    svc = EscalationService(store, cfg)
    await svc.start()
    print(json.dumps({"event": "started"}), flush=True)
    await asyncio.sleep(seconds)
    await svc.drain()
    await svc.stop()
    print(json.dumps({"event": "done", "claimed": [b["key"] for b in svc.sent],
                      "holder": svc.holder}), flush=True)
    store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
