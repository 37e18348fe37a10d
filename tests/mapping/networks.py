"""Small NIR graphs built in code for the mapping tests (no files from ../shared needed)."""

from __future__ import annotations

import nir
import numpy as np

from codesign.compiler import frontend
from codesign.compiler.layers import QuantizedNetwork
from codesign.compiler.pipeline import CompileOptions, quantized
from codesign.compiler.synthetic import chain_graph


def chain(sizes: list[int], seed: int = 0, recurrent: bool = False,
          density: float = 0.6, options: CompileOptions | None = None) -> QuantizedNetwork:
    """input -> Affine -> LIF -> ... with random sparse weights; optional recurrence on the first
    hidden layer (an Affine edge from the layer back to its own input)."""
    return quantized(frontend.nir_to_ir(chain_graph(sizes, seed, recurrent, density)),
                     options or CompileOptions(dt=1e-3))


def convolution(channels: tuple[int, int], side: int, seed: int = 0) -> QuantizedNetwork:
    """input [c_in, side, side] -> 3x3 Conv2d (padding 1) -> LIF [c_out, side, side]."""
    return quantized(frontend.nir_to_ir(convolution_graph(channels, side, seed)),
                     CompileOptions(dt=1e-3))


def convolution_graph(channels: tuple[int, int], side: int, seed: int = 0) -> nir.NIRGraph:
    """The NIR graph of :func:`convolution`."""
    rng = np.random.default_rng(seed)
    channels_in, channels_out = channels
    shape = (channels_out, side, side)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([channels_in, side, side])}),
        "conv": nir.Conv2d(input_shape=(side, side),
                           weight=rng.normal(0.3, 1.0, (channels_out, channels_in, 3, 3)),
                           stride=1, padding=1, dilation=1, groups=1,
                           bias=np.zeros(channels_out)),
        "lif": nir.LIF(tau=np.full(shape, 5e-3), r=np.ones(shape), v_leak=np.zeros(shape),
                       v_threshold=np.full(shape, 0.8), v_reset=np.zeros(shape)),
        "output": nir.Output(output_type={"output": np.array(shape)}),
    }
    edges = [("input", "conv"), ("conv", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def spikes(steps: int, size: int, rate: float = 0.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((steps, 1, size)) < rate).astype(np.int64)
