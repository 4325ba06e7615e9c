"""Flowscope compute engine: torch + numpy only, no Qt (usable from notebooks)."""
