"""Which texts of a list match any of many byte patterns, with one Hyperscan scan.

Batched detectors ask "which of these 4096 texts could hold something?" once per
batch instead of once per text: the texts are joined into one UTF-8 buffer with a
NUL between them (``Joined``), a compiled pattern set (``MultiMatch``) scans the
whole buffer in C, and each match is mapped back to its text by counting the NULs
before it (from one hit to the next: one pass over the buffer at most). A text
needs one hit only: the scan stops at the first match in a text and resumes at the
next text, so a text full of matches costs one callback, not thousands.

    joined = Joined(texts)
    hits = MultiMatch([b"AKIA", b"-----BEGIN"]).scan(joined)  # {text index: pattern index}
    maybe = hits.keys() | joined.odd                         # texts to look at closely

Patterns never match across two texts: literals are searched by their longest
NUL-free piece (a text holding the literal holds that piece), and regexes must
not match NUL (write ``[^0-9\\x00]``, not ``[^0-9]``). A text that itself holds
a NUL cannot be told apart from two texts: it is left out of the buffer and
listed in ``Joined.odd`` for the caller to examine another way.

Offsets are bytes of UTF-8 (lone surrogates kept with ``surrogatepass``). A
literal is found as bytes exactly where it is found as characters: UTF-8 lead
and continuation bytes differ, so a match always starts and ends on character
boundaries. Matches only say *which text*; where in it is the caller's business.

Two lower-level helpers serve the merged text gate, which lays out its own
buffers (word bytes, framed by spaces): ``layout`` gives the offsets of texts
joined by one separator byte, ``scan_all`` reports every match with its text
(for patterns that match rarely), ``first_per_text`` finds the texts holding a
``bytes.find`` needle, one C-level search per text found.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate, repeat
from operator import add

import hyperscan

from ircon.detect import accel

SEP = "\x00"
_SEPB = SEP.encode()
MatchError = hyperscan.error  # what compiling or scanning raises when the matcher fails


class Joined:
    """``texts`` as one UTF-8 buffer with a NUL after each text but the last.

    Texts that contain a NUL are blanked in the buffer and listed in ``odd``.
    Build it once per batch and scan it with as many ``MultiMatch`` sets as needed.
    """

    __slots__ = ("buf", "n", "odd")

    def __init__(self, texts: Sequence[str]) -> None:
        self.n = len(texts)
        fast = accel.fast
        if fast is not None:  # the same in one C pass, without the joined str
            self.buf, odd_at = fast.join_utf8(texts)
            self.odd = frozenset(odd_at)
            return
        odd: frozenset[int] = frozenset()
        joined = SEP.join(texts)
        if joined.count(SEP) != max(len(texts) - 1, 0):  # a text holds NUL: rare
            odd = frozenset(i for i, t in enumerate(texts) if SEP in t)
            joined = SEP.join(["" if i in odd else t for i, t in enumerate(texts)])
        self.odd = odd
        self.buf = joined.encode("utf-8", "surrogatepass")


class MultiMatch:
    """A compiled set of byte patterns: literals (default) or Hyperscan regexes.

    ``flags`` (e.g. ``hyperscan.HS_FLAG_CASELESS``) apply to every pattern. An empty
    set matches nothing. Compiling costs about a millisecond per hundred patterns:
    build one per pattern set and keep it.
    """

    __slots__ = ("_db", "size")

    def __init__(self, patterns: Sequence[bytes], *, literal: bool = True,
                 flags: int = 0) -> None:
        if literal:
            # A literal holding NUL: its longest NUL-free piece (an all-NUL literal can
            # only be in a text holding NUL, which ``Joined`` lists as odd anyway).
            pieces = [max(p.split(_SEPB), key=len) if _SEPB in p else p for p in patterns]
            pats = list(dict.fromkeys(p for p in pieces if p))
        else:
            pats = list(dict.fromkeys(patterns))
        self.size = len(pats)
        self._db: hyperscan.Database | None = None
        if pats:
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(expressions=pats, ids=list(range(len(pats))), elements=len(pats),
                       flags=flags, literal=literal)
            self._db = db

    def scan(self, joined: Joined) -> dict[int, int]:
        """``{text index: pattern id}`` for each text of ``joined`` where a pattern
        matches (the first match found in it; ids are positions in the deduplicated,
        NUL-split pattern list, meaningful only to tell hits apart). Odd texts are
        not scanned."""
        db = self._db
        buf = joined.buf
        if db is None or not buf:
            return {}
        found: dict[int, int] = {}
        last: list[tuple[int, int]] = []

        def on_match(pid: int, _start: int, end: int, _flags: int, _ctx: object) -> bool:
            last.append((pid, end))
            return True  # one hit per text: stop here, resume at the next text

        view = memoryview(buf)
        start = index = 0  # ``start`` begins text ``index``
        while True:
            try:
                db.scan(view[start:] if start else buf,  # type: ignore[type-var]
                        match_event_handler=on_match)
                return found
            except hyperscan.ScanTerminated:
                pid, end = last.pop()
                at = start + end - 1  # the match's last byte; its text ends at the next NUL
                index += buf.count(_SEPB, start, at)
                found[index] = pid
                start = buf.find(_SEPB, at) + 1
                if not start:
                    return found
                index += 1

    def hits(self, texts: Sequence[str]) -> set[int]:
        """Indices of ``texts`` that may hold a match: those where one is found and
        those holding NUL (not scanned). For a gate: the rest certainly hold none."""
        joined = Joined(texts)
        return set(self.scan(joined)) | joined.odd


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
