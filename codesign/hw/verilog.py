"""Verilog generation for any Amaranth component (the accelerator, its parts, board wrappers)."""

from __future__ import annotations

import re
from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import wiring

#: Amaranth writes a memory's initial contents word by word even when every word is zero: 32k
#: lines for a 32k-word synapse memory, on which Yosys' front end spent over five minutes (and
#: the SCNN's Verilog grew to 32 MB). A zero-initial memory needs no initial block: FPGA block
#: and distributed RAM configure to zero, and the Verilator builds use ``--x-initial 0``.
_ZERO_MEMORY_INIT = re.compile(r"^  initial begin\n(?:    \S+ ?\[\d+\] = \d+'[hdb]0+;\n)+  end\n",
                               re.MULTILINE)


def to_verilog(component: wiring.Component, name: str = "top") -> str:
    """``component`` as Verilog module ``name``, without all-zero memory initialisation.

    The ports are the component's signature members (flattened with ``__`` between levels), plus
    ``clk`` and ``rst`` when the design has a ``sync`` domain.
    """
    return _ZERO_MEMORY_INIT.sub("", verilog.convert(component, name=name))


def generate_verilog(component: wiring.Component, path: str | Path, name: str = "top") -> Path:
    """Write :func:`to_verilog` of ``component`` to ``path`` and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_verilog(component, name))
    return path
