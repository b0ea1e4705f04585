"""Ingestion: store what sources report, triage it, and journal every decision.

Per batch of alerts, one write transaction: look up the stored rows, open or
join incidents, insert and update the alert rows with executemany, journal
(new alert, grouping decision, status change) with one chained insert, then
re-classify the incidents touched. Alerts are never deleted: an alert gone
from a complete pull, or past its endsAt, is marked resolved.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection

from ircon.model import kinds
from ircon.model.alert import AlertIn
from ircon.model.finding import Finding
from ircon.model.severity import rank
from ircon.store.alerts import (
    OPEN_STATUSES,
    _find,
    alert_ref,
    assign_in,
    existing_rows,
    ids_of,
    journal_labels,
    open_incident_for_keys,
)
from ircon.store.db import Store
from ircon.store.engine import utcnow
from ircon.store.journal import JournalBatch, resolve
from ircon.store.tables import Alert, Incident
from ircon.triage import grouping, severity
from ircon.triage.dedup import AlertKey, Deduped, dedup
from ircon.triage.findings import finding_to_alert, fingerprint_of, is_campaign, source_of
from ircon.triage.settings import TriageConfig

_A = Alert.__table__  # type: ignore[attr-defined]
_I = Incident.__table__  # type: ignore[attr-defined]

BATCH = 5000
MAX_NAME = 300
MAX_SUMMARY = 1000
MAX_FINGERPRINTS_IN_BODY = 200


@dataclass(slots=True)
class AlertChange:
    id: int
    source: str
    fingerprint: str
    name: str
    status: str
    state: str
    severity: str
    incident: str | None
    change: str  # new, resolved, refired, state, annotations, labels

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "source": self.source, "fingerprint": self.fingerprint,
            "name": self.name, "status": self.status, "state": self.state,
            "severity": self.severity, "incident": self.incident, "change": self.change,
        }


@dataclass(slots=True)
class IngestReport:
    new: list[AlertChange] = field(default_factory=list)
    updated: list[AlertChange] = field(default_factory=list)
    resolved: list[AlertChange] = field(default_factory=list)
    repeated: int = 0
    incidents_opened: list[str] = field(default_factory=list)
    incidents_touched: list[str] = field(default_factory=list)
    severity_changes: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new), "updated": len(self.updated), "resolved": len(self.resolved),
            "repeated": self.repeated, "incidents_opened": len(self.incidents_opened),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "new": [a.to_dict() for a in self.new],
            "updated": [a.to_dict() for a in self.updated],
            "resolved": [a.to_dict() for a in self.resolved],
            "incidents_opened": self.incidents_opened,
            "incidents_touched": self.incidents_touched,
            "severity_changes": self.severity_changes,
        }

    def extend(self, other: IngestReport) -> None:
        self.new += other.new
        self.updated += other.updated
        self.resolved += other.resolved
        self.repeated += other.repeated
        self.incidents_opened += other.incidents_opened
        self.incidents_touched += [
            i for i in other.incidents_touched if i not in self.incidents_touched
        ]
        self.severity_changes += other.severity_changes


@dataclass(slots=True)
class _Prepared:
    d: Deduped
    decision: grouping.GroupDecision
    cls: severity.Classification
    name: str
    summary: str
    eligible: bool  # may open or join an incident

    @property
    def alert(self) -> AlertIn:
        return self.d.alert


_ClsCache = dict[tuple[Any, ...], severity.Classification]


def _prepare(d: Deduped, cfg: TriageConfig, cache: _ClsCache) -> _Prepared:
    a = d.alert
    facts = severity.Facts()
    severity.add_alert(facts, a.labels, a.status, cfg)
    # One alert's classification depends only on these; most of a pull shares a few.
    sig = (facts.firing, len(facts.actors), facts.affected, facts.data_exposure,
           facts.regulated, facts.safety_harm, facts.production, facts.automated,
           facts.floor, facts.floor_label)
    cls = cache.get(sig)
    if cls is None:
        cls = cache[sig] = severity.classify(facts, cfg)
    summary = a.annotations.get("summary") or a.annotations.get("description") or ""
    eligible = (
        (a.status == "firing" or d.fired)
        and (a.state != "suppressed" or cfg.open_for_suppressed)
        and severity.at_least(cls.level, cfg.min_incident_severity)
    )
    return _Prepared(
        d, grouping.decide(a, cfg), cls, a.name[:MAX_NAME], summary[:MAX_SUMMARY], eligible
    )


def _pk(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row always has one
    return int(key[0])


def _chunks(items: Sequence[Any], n: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _alert_body(p: _Prepared) -> dict[str, Any]:
    a = p.alert
    return {
        "source": a.source, "fingerprint": a.fingerprint, "name": p.name[:200],
        "status": a.status, "state": a.state, "severity": p.cls.level,
        "summary": p.summary[:500], "labels": journal_labels(a.labels),
        "starts_at": a.starts_at.isoformat() if a.starts_at else None,
        "group": {"key": p.decision.key, "basis": p.decision.basis,
                  "reason": p.decision.reason},
    }


class _Batch:
    """One batch in one write transaction."""

    def __init__(self, conn: Connection, cfg: TriageConfig, actor: str, now: datetime,
                 report: IngestReport, extras: dict[AlertKey, list[tuple[str, dict[str, Any]]]]):
        self.conn, self.cfg, self.actor, self.now = conn, cfg, actor, now
        self.report = report
        self.extras = extras
        self.jb = JournalBatch(conn, actor, now)
        self.touched: dict[int, str] = {}  # incident row id -> human id

    # -- incidents ---------------------------------------------------------------------------

    def _create_incident(self, key: str, members: list[_Prepared]) -> tuple[int, str]:
        first = members[0]
        facts = severity.facts_of(((p.alert.labels, p.alert.status) for p in members), self.cfg)
        cls = severity.classify(facts, self.cfg)
        now = self.now
        number = (
            self.conn.execute(select(func.max(_I.c.number)).where(_I.c.year == now.year)).scalar()
            or 0
        ) + 1
        hid = f"IR-{now.year}-{number:04d}"
        title = grouping.incident_title(first.alert, first.decision)
        labels = first.alert.labels
        kind = labels.get("kind") or labels.get("detector") or "alert"
        campaign = labels.get(grouping.CAMPAIGN_LABEL) if first.decision.basis == "campaign" \
            else None
        iid = _pk(self.conn.execute(_I.insert().values(
            human_id=hid, year=now.year, number=number, title=title, kind=kind[:60],
            severity=cls.level, severity_reasons=list(cls.reasons), status="open",
            group_key=key, campaign=campaign[:500] if campaign else None, atlas=[], owasp=[],
            created_at=now, updated_at=now,
        )))
        self.jb.add(iid, hid, kinds.INCIDENT_OPENED, {
            "title": title, "severity": cls.level, "kind": kind[:60],
            "reasons": list(cls.reasons), "group_key": key, "opened_by": "triage",
            "impact": cls.impact, "urgency": cls.urgency,
        })
        self.report.incidents_opened.append(hid)
        return iid, hid

    def _place(self, needing: list[_Prepared]) -> dict[AlertKey, tuple[int, str]]:
        """Open or join an incident for each alert that needs one."""
        by_key: dict[str, list[_Prepared]] = {}
        for p in needing:
            by_key.setdefault(p.decision.key, []).append(p)
        found = open_incident_for_keys(self.conn, by_key)
        placed: dict[AlertKey, tuple[int, str]] = {}
        for key, members in by_key.items():
            opened = key not in found
            target = found[key] if not opened else self._create_incident(key, members)
            iid, hid = target
            self.touched[iid] = hid
            d = members[0].decision
            fps = [p.alert.fingerprint for p in members[:MAX_FINGERPRINTS_IN_BODY]]
            self.jb.add(iid, hid, kinds.GROUPING, {
                "key": key, "basis": d.basis, "reason": d.reason, "opened": opened,
                "alerts": len(members), "fingerprints": fps,
                "decision": ("opened this incident" if opened else "joined this open incident"),
            })
            for p in members:
                placed[p.d.key] = target
        return placed

    # -- alerts ------------------------------------------------------------------------------

    def run(self, items: list[_Prepared]) -> None:
        existing = existing_rows(self.conn, [p.d.key for p in items])
        inc_ids = {int(r.incident_id) for r in existing.values() if r.incident_id is not None}
        inc_info: dict[int, tuple[str, str]] = {}
        ids = list(inc_ids)
        for part in _chunks(ids, 900):
            for r in self.conn.execute(
                select(_I.c.id, _I.c.human_id, _I.c.status).where(_I.c.id.in_(part))
            ):
                inc_info[int(r.id)] = (str(r.human_id), str(r.status))

        needing: list[_Prepared] = []
        for p in items:
            row = existing.get(p.d.key)
            if not p.eligible:
                continue
            if row is None or row.incident_id is None:
                needing.append(p)
                continue
            refired = row.status == "resolved" and (p.alert.status == "firing" or p.d.fired)
            _, istatus = inc_info.get(int(row.incident_id), ("", "closed"))
            if refired and istatus not in OPEN_STATUSES:
                needing.append(p)
        placed = self._place(needing) if needing else {}

        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        new_keys: list[tuple[_Prepared, tuple[int, str] | None]] = []
        for p in items:
            a = p.alert
            row = existing.get(p.d.key)
            target = placed.get(p.d.key)
            if row is None:
                inserts.append({
                    "source": a.source, "fingerprint": a.fingerprint, "name": p.name,
                    "summary": p.summary, "labels": a.labels, "annotations": a.annotations,
                    "status": a.status, "state": a.state, "severity": p.cls.level,
                    "starts_at": a.starts_at, "ends_at": a.ends_at,
                    "generator_url": a.generator_url, "group_key": a.group_key,
                    "first_seen": self.now, "last_seen": self.now, "count": p.d.occurrences,
                    "acknowledged": False, "incident_id": target[0] if target else None,
                    "raw": a.raw,
                })
                new_keys.append((p, target))
                if target:
                    self._journal_new(p, target)
                continue
            self._update(p, row, target, inc_info, updates)
        if inserts:
            self.conn.execute(_A.insert(), inserts)
            self._report_new(new_keys)
        if updates:
            self._write_updates(updates)

    def _journal_new(self, p: _Prepared, target: tuple[int, str]) -> None:
        iid, hid = target
        self.jb.add(iid, hid, kinds.ALERT, _alert_body(p), shallow=True)
        for kind, body in self.extras.get(p.d.key, ()):
            self.jb.add(iid, hid, kind, body)
        if p.alert.status == "resolved":  # fired and resolved within the batch
            self.jb.add(iid, hid, kinds.ALERT_UPDATE, {
                **self._ref(p), "change": "resolved", "status": "resolved",
                "state": p.alert.state,
            })

    def _ref(self, p: _Prepared) -> dict[str, str]:
        return {"source": p.alert.source, "fingerprint": p.alert.fingerprint,
                "name": p.name[:200]}

    def _report_new(self, new_keys: list[tuple[_Prepared, tuple[int, str] | None]]) -> None:
        ids = ids_of(self.conn, [p.d.key for p, _ in new_keys])
        for p, target in new_keys:
            self.report.new.append(AlertChange(
                ids[p.d.key], p.alert.source, p.alert.fingerprint, p.name, p.alert.status,
                p.alert.state, p.cls.level, target[1] if target else None, "new",
            ))

    def _update(self, p: _Prepared, row: Any, target: tuple[int, str] | None,
                inc_info: dict[int, tuple[str, str]], updates: list[dict[str, Any]]) -> None:
        a = p.alert
        old_iid = int(row.incident_id) if row.incident_id is not None else None
        iid = target[0] if target else old_iid
        hid = target[1] if target else (inc_info.get(old_iid, ("", ""))[0] if old_iid else None)
        changes: list[str] = []
        refired = row.status == "resolved" and (a.status == "firing" or p.d.fired)
        if refired:
            changes.append("refired")
        if row.status == "firing" and a.status == "resolved":
            changes.append("resolved")
        if row.state != a.state:
            changes.append("state")
        if (row.labels or {}) != a.labels:
            changes.append("labels")
        if (row.annotations or {}) != a.annotations:
            changes.append("annotations")
        updates.append({
            "_id": row.id, "_last": self.now, "_n": p.d.occurrences, "_status": a.status,
            "_state": a.state, "_labels": a.labels, "_ann": a.annotations,
            "_ends": a.ends_at, "_starts": a.starts_at, "_sev": p.cls.level,
            "_summary": p.summary, "_name": p.name, "_gk": a.group_key, "_raw": a.raw,
            "_inc": iid, "_gen": a.generator_url,
            "_ack": False if refired else None,
        })
        if target and iid is not None and hid:
            # (Re)attached: journal it on the incident it joins.
            if old_iid is not None and old_iid != iid:
                self.jb.add(old_iid, inc_info.get(old_iid, ("?", ""))[0], kinds.ALERT_UPDATE, {
                    **self._ref(p), "change": "refired elsewhere", "to": hid,
                })
            self._journal_new(p, (iid, hid))
        elif iid is not None and hid:
            if "refired" in changes or "resolved" in changes or "state" in changes:
                self.jb.add(iid, hid, kinds.ALERT_UPDATE, {
                    **self._ref(p), "change": ", ".join(
                        c for c in changes if c in ("refired", "resolved", "state")
                    ),
                    "status": a.status, "state": a.state,
                    "previous": {"status": row.status, "state": row.state},
                })
                self.touched[iid] = hid
            if "labels" in changes:
                for kind, body in self.extras.get(p.d.key, ()):
                    self.jb.add(iid, hid, kind, body)
                self.touched[iid] = hid
        ch = AlertChange(int(row.id), a.source, a.fingerprint, p.name, a.status, a.state,
                         p.cls.level, hid, ", ".join(changes))
        if "resolved" in changes:
            self.report.resolved.append(ch)
        elif changes:
            self.report.updated.append(ch)
        else:
            self.report.repeated += 1

    def _write_updates(self, updates: list[dict[str, Any]]) -> None:
        from sqlalchemy import case

        stmt = _A.update().where(_A.c.id == bindparam("_id")).values(
            last_seen=bindparam("_last"), count=_A.c.count + bindparam("_n"),
            status=bindparam("_status"), state=bindparam("_state"),
            labels=bindparam("_labels", type_=_A.c.labels.type),
            annotations=bindparam("_ann", type_=_A.c.annotations.type),
            ends_at=bindparam("_ends", type_=_A.c.ends_at.type),
            starts_at=bindparam("_starts", type_=_A.c.starts_at.type),
            severity=bindparam("_sev"), summary=bindparam("_summary"), name=bindparam("_name"),
            group_key=bindparam("_gk"), raw=bindparam("_raw", type_=_A.c.raw.type),
            incident_id=bindparam("_inc"), generator_url=bindparam("_gen"),
            acknowledged=case(
                (bindparam("_ack", type_=_A.c.acknowledged.type).is_(None), _A.c.acknowledged),
                else_=bindparam("_ack", type_=_A.c.acknowledged.type),
            ),
        )
        self.conn.execute(stmt, updates)

    # -- severity ----------------------------------------------------------------------------

    def reclassify(self) -> None:
        reclassify(self.conn, self.jb, self.cfg, self.touched, self.now, self.report)
        for hid in self.touched.values():
            if hid not in self.report.incidents_touched:
                self.report.incidents_touched.append(hid)


def reclassify(conn: Connection, jb: JournalBatch, cfg: TriageConfig, touched: dict[int, str],
               now: datetime, report: IngestReport | None = None) -> None:
    """Re-run the severity matrix over each touched incident's alerts; journal changes.

    A responder's override is never changed by triage.
    """
    if not touched:
        return
    ids = list(touched)
    facts: dict[int, severity.Facts] = {i: severity.Facts() for i in ids}
    current: dict[int, tuple[str, bool]] = {}
    for part in _chunks(ids, 900):
        for r in conn.execute(
            select(_A.c.incident_id, _A.c.labels, _A.c.status).where(_A.c.incident_id.in_(part))
        ):
            severity.add_alert(facts[int(r[0])], r[1] or {}, r[2], cfg)
        for r in conn.execute(
            select(_I.c.id, _I.c.severity, _I.c.severity_override).where(_I.c.id.in_(part))
        ):
            current[int(r[0])] = (str(r[1]), bool(r[2]))
    for iid in ids:
        sev, overridden = current.get(iid, ("SEV4", False))
        cls = severity.classify(facts[iid], cfg)
        conn.execute(_I.update().where(_I.c.id == iid).values(updated_at=now))
        if not severity.needs_change(sev, overridden, cls):
            continue
        hid = touched[iid]
        conn.execute(_I.update().where(_I.c.id == iid).values(
            severity=cls.level, severity_reasons=list(cls.reasons)
        ))
        jb.add(iid, hid, kinds.SEVERITY, {
            "severity": cls.level, "reasons": list(cls.reasons), "override": False,
            "impact": cls.impact, "urgency": cls.urgency, "previous": sev,
            "direction": "raised" if rank(cls.level) < rank(sev) else "lowered",
        })
        if report is not None:
            report.severity_changes.append(
                {"incident": hid, "from": sev, "to": cls.level, "reasons": list(cls.reasons)}
            )


def _resolve_missing(conn: Connection, cfg: TriageConfig, actor: str, now: datetime,
                     seen: dict[str, set[str]], report: IngestReport) -> None:
    """Alerts of a complete source that the pull no longer lists are resolved."""
    jb = JournalBatch(conn, actor, now)
    touched: dict[int, str] = {}
    updates: list[dict[str, Any]] = []
    for source, fps in seen.items():
        rows = conn.execute(
            select(_A.c.id, _A.c.source, _A.c.fingerprint, _A.c.name, _A.c.state,
                   _A.c.severity, _A.c.incident_id, _I.c.human_id, _A.c.ends_at)
            .select_from(_A.outerjoin(_I, _I.c.id == _A.c.incident_id))
            .where(_A.c.source == source, _A.c.status == "firing")
        ).all()
        for r in rows:
            if r.fingerprint in fps:
                continue
            updates.append({"_id": r.id, "_ends": now})
            hid = r.human_id
            report.resolved.append(AlertChange(
                int(r.id), r.source, r.fingerprint, r.name, "resolved", r.state, r.severity,
                hid, "resolved",
            ))
            if r.incident_id is not None:
                iid = int(r.incident_id)
                touched[iid] = hid
                jb.add(iid, hid, kinds.ALERT_UPDATE, {
                    "source": r.source, "fingerprint": r.fingerprint, "name": r.name[:200],
                    "change": "resolved", "status": "resolved", "state": r.state,
                    "reason": "no longer listed by the source",
                })
    if updates:
        conn.execute(
            _A.update().where(_A.c.id == bindparam("_id")).values(
                status="resolved", ends_at=bindparam("_ends", type_=_A.c.ends_at.type)
            ),
            updates,
        )
    reclassify(conn, jb, cfg, touched, now, report)
    for hid in touched.values():
        if hid not in report.incidents_touched:
            report.incidents_touched.append(hid)
    jb.flush()


# How many ingests run in this process right now. The console reads it to hold back
# repaints of a burst still being written (a repaint competes with the ingest thread
# for the interpreter and would show a half-stored pull anyway).
_running = 0
_running_lock = threading.Lock()


def in_progress() -> bool:
    """True while an ingest runs in this process."""
    return _running > 0


def _ingest(
    store: Store, alerts: Iterable[AlertIn], cfg: TriageConfig, *, actor: str,
    complete_sources: Iterable[str], now: datetime | None,
    extras: dict[AlertKey, list[tuple[str, dict[str, Any]]]], batch_size: int,
) -> IngestReport:
    global _running
    with _running_lock:
        _running += 1
    try:
        return _ingest_batches(store, alerts, cfg, actor=actor,
                               complete_sources=complete_sources, now=now, extras=extras,
                               batch_size=batch_size)
    finally:
        with _running_lock:
            _running -= 1


def _ingest_batches(
    store: Store, alerts: Iterable[AlertIn], cfg: TriageConfig, *, actor: str,
    complete_sources: Iterable[str], now: datetime | None,
    extras: dict[AlertKey, list[tuple[str, dict[str, Any]]]], batch_size: int,
) -> IngestReport:
    now = now or utcnow()
    items = dedup(alerts)
    report = IngestReport()
    cache: _ClsCache = {}
    for chunk in _chunks(items, max(1, batch_size)):
        prepared = [_prepare(d, cfg, cache) for d in chunk]
        with store.write() as conn:
            b = _Batch(conn, cfg, actor, now, report, extras)
            b.run(prepared)
            b.reclassify()
            b.jb.flush()
    complete = set(complete_sources)
    if complete:
        seen: dict[str, set[str]] = {s: set() for s in complete}
        for d in items:
            if d.alert.source in seen:
                seen[d.alert.source].add(d.alert.fingerprint)
        with store.write() as conn:
            _resolve_missing(conn, cfg, actor, now, seen, report)
    return report


def ingest_alerts(
    store: Store,
    alerts: list[AlertIn],
    cfg: TriageConfig,
    *,
    actor: str,
    complete_sources: set[str] | frozenset[str] = frozenset(),
    now: datetime | None = None,
    batch_size: int = BATCH,
) -> IngestReport:
    """Store, dedup, group and classify ``alerts``; journal every decision.

    ``complete_sources``: sources whose pull listed every active alert, so
    their stored firing alerts missing from ``alerts`` are marked resolved.
    """
    return _ingest(store, alerts, cfg, actor=actor, complete_sources=complete_sources,
                   now=now, extras={}, batch_size=batch_size)


def ingest_findings(
    store: Store, findings: Iterable[Finding], cfg: TriageConfig, *, actor: str,
    now: datetime | None = None,
) -> IngestReport:
    """Detector findings as alerts (same dedup and grouping); each finding and campaign
    is journaled on its incident when its alert is new or changes."""
    alerts: list[AlertIn] = []
    extras: dict[AlertKey, list[tuple[str, dict[str, Any]]]] = {}
    for f in findings:
        a = finding_to_alert(f)
        alerts.append(a)
        key = (source_of(f), fingerprint_of(f))
        entries = extras.setdefault(key, [])
        entries.clear()  # the latest finding for this alert speaks for the batch
        entries.append((kinds.FINDING, f.to_dict()))
        if is_campaign(f):
            members = sorted(set(f.members))
            entries.append((kinds.CAMPAIGN, {
                "campaign": f.campaign, "detector": f.detector, "rule_id": f.rule_id,
                "members": members[:1000], "member_count": len(members), "title": f.title,
            }))
    return _ingest(store, alerts, cfg, actor=actor, complete_sources=(), now=now,
                   extras=extras, batch_size=BATCH)


# -- responder decisions ---------------------------------------------------------------------


def merge_incidents(
    store: Store, into: str, others: Sequence[str], cfg: TriageConfig, *, actor: str,
    reason: str = "",
) -> dict[str, Any]:
    """Fold ``others`` into ``into``: their alerts move, they close as merged; journaled on
    every incident involved, then the target is re-classified."""
    now = utcnow()
    moved = 0
    with store.write() as conn:
        tid, thid = resolve(conn, into)
        jb = JournalBatch(conn, actor, now)
        sources: list[tuple[int, str]] = []
        for o in others:
            oid, ohid = resolve(conn, o)
            if oid == tid:
                raise ValueError(f"cannot merge {ohid} into itself")
            if (oid, ohid) in sources:
                continue
            merged = conn.execute(select(_I.c.merged_into).where(_I.c.id == oid)).scalar()
            if merged:
                raise ValueError(f"{ohid} was already merged into {merged}")
            sources.append((oid, ohid))
        if not sources:
            raise ValueError("name at least one incident to merge")
        for oid, ohid in sources:
            n = conn.execute(
                _A.update().where(_A.c.incident_id == oid).values(incident_id=tid)
            ).rowcount
            moved += int(n or 0)
            conn.execute(_I.update().where(_I.c.id == oid).values(
                status="closed", merged_into=thid, updated_at=now
            ))
            jb.add(oid, ohid, kinds.MERGE, {
                "from": [ohid], "into": thid, "alerts": int(n or 0), "reason": reason,
            })
            jb.add(oid, ohid, kinds.STATUS, {"status": "closed", "reason": f"merged into {thid}"})
        jb.add(tid, thid, kinds.MERGE, {
            "from": [h for _, h in sources], "into": thid, "alerts": moved, "reason": reason,
        })
        report = IngestReport()
        reclassify(conn, jb, cfg, {tid: thid}, now, report)
        jb.flush()
    return {"into": thid, "from": [h for _, h in sources], "alerts_moved": moved,
            "severity_changes": report.severity_changes}


def split_alert(
    store: Store, alert: int | tuple[str, str], cfg: TriageConfig, *, actor: str,
    reason: str = "", into: str | None = None,
) -> str:
    """Move one alert out of its incident: into ``into``, or a new incident of its own
    (with no group key, so later alerts keep joining the original). Journaled on both;
    both are re-classified. Returns the human id the alert now belongs to."""
    now = utcnow()
    with store.write() as conn:
        r = _find(conn, alert)
        jb = JournalBatch(conn, actor, now)
        old = (int(r[-1]), str(r[16])) if r[-1] is not None else None
        if into is not None:
            target = resolve(conn, into)
        else:
            target = _incident_for_split(conn, jb, r, cfg, now, reason)
        if old and old[0] == target[0]:
            raise ValueError(f"alert is already in {target[1]}")
        assign_in(conn, jb, r, target, reason=reason, change="split")
        touched = {target[0]: target[1]}
        if old:
            touched[old[0]] = old[1]
        reclassify(conn, jb, cfg, touched, now)
        jb.flush()
    return target[1]


def _incident_for_split(conn: Connection, jb: JournalBatch, r: Any, cfg: TriageConfig,
                        now: datetime, reason: str) -> tuple[int, str]:
    labels = r[8] or {}
    cls = severity.classify(severity.facts_of([(labels, r[5])], cfg), cfg)
    number = (
        conn.execute(select(func.max(_I.c.number)).where(_I.c.year == now.year)).scalar() or 0
    ) + 1
    hid = f"IR-{now.year}-{number:04d}"
    title = f"{r[3]} (split)"[:200]
    iid = _pk(conn.execute(_I.insert().values(
        human_id=hid, year=now.year, number=number, title=title, kind="alert",
        severity=cls.level, severity_reasons=list(cls.reasons), status="open", group_key=None,
        atlas=[], owasp=[], created_at=now, updated_at=now,
    )))
    jb.add(iid, hid, kinds.INCIDENT_OPENED, {
        "title": title, "severity": cls.level, "kind": "alert", "reasons": list(cls.reasons),
        "opened_by": "split", "reason": reason, **{"alert": alert_ref(r)},
    })
    return iid, hid
