"""The facts of a post-mortem, derived from an incident's journal (pure: no I/O).

One pass over the entries, in journal order, with memory bounded by what the
draft shows: alerts, findings and other high-volume entries are condensed into
runs between the entries a reader needs one by one (decisions, containment,
escalations, status and severity changes). Every string here is raw and may
be attacker-written; the renderers escape it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ircon.model import kinds as K
from ircon.model.journal import ChainEntry
from ircon.model.severity import SEVERITIES
from ircon.model.text import one_line

# Entries a reader needs one by one, however many there are.
KEY_KINDS = frozenset({
    K.INCIDENT_OPENED, K.STATUS, K.SEVERITY, K.ROLE, K.DECISION, K.ACTION_REQUEST,
    K.ACTION_RESULT, K.ACTION_UNDO, K.APPROVAL, K.ESCALATION, K.MERGE, K.SPLIT,
    K.PLAYBOOK_STARTED, K.POLICY, K.DRILL, K.EVIDENCE, K.EXPORT,
})
# Kept one by one up to a budget each, then counted in the condensed runs.
SOFT_BUDGET = {K.NOTE: 200, K.STEP: 200, K.NOTIFICATION: 50}
LIST_LIMIT = 50  # keys, users, IPs... named in the draft (totals are always exact)
EXCERPT_LIMIT = 3
_CLOCK_KEY_EVENTS = ("started", "met", "breached")
_DONE_STATUSES = ("resolved", "closed")
_LEAK_OWASP = ("LLM02:2025", "LLM07:2025", "LLM06:2023")
_LEAK_WORDS = ("leak", "pii", "exfil", "secret", "disclos", "exposure")

METRIC_DEFINITIONS = {
    "TTD": "Time to detect: from the earliest malicious activity on record (telemetry event "
    "or alert start) to the first detection in ircon (alert, finding or declaration).",
    "TTA": "Time to acknowledge: from the incident being opened to the first status of "
    "acknowledged or later.",
    "TTC": "Time to contain: from the incident being opened to the first status of contained "
    "or later.",
    "TTR": "Time to resolve: from the incident being opened to the first status of resolved "
    "or closed.",
}


@dataclass(slots=True)
class TimelineItem:
    when: datetime
    seq: int
    actor: str
    kind: str
    text: str
    count: int = 1  # > 1: a condensed run of entries
    last_when: datetime | None = None
    last_seq: int | None = None


@dataclass(slots=True)
class Responder:
    person: str
    roles: list[str] = field(default_factory=list)
    entries: int = 0


@dataclass(slots=True)
class ActionFact:
    adapter: str
    action: str
    run_id: str | None
    requested_at: datetime | None = None
    requested_by: str | None = None
    params: Any = None
    dry_run: bool = False
    finished_at: datetime | None = None
    success: bool | None = None
    output: str = ""
    undone_at: datetime | None = None

    @property
    def outcome(self) -> str:
        if self.undone_at is not None:
            return "undone"
        if self.success is None:
            return "no result recorded"
        if self.dry_run:
            return "dry run"
        return "succeeded" if self.success else "failed"


@dataclass(slots=True)
class ClockFact:
    name: str
    title: str | None = None
    started: datetime | None = None  # the awareness time the deadline runs from
    deadline: datetime | None = None
    met_at: datetime | None = None
    reference: str | None = None
    breached_at: datetime | None = None
    outcome: str = "unknown"

    def judge(self, now: datetime | None) -> None:
        """Met, met late, breached or running, as of ``now``."""
        late = self.deadline is not None and (
            (self.met_at is not None and self.met_at > self.deadline)
            or (self.met_at is None and now is not None and now > self.deadline))
        if self.met_at is not None:
            self.outcome = "met late" if late or self.breached_at else "met"
        elif self.breached_at is not None or late:
            self.outcome = "breached"
        elif self.started is not None or self.deadline is not None:
            self.outcome = "running"


@dataclass(slots=True)
class Metric:
    abbr: str
    name: str
    value: timedelta | None
    start: datetime | None
    end: datetime | None
    definition: str


@dataclass(slots=True)
class Detection:
    how: str = "unknown"
    opened_at: datetime | None = None
    first_alert_at: datetime | None = None
    first_alert: str | None = None
    first_finding_at: datetime | None = None
    first_finding: str | None = None  # "detector / rule_id: title"
    activity_start: datetime | None = None
    detected_at: datetime | None = None
    detectors: list[tuple[str, int]] = field(default_factory=list)  # (detector/rule, count)


@dataclass(slots=True)
class Impact:
    keys: list[str]
    key_count: int
    users: list[str]
    user_count: int
    ips: list[str]
    ip_count: int
    models: list[str]
    requests: int
    alerts: int
    findings: int
    exposure: list[tuple[str, int]]  # (detector/rule, findings) suggesting data exposure
    severity_time: list[tuple[str, timedelta]]
    severity_time_final: bool  # False: the incident is still open, times are "so far"


@dataclass(slots=True)
class CampaignFact:
    name: str
    members: list[str]
    member_count: int


@dataclass(slots=True)
class EvidenceRef:
    sha256: str
    file: str | None
    when: datetime
    head_hash: str | None


@dataclass(slots=True)
class ActionItem:
    what: str
    owner: str
    type: str
    due: str = "TBD"


@dataclass(slots=True)
class Postmortem:
    """Everything the draft says, for a template to lay out."""

    incident: str
    title: str
    status: str
    severity: str
    kind: str
    tlp: str
    commander: str | None
    opened_at: datetime | None
    resolved_at: datetime | None
    last_entry_at: datetime | None
    summary: str
    responders: list[Responder]
    impact: Impact
    detection: Detection
    timeline: list[TimelineItem]
    timeline_condensed: int  # entries folded into runs
    actions: list[ActionFact]
    metrics: list[Metric]
    clocks: list[ClockFact]
    atlas: list[str]
    owasp: list[str]
    names: dict[str, str]  # ATLAS and OWASP ids -> their names, where known
    campaigns: list[CampaignFact]
    playbook: dict[str, str] | None
    excerpts: list[tuple[str, str]]  # (rule, excerpt)
    escalations: int
    notifications_ok: int
    notifications_failed: int
    action_items: list[ActionItem]
    links: list[str]
    journal_count: int
    journal_head: str | None
    evidence: EvidenceRef | None  # the latest evidence bundle's export record


# --- small tolerant readers ---------------------------------------------------------------


def _str(body: Mapping[str, Any], key: str) -> str | None:
    v = body.get(key)
    if v is None or isinstance(v, dict | list):
        return None
    return str(v)


def _strs(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None and not isinstance(v, dict | list)]
    if isinstance(value, str) and value:
        return [value]
    return []


def parse_when(value: Any) -> datetime | None:
    """An ISO 8601 text or epoch seconds as aware UTC, or None when unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if value <= 0:
            return None
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        d = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _body(e: ChainEntry) -> dict[str, Any]:
    try:
        b = orjson.loads(e.body)
    except orjson.JSONDecodeError:
        return {}
    return b if isinstance(b, dict) else {}


