"""Every table ircon keeps, in one place: other modules import, never redefine.

Mutable tables (incident, alert, action_run, step_state, ...) are projections
kept for fast listing; the journal is the record. Timestamps are aware UTC
datetimes; ``ircon.store.engine.utcnow`` makes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Meta(SQLModel, table=True):
    """Key/value facts about the database itself (schema version, created at)."""

    __tablename__ = "ircon_meta"
    key: str = Field(primary_key=True)
    value: str


class Incident(SQLModel, table=True):
    __tablename__ = "incident"
    id: int | None = Field(default=None, primary_key=True)
    human_id: str = Field(index=True, unique=True)  # IR-YYYY-NNNN
    year: int = Field(index=True)
    number: int
    title: str
    kind: str = "other"
    severity: str = "SEV3"
    severity_reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    severity_override: bool = False
    status: str = "open"  # open, acknowledged, contained, resolved, closed
    commander: str | None = None
    tlp: str = "amber"
    group_key: str | None = Field(default=None, index=True)
    campaign: str | None = Field(default=None, index=True)
    playbook: str | None = None
    playbook_hash: str | None = None
    atlas: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    owasp: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    merged_into: str | None = None
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None = None
    contained_at: datetime | None = None
    resolved_at: datetime | None = None

    __table_args__ = (UniqueConstraint("year", "number", name="uq_incident_year_number"),)


class JournalEntry(SQLModel, table=True):
    """Append-only: triggers refuse UPDATE and DELETE (see migrations)."""

    __tablename__ = "journal_entry"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    seq: int
    ts: str  # canonical UTC text, part of the hash
    actor: str
    kind: str = Field(index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON text
    prev_hash: str
    hash: str

    __table_args__ = (
        UniqueConstraint("incident_id", "seq", name="uq_journal_incident_seq"),
    )


class JournalHead(SQLModel, table=True):
    """Per-incident count and last hash: makes a removed tail detectable."""

    __tablename__ = "journal_head"
    incident_id: int = Field(primary_key=True, foreign_key="incident.id")
    count: int
    head_hash: str


class Alert(SQLModel, table=True):
    """One alert per (source, fingerprint); repeats bump ``count``/``last_seen``."""

    __tablename__ = "alert"
    id: int | None = Field(default=None, primary_key=True)
    source: str
    fingerprint: str
    name: str = ""
    summary: str = ""
    labels: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    annotations: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = "firing"  # firing, resolved
    state: str = "active"  # backend state: active, suppressed, unprocessed
    severity: str = "SEV4"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str | None = None
    group_key: str | None = None
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    acknowledged: bool = False
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))

    __table_args__ = (
        UniqueConstraint("source", "fingerprint", name="uq_alert_source_fp"),
        Index("ix_alert_last_seen", "last_seen"),
    )


class ActionRun(SQLModel, table=True):
    """A containment action: planned, executed, maybe undone. Params are redacted."""

    __tablename__ = "action_run"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    adapter: str
    action: str
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    plan: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = "planned"  # planned, running, succeeded, failed, undone, dry-run
    dry_run: bool = False
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    undo_data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    requested_by: str
    policy: str | None = None
    expires_at: datetime | None = None
    created_at: datetime
    finished_at: datetime | None = None


class StepState(SQLModel, table=True):
    """Projection of playbook step states; the journal's ``step`` entries are the truth."""

    __tablename__ = "step_state"
    incident_id: int = Field(primary_key=True, foreign_key="incident.id")
    step_id: str = Field(primary_key=True)
    state: str = "pending"  # pending, in_progress, done, skipped, failed
    reason: str | None = None
    updated_at: datetime


class Lease(SQLModel, table=True):
    """Leader lease: the one engine that works the database."""

    __tablename__ = "lease"
    name: str = Field(primary_key=True)
    holder: str
    expires_at: datetime
    renewed_at: datetime


class FiringClaim(SQLModel, table=True):
    """A timer firing claimed before it is acted on, so two processes never both act."""

    __tablename__ = "firing_claim"
    key: str = Field(primary_key=True)
    claimed_by: str
    claimed_at: datetime
