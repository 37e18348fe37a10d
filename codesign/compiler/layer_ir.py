"""Layer IR: neuron populations joined by synaptic projections (after ``fuse``), in float or, after
``quantize``, in integers.

A projection ``source -> target`` with weight matrix ``W`` ``[target size, source size]`` and
``delay`` d adds ``W @ s_source[t - d]`` to the target's input ``x[t]``; several projections into
one population add up. Populations are listed in evaluation order: every delay-0 projection goes
from an earlier population to a later one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sparse

from codesign import arithmetic
from codesign.compiler.ir import DiscreteNeuron


def _range(array) -> str:
    array = np.asarray(array, dtype=np.float64)
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return "inf" if array.size else "-"
    low, high = float(finite.min()), float(finite.max())
    return f"{low:.4g}" if low == high else f"[{low:.4g}, {high:.4g}]"


@dataclass
class Population:
    """A group of neurons with one discretised model (``neuron`` is None for the input).
    ``bias`` is a constant input added to ``x`` every step."""

    name: str
    shape: tuple[int, ...]
    neuron: DiscreteNeuron | None = None
    bias: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Projection:
    """Synapses ``source -> target``: ``x_target[t] += weight @ s_source[t - delay]``."""

    source: str
    target: str
    weight: sparse.csr_matrix
    delay: int = 0

    @property
    def synapse_count(self) -> int:
        return int(self.weight.count_nonzero())


@dataclass
class LayerNetwork:
    """Float layer IR produced by ``fuse``."""

    input: Population
    populations: list[Population]
    projections: list[Projection]
    output: str
    output_shape: tuple[int, ...]
    dt: float
    reset: str = "zero"

    def population(self, name: str) -> Population:
        return self.input if name == self.input.name else \
            next(p for p in self.populations if p.name == name)

    def incoming(self, name: str) -> list[Projection]:
        return [p for p in self.projections if p.target == name]

    def dump(self) -> str:
        lines = [f"layers: input {self.input.name} {self.input.shape}, "
                 f"{len(self.populations)} populations, {len(self.projections)} projections, "
                 f"output {self.output}"]
        for population in self.populations:
            neuron = population.neuron
            lines.append(f"  population {population.name}: {neuron.model} {population.shape} "
                         f"decay(I)={_range(neuron.current_decay)} decay(v)="
                         f"{_range(neuron.voltage_decay)} threshold={_range(neuron.threshold)} "
                         f"bias={_range(population.bias)}")
        for projection in self.projections:
            lines.append(f"  projection {projection.source} -> {projection.target} "
                         f"delay={projection.delay} synapses={projection.synapse_count} "
                         f"weight={_range(projection.weight.data)}")
        return "\n".join(lines)


@dataclass
class QuantizedPopulation:
    """Integer neuron population. ``parameters`` holds one int64 array per
    :class:`~codesign.arithmetic.NeuronParameters` field (one entry per neuron). Float value of
    the state: ``voltage * voltage_scale``, ``current * current_scale``; of the input accumulator:
    ``x * input_scale``."""

    name: str
    shape: tuple[int, ...]
    model: str
    parameters: arithmetic.NeuronParameters
    spiking: bool
    voltage_scale: float
    current_scale: float
    input_scale: float
    #: What quantisation lost beyond rounding ("" if nothing): weights rounded to 0, thresholds
    #: rounded to 0, values clipped at their width. Set by ``quantize``; not in the image.
    precision_loss: str = ""

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class CrossbarBlock:
    """One ReRAM crossbar tile programmed with a block of a projection (set by the mapping).

    Source neurons ``source_start..source_stop`` drive tile rows ``0..``; outputs ``0..`` add
    into target neurons ``targets`` (population indices). ``conductances`` ``[rows, columns]``
    are what the tile holds after programming (``arithmetic.crossbar_conductances``); the tile
    computes ``arithmetic.crossbar_matvec`` on the *binary* row activity."""

    tile: int
    source_start: int
    source_stop: int
    targets: np.ndarray
    conductances: np.ndarray
    adc_shift: int
    cell_bits: int
    adc_bits: int


@dataclass
class QuantizedProjection:
    """Integer synapses (weights of ``weight_bits``): ``x_target[t] += weight @ s_source[t-delay]``.

    ``crossbar`` (set by the mapping for projections it puts on ReRAM tiles): the golden model
    then adds the tiles' ADC outputs instead of the exact ``weight @ s``, as the hardware does."""

    source: str
    target: str
    weight: sparse.csr_matrix
    delay: int = 0
    crossbar: list[CrossbarBlock] | None = None

    @property
    def synapse_count(self) -> int:
        return int(self.weight.count_nonzero())


@dataclass
class QuantizedNetwork:
    """Fixed-point layer IR produced by ``quantize``: what the golden model, the C back end and
    the hardware mapping execute. Inputs are integer spike counts."""

    input_name: str
    input_shape: tuple[int, ...]
    populations: list[QuantizedPopulation]
    projections: list[QuantizedProjection]
    output: str
    output_shape: tuple[int, ...]
    weight_bits: int
    state_bits: int
    dt: float
    reset: str
    metadata: dict = field(default_factory=dict)

    @property
    def accumulator_bits(self) -> int:
        return arithmetic.accumulator_bits(self.weight_bits)

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    def population(self, name: str) -> QuantizedPopulation:
        return next(p for p in self.populations if p.name == name)

    def incoming(self, name: str) -> list[QuantizedProjection]:
        return [p for p in self.projections if p.target == name]

    def source_size(self, name: str) -> int:
        return self.input_size if name == self.input_name else self.population(name).size

    def synapse_count(self) -> int:
        return sum(p.synapse_count for p in self.projections)

    def neuron_count(self) -> int:
        return sum(p.size for p in self.populations)

    def dump(self) -> str:
        lines = [f"fixed-point: weights {self.weight_bits} b, state {self.state_bits} b, "
                 f"accumulator {self.accumulator_bits} b, {self.neuron_count()} neurons, "
                 f"{self.synapse_count()} synapses, output {self.output}"]
        for population in self.populations:
            p = population.parameters
            lines.append(
                f"  population {population.name}: {population.model} {population.shape} "
                f"decay(I)={_range(p.current_decay)} gain(x)={_range(p.input_gain)} "
                f"decay(v)={_range(p.voltage_decay)} gain(I)={_range(p.current_gain)} "
                f"threshold={_range(p.threshold)} reset={_range(p.reset_voltage)} "
                f"v-scale={population.voltage_scale:.4g}")
        for projection in self.projections:
            lines.append(f"  projection {projection.source} -> {projection.target} "
                         f"delay={projection.delay} synapses={projection.synapse_count} "
                         f"weight={_range(projection.weight.data)}")
        return "\n".join(lines)
