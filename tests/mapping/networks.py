"""Small NIR graphs built in code for the mapping tests (no files from ../shared needed)."""

from __future__ import annotations

import nir
import numpy as np

from codesign.compiler import frontend
from codesign.compiler.layer_ir import QuantizedNetwork
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


def pooled_cnn(seed: int = 0) -> QuantizedNetwork:
    """:func:`pooled_cnn_graph` quantised with ``dt`` 1."""
    return quantized(frontend.nir_to_ir(pooled_cnn_graph(seed)), CompileOptions(dt=1.0))


def pooled_cnn_graph(seed: int = 0) -> nir.NIRGraph:
    """The SCNN's shape in small: input [2, 8, 8] -> 3x3 Conv2d -> IF [4, 8, 8] -> 2x2 SumPool2d
    -> 3x3 Conv2d -> IF [3, 4, 4] -> 2x2 SumPool2d -> Flatten -> Affine -> IF [5]."""
    rng = np.random.default_rng(seed)

    def neurons(shape):
        return nir.IF(r=np.ones(shape), v_threshold=np.full(shape, 1.0),
                      v_reset=np.zeros(shape))

    def convolution(channels_out, channels_in, side):
        return nir.Conv2d(input_shape=(side, side),
                          weight=rng.normal(0.4, 0.8, (channels_out, channels_in, 3, 3)),
                          stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(channels_out))

    def pooling(channels, side):
        pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                             padding=np.array([0, 0]))
        pool.input_type = {"input": np.array([channels, side, side])}
        return pool

    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 8, 8])}),
        "conv1": convolution(4, 2, 8), "if1": neurons((4, 8, 8)), "pool1": pooling(4, 8),
        "conv2": convolution(3, 4, 4), "if2": neurons((3, 4, 4)), "pool2": pooling(3, 4),
        "flatten": nir.Flatten(start_dim=0, end_dim=-1,
                               input_type={"input": np.array([3, 2, 2])}),
        "affine": nir.Affine(weight=rng.normal(0.3, 1.0, (5, 12)), bias=np.zeros(5)),
        "if3": neurons((5,)),
        "output": nir.Output(output_type={"output": np.array([5])}),
    }
    chain_of = ["input", "conv1", "if1", "pool1", "conv2", "if2", "pool2", "flatten", "affine",
                "if3", "output"]
    return nir.NIRGraph(nodes=nodes, edges=list(zip(chain_of[:-1], chain_of[1:])))


def spikes(steps: int, size: int, rate: float = 0.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((steps, 1, size)) < rate).astype(np.int64)
