"""Float reference simulator: the discretised SNN IR in float64, vectorised over neurons and batch.

It executes the graph node by node (not the fused layers the back ends see), so it is an
independent check of the compiler's ``fuse`` and ``quantize`` passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codesign.compiler import ir, linear_ops
from codesign.errors import CodesignError
from codesign.inputs import per_step


@dataclass
class SimulationResult:
    """``output`` is ``[T, B, *output_shape]``; ``records[node]`` holds ``spikes`` and ``v``
    (``[T, B, *shape]``) of every neuron node when recording was asked for."""

    output: np.ndarray
    records: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: Spikes of every spiking neuron node, summed over steps, samples and neurons.
    spike_totals: dict[str, int] = field(default_factory=dict)


def check_input(graph: ir.Graph, inputs: np.ndarray) -> np.ndarray:
    """Validate ``[T, B, *input_shape]`` inputs and return them as float64."""
    expected = graph.input.shape
    inputs = np.asarray(inputs)
    if inputs.ndim < 2 or inputs.shape[2:] != tuple(expected) and \
            int(np.prod(inputs.shape[2:])) != int(np.prod(expected)):
        raise CodesignError(f"the input has {per_step(inputs.shape[2:])} per step, the graph's "
                            f"Input expects {tuple(expected)}",
                            f"pass an array of [T, {', '.join(map(str, expected))}]")
    if not np.all(np.isfinite(inputs)):
        raise CodesignError("the input contains NaN or infinite values", "pass finite inputs")
    return inputs.astype(np.float64)


def simulate(graph: ir.Graph, inputs: np.ndarray, record: bool = False) -> SimulationResult:
    """Run a discretised graph on ``inputs`` of shape ``[T, B, *input_shape]``."""
    inputs = check_input(graph, inputs)
    steps, batch = inputs.shape[:2]
    order = graph.topological_order()
    recurrent = graph.recurrent_edges()
    sizes = {name: int(np.prod(node.output_shape)) for name, node in graph.nodes.items()}
    matrices = {name: (linear_ops.matrix(node).T.tocsr(), linear_ops.bias(node))
                for name, node in graph.nodes.items() if isinstance(node, ir.LINEAR_NODES)}
    state = {name: [np.zeros((batch, sizes[name])) for _ in range(3)]
             for name, node in graph.nodes.items() if isinstance(node, ir.DiscreteNeuron)}
    delay_lines = {name: np.zeros((int(node.steps.max()) + 1, batch, sizes[name]))
                   for name, node in graph.nodes.items() if isinstance(node, ir.DiscreteDelay)}
    previous = {name: np.zeros((batch, size)) for name, size in sizes.items()}
    recorded = {name: {"spikes": [], "v": []} for name in state} if record else {}
    totals = {name: 0 for name in state if graph.nodes[name].spiking_output}
    outputs = []
    for t in range(steps):
        current = {}
        for name in order:
            node = graph.nodes[name]
            x = np.zeros((batch, int(np.prod(node.input_shape))))
            for source in graph.predecessors(name):
                x = x + (previous if (source, name) in recurrent else current)[source]
            if isinstance(node, ir.Input):
                y = inputs[t].reshape(batch, -1)
            elif isinstance(node, ir.LINEAR_NODES):
                matrix_t, offset = matrices[name]
                y = np.asarray(x @ matrix_t) + offset
            elif isinstance(node, ir.DiscreteDelay):
                line = delay_lines[name]
                line[t % len(line)] = x
                steps_back = node.steps.ravel()
                y = line[(t - steps_back) % len(line), :, np.arange(x.shape[1])].T
                y = np.where(t >= steps_back, y, 0.0)
            elif isinstance(node, ir.DiscreteNeuron):
                y = _neuron_step(node, state[name], x)
                if name in totals:
                    totals[name] += int(np.count_nonzero(y))
                if record:
                    recorded[name]["spikes"].append(y if node.spiking_output else
                                                    np.zeros_like(y))
                    recorded[name]["v"].append(state[name][1].copy())
            else:  # Output
                y = x
            current[name] = y
        previous = current
        outputs.append(current[graph.output.name])
    shape = lambda name: (steps, batch, *graph.nodes[name].output_shape)
    records = {name: {key: np.stack(values).reshape(shape(name)) for key, values in r.items()}
               for name, r in recorded.items()}
    output = np.stack(outputs).reshape(steps, batch, *graph.output.shape)
    return SimulationResult(output=output, records=records, spike_totals=totals)


def _neuron_step(node: ir.DiscreteNeuron, state: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """One Euler step of a :class:`DiscreteNeuron`; updates ``state`` = [current, voltage,
    adaptation] in place and returns the output (spikes, or the voltage when non-spiking)."""
    flat = lambda array: array.ravel()
    current = flat(node.current_decay) * state[0] + flat(node.input_gain) * x
    voltage = flat(node.voltage_decay) * state[1] + flat(node.current_gain) * current + \
        flat(node.leak)
    threshold = flat(node.threshold) + state[2]
    spikes = voltage > threshold
    reset = voltage - threshold if node.reset_subtract else \
        np.broadcast_to(flat(node.reset_voltage), voltage.shape)
    state[0] = current
    state[1] = np.where(spikes, reset, voltage)
    state[2] = flat(node.adaptation_decay) * state[2] + flat(node.adaptation_step) * spikes
    return spikes.astype(np.float64) if node.spiking_output else voltage