def _compact(value: Any, limit: int = 200) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", "="))
    except (TypeError, ValueError):
        text = str(value)
    return one_line(text, limit)


def _top(counter: Counter[str], n: int = 3) -> str:
    parts = [f"{name} ×{c}" if c > 1 else name for name, c in counter.most_common(n)]
    if len(counter) > n:
        parts.append(f"{len(counter) - n} more")
    return ", ".join(parts)


# --- one-line texts for kept entries ---------------------------------------------------------


def _ok(body: Mapping[str, Any]) -> bool | None:
    ok = body.get("success", body.get("ok"))
    return ok if isinstance(ok, bool) else None


def _action_output(body: Mapping[str, Any]) -> str:
    return (_str(body, "error") or _str(body, "summary") or _str(body, "output") or "").strip()


def describe(kind: str, body: Mapping[str, Any], fallback: str) -> str:
    """What an entry says, in one raw line (the renderer escapes it)."""
    g = body.get
    if kind == K.INCIDENT_OPENED:
        reasons = "; ".join(_strs(g("reasons")))
        return (f"Incident opened: {g('title', '')} ({g('severity', 'unknown')}, "
                f"{g('kind', 'unknown')})" + (f" — {reasons}" if reasons else ""))
    if kind == K.STATUS:
        reason = _str(body, "reason")
        return f"Status → {g('status', 'unknown')}" + (f": {reason}" if reason else "")
    if kind == K.SEVERITY:
        reasons = "; ".join(_strs(g("reasons")))
        over = " (override)" if g("override") else ""
        return f"Severity → {g('severity', 'unknown')}{over}" + (f": {reasons}" if reasons else "")
    if kind == K.ROLE:
        return f"{g('person', 'unknown')} is {g('role', 'unknown')}"
    if kind == K.DECISION:
        nxt = _str(body, "next")
        return (f"Decision at step {g('step', 'unknown')}: {g('option', 'unknown')}"
                + (f" → {nxt}" if nxt else ""))
    if kind == K.ACTION_REQUEST:
        params = g("params")
        return (f"Requested {g('adapter', 'unknown')} {g('action', 'unknown')}"
                + (f" {_compact(params, 120)}" if params else "")
                + (" (dry run)" if g("dry_run") else ""))
    if kind == K.ACTION_RESULT:
        ok = _ok(body)
        word = "succeeded" if ok is True else "failed" if ok is False else "finished"
        out = _action_output(body)
        return (f"{g('adapter', 'unknown')} {g('action', 'unknown')} {word}"
                + (f": {one_line(out, 120)}" if out else ""))
    if kind == K.ACTION_UNDO:
        what = f"{g('adapter', 'unknown')} {g('action', 'unknown')}"
        if g("phase") == "requested":
            return f"Undo of {what} requested"
        if _ok(body) is False:
            out = _action_output(body)
            return f"Undo of {what} failed" + (f": {one_line(out, 120)}" if out else "")
        return f"Undid {what}"
    if kind == K.PLAYBOOK_STARTED:
        return f"Playbook {g('name', 'unknown')} {g('version', '')} started".replace("  ", " ")
    if kind == K.STEP:
        reason = _str(body, "reason")
        return f"Step {g('step', 'unknown')}: {g('state', 'unknown')}" + (
            f" — {reason}" if reason else "")
    if kind == K.NOTE:
        return f"Note: {g('text', '')}"
    if kind == K.CLOCK:
        deadline = _str(body, "deadline")
        ref = _str(body, "reference")
        return f"Clock {g('clock', 'unknown')} {clock_event(body) or 'unknown'}" + (
            f" (deadline {deadline})" if deadline else "") + (f", reference {ref}" if ref else "")
    if kind == K.NOTIFICATION:
        err = _str(body, "error")
        state = "sent" if g("ok") else "failed"
        return f"Notification to {g('target', 'unknown')} {state}" + (f": {err}" if err else "")
    if kind in (K.ALERT, K.ALERT_UPDATE):
        name = g("name") or g("fingerprint") or "unnamed"
        summary = _str(body, "summary")
        label = "Alert" if kind == K.ALERT else "Alert update"
        return f"{label} {name} from {g('source', 'unknown')}" + (
            f": {summary}" if summary else "")
    if kind == K.FINDING:
        title = _str(body, "title")
        return f"Finding {g('detector', 'unknown')} / {g('rule_id', 'unknown')}" + (
            f": {title}" if title else "")
    if kind == K.ESCALATION:
        firing = _str(body, "what") or _str(body, "key")
        if not firing:
            return f"Escalation: {fallback}"
        level = _str(body, "level")
        targets = ", ".join(_strs(g("targets")))
        return (f"Escalation: {firing}" + (f" (level {level})" if level else "")
                + (f" → {targets}" if targets else "") + (" — late" if g("late") else ""))
    if kind == K.EVIDENCE:
        return f"Evidence bundle exported (sha256 {str(g('sha256', 'unknown'))[:16]}…)"
    if kind == K.EXPORT:
        return f"Exported {g('format', 'unknown')}" + (
            f" {g('file')}" if _str(body, "file") else "")
    return fallback


