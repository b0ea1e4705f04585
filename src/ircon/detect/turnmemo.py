"""The findings of recent new turns, handed again when the same turn comes back.

Attack traffic repeats itself: a jailbreak template pasted by many users, an
adversarial suffix replayed from many keys, a client retrying the same request.
The prompt detectors' findings depend only on the new turn of the conversation
(``base.current_turn``: its messages with their positions and roles), not on who
sent it or when; a detector that promises so says ``turn_pure = True``. For a
turn seen recently, ``TurnMemo`` gives that detector's findings of the first time,
attributed to the new event (``base.attributed``), without scanning it again.

The memo is bounded: at most ``SIZE`` turns of at most ``MAX_CHARS`` characters
each, the oldest forgotten first. A longer turn is always scanned.
"""

from __future__ import annotations

from ircon.detect.base import Detector, attributed, current_turn
from ircon.model.finding import Finding
from ircon.model.telemetry import TelemetryEvent

SIZE = 256
MAX_CHARS = 2048


class _Unseen:
    """What the memo answers for a turn it does not hold."""


_UNSEEN = _Unseen()


class TurnMemo:
    """``observe`` of a turn-pure detector, answered from memory for a recent turn."""

    __slots__ = ("_detector", "_seen")

    def __init__(self, detector: Detector) -> None:
        self._detector = detector
        # turn -> the findings of its first event (None: not kept, see ``observe``)
        self._seen: dict[tuple[tuple[int, str, str], ...], tuple[Finding, ...] | None] = {}

    def observe(self, event: TelemetryEvent) -> list[Finding]:
        turn = current_turn(event)
        if not turn or (len(turn[0][2]) if len(turn) == 1
                        else sum(len(c) for _i, _r, c in turn)) > MAX_CHARS:
            return self._detector.observe(event)
        key = tuple(turn)
        seen = self._seen
        known = seen.get(key, _UNSEEN)
        if isinstance(known, _Unseen):
            got = self._detector.observe(event)
            if len(seen) >= SIZE:
                del seen[next(iter(seen))]
            # Findings that rest on other events too cannot be handed to another.
            own = (event.request_id,)
            seen[key] = (tuple(got) if not got or all(f.request_ids == own for f in got)
                         else None)
            return got
        if known is None:
            return self._detector.observe(event)
        return [attributed(f, event) for f in known]
