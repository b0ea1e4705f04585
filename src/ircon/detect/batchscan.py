"""Many texts joined in one buffer and searched in one C-level pass.

Batched detectors ask "which of these texts holds a match?" once per batch: the
texts are joined with one separator byte, a Hyperscan database or ``bytes.find``
runs over the whole buffer, and each match is mapped back to its text by
bisection over the texts' offsets (``layout``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from itertools import accumulate, repeat
from operator import add

import hyperscan


def scan_all(db: hyperscan.Database, buf: bytes, bounds: list[int], shift: int,
             on_match: Callable[[int, int], object]) -> None:
    """Run ``db`` over ``buf`` holding texts one after another and call
    ``on_match(pattern_id, j)`` per match, ``j`` being the text whose ``bounds[j]``
    (the first offset after it) is the first above the match's last byte minus
    ``shift``. Use it for patterns that match rarely: every match is a call.
    (Stopping the scan early does not help: Hyperscan reads the whole block.)"""

    def hit(pid: int, _frm: int, to: int, _flags: int, _ctx: object) -> None:
        on_match(pid, bisect_right(bounds, to - 1 - shift))

    db.scan(buf, match_event_handler=hit)


def first_per_text(find: Callable[[bytes, int], int], needle: bytes, starts: list[int],
                   bounds: list[int], shift: int, settled: list[bool]) -> None:
    """Mark in ``settled`` every text holding a match of ``find`` (``bytes.find``
    bound to the buffer, or ``_finder``), searching on from the next text after
    each hit: one C-level search per text found, however often it repeats."""
    pos = 0
    n = len(starts)
    while True:
        at = find(needle, pos)
        if at < 0:
            return
        j = bisect_right(bounds, at + max(len(needle), 1) - 1 - shift)
        if j >= n:
            return
        settled[j] = True
        if j + 1 >= n:
            return
        pos = starts[j + 1]


def layout(lengths: Iterable[int]) -> tuple[list[int], list[int]]:
    """Offsets of texts joined by one separator byte: ``starts[j]`` is where text
    ``j`` begins (less the one leading byte of a framed layout), ``bounds[j]``
    the first offset after it and its separator."""
    cum = list(accumulate(map(add, lengths, repeat(1)), initial=0))
    return cum[:-1], cum[1:]
