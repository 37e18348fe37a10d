"""The compiler's two pipelines, built from the pass registry (``passes.PASSES``):

* the front half, ``discretize -> fuse -> quantize``: an SNN IR graph to a fixed-point network
  (:func:`quantized`; :func:`discretized` stops after the first pass);
* the back half, ``sparsity -> partition -> schedule``: a fixed-point network to a program
  mapped on an HWConfig (:func:`map_network`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codesign.arch.config import HWConfig
from codesign.compiler import ir
from codesign.compiler.layer_ir import QuantizedNetwork
from codesign.compiler.pass_manager import Pass, PassManager
from codesign.compiler.passes import PASSES
from codesign.compiler.program import MappedProgram, MappingOptions

FRONT_END = ("discretize", "fuse", "quantize")
BACK_END = ("sparsity", "partition", "schedule")


@dataclass
class CompileOptions:
    """Compiler knobs shared by ``simulate``, ``compile`` and the DSE. ``dt = None``: the step the
    graph assumes, else 1e-4 (:mod:`codesign.compiler.timestep`)."""

    dt: float | None = None
    reset: str = "zero"
    weight_bits: int = 8
    state_bits: int = 16


def _passes(names: tuple[str, ...], options: dict[str, dict[str, Any]]) -> list[Pass]:
    return [PASSES[name](**options.get(name, {})) for name in names]


def front_end(options: CompileOptions, last: str = FRONT_END[-1]) -> list[Pass]:
    """The front half's passes for ``options``, up to and including ``last``."""
    return _passes(FRONT_END[:FRONT_END.index(last) + 1], {
        "discretize": {"dt": options.dt, "reset": options.reset},
        "quantize": {"weight_bits": options.weight_bits, "state_bits": options.state_bits}})


def back_end(config: HWConfig, options: MappingOptions) -> list[Pass]:
    """The back half's passes for ``config`` and ``options``."""
    return _passes(BACK_END, {"sparsity": {"threshold": options.prune_threshold},
                              "partition": {"config": config, "options": options}})


def discretized(graph: ir.Graph, options: CompileOptions) -> ir.Graph:
    """Run discretize alone (the float reference's input)."""
    return PassManager(front_end(options, "discretize")).run(graph)


def quantized(graph: ir.Graph, options: CompileOptions,
              dump_after: tuple[str, ...] | str = ()) -> QuantizedNetwork:
    """Run discretize -> fuse -> quantize on an SNN IR graph."""
    return PassManager(front_end(options), dump_after).run(graph)


def map_network(network: QuantizedNetwork, config: HWConfig,
                options: MappingOptions | None = None) -> MappedProgram:
    """Run sparsity -> partition -> schedule: ``network`` placed on ``config``."""
    return PassManager(back_end(config, options or MappingOptions())).run(network)