_CLOCK_EVENTS = {"start": "started", "started": "started", "met": "met", "breached": "breached",
                 "breach": "breached", "reminder": "reminder"}


def clock_event(body: Mapping[str, Any]) -> str | None:
    """started / met / breached / reminder, from ``event`` or ``action``."""
    raw = _str(body, "event") or _str(body, "action")
    return _CLOCK_EVENTS.get(raw or "", raw)


def _minor_label(kind: str, body: Mapping[str, Any]) -> str:
    if kind in (K.ALERT, K.ALERT_UPDATE):
        return str(body.get("name") or body.get("fingerprint") or "unnamed")
    if kind == K.FINDING:
        return str(body.get("rule_id") or body.get("detector") or "unnamed")
    if kind == K.CLOCK:
        return f"{body.get('clock', 'clock')} {clock_event(body) or ''}".strip()
    if kind == K.STEP:
        return str(body.get("step") or "step")
    if kind == K.NOTIFICATION:
        return str(body.get("target") or "notification")
    return kind


_KIND_WORDS = {
    K.ALERT: "alerts", K.ALERT_UPDATE: "alert updates", K.FINDING: "findings",
    K.GROUPING: "grouping decisions", K.CAMPAIGN: "campaign updates", K.NOTE: "notes",
    K.STEP: "step updates", K.NOTIFICATION: "notifications", K.CLOCK: "clock events",
}


