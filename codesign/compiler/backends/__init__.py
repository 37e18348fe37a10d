"""Back ends that run the compiled network, one module family per target (``c_*``: the C11
target, see docs/c-backend.md)."""
