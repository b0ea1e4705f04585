"""The text gates of the prompt detectors merged into one test, per event or per batch.

Most traffic is ordinary: no keyword of any rule, no encoded blob, no invisible
character, no gibberish tail. The gate says so with C-level work, and only the
events it lets through reach the prompt detectors (see ``base.TextGate``).

``quiet(event)`` answers for one event. ``open_indices(events)`` answers for a
batch with two Hyperscan passes - one over the word bytes of every new-turn
text, one over their UTF-8 - so the per-event Python work is a few list
operations. Both give the same answer for every event (tested).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from itertools import compress, repeat
from operator import or_
from typing import Any

import hyperscan

from ircon.detect import accel, keyed_batch
from ircon.detect.base import TextGate, current_turn
from ircon.detect.multimatch import first_per_text, layout, scan_all
from ircon.detect.patterns import remember_words
from ircon.detect.rules import BYTE_TABLE, word_bytes
from ircon.model.telemetry import TelemetryEvent


def _hex(literal: bytes) -> bytes:
    """``literal`` as a pattern: every byte escaped (patterns are C strings)."""
    return b"".join(b"\\x%02x" % c for c in literal)


def _compile(patterns: list[bytes], flags: int = 0) -> hyperscan.Database | None:
    if not patterns:
        return None
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=patterns, ids=list(range(len(patterns))), elements=len(patterns),
               flags=[hyperscan.HS_FLAG_DOTALL | flags] * len(patterns))
    return db


def _byte_class(values: Iterable[int]) -> bytes:
    vs = sorted(set(values))
    return b"[" + b"".join(b"\\x%02x" % v for v in vs) + b"]" if vs else b""


_LONG_RUN_TABLE = bytes.maketrans(bytes(range(256)), b"x" * 32 + b" " + b"x" * 223)


class MergedGate:
    """The text gates of several detectors as one test (see ``base.TextGate``).

    Per new-turn text: one word split, one set test for the keywords of every
    rule (and rot13 forms), one ``bytes.translate`` that keeps only the bytes
    any gate looks for, and a search for a long word in a byte mask - all C
    loops. Detectors' own checks run only when one of their bytes is present.
    """

    __slots__ = ("anchor_ids", "anchors", "any_words", "bare_delete", "c_gate", "check_delete",
                 "check_many", "checks", "delete", "finders", "literal_db", "long_run",
                 "max_chars", "pair_index", "pairs", "pivot_delete", "rot13", "rot13_ids",
                 "single_ids", "suspect", "suspect_delete", "word_db", "words")

    def __init__(self, gates: list[TextGate], *, accelerated: bool = True) -> None:
        self.words = frozenset().union(*(g.words for g in gates))
        self.rot13 = frozenset().union(*(g.rot13_words for g in gates))
        self.pairs = tuple(p for g in gates for p in g.pairs)
        self.anchors = frozenset().union(*(a for a, _o in self.pairs))
        # anchor word -> the other sides of the pairs it anchors (distinct sets)
        index: dict[bytes, dict[frozenset[bytes], None]] = {}
        for a, o in self.pairs:
            for w in a:
                index.setdefault(w, {})[o] = None
        self.pair_index = {w: tuple(os) for w, os in index.items()}
        self.any_words = self.words | self.rot13 | self.anchors
        pivots = set(b"".join(g.pivot_bytes for g in gates))
        # A pivot byte is only a sign when every gate that lists it has a finder for it:
        # then the finders decide; otherwise its presence alone opens the gate.
        finders: dict[int, list[re.Pattern[str]]] = {}
        bare: set[int] = set()
        for g in gates:
            found = {b for b, _rx in g.pivot_finders}
            bare.update(b for b in g.pivot_bytes if b not in found)
            for b, rx in g.pivot_finders:
                finders.setdefault(b, []).append(rx)
        self.finders = {b: tuple(v) for b, v in finders.items() if b not in bare}
        self.checks: tuple[tuple[Callable[[str], bool], bytes | None], ...] = tuple(
            (g.check, g.check_bytes) for g in gates if g.check is not None)
        wanted = pivots.union(*(set(cb) for _c, cb in self.checks if cb is not None))
        self.delete = bytes(b for b in range(256) if b not in wanted)
        self.pivot_delete = bytes(b for b in range(256) if b not in pivots)
        self.check_delete = [bytes(b for b in range(256) if b not in cb) if cb is not None
                             else None for _c, cb in self.checks]
        long_word = min((g.long_word for g in gates if g.long_word), default=0)
        self.long_run = b"x" * long_word if long_word else b""
        self.max_chars = min((g.max_chars for g in gates if g.max_chars), default=1 << 62)
        self.suspect = tuple(g.suspect for g in gates if g.suspect is not None)
        # The batched form. Hyperscan finds the gate words (" word " in word bytes,
        # where every break is a space) and the literals in one pass each; what can
        # match at many places in one text is found with search-and-skip instead.
        # One pattern per distinct word; what a match of it means is looked up by id.
        # A word of ``words`` opens alone; rot13 words need two distinct; an anchor
        # puts the text on a list whose texts are then checked for the other word.
        vocab = sorted(self.any_words)
        self.single_ids = frozenset(i for i, w in enumerate(vocab) if w in self.words)
        self.rot13_ids = frozenset(i for i, w in enumerate(vocab)
                                   if w in self.rot13 and w not in self.words)
        self.anchor_ids = frozenset(i for i, w in enumerate(vocab)
                                    if w in self.anchors and w not in self.words)
        # Bytes whose presence alone opens; the lead bytes of the characters of the
        # suspect regexes (when every gate lists them): texts without one skip them.
        self.bare_delete = bytes(b for b in range(256)
                                 if b not in pivots or b in self.finders)
        with_suspect = [g for g in gates if g.suspect is not None]
        leads = {c.encode("utf-8", "surrogatepass")[0]
                 for g in with_suspect for c in g.suspect_chars}
        self.suspect_delete = (bytes(b for b in range(256) if b not in leads)
                               if with_suspect and all(g.suspect_chars for g in with_suspect)
                               else None)
        self.check_many = [g.check_many for g in gates if g.check is not None]
        self.c_gate = self._c_gate(gates) if accelerated and accel.fast is not None else None
        # the Hyperscan databases serve the Python batched form only
        self.word_db: hyperscan.Database | None = None
        self.literal_db: hyperscan.Database | None = None
        if self.c_gate is None:
            self.word_db = _compile([b" " + _hex(w) + b" " for w in vocab],
                                    hyperscan.HS_FLAG_CASELESS)
            literals = {lit.encode("utf-8", "surrogatepass") for g in gates for lit in g.literals}
            self.literal_db = _compile([_hex(lit) for lit in sorted(literals) if lit])

    def _c_gate(self, gates: list[TextGate]) -> Any:
        """The same gate in C (``_fast.Gate``): one pass per text over its characters
        that splits, lowercases and looks up words, finds literals and notes the
        bytes present; it calls back only for checks and suspect patterns, and only
        when their bytes are present."""
        assert accel.fast is not None
        others = frozenset().union(*(o for _a, o in self.pairs))
        if any(len(w) > 64 for w in self.any_words | others):
            return None  # the C gate looks up words of up to 64 bytes
        vocab = [(w, w in self.words, w in self.rot13,
                  [k for k, (a, _o) in enumerate(self.pairs) if w in a],
                  [k for k, (_a, o) in enumerate(self.pairs) if w in o])
                 for w in sorted(self.any_words | others)]
        literals = sorted({lit for g in gates for lit in g.literals if lit})
        bare = bytes(b for b in range(256) if b not in self.bare_delete)
        checks = [(g.check_fast or g.check, g.check_bytes) for g in gates
                  if g.check is not None]
        leads = (None if self.suspect_delete is None
                 else bytes(b for b in range(256) if b not in self.suspect_delete))
        return accel.fast.Gate(vocab, len(self.pairs), len(self.long_run), self.max_chars,
                               literals, bare, checks, list(self.suspect), leads)

    def quiet(self, event: TelemetryEvent) -> bool:
        """True when no new-turn text of ``event`` opens any of the gates."""
        if self.c_gate is not None:
            return not any(self.c_gate.opened([t for _i, _r, t in current_turn(event)]))
        for _idx, _role, text in current_turn(event):
            if len(text) > self.max_chars:
                return False
            wb = word_bytes(text)
            words = wb.split()
            remember_words(text, words)  # the detectors reuse them if the gate opens
            if words:
                if not self.any_words.isdisjoint(words) and (
                        not self.words.isdisjoint(words)
                        or len(self.rot13.intersection(words)) >= 2
                        or self._pair_open(words)):
                    return False
                # a word of long_run bytes: a run of that many non-spaces in the mask
                if self.long_run and self.long_run in wb.translate(_LONG_RUN_TABLE):
                    return False
            present = text.encode("utf-8", "surrogatepass").translate(None, self.delete)
            if present:
                hits = present.translate(None, self.pivot_delete)
                if hits:
                    finders = self.finders
                    for b in set(hits):
                        group = finders.get(b)
                        if group is None:
                            return False
                        for rx in group:
                            if rx.search(text) is not None:
                                return False
                for (check, _cb), cd in zip(self.checks, self.check_delete, strict=True):
                    if (cd is None or present.translate(None, cd)) and check(text):
                        return False
            elif self.checks:
                for (check, cb) in self.checks:
                    if cb is None and check(text):
                        return False
            if not text.isascii():
                for rx in self.suspect:
                    if rx.search(text) is not None:
                        return False
        return True



    def open_indices(self, events: Sequence[TelemetryEvent]) -> list[int]:
        """Indices of the events of which some new-turn text opens the gate
        (exactly the events for which ``quiet`` is False), ascending."""
        cols = keyed_batch.columns(events)
        texts, owners = cols.turn_texts, cols.turn_owners
        if self.c_gate is not None:
            return sorted(set(compress(owners, self.c_gate.opened(texts))))
        if not texts:
            return []
        opened: set[int] = set()
        max_chars = self.max_chars
        if max(map(len, texts)) > max_chars:
            opened.update(owners[j] for j, t in enumerate(texts) if len(t) > max_chars)
            keep = [j for j, t in enumerate(texts) if len(t) <= max_chars]
            texts = [texts[j] for j in keep]
            owners = [owners[j] for j in keep]
        settled = [False] * len(texts)

        def settle(_pid: int, j: int) -> bool:
            settled[j] = True
            return False

        ascii_ = list(map(str.isascii, texts))
        raws = list(map(str.encode, texts, repeat("utf-8"), repeat("surrogatepass")))
        if self.word_db is not None or self.long_run:
            # The texts' word bytes joined by spaces ("\n" is a break), framed by a
            # leading and a trailing space. ASCII texts are not lowercased: the word
            # patterns are caseless, which for ASCII is the same.
            pieces = [r if a else word_bytes(t)
                      for r, a, t in zip(raws, ascii_, texts, strict=True)]
            buf = b" " + b"\n".join(pieces).translate(BYTE_TABLE) + b" "
            starts, bounds = layout(map(len, pieces))
            if self.word_db is not None:
                anchored: set[int] = set()
                scan_all(self.word_db, buf, bounds, 1, self._word_hit(settled, anchored))
                # texts holding an anchor word: open when they hold its pair's other word
                for j in sorted(anchored):
                    if not settled[j] and self._pair_open(word_bytes(texts[j]).split()):
                        settled[j] = True
            if self.long_run:
                # a word of long_run bytes: a run of that many non-spaces in the mask
                first_per_text(buf.translate(_LONG_RUN_TABLE).find, self.long_run, starts,
                               bounds, 1, settled)
        joined = b"\x00".join(raws)
        if self.literal_db is not None:
            starts, bounds = layout(map(len, raws))
            scan_all(self.literal_db, joined, bounds, 0, settle)
        if len(self.bare_delete) < 256:
            settled = list(map(or_, settled, map(bytes.translate, raws, repeat(None),
                                                  repeat(self.bare_delete))))
        for (check, _cb), cd, many in zip(self.checks, self.check_delete, self.check_many,
                                          strict=True):
            if many is not None:
                settled = list(map(or_, settled, many(texts, raws, joined)))
                continue
            todo = [j for j, done in enumerate(settled) if not done]
            if cd is not None:
                todo = [j for j in todo if raws[j].translate(None, cd)]
            for j in todo:
                if check(texts[j]):
                    settled[j] = True
        if self.suspect and not all(ascii_):
            todo = [j for j, a in enumerate(ascii_) if not a and not settled[j]]
            if self.suspect_delete is not None:
                todo = [j for j in todo if raws[j].translate(None, self.suspect_delete)]
            for j in todo:
                if any(rx.search(texts[j]) is not None for rx in self.suspect):
                    settled[j] = True
        opened.update(compress(owners, settled))
        return sorted(opened)

    def open_among(self, events: Sequence[TelemetryEvent], indices: Sequence[int]) -> list[int]:
        """Those of ``indices`` (ascending) whose event some new-turn text opens: the
        answer of ``open_indices`` for them, asked of their texts only."""
        if self.c_gate is None:
            return [i for i in indices if not self.quiet(events[i])]
        cols = keyed_batch.columns(events)
        texts, owners = cols.turn_texts, cols.turn_owners
        # text i is event i's (or "" when its texts come after the batch's own)
        pick = list(indices)
        if len(texts) > len(events):
            wanted = set(indices)
            pick += [j for j in range(len(events), len(texts)) if owners[j] in wanted]
        opened = self.c_gate.opened([texts[j] for j in pick])
        return sorted({owners[j] for j in compress(pick, opened)})

    def _pair_open(self, words: list[bytes]) -> bool:
        """A word of both sets of some pair is among ``words``."""
        found = self.anchors.intersection(words)
        if not found:
            return False
        present = set(words)
        index = self.pair_index
        return any(not o.isdisjoint(present) for w in found for o in index[w])

    def _word_hit(self, settled: list[bool], anchored: set[int]) -> Callable[[int, int], bool]:
        """The callback of the word scan (see ``__init__`` for what an id means)."""
        single_ids, rot13_ids, anchor_ids = self.single_ids, self.rot13_ids, self.anchor_ids
        first: dict[int, int] = {}

        def hit(pid: int, j: int) -> bool:
            if pid in single_ids:
                settled[j] = True
                return False
            if pid in anchor_ids:
                anchored.add(j)
            if pid in rot13_ids and first.setdefault(j, pid) != pid:
                settled[j] = True  # a second distinct rot13 word
            return False

        return hit
