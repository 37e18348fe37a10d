"""Verilog generation for any Amaranth component (the accelerator, its parts, board wrappers)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from amaranth.back import rtlil, verilog
from amaranth.lib import wiring

#: Amaranth 0.5 gives every memory a ``$meminit_v2`` cell holding one constant net per bit of
#: every word, even when all words are zero. For the SCNN accelerator (four 2**17-word synapse
#: memories) building that cell, Yosys reading it and Yosys writing it back as 32 MB of
#: word-by-word ``initial`` blocks took ~7 minutes. A zero-initial memory needs no init: FPGA
#: block and distributed RAM configure to zero, and the Verilator builds use ``--x-initial 0``.
#: The override below skips the cell for all-zero memories (only during :func:`to_verilog`); it
#: replaces a private method, so it is tied to the 0.5 series (pyproject pins amaranth <0.6).
_AMARANTH = metadata.version("amaranth")
if not _AMARANTH.startswith("0.5."):
    raise ImportError(f"codesign.flows.verilog overrides amaranth 0.5's "
                      f"ModuleEmitter.emit_memory; check it against amaranth {_AMARANTH}")
_emit_memory = rtlil.ModuleEmitter.emit_memory
#: Held for the whole conversion: it also serialises Amaranth, whose elaboration is not
#: thread-safe (the DSE synthesises designs from several threads).
_override_lock = threading.Lock()


@dataclass(frozen=True)
class FamilyPlatform:
    """Stands in for an Amaranth platform while a component is converted for ``family``: parts
    that use a family's primitives read ``platform.family``, as on amaranth's own platforms
    (e.g. :mod:`codesign.hw.lib.dsp_block`)."""

    family: str


def _emit_memory_unless_zero(self, cell_idx, cell) -> None:
    if any(cell.init):
        _emit_memory(self, cell_idx, cell)


@contextmanager
def no_zero_memory_init() -> Iterator[None]:
    """Amaranth conversions inside this block emit no initial contents for all-zero memories
    (and are serialised)."""
    with _override_lock:
        rtlil.ModuleEmitter.emit_memory = _emit_memory_unless_zero
        try:
            yield
        finally:
            rtlil.ModuleEmitter.emit_memory = _emit_memory


def to_verilog(component: wiring.Component, name: str = "top", platform=None) -> str:
    """``component`` as Verilog module ``name``, without all-zero memory initialisation;
    elaborated for ``platform`` (None: generic, as simulated).

    The ports are the component's signature members (flattened with ``__`` between levels), plus
    ``clk`` and ``rst`` when the design has a ``sync`` domain.
    """
    with no_zero_memory_init():
        return verilog.convert(component, name=name, platform=platform)


def write_accelerator(config, out_dir: str | Path, name: str = "accelerator",
                      family: str | None = None) -> tuple[Path, Path]:
    """``codesign hw verilog``: the accelerator of ``config`` as ``out_dir/NAME.v`` (with
    ``family``: elaborated with that family's primitives, as ``hw synth`` and ``hw build``
    elaborate it) and the resolved config as ``out_dir/hw.yaml``; returns both paths."""
    from codesign.hw.rtl.top import Accelerator   # the whole RTL: only when it is written

    out_dir = Path(out_dir)
    platform = FamilyPlatform(family) if family else None
    verilog = generate_verilog(Accelerator(config), out_dir / f"{name}.v", name=name,
                               platform=platform)
    config_path = out_dir / "hw.yaml"
    config_path.write_text(config.to_yaml())
    return verilog, config_path


def generate_verilog(component: wiring.Component, path: str | Path, name: str = "top",
                     platform=None) -> Path:
    """Write :func:`to_verilog` of ``component`` to ``path`` and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_verilog(component, name, platform))
    return path
