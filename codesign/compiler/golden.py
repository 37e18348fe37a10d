"""Fixed-point golden model: executes a :class:`QuantizedNetwork` bit-exactly, vectorised over
neurons and batch samples, with the arithmetic of :mod:`codesign.arithmetic` (contract 1).

The RTL and the C back end are tested against this model, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codesign import arithmetic
from codesign.compiler.layer_ir import QuantizedNetwork, QuantizedProjection
from codesign.errors import CodesignError
from codesign.inputs import per_step


@dataclass
class GoldenResult:
    """``output``: ``[T, B, *output_shape]`` spikes (or the dequantised voltage of a non-spiking
    read-out). ``records[name]``: integer ``spikes``, ``v``, ``i``, ``a`` (adaptation) and ``x``
    (the synaptic input) per step when recorded.
    ``final_state[name]``: the :class:`~codesign.arithmetic.NeuronState` after the last step."""

    output: np.ndarray
    records: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    final_state: dict[str, arithmetic.NeuronState] = field(default_factory=dict)
    synaptic_events: int = 0


#: The largest spike count one input may carry in one step (the accumulator check bounds the
#: sums; this keeps the counts themselves exact in int64 arithmetic).
MAX_COUNT = 2**31 - 1


def integer_input(network: QuantizedNetwork, inputs: np.ndarray) -> np.ndarray:
    """Check ``[T, B, *input_shape]`` inputs are spike counts and return them as int64."""
    return integer_counts(tuple(network.input_shape), inputs)


def integer_counts(input_shape: tuple[int, ...], inputs: np.ndarray) -> np.ndarray:
    """:func:`integer_input` for a network whose input has ``input_shape``: ``[T, B, size]``."""
    inputs = np.asarray(inputs)
    size = int(np.prod(input_shape))
    if inputs.ndim < 2 or int(np.prod(inputs.shape[2:])) != size:
        raise CodesignError(f"the input has {per_step(inputs.shape[2:])} per step, the network "
                            f"expects {tuple(input_shape)}",
                            f"pass an array of [T, {', '.join(map(str, input_shape))}]")
    if not np.all(np.isfinite(inputs)) or np.any(inputs != np.rint(inputs)) or np.any(inputs < 0):
        raise CodesignError("fixed-point inputs must be non-negative spike counts (integers)",
                            "bin events into counts, or run --mode float for real-valued input")
    if inputs.size and inputs.max() > MAX_COUNT:
        raise CodesignError(f"an input spike count of {inputs.max():.4g} is beyond the "
                            f"{MAX_COUNT} one step can carry", "bin events into smaller steps")
    return inputs.astype(np.int64).reshape(*inputs.shape[:2], size)


def _crossbar_input(projection: QuantizedProjection, source: np.ndarray,
                    weight_bits: int) -> np.ndarray:
    """Input ``[batch, target size]`` that the crossbar tiles of ``projection`` add."""
    x = np.zeros((source.shape[0], projection.weight.shape[0]), dtype=np.int64)
    for block in projection.crossbar:
        rows = np.zeros((source.shape[0], block.conductances.shape[0]), dtype=np.int64)
        rows[:, :block.source_stop - block.source_start] = \
            source[:, block.source_start:block.source_stop]
        outputs = arithmetic.crossbar_matvec(block.conductances, rows, weight_bits,
                                             block.cell_bits, block.adc_bits, block.adc_shift)
        x[:, block.targets] += outputs[:, :len(block.targets)]
    return x


def simulate(network: QuantizedNetwork, inputs: np.ndarray, record: bool = False) -> GoldenResult:
    """Run ``network`` on integer ``inputs`` ``[T, B, *input_shape]``."""
    counts = integer_input(network, inputs)
    steps, batch = counts.shape[:2]
    bits, select = network.state_bits, np.where
    history = max((p.delay for p in network.projections), default=0) + 1
    # Spike history of every source: ring buffer indexed by step modulo `history`.
    spikes = {network.input_name: np.zeros((history, batch, network.input_size), dtype=np.int64)}
    state, records = {}, {}
    for population in network.populations:
        spikes[population.name] = np.zeros((history, batch, population.size), dtype=np.int64)
        zeros = lambda: np.zeros((batch, population.size), dtype=np.int64)
        state[population.name] = arithmetic.NeuronState(zeros(), zeros(), zeros())
        if record:
            records[population.name] = {"spikes": [], "v": [], "i": [], "a": [], "x": []}
    transposed = [(p, p.weight.T.tocsr()) for p in network.projections]
    limit = 1 << (network.accumulator_bits - 1)
    outputs, events = [], 0
    for t in range(steps):
        spikes[network.input_name][t % history] = counts[t]
        for population in network.populations:
            x = np.zeros((batch, population.size), dtype=np.int64)
            for projection, weight_t in transposed:
                if projection.target != population.name or projection.delay > t:
                    continue
                source = spikes[projection.source][(t - projection.delay) % history]
                if projection.crossbar is None:
                    x += np.asarray(source @ weight_t, dtype=np.int64)
                else:
                    x += _crossbar_input(projection, source, network.weight_bits)
                events += int((source @ np.diff(weight_t.indptr)).sum())
            if np.any(np.abs(x) >= limit):
                raise CodesignError(
                    f"population '{population.name}' received |x| = {int(np.abs(x).max())}, "
                    f"beyond the {network.accumulator_bits}-bit accumulator",
                    "lower the input spike counts per step or the layer's fan-in")
            new_state, fired = arithmetic.neuron_step(population.parameters,
                                                      state[population.name], x, bits, select)
            state[population.name] = new_state
            fired = fired.astype(np.int64) if population.spiking else np.zeros_like(x)
            spikes[population.name][t % history] = fired
            if record:
                records[population.name]["spikes"].append(fired)
                records[population.name]["v"].append(new_state.voltage)
                records[population.name]["i"].append(new_state.current)
                records[population.name]["a"].append(new_state.adaptation)
                records[population.name]["x"].append(x)
        readout = network.population(network.output)
        outputs.append(spikes[network.output][t % history].copy() if readout.spiking else
                       state[network.output].voltage * readout.voltage_scale)
    shape = lambda name: (steps, batch, *network.population(name).shape)
    stacked = {name: {key: np.stack(values).reshape(shape(name)) for key, values in r.items()}
               for name, r in records.items()}
    output = np.stack(outputs).reshape(steps, batch, *network.output_shape)
    return GoldenResult(output=output, records=stacked, final_state=state,
                        synaptic_events=events)