class _Run:
    """Consecutive entries folded into one timeline line."""

    __slots__ = ("first", "kinds", "labels", "last", "n")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.first: tuple[str, int, str, str, str] | None = None
        self.last: tuple[str, int] | None = None
        self.kinds: Counter[str] = Counter()
        self.labels: dict[str, Counter[str]] = {}

    def add(self, e: ChainEntry, body: Mapping[str, Any], text: str) -> None:
        if self.first is None:
            self.first = (e.ts, e.seq, e.actor, e.kind, text)
        self.last = (e.ts, e.seq)
        self.n += 1
        self.kinds[e.kind] += 1
        labels = self.labels.setdefault(e.kind, Counter())
        label = one_line(_minor_label(e.kind, body), 80)
        # Distinct labels are bounded so a flood of unique names costs no more memory.
        if label in labels or len(labels) < 1000:
            labels[label] += 1

    def flush(self) -> TimelineItem | None:
        if self.first is None or self.last is None:
            return None
        ts, seq, actor, kind, text = self.first
        if self.n == 1:
            item = TimelineItem(_ts(ts), seq, actor, kind, text)
        else:
            parts = []
            for k, c in self.kinds.most_common():
                word = _KIND_WORDS.get(k, f"{k} entries")
                parts.append(f"{c} {word} ({_top(self.labels[k])})")
            item = TimelineItem(
                _ts(ts), seq, actor, "condensed", f"{self.n} entries: " + "; ".join(parts),
                count=self.n, last_when=_ts(self.last[0]), last_seq=self.last[1],
            )
        self.reset()
        return item


def _leaky(body: Mapping[str, Any]) -> bool:
    if any(o in _LEAK_OWASP for o in _strs(body.get("owasp"))):
        return True
    name = f"{body.get('detector', '')} {body.get('rule_id', '')}".lower()
    return any(w in name for w in _LEAK_WORDS)


def _bounded_add(target: set[str], value: Any, cap: int = 1_000_000) -> None:
    if value is None or isinstance(value, dict | list) or len(target) >= cap:
        return
    text = str(value)
    if text:
        target.add(text)


# --- the pass --------------------------------------------------------------------------------


