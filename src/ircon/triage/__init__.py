"""Triage: dedup, grouping into incidents, campaign correlation, severity (pure, no I/O)."""
