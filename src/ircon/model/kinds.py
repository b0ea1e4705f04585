"""Journal entry kinds: one vocabulary for every writer and reader of the journal."""

from __future__ import annotations

INCIDENT_OPENED = "incident.opened"
NOTE = "note"
STATUS = "status"  # {"status", "reason"}
SEVERITY = "severity"  # {"severity", "reasons", "override"}
ROLE = "role"  # {"role", "person"}
ALERT = "alert"  # a new alert joined the incident {"source", "fingerprint", "name", ...}
ALERT_UPDATE = "alert.update"  # resolved / repeated
GROUPING = "grouping"  # a triage decision: why an alert joined this incident
MERGE = "merge"  # {"from": [...], "into": ID}
SPLIT = "split"
FINDING = "finding"  # a detector finding (Finding.to_dict())
CAMPAIGN = "campaign"
PLAYBOOK_STARTED = "playbook.started"  # {"name", "version", "hash"}
STEP = "step"  # {"step", "state", "reason"}
DECISION = "decision"  # {"step", "option", "next"}
ACTION_REQUEST = "action.request"  # redacted plan
ACTION_RESULT = "action.result"
ACTION_UNDO = "action.undo"
APPROVAL = "approval"  # second-responder approval (two-person rule)
ESCALATION = "escalation"
NOTIFICATION = "notification"
CLOCK = "clock"
EVIDENCE = "evidence"
EXPORT = "export"
DRILL = "drill"
POLICY = "policy"
