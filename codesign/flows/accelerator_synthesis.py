"""Real synthesis of the whole accelerator, bottom up: the core (every core of a design is the
same) is synthesised once on its own and its netlist is instantiated ``cores`` times, so the
synthesis of a 16-core design costs one core plus the top level, and designs that share a core
configuration share its synthesis (cached by content, :func:`codesign.flows.synthesis.synthesize`
with ``blocks``).

The counts are those of the linked netlist that nextpnr places; out of context the core keeps
logic that flat synthesis can remove where the top level ties its inputs to constants (e.g. the
crossbar ports of a core without tiles), so they are a little above a flat synthesis of the same
Verilog.
"""

from __future__ import annotations

from typing import Any

from codesign.arch.config import HWConfig
from codesign.flows.synthesis import SynthesisResult, synthesize

#: The module name of the separately synthesised core.
CORE_MODULE = "codesign_core"


def synthesize_accelerator(config: HWConfig, family: str, **options: Any) -> SynthesisResult:
    """:func:`~codesign.flows.synthesis.synthesize` (``options`` as there) of the accelerator
    for ``config``, with the core synthesised once and linked in."""
    from codesign.hw.rtl.top import Accelerator, core_component

    return synthesize(Accelerator(config, core_module=CORE_MODULE), family,
                      blocks={CORE_MODULE: core_component(config)}, **options)


def accelerator_verilog(config: HWConfig, family: str | None = None) -> str:
    """The Verilog :func:`synthesize_accelerator` reads: the top level instantiating
    ``CORE_MODULE``, followed by that module (one file a simulator or Yosys reads as is)."""
    from codesign.flows.verilog import FamilyPlatform, to_verilog
    from codesign.hw.rtl.top import Accelerator, core_component

    platform = FamilyPlatform(family) if family else None
    return (to_verilog(Accelerator(config, core_module=CORE_MODULE), "top", platform)
            + to_verilog(core_component(config), CORE_MODULE, platform))
