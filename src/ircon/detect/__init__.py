"""AI-specific detectors over LLM gateway telemetry (pure: no store, no I/O sources)."""
