"""Detection backends -> alerts and telemetry events."""