def derive(
    incident: Mapping[str, Any],
    entries: Iterable[ChainEntry],
    *,
    fallback_summary: Any = None,
    now: datetime | None = None,
) -> Postmortem:
    """The post-mortem facts of ``incident`` (an ``incidents.get`` dict) from its journal.

    ``now`` judges clocks still running (default: the last entry's time, so the same
    journal always gives the same draft).

    ``fallback_summary(entry) -> str`` describes entries of kinds this module does not
    know (default: ``ircon.report.render.entry_summary``).
    """
    if fallback_summary is None:
        from ircon.report.render import entry_summary as fallback_summary

    timeline: list[TimelineItem] = []
    run = _Run()
    condensed = 0
    soft_used: Counter[str] = Counter()

    actors: dict[str, Responder] = {}
    roles: dict[str, list[str]] = {}
    commander: str | None = incident.get("commander")

    keys: set[str] = set()
    users: set[str] = set()
    ips: set[str] = set()
    models: set[str] = set()
    requests: set[str] = set()
    atlas: set[str] = set(_strs(incident.get("atlas")))
    owasp: set[str] = set(_strs(incident.get("owasp")))
    campaigns: dict[str, set[str]] = {}
    if incident.get("campaign"):
        campaigns[str(incident["campaign"])] = set()
    detectors: Counter[str] = Counter()
    exposure: Counter[str] = Counter()
    excerpts: list[tuple[str, str]] = []
    links: list[str] = []

    n_alerts = n_findings = escalations = notes_ok = notes_failed = 0
    det = Detection()
    first_status: dict[str, datetime] = {}
    sev_changes: list[tuple[datetime, str]] = []
    final_status = str(incident.get("status") or "open")
    final_status_at: datetime | None = None
    clocks: dict[str, ClockFact] = {}
    actions: dict[str, ActionFact] = {}
    action_order: list[str] = []
    playbook: dict[str, str] | None = None
    evidence: EvidenceRef | None = None
    count = 0
    rid: str | None = None  # the action run of the current action entry
    action_item: str | None = None  # the run of the request last put on the timeline
    head: str | None = None
    first_ts: datetime | None = None
    last_ts_text: str | None = None

    for e in entries:
        count += 1
        head = e.hash
        last_ts_text = e.ts
        body = _body(e)
        kind = e.kind
        r = actors.get(e.actor)
        if r is None:
            r = actors[e.actor] = Responder(e.actor)
        r.entries += 1
        when: datetime | None = None
        if first_ts is None:
            first_ts = when = _ts(e.ts)

        # Facts, kind by kind.
        if kind == K.INCIDENT_OPENED:
            when = when or _ts(e.ts)
            det.opened_at = det.opened_at or when
            sev = _str(body, "severity")
            if sev:
                sev_changes.append((when, sev))
        elif kind == K.STATUS:
            when = when or _ts(e.ts)
            st = _str(body, "status") or "unknown"
            first_status.setdefault(st, when)
            final_status, final_status_at = st, when
        elif kind == K.SEVERITY:
            when = when or _ts(e.ts)
            sev = _str(body, "severity")
            if sev:
                sev_changes.append((when, sev))
        elif kind == K.ROLE:
            person, role = _str(body, "person"), _str(body, "role") or "responder"
            if person:
                if role not in roles.setdefault(person, []):
                    roles[person].append(role)
                if role == "commander":
                    commander = person
        elif kind in (K.ALERT, K.ALERT_UPDATE):
            if kind == K.ALERT:
                n_alerts += 1
                if det.first_alert_at is None:
                    det.first_alert_at = _ts(e.ts)
                    det.first_alert = f"{body.get('source', 'unknown')}: " + str(
                        body.get("name") or body.get("fingerprint") or "unnamed")
            for k in ("starts_at", "first_seen", "received_at"):
                start = parse_when(body.get(k))
                if start and (det.activity_start is None or start < det.activity_start):
                    det.activity_start = start
            labels = body.get("labels")
            if isinstance(labels, dict):
                _bounded_add(models, labels.get("model"))
                _bounded_add(users, labels.get("user"))
                _bounded_add(keys, labels.get("key") or labels.get("key_alias"))
                _bounded_add(ips, labels.get("ip") or labels.get("client_ip"))
            url = _str(body, "generator_url")
            if url and len(links) < 10 and url not in links:
                links.append(url)
        elif kind == K.FINDING:
            n_findings += 1
            rule = f"{body.get('detector', 'unknown')} / {body.get('rule_id', 'unknown')}"
            detectors[rule] += 1
            if det.first_finding_at is None:
                det.first_finding_at = _ts(e.ts)
                det.first_finding = rule + (f": {body['title']}" if body.get("title") else "")
            start = parse_when(body.get("ts"))
            if start and (det.activity_start is None or start < det.activity_start):
                det.activity_start = start
            atlas.update(_strs(body.get("atlas")))
            owasp.update(_strs(body.get("owasp")))
            _bounded_add(keys, body.get("key"))
            _bounded_add(users, body.get("user"))
            _bounded_add(ips, body.get("ip"))
            _bounded_add(models, body.get("model"))
            for req in _strs(body.get("request_ids")):
                _bounded_add(requests, req)
            if _leaky(body):
                exposure[rule] += 1
            camp = _str(body, "campaign")
            if camp:
                members = campaigns.setdefault(camp, set())
                for m in _strs(body.get("members")):
                    _bounded_add(members, m, 100_000)
            ev = body.get("evidence")
            if isinstance(ev, list) and len(excerpts) < EXCERPT_LIMIT:
                for item in ev[:1]:
                    if isinstance(item, dict) and isinstance(item.get("excerpt"), str):
                        sample = (rule, item["excerpt"][:2000])
                        if sample not in excerpts:
                            excerpts.append(sample)
        elif kind == K.CAMPAIGN:
            name = _str(body, "campaign") or _str(body, "name") or _str(body, "id")
            if name:
                members = campaigns.setdefault(name, set())
                for m in _strs(body.get("members")):
                    _bounded_add(members, m, 100_000)
        elif kind == K.PLAYBOOK_STARTED:
            playbook = {k: str(body.get(k) or "unknown") for k in ("name", "version", "hash")}
        elif kind in (K.ACTION_REQUEST, K.ACTION_RESULT, K.ACTION_UNDO):
            rid = _action_key(kind, e.seq, body, actions, action_order)
            a = actions.get(rid) or ActionFact(
                str(body.get("adapter", "unknown")), str(body.get("action", "unknown")),
                _str(body, "run_id"))
            if rid not in actions:
                actions[rid] = a
                action_order.append(rid)
            if kind == K.ACTION_REQUEST:
                a.requested_at, a.requested_by = _ts(e.ts), e.actor
                a.params = body.get("params")
                a.dry_run = bool(body.get("dry_run"))
            elif kind == K.ACTION_RESULT:
                a.finished_at = _ts(e.ts)
                a.success = _ok(body)
                a.output = one_line(_action_output(body), 300)
                if body.get("dry_run"):
                    a.dry_run = True
            elif body.get("phase") != "requested" and _ok(body) is not False:
                a.undone_at = _ts(e.ts)
        elif kind == K.ESCALATION:
            escalations += 1
        elif kind == K.NOTIFICATION:
            if body.get("ok"):
                notes_ok += 1
            else:
                notes_failed += 1
        elif kind == K.CLOCK:
            name = _str(body, "clock") or "clock"
            c = clocks.get(name)
            if c is None:
                c = clocks[name] = ClockFact(name)
            ev_name = clock_event(body)
            c.deadline = parse_when(body.get("deadline")) or c.deadline
            if ev_name == "started":
                # A restart moves the awareness time; the latest one counts.
                c.started = parse_when(body.get("awareness")) or _ts(e.ts)
                c.title = _str(body, "title") or c.title
            elif ev_name == "met":
                c.met_at = c.met_at or parse_when(body.get("at")) or _ts(e.ts)
                c.reference = _str(body, "reference") or c.reference
            elif ev_name == "breached":
                c.breached_at = c.breached_at or _ts(e.ts)
        elif kind == K.EVIDENCE and _str(body, "sha256"):
            evidence = EvidenceRef(str(body["sha256"]), _str(body, "file"), _ts(e.ts),
                                   _str(body, "head_hash"))

        # The timeline: kept one by one, or folded into the current run.
        if kind in KEY_KINDS:
            keep = True
        elif kind == K.CLOCK:
            keep = clock_event(body) in _CLOCK_KEY_EVENTS
        elif kind == K.NOTIFICATION:
            keep = not body.get("ok") and soft_used[kind] < SOFT_BUDGET[kind]
        else:
            keep = kind in SOFT_BUDGET and soft_used[kind] < SOFT_BUDGET[kind]
        if keep:
            if kind in SOFT_BUDGET:
                soft_used[kind] += 1
            item = run.flush()
            if item is not None:
                timeline.append(item)
                condensed += item.count if item.count > 1 else 0
            text = describe(kind, body, fallback_summary(e))
            last = timeline[-1] if timeline else None
            if (kind == K.ACTION_RESULT and last is not None and last.kind == K.ACTION_REQUEST
                    and last.count == 1 and action_item == rid and last.actor == e.actor):
                # A result right after its request reads as one line: asked, then got.
                result = text.removeprefix(f"{body.get('adapter', 'unknown')} "
                                           f"{body.get('action', 'unknown')} ")
                last.text += f" → {result}"
                last.count, last.last_when, last.last_seq = 2, _ts(e.ts), e.seq
            else:
                timeline.append(TimelineItem(when or _ts(e.ts), e.seq, e.actor, kind, text))
            action_item = rid if kind == K.ACTION_REQUEST else None
        else:
            run.add(e, body, describe(kind, body, fallback_summary(e)) if run.n == 0 else "")
    item = run.flush()
    if item is not None:
        timeline.append(item)
        condensed += item.count if item.count > 1 else 0

    last_ts = _ts(last_ts_text) if last_ts_text else None
    opened = det.opened_at or first_ts or parse_when(incident.get("created_at"))

    # Detection.
    detections = [t for t in (det.first_alert_at, det.first_finding_at, opened) if t]
    det.detected_at = min(detections) if detections else None
    # The earlier of the first alert and the first finding is what raised the incident.
    if det.first_alert_at and (det.first_finding_at is None
                               or det.first_alert_at <= det.first_finding_at):
        det.how = f"an alert ({det.first_alert})"
    elif det.first_finding_at:
        det.how = f"a detector finding ({det.first_finding})"
    else:
        det.how = "a responder's declaration (no alert or finding in the journal)"
    det.detectors = detectors.most_common(10)

    # Metrics.
    def first_at_or_beyond(states: tuple[str, ...]) -> datetime | None:
        hits = [first_status[s] for s in states if s in first_status]
        return min(hits) if hits else None

    acked = first_at_or_beyond(("acknowledged", "contained", "resolved", "closed"))
    contained = first_at_or_beyond(("contained", "resolved", "closed"))
    resolved = first_at_or_beyond(_DONE_STATUSES)
    ttd = None
    if det.activity_start and det.detected_at and det.activity_start <= det.detected_at:
        ttd = det.detected_at - det.activity_start
    metrics = [
        Metric("TTD", "Time to detect", ttd, det.activity_start, det.detected_at,
               METRIC_DEFINITIONS["TTD"]),
        Metric("TTA", "Time to acknowledge", _span(opened, acked), opened, acked,
               METRIC_DEFINITIONS["TTA"]),
        Metric("TTC", "Time to contain", _span(opened, contained), opened, contained,
               METRIC_DEFINITIONS["TTC"]),
        Metric("TTR", "Time to resolve", _span(opened, resolved), opened, resolved,
               METRIC_DEFINITIONS["TTR"]),
    ]

    # Time at each severity, up to resolution (or the last entry, while still open).
    done = final_status in _DONE_STATUSES
    end = (final_status_at if done and final_status_at else last_ts) or opened
    if not sev_changes and incident.get("severity") and opened:
        sev_changes.append((opened, str(incident["severity"])))
    sev_time: dict[str, timedelta] = {}
    for i, (start, sev) in enumerate(sev_changes):
        stop = sev_changes[i + 1][0] if i + 1 < len(sev_changes) else end
        if stop is None or start is None:
            continue
        stop = min(stop, end) if end else stop
        span = max(stop - start, timedelta(0))
        sev_time[sev] = sev_time.get(sev, timedelta(0)) + span
    order = {s: i for i, s in enumerate(SEVERITIES)}
    severity_time = sorted(sev_time.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))

    # People: the commander first, then those with roles, then by how much they wrote.
    for person in roles:
        actors.setdefault(person, Responder(person))
    for person, rs in roles.items():
        actors[person].roles = rs
    if commander:
        actors.setdefault(commander, Responder(commander))
        if "commander" not in actors[commander].roles:
            actors[commander].roles.insert(0, "commander")
    responders = sorted(
        actors.values(),
        key=lambda p: (p.person != commander, not p.roles, -p.entries, p.person),
    )

    for c in clocks.values():
        c.judge(now or last_ts)
    action_list = [actions[k] for k in action_order]
    clock_list = sorted(clocks.values(), key=lambda c: (c.started or c.deadline or _EPOCH, c.name))
    campaign_list = [
        CampaignFact(name, sorted(m)[:LIST_LIMIT], len(m)) for name, m in sorted(campaigns.items())
    ]
    impact = Impact(
        keys=sorted(keys)[:LIST_LIMIT], key_count=len(keys),
        users=sorted(users)[:LIST_LIMIT], user_count=len(users),
        ips=sorted(ips)[:LIST_LIMIT], ip_count=len(ips),
        models=sorted(models)[:LIST_LIMIT], requests=len(requests),
        alerts=n_alerts, findings=n_findings,
        exposure=exposure.most_common(10),
        severity_time=severity_time, severity_time_final=done,
    )
    title = str(incident.get("title") or "untitled")
    pm = Postmortem(
        incident=str(incident.get("human_id") or incident.get("id") or "unknown"),
        title=title,
        status=final_status if count else str(incident.get("status") or "unknown"),
        severity=str(incident.get("severity") or "unknown"),
        kind=str(incident.get("kind") or "unknown"),
        tlp=str(incident.get("tlp") or "amber"),
        commander=commander,
        opened_at=opened,
        resolved_at=resolved,
        last_entry_at=last_ts,
        summary="",
        responders=responders,
        impact=impact,
        detection=det,
        timeline=timeline,
        timeline_condensed=condensed,
        actions=action_list,
        metrics=metrics,
        clocks=clock_list,
        atlas=sorted(atlas),
        owasp=sorted(owasp),
        names=reference_names([*atlas, *owasp]),
        campaigns=campaign_list,
        playbook=playbook,
        excerpts=excerpts,
        escalations=escalations,
        notifications_ok=notes_ok,
        notifications_failed=notes_failed,
        action_items=[],
        links=links,
        journal_count=count,
        journal_head=head,
        evidence=evidence,
    )
    pm.summary = _summary(pm)
    pm.action_items = _action_items(pm)
    return pm


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _action_key(
    kind: str, seq: int, body: Mapping[str, Any], actions: Mapping[str, ActionFact],
    order: list[str],
) -> str:
    """Which action run an action entry belongs to."""
    rid = _str(body, "run_id")
    if rid and (kind == K.ACTION_REQUEST or rid in actions):
        return rid
    if kind != K.ACTION_REQUEST:
        # A result or undo without a known run id: the latest open request of the same
        # adapter and action.
        want = (str(body.get("adapter", "unknown")), str(body.get("action", "unknown")))
        for cand in reversed(order):
            a = actions[cand]
            if (a.adapter, a.action) != want:
                continue
            if (kind == K.ACTION_RESULT and a.success is None) or (
                    kind == K.ACTION_UNDO and a.undone_at is None):
                return cand
    return rid or f"{body.get('adapter')}/{body.get('action')}/{seq}"


