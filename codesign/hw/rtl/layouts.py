"""The RTL's side of the word layouts: :class:`~codesign.arch.layout.Fields` as Amaranth
layouts, and the memory attribute the accelerator's block RAMs share."""

from __future__ import annotations

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from codesign.arch.layout import Fields

__all__ = ["COLLISION_FREE", "struct_layout"]

#: Yosys attribute for a memory whose reads never need a write of the same cycle (every such
#: write happens while the reads are unused, e.g. program loading between timesteps): without
#: it Yosys emulates read-old-data with registers and bypass logic around every block RAM
#: (~800 iCE40 logic cells on configs/tiny.yaml). Simulation ignores it.
COLLISION_FREE = {"no_rw_check": 1}


def struct_layout(fields: Fields) -> data.StructLayout:
    """The Amaranth layout of a word: its fields in order, least significant first."""
    return data.StructLayout({name: signed(bits) if is_signed else unsigned(bits)
                              for name, bits, is_signed in fields.fields})
