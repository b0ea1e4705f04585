"""A journal writer run as a subprocess by the crash and concurrency tests.

Prints each seq after its append has returned (committed), one per line.
"""

from __future__ import annotations

import sys

from ircon.store import open_store
from ircon.store.journal import append


def main() -> None:
    db, incident, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = open_store(db)
    for i in range(count):
        e = append(store, incident, "note", {"text": f"{tag}-{i}", "pad": "x" * (i % 500)},
                   actor=f"{tag}@test")
        sys.stdout.write(f"{e.seq}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
