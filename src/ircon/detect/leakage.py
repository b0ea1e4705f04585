"""Leakage in model responses: canaries, system prompt fragments, secrets, PII.

Responses are not tokenized: secret rules open on literal prefixes ("AKIA",
"-----BEGIN"), PII rules on a run of digits or an "@", system prompt
fragments on a handful of substring probes. Only then do regexes and
validators (Luhn, IBAN mod-97, distinct counts) run.

``observe_batch`` asks those same openers for a whole batch at once (``_BatchGate``:
Hyperscan over the joined responses, prompt identity by length and equality) and
runs ``observe`` only on the responses that may hold something: the findings are
those of ``observe`` on every event, in order.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import compress
from operator import eq, not_
from pathlib import Path

from ircon.detect import keyed_batch
from ircon.detect.base import APP_ROLES, BuildContext, excerpt, finding, windows
from ircon.detect.multimatch import Joined, MatchError, MultiMatch
from ircon.detect.rules import PatternSet, Rule, _byte_rank, utf8
from ircon.model.finding import Evidence, Finding
from ircon.model.telemetry import TelemetryEvent

NAME = "leakage"
_ANCHOR_LEN = 16
_MAX_PROTECTED = 256  # distinct system prompts whose probes are remembered
_PROTECTED_ROLES = APP_ROLES
# Batch path: the anchors of up to _POPULAR protected prompts join the compiled literal
# set once a prompt has been seen with _PROMOTE_AT events. Every recompile spends
# _COMPILE_EVENTS events of credit (earned one per event, _CREDIT_CAP at most), so a
# stream of ever-new prompts costs at most one compile per that many events.
_POPULAR = 32
_PROMOTE_AT = 16
_MAX_PENDING = 1024
_MAX_PROMOTE_CHARS = 65_536  # longer prompts are never remembered, only checked
_COMPILE_EVENTS = 32_768
_CREDIT_CAP = 4 * _COMPILE_EVENTS
_MAX_DIGITS_GATE = 64
_PROBE_BYTES = 12  # bytes of each prompt anchor the batch gate searches for
# Events per pass: the joined responses of a chunk stay in the CPU's L2 cache across
# the several C passes over them (join, encode, scans).
_CHUNK = 512


def mask(value: str) -> str:
    """A recognizable but useless form of a secret: its first 4 characters and length."""
    value = value[:200]
    keep = 4 if len(value) >= 12 else 0
    return value[:keep] + "*" * (len(value) - keep)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    s = value.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    num = "".join(str(int(c, 36)) for c in moved)
    return int(num) % 97 == 1


def _anchors(text: str, count: int, min_chars: int) -> tuple[str, ...]:
    """Substrings such that a verbatim copy of a long part of ``text`` contains one.

    Probes of 16 characters every ``step`` characters; with few probes allowed,
    long prompts get sparser probes (long leaks still hit several).
    """
    text = text.strip()
    if len(text) < min_chars:
        return ()
    step = max(min_chars - _ANCHOR_LEN, (len(text) - _ANCHOR_LEN) // max(count, 1) + 1)
    out = []
    for pos in range(0, len(text) - _ANCHOR_LEN + 1, step):
        a = text[pos: pos + _ANCHOR_LEN]
        if a.strip() and len(set(a)) > 4:
            out.append(a)
        if len(out) >= count:
            break
    return tuple(out)


def _anchor_slots(text: str, count: int, min_chars: int) -> list[str]:
    """Every substring ``_anchors`` considers (without its filter and its cap): a
    superset of ``_anchors(text, count, min_chars)``, at most ``count + 1`` long,
    built with one slice per slot."""
    text = text.strip()
    if len(text) < min_chars:
        return []
    step = max(min_chars - _ANCHOR_LEN, (len(text) - _ANCHOR_LEN) // max(count, 1) + 1)
    return [text[p: p + _ANCHOR_LEN] for p in range(0, len(text) - _ANCHOR_LEN + 1, step)]


def _probe(anchor: str) -> bytes:
    """The bytes of ``anchor`` the batch gate searches for: its ``_PROBE_BYTES``-byte
    window of the rarest bytes in ordinary text. A response holding the anchor holds
    the window; common English fragments make the matcher confirm many near-misses,
    rarer bytes fewer."""
    raw = utf8(anchor)
    if len(raw) <= _PROBE_BYTES:
        return raw
    rank = _byte_rank()
    costs = [rank[b] for b in raw]
    best, at = sum(costs[:_PROBE_BYTES]), 0
    run = best
    for k in range(1, len(raw) - _PROBE_BYTES + 1):
        run += costs[k + _PROBE_BYTES - 1] - costs[k - 1]
        if run < best:
            best, at = run, k
    return raw[at: at + _PROBE_BYTES]


def _common_run(protected: str, response: str, anchor_at: int, anchor: str) -> tuple[int, int]:
    """Extend an anchor hit in ``response`` to the longest verbatim run shared with
    ``protected`` (bounded walk)."""
    p = protected.find(anchor)
    if p < 0:
        return anchor_at, anchor_at + len(anchor)
    a, b = anchor_at, anchor_at + len(anchor)
    pa, pb = p, p + len(anchor)
    limit = 4096
    while a > 0 and pa > 0 and response[a - 1] == protected[pa - 1] and limit:
        a, pa, limit = a - 1, pa - 1, limit - 1
    while b < len(response) and pb < len(protected) and response[b] == protected[pb] and limit:
        b, pb, limit = b + 1, pb + 1, limit - 1
    return a, b


class LeakageDetector:
    name = NAME

    def __init__(self, rules: list[Rule], canaries: list[str], system_prompts: list[str],
                 limit: int) -> None:
        self.by_id = {r.id: r for r in rules}
        self.patterns = PatternSet(r for r in rules if "response" in r.applies_to)
        self.canaries = [c for c in canaries if c]
        self.limit = limit
        sp = self.by_id.get("leak.system_prompt")
        self.min_chars = int(sp.params.get("min_chars", 48)) if sp else 48
        self.n_anchors = int(sp.params.get("anchors", 12)) if sp else 12
        self.configured = [(s, _anchors(s, self.n_anchors * 2, self.min_chars))
                           for s in system_prompts if s.strip()]
        self._anchor_cache: dict[str, tuple[str, ...]] = {}
        self._batch: _BatchGate | None = _BatchGate(self)

    def _anchors_for(self, text: str) -> tuple[str, ...]:
        got = self._anchor_cache.get(text)
        if got is None:
            if len(self._anchor_cache) >= _MAX_PROTECTED:
                self._anchor_cache.clear()
            got = _anchors(text, self.n_anchors, self.min_chars)
            self._anchor_cache[text] = got
        return got

    def _quiet(self, event: TelemetryEvent, resp: str) -> bool:
        """True when ``resp`` (examined whole) holds no canary, no anchor of a
        protected prompt and opens no rule gate: the common case, checked with
        C-level substring searches and no per-rule Python work."""
        if self.canaries and any(map(resp.__contains__, self.canaries)):
            return False
        if "leak.system_prompt" in self.by_id:
            has = resp.__contains__
            for m in event.messages:
                if m.role in _PROTECTED_ROLES and m.content and any(
                        map(has, self._anchors_for(m.content))):
                    return False
            for _prompt, anchors in self.configured:
                if any(map(has, anchors)):
                    return False
        return not (self.patterns and self.patterns.candidates(None, resp))

    def observe(self, event: TelemetryEvent) -> list[Finding]:
        resp = event.response
        if not resp or (len(resp) <= self.limit and self._quiet(event, resp)):
            return []
        out: list[Finding] = []
        for off, part in windows(resp, self.limit):
            out.extend(self._scan(event, resp, part, off))
        return out

    def _scan(self, event: TelemetryEvent, full: str, text: str, off: int) -> list[Finding]:
        out: list[Finding] = []
        canary = self.by_id.get("leak.canary")
        if canary is not None:
            for c in self.canaries:
                pos = text.find(c)
                if pos >= 0:
                    out.append(self._make(event, canary, full, off + pos, off + pos + len(c),
                                          {"canary": "configured canary"}))
                    break
        sp = self.by_id.get("leak.system_prompt")
        if sp is not None:
            out.extend(self._system_prompt(event, sp, full, text, off))
        if self.patterns:
            for hit in self.patterns.scan(text, None, 0):
                f = self._validated(event, hit.rule, full, text, off, hit.start, hit.end)
                if f is not None:
                    out.append(f)
        return out

    def _system_prompt(self, event: TelemetryEvent, rule: Rule, full: str, text: str,
                       off: int) -> list[Finding]:
        protected: list[tuple[str, tuple[str, ...]]] = [
            (m.content, self._anchors_for(m.content))
            for m in event.messages if m.role in _PROTECTED_ROLES and m.content
        ]
        protected.extend(self.configured)
        for prompt, anchors in protected:
            for anchor in anchors:
                pos = text.find(anchor)
                if pos < 0:
                    continue
                a, b = _common_run(prompt, text, pos, anchor)
                if b - a >= self.min_chars:
                    share = min(1.0, (b - a) / max(len(prompt.strip()), 1))
                    return [self._make(event, rule, full, off + a, off + b, {
                        "chars": b - a, "share_of_prompt": round(share, 3)},
                        score=min(1.0, rule.score + 0.15 * share))]
        return []

    def _validated(self, event: TelemetryEvent, rule: Rule, full: str, text: str, off: int,
                   start: int, end: int) -> Finding | None:
        validator = rule.params.get("validator")
        if validator is None:
            return self._make(event, rule, full, off + start, off + end, {})
        rx = self.patterns._regex[self.patterns.rules.index(rule)]
        if rx is None:
            return None
        need = int(rule.params.get("min_count", 1))
        seen: list[tuple[int, int]] = []
        values: set[str] = set()
        for n, m in enumerate(rx.finditer(text, start)):
            if n >= 256:
                break
            v = m.group()
            if validator == "luhn":
                digits = "".join(c for c in v if c.isdigit())
                if not (13 <= len(digits) <= 19 and luhn_ok(digits)) or len(set(digits)) < 3:
                    continue
                v = digits
            elif validator == "iban" and not iban_ok(v):
                continue
            if v not in values:
                values.add(v)
                seen.append((m.start(), m.end()))
            if len(values) >= need and validator != "distinct":
                break
        if len(values) < need:
            return None
        s, e = seen[0]
        return self._make(event, rule, full, off + s, off + e, {"count": len(values)})

    def _make(self, event: TelemetryEvent, rule: Rule, full: str, start: int, end: int,
              details: dict[str, object], score: float | None = None) -> Finding:
        if rule.id == "leak.system_prompt" or rule.id.startswith("inj."):
            ev = excerpt("response", full, start, end)
        else:
            # Secrets, PII and canaries are never copied into a finding: the
            # evidence shows where they are and what they look like, masked.
            ev = Evidence(field="response", start=start, end=end,
                          excerpt=mask(full[start:end]))
        return finding(
            event, detector=NAME, rule_id=rule.id, title=rule.title,
            score=rule.score if score is None else score, severity=rule.severity,
            atlas=rule.atlas, owasp=rule.owasp, evidence=(ev,),
            campaign=f"rule:{rule.id}", details=details,
        )

    def observe_batch(self, events: Sequence[TelemetryEvent]) -> list[tuple[int, Finding]]:
        """``observe`` of each event in turn. Whether a response is quiet is decided for
        the whole batch (``_BatchGate``); only the others go through ``observe``."""
        out: list[tuple[int, Finding]] = []
        observe = self.observe
        todo: Sequence[int] = range(len(events))
        if self._batch is not None:
            try:
                todo = self._batch.open(events)
            except MatchError:  # the matcher failed: from now on, every event is checked
                self._batch = None
        for i in todo:
            out.extend((i, f) for f in observe(events[i]))
        return out

    def flush(self) -> list[Finding]:
        return []


class _BatchGate:
    """Which responses of a batch may hold a leak: a superset of those for which
    ``LeakageDetector._quiet`` is false, found with C-level work over the batch.
    A response longer than the detector's limit is judged whole: anything that opens
    one of its windows in ``observe`` is in the whole response too.

    * One literal set scans all responses for canaries, anchors of the configured
      prompts and the literals of the response rules; another for the anchors of the
      popular protected prompts (those many requests carry). A hit on another
      request's prompt anchors only sends a response to the exact per-event check.
      Anchors are searched by their rarest ``_PROBE_BYTES`` bytes (``_probe``).
    * The digits gate of the response rules (at least N ASCII digits) is one regex.
    * An event whose protected prompt is not popular (matched by length, then by
      equality: no hashing of prompt text on the common path) has that prompt's
      anchors searched in its response with plain substring search; a prompt
      becomes popular after ``_PROMOTE_AT`` events, at a bounded compile rate.
    * Responses holding NUL (the separator of the joined batch) are always open.
    """

    __slots__ = ("_anchors", "_credit", "_det", "_digits", "_lits", "_pending", "_popular",
                 "_prompts", "_ready", "_stale", "_static", "compiles")

    def __init__(self, det: LeakageDetector) -> None:
        self._det = det
        lits: list[bytes] = [utf8(c) for c in det.canaries]
        self._prompts = "leak.system_prompt" in det.by_id
        if self._prompts:
            for _prompt, anchors in det.configured:
                lits.extend(map(_probe, anchors))
        digit_min: int | None = None
        for r in det.patterns.rules:  # what opens a rule in PatternSet.candidates(None, text)
            lits.extend(map(utf8, r.literals))
            if r.params.get("gate") == "digits":
                least = int(r.params.get("min_digits", 3))
                digit_min = least if digit_min is None else min(digit_min, least)
        self._lits = [x for x in lits if x]
        self._static: MultiMatch | None = None  # built at the first batch
        self._digits: MultiMatch | None = None
        self._anchors: MultiMatch | None = None
        self._stale = True
        self.compiles = 0  # builds of the popular prompts' anchor set so far
        # length -> prompt, in promotion order; one prompt per length
        self._popular: dict[int, str] = {}
        self._pending: dict[str, int] = {}  # events seen per prompt not yet popular
        self._ready: set[str] = set()  # pending prompts seen often enough to promote
        self._credit = _CREDIT_CAP
        if digit_min is not None:
            if digit_min <= 0:
                # The gate then only asks for a run of three (Unicode) digits.
                self._digits = MultiMatch([rb"[^\x00]"], literal=False)
            else:
                k = min(digit_min, _MAX_DIGITS_GATE)
                self._digits = MultiMatch([rb"(?:[0-9][^0-9\x00]*){%d}" % k], literal=False)

    def _compile(self) -> None:
        if self._static is None:
            self._static = MultiMatch(self._lits)
        anchors_for = self._det._anchors_for
        self._anchors = MultiMatch([_probe(a) for prompt in self._popular.values()
                                    for a in anchors_for(prompt)])
        self._stale = False
        self.compiles += 1

    def open(self, events: Sequence[TelemetryEvent]) -> list[int]:
        """Ascending indices of the events whose ``observe`` may find something."""
        cols = keyed_batch.columns(events)
        prot, prot_owners = cols.protected, cols.protected_owners
        out: list[int] = []
        for base in range(0, len(events), _CHUNK):
            end = base + _CHUNK
            # the chunk's own prompts: their owners are ascending
            a, b = bisect_left(prot_owners, base), bisect_left(prot_owners, end)
            out.extend(base + i for i in self._open(
                cols.responses[base:end], prot[a:b], prot_owners[a:b], base))
        return out

    def _open(self, resps: list[str], contents: list[str], owners: list[int],
              base: int) -> list[int]:
        """Indices (from ``base``) of the responses ``resps`` that may hold a leak;
        ``contents``/``owners``: their events' own prompts (see ``_own_prompts``)."""
        self._credit = min(_CREDIT_CAP, self._credit + len(resps))
        if self._stale:
            self._compile()
        # A response longer than the limit is examined in windows; whatever opens a
        # window is in the whole response, so the whole-text gate holds for it too.
        joined = Joined(resps)
        opened = set(joined.odd)
        assert self._static is not None and self._anchors is not None
        opened.update(self._static.scan(joined))
        opened.update(self._anchors.scan(joined))
        if self._digits is not None:
            opened.update(self._digits.scan(joined))
        if self._prompts:
            self._own_prompts(resps, opened, contents, owners, base)
        return sorted(i for i in opened if resps[i])

    def _own_prompts(self, resps: list[str], opened: set[int], contents: list[str],
                     owners: list[int], base: int) -> None:
        """Open the events whose response holds an anchor of one of their own protected
        prompts that is not popular (the anchors of popular prompts were scanned).
        ``contents`` are the protected prompts of the events, ``owners`` the index of
        the event of each (``base`` is that of the first event)."""
        popular = self._popular
        # The popular prompt of each content's length, compared in one C loop (equal
        # prompts compare by memcmp; nothing is hashed).
        expected = list(map(popular.get, map(len, contents)))
        if contents == expected:
            return
        ok = list(map(eq, contents, expected))
        groups: dict[str, list[int]] = {}
        for content, i in zip(compress(contents, map(not_, ok)),
                              compress(owners, map(not_, ok)), strict=True):
            groups.setdefault(content, []).append(i - base)
        det = self._det
        for content, members in groups.items():
            # The slots, not the anchors: a superset, cheaper than building the anchors
            # of a prompt that may never be seen again.
            anchors = _anchor_slots(content, det.n_anchors, det.min_chars)
            if anchors:
                for i in members:
                    r = resps[i]
                    if r and i not in opened and any(map(r.__contains__, anchors)):
                        opened.add(i)
            if len(content) <= _MAX_PROMOTE_CHARS:  # remembered prompts stay small
                self._note(content, len(members))
        self._promote(set(compress(map(len, contents), ok)))

    def _note(self, prompt: str, count: int) -> None:
        pending = self._pending
        if len(pending) >= _MAX_PENDING and prompt not in pending:
            pending.clear()
            self._ready.clear()
        total = pending[prompt] = pending.get(prompt, 0) + count
        if total >= _PROMOTE_AT:
            self._ready.add(prompt)

    def _promote(self, in_use: set[int]) -> None:
        """Make the most requested ready prompts popular, evicting first the popular
        prompts (by length) not seen in this chunk. A prompt with anchors changes the
        compiled set, which is paid from the compile credit; until there is credit,
        only prompts too short to have anchors are promoted."""
        ready = self._ready
        if not ready:
            return
        det = self._det
        if self._credit < _COMPILE_EVENTS:
            cands = [p for p in ready if len(p.strip()) < det.min_chars]
            if not cands:
                return
        else:
            cands = list(ready)
        pending = self._pending
        cands = sorted(cands, key=pending.__getitem__, reverse=True)[:_POPULAR]
        popular = self._popular
        before = set(popular.values())
        for prompt in cands:
            del pending[prompt]
            ready.discard(prompt)
            popular.pop(len(prompt), None)
            popular[len(prompt)] = prompt
        if len(popular) > _POPULAR:
            order = [n for n in popular if n not in in_use] + [n for n in popular if n in in_use]
            for n in order[: len(popular) - _POPULAR]:
                del popular[n]
        anchors_for = det._anchors_for
        if any(anchors_for(p) for p in before.symmetric_difference(popular.values())):
            self._credit -= _COMPILE_EVENTS
            self._stale = True


def read_system_prompts(paths: list[str], base: Path | None = None) -> list[str]:
    """Texts of the configured system prompt files (a missing file is skipped)."""
    out = []
    for p in paths:
        path = Path(p).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            out.append(path.read_text(encoding="utf-8", errors="replace")[:200_000])
        except OSError:
            continue
    return out


def from_context(ctx: BuildContext) -> LeakageDetector:
    return LeakageDetector(ctx.rules_for(NAME), list(ctx.cfg.canaries), ctx.system_prompts,
                           ctx.cfg.max_field_chars)
