"""Verilog generation for any Amaranth component (the accelerator, its parts, board wrappers)."""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import wiring


def generate_verilog(component: wiring.Component, path: str | Path, name: str = "top") -> Path:
    """Write ``component`` as Verilog module ``name`` to ``path`` and return the path.

    The ports are the component's signature members (flattened with ``__`` between levels), plus
    ``clk`` and ``rst`` when the design has a ``sync`` domain.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(verilog.convert(component, name=name))
    return path
