"""ircon: a terminal incident command console for AI/LLM security incidents."""

__version__ = "0.1.0"
