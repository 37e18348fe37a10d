"""The standard front half of the compiler: NIR file -> discretised graph -> fixed-point network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codesign.compiler import frontend, ir
from codesign.compiler.layers import QuantizedNetwork
from codesign.compiler.pass_manager import PassManager
from codesign.compiler.passes.discretize import Discretize
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.passes.quantize import Quantize


@dataclass
class CompileOptions:
    """Compiler knobs shared by ``simulate``, ``compile`` and the DSE. ``dt = None``: the step the
    graph assumes, else 1e-4 (:mod:`codesign.compiler.timestep`)."""

    dt: float | None = None
    reset: str = "zero"
    weight_bits: int = 8
    state_bits: int = 16


def discretized(graph: ir.Graph, options: CompileOptions) -> ir.Graph:
    return Discretize(options.dt, options.reset).apply(graph)


def quantized(graph: ir.Graph, options: CompileOptions,
              dump_after: tuple[str, ...] | str = ()) -> QuantizedNetwork:
    """Run discretize -> fuse -> quantize on an SNN IR graph."""
    passes = [Discretize(options.dt, options.reset), Fuse(),
              Quantize(options.weight_bits, options.state_bits)]
    return PassManager(passes, dump_after).run(graph)


def compile_file(path: str | Path, options: CompileOptions) -> QuantizedNetwork:
    return quantized(frontend.load(path), options)
