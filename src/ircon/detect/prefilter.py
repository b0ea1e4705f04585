"""The literals a regex needs: a cheap test that rules a regex out before it runs.

The pattern rules run Python regexes over the few texts their keyword gate opens.
On an attack prompt most of the gate's candidates still do not match, and a
failed regex costs microseconds (a multilingual alternation tried at every
position). Any match of a regex holds certain literal strings: ``ignore\\s+(?:all
\\s+)?previous`` cannot match a text without "ignore" and "previous". A few
substring searches (``memmem`` in the C accelerator, ``in`` without it) then
answer "certainly not" for most failing regexes, as the literal extraction of
regex engines such as RE2 does.

``Requirement`` is written out from Python's own parse of the case-folded regex
(``rules.folded_tree``, for lowercased ASCII text) and is an OR over the
regex's top-level alternatives (a rule's patterns, and the branches of the one
alternation of a pattern, when it has one), each an AND of "one of these
literals":

* a run of literal characters is a literal (runs shorter than ``MIN_CHARS`` are
  too common to rule anything out and are dropped);
* an alternation needs one literal of each branch: the union of each branch's
  most telling set; a branch with none makes the alternation need nothing;
* a group or a repeat of at least one needs what its body needs; anything that
  may be absent (a ``?``, a ``*``, a lookaround) needs nothing.

Dropping a need only makes the test weaker, never wrong: the test may let a
regex run that then fails, but never skips one that would match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ircon.detect import accel

MIN_CHARS = 3
Need = frozenset[str]  # one of these literals must be in the text


def _best(needs: list[Need]) -> Need | None:
    """The need that rules out most: the one whose shortest literal is longest."""
    return max(needs, key=lambda n: (min(map(len, n)), -len(n)), default=None)


def _needs(items: Any) -> list[Need]:
    """What every match of the sequence ``items`` holds: a list of needs (AND)."""
    from re import _constants as C  # type: ignore[attr-defined]

    out: list[Need] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= MIN_CHARS:
            out.append(frozenset(("".join(run),)))
        run.clear()

    for op, av in items:
        if op == C.LITERAL:
            run.append(chr(av))
            continue
        flush()
        if op == C.BRANCH:
            union: set[str] = set()
            for alt in av[1]:
                best = _best(_needs(alt))
                if best is None:
                    break
                union |= best
            else:
                out.append(frozenset(union))
        elif op == C.SUBPATTERN:
            out.extend(_needs(av[3]))
        elif op == C.ATOMIC_GROUP:
            out.extend(_needs(av))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and av[0] >= 1:
            out.extend(_needs(av[2]))
    flush()
    return out


_MAX_ALTERNATIVES = 16
_MAX_UNION = 32  # a need with more literals than this is kept only when it is alone


def _alternatives(items: Any) -> list[list[Any]]:
    """The top-level alternatives of a parsed sequence: through wrapping groups,
    ``x(?:a|b)y`` is ``xay`` or ``xby`` for its one top-level alternation (nested
    alternations stay whole; at most ``_MAX_ALTERNATIVES``)."""
    from re import _constants as C  # type: ignore[attr-defined]

    items = list(items)
    while len(items) == 1 and items[0][0] == C.SUBPATTERN:
        items = list(items[0][1][3])
    at = [k for k, (op, _av) in enumerate(items) if op == C.BRANCH]
    if len(at) != 1:
        return [items]
    k = at[0]
    alts = items[k][1][1]
    if len(alts) > _MAX_ALTERNATIVES:
        return [items]
    out = [items[:k] + sub + items[k + 1:] for alt in alts for sub in _alternatives(alt)]
    if len(out) > _MAX_ALTERNATIVES:  # too many: the inner alternations stay whole
        out = [items[:k] + list(alt) + items[k + 1:] for alt in alts]
    return out


class Requirement:
    """Which literals a case-folded regex needs, per top-level alternative.

    ``possible(low)`` is False only when no alternative's needs are all met in
    the lowercased ASCII text ``low``: the regex cannot match it. ``useful`` is
    False when some alternative needs nothing (then it always answers True).
    """

    __slots__ = ("alternatives", "useful")

    def __init__(self, tree: Any) -> None:
        alts: list[tuple[tuple[str, ...], ...]] = []
        useful = tree is not None
        if useful:
            for alt in _alternatives(tree.data):
                needs = _needs(alt)
                if not needs:
                    useful = False
                    break
                # A long list of literals is slow to rule out and rarely does: dropped
                # when the alternative needs something else too. The cheapest first,
                # so that a miss stops early.
                small = [n for n in needs if len(n) <= _MAX_UNION]
                needs = sorted(small or needs, key=lambda n: (len(n), -min(map(len, n))))
                alts.append(tuple(tuple(sorted(n, key=len, reverse=True)) for n in needs))
        self.useful = useful
        self.alternatives: tuple[tuple[tuple[str, ...], ...], ...] = tuple(alts) if useful else ()

    def possible(self, low: str) -> bool:
        if not self.useful:
            return True
        fast = accel.fast
        if fast is not None and low.isascii():
            return fast.needs_met(low, self.alternatives)
        for needs in self.alternatives:
            for lits in needs:
                for lit in lits:
                    if lit in low:
                        break
                else:
                    break  # this need is not met: the alternative cannot match
            else:
                return True
        return False


def requirements(trees: Sequence[Any]) -> list[Requirement | None]:
    """A ``Requirement`` per tree, or None where it would never rule anything out."""
    reqs = [Requirement(t) for t in trees]
    return [r if r.useful else None for r in reqs]
