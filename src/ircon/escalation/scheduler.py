"""Timers: APScheduler with its job store in ircon's database, and firing claims.

The scheduler only decides *when* to look; *what* is due is always computed
from the journal (``ladder.evaluate``). Each incident has at most one
persisted job, at its next due time. Jobs survive a restart or a crash in the
``escalation_job`` table; a job that fell due while ircon was down runs once
on start (``coalesce``, no misfire grace limit).

Before anything is sent, the firing's key is inserted into ``firing_claim``
in the same write transaction (``BEGIN IMMEDIATE``) that journals it, after
checking that the journal has not moved since the decision was made. Two
processes sharing the database therefore never both send one firing, and an
acknowledgement that lands meanwhile is seen before a page goes out.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event, select
from sqlalchemy.exc import IntegrityError

from ircon.escalation.ladder import Firing
from ircon.model import kinds
from ircon.model.journal import canonical_body
from ircon.store.db import Store
from ircon.store.engine import make_engine
from ircon.store.journal import append_in, resolve
from ircon.store.tables import FiringClaim, JournalEntry

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from ircon.escalation.service import EscalationService

log = logging.getLogger("ircon.escalation")

JOB_TABLE = "escalation_job"
JOB_FUNC = "ircon.escalation.scheduler:run_job"
_C = FiringClaim.__table__  # type: ignore[attr-defined]
_J = JournalEntry.__table__  # type: ignore[attr-defined]
# Entry kinds that can change what is due (notification outcomes cannot).
DECISIVE = (kinds.INCIDENT_OPENED, kinds.STATUS, kinds.SEVERITY, kinds.ROLE, kinds.CLOCK,
            kinds.ESCALATION, kinds.NOTE)

# Services running in this process, by a digest of their database URL (a URL may hold a
# password, and job arguments are stored in the database: only the digest is).
_ACTIVE: dict[str, EscalationService] = {}


def store_key(store: Store) -> str:
    return hashlib.sha256(store.url.encode()).hexdigest()[:16]


def register(key: str, service: EscalationService) -> None:
    _ACTIVE[key] = service


def unregister(key: str, service: EscalationService) -> None:
    if _ACTIVE.get(key) is service:
        del _ACTIVE[key]


async def run_job(key: str, incident: str) -> None:
    """Entry point of persisted jobs (referenced by name, so it survives restarts)."""
    svc = _ACTIVE.get(key)
    if svc is None:
        log.warning("escalation job for %s ran with no service for its database", incident)
        return
    await svc.run_incident(incident, source="timer")


def job_engine(store: Store) -> Engine:
    """An engine for the job store whose transactions all take the write lock up front,
    so two schedulers on one SQLite file queue instead of failing on lock upgrade."""
    engine = make_engine(store.url)

    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _immediate(_dbapi: Any, record: Any) -> None:
            record.info["begin_mode"] = "IMMEDIATE"

    return engine


def build(store: Store, engine: Engine) -> AsyncIOScheduler:
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    return AsyncIOScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE),
            "local": MemoryJobStore(),  # the periodic sweep: per process, not persisted
        },
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        timezone=UTC,
    )


def schedule(sched: AsyncIOScheduler, key: str, incident: str, at: datetime | None) -> None:
    """Put the incident's one job at ``at`` (or remove it when nothing is pending)."""
    from apscheduler.jobstores.base import ConflictingIdError, JobLookupError

    job_id = f"escalation:{incident}"
    try:
        if at is None:
            sched.remove_job(job_id, jobstore="default")
            return
        sched.add_job(
            JOB_FUNC, trigger="date", run_date=at.astimezone(UTC), args=[key, incident],
            id=job_id, name=f"escalation {incident}", jobstore="default",
            replace_existing=True,
        )
    except (JobLookupError, ConflictingIdError):
        # Another process touched the same row; the periodic sweep reconciles.
        pass


@dataclass(frozen=True)
class Claimed:
    firing: Firing
    seq: int
    head_hash: str
    body: dict[str, Any]


class Stale(Exception):
    """The journal moved since the decision: decide again."""


def claim(
    store: Store, incident: str, seen_count: int, firing: Firing, *, holder: str, actor: str,
    now: datetime, late_after: float, extra: dict[str, Any] | None = None,
) -> Claimed | None:
    """Claim and journal one firing; None when another process already claimed it."""
    body = firing.body(now=now, late_after=late_after) | (extra or {})
    body["claimed_by"] = holder
    body["claimed_at"] = now.isoformat()
    text = canonical_body(body)
    try:
        with store.write() as conn:
            iid, hid = resolve(conn, incident)
            moved = conn.execute(
                select(_J.c.seq).where(
                    _J.c.incident_id == iid, _J.c.seq > seen_count, _J.c.kind.in_(DECISIVE)
                ).limit(1)
            ).first()
            if moved:
                raise Stale()
            if conn.execute(select(_C.c.key).where(_C.c.key == firing.key)).first():
                return None
            conn.execute(_C.insert().values(key=firing.key, claimed_by=holder, claimed_at=now))
            for k in firing.covers:
                if not conn.execute(select(_C.c.key).where(_C.c.key == k)).first():
                    conn.execute(_C.insert().values(key=k, claimed_by=holder, claimed_at=now))
            entry = append_in(conn, iid, hid, kinds.ESCALATION, text, actor)
    except IntegrityError:
        return None  # lost the race on the primary key (non-SQLite backends)
    return Claimed(firing, entry.seq, entry.hash, body)
