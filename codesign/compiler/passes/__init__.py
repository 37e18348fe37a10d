"""Compiler passes, one per module. Each is a small class with a ``name`` and ``apply(ir) -> ir``."""
