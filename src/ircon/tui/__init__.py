"""The console: a Textual app over the store. Only ``ircon.cli`` imports this package."""
