"""The console screens."""