def reference_names(ids: Iterable[str]) -> dict[str, str]:
    """Names of ATLAS techniques and OWASP LLM categories (empty when unknown)."""
    try:
        from ircon.response.taxonomy import atlas_name, owasp_name
    except ImportError:  # reference data not installed: ids alone still identify them
        return {}
    out: dict[str, str] = {}
    for i in ids:
        name = atlas_name(i) if i.startswith("AML.") else owasp_name(i)
        if name:
            out[i] = name
    return out


def _span(start: datetime | None, end: datetime | None) -> timedelta | None:
    if start is None or end is None or end < start:
        return None
    return end - start


def duration_text(d: timedelta | None) -> str:
    """``3d 04h 05m``, ``1h 05m 10s``, ``42s``; ``unknown`` for None."""
    if d is None:
        return "unknown"
    total = int(d.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def _summary(pm: Postmortem) -> str:
    """A first draft of the summary from what the journal knows (raw text)."""
    parts = [f"{pm.severity} {pm.kind} incident \"{pm.title}\""]
    if pm.opened_at:
        parts.append(f"opened {pm.opened_at:%Y-%m-%d %H:%M} UTC")
    parts.append(f"raised by {pm.detection.how}")
    text = ", ".join(parts) + "."
    im = pm.impact
    scope = []
    if im.alerts:
        scope.append(f"{im.alerts} alert(s)")
    if im.findings:
        scope.append(f"{im.findings} detector finding(s)")
    who = []
    if im.key_count:
        who.append(f"{im.key_count} API key(s)")
    if im.user_count:
        who.append(f"{im.user_count} user(s)")
    if im.ip_count:
        who.append(f"{im.ip_count} source IP(s)")
    if scope:
        text += " The journal holds " + " and ".join(scope)
        text += (" involving " + ", ".join(who) + ".") if who else "."
    if pm.atlas:
        text += " ATLAS: " + ", ".join(pm.atlas) + "."
    by_abbr = {m.abbr: m for m in pm.metrics}
    if by_abbr["TTC"].value is not None:
        text += f" Contained after {duration_text(by_abbr['TTC'].value)}"
        if by_abbr["TTR"].value is not None:
            text += f", resolved after {duration_text(by_abbr['TTR'].value)}."
        else:
            text += "."
    elif by_abbr["TTR"].value is not None:
        text += f" Resolved after {duration_text(by_abbr['TTR'].value)}."
    else:
        text += f" Status: {pm.status}."
    return text


def _action_items(pm: Postmortem) -> list[ActionItem]:
    """Items the journal already suggests; the team adds the rest."""
    owner = pm.commander or "TBD"
    items: list[ActionItem] = []
    seen: set[str] = set()

    def add(what: str, kind: str) -> None:
        if what not in seen and len(items) < 30:
            seen.add(what)
            items.append(ActionItem(what, owner, kind))

    for a in pm.actions:
        if a.success is False:
            add(f"Find out why {a.adapter} {a.action} failed and fix the adapter or playbook",
                "repair")
        elif a.success is None and not a.dry_run:
            add(f"Confirm the outcome of {a.adapter} {a.action} (no result was journaled)",
                "investigate")
    for c in pm.clocks:
        if c.breached_at is not None:
            add(f"Review the breach of the {c.name} clock and what the notice needs now",
                "process")
    if pm.impact.key_count:
        add(f"Rotate or revoke the {pm.impact.key_count} affected API key(s)", "mitigate")
    if pm.detection.first_alert_at is None and pm.detection.first_finding_at is None:
        add("Add detection for this attack: no alert or finding preceded the declaration",
            "detect")
    if pm.notifications_failed:
        add(f"Fix the notification targets that failed ({pm.notifications_failed} failure(s))",
            "repair")
    for t in pm.atlas[:5]:
        add(f"Review detection and mitigation coverage for {t}", "prevent")
    return items
