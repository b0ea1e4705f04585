"""Post-mortem drafts, journal exports, evidence bundles, STIX."""
