"""Bundled examples that the project makes itself (no downloads)."""
