"""The workload the DSE tunes for: the network (fused layer IR), its sample inputs and the float
reference's behaviour on them, loaded once per DSE process.

Pruning (a compiler knob) is applied here, on the float layer IR before quantisation, so every
evaluator (mapping estimate, fidelity, energy) sees the same pruned synapses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sparse

from codesign import inputs as input_files
from codesign.compiler import float_reference, frontend, golden
from codesign.compiler.layer_ir import LayerNetwork, Projection
from codesign.compiler.passes.discretize import Discretize
from codesign.compiler.passes.fuse import Fuse
from codesign.errors import CodesignError

#: Samples the DSE evaluates fidelity on (the first ones of ``--input``, or seeded ones).
DEFAULT_SAMPLES = 100
#: Shape of the seeded sample inputs made when no ``--input`` is given.
SEEDED_TIMESTEPS = 32
SEEDED_SAMPLES = 16
SEEDED_RATE = 0.2


@dataclass
class Workload:
    """``inputs`` ``[T, B, *input_shape]`` spike counts; ``labels`` ``[B]`` or None;
    ``reference_counts`` ``[B, outputs]`` the float reference's output spike counts;
    ``rates[name]`` mean spikes per neuron per step of every source (input and populations)."""

    model_path: Path
    network: LayerNetwork
    inputs: np.ndarray
    labels: np.ndarray | None
    reference_counts: np.ndarray
    rates: dict[str, np.ndarray]
    dt: float
    _pruned_cache: dict[float, LayerNetwork] = field(default_factory=dict, repr=False)

    @property
    def timesteps(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def samples(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def neuron_count(self) -> int:
        return sum(p.size for p in self.network.populations)

    def source_size(self, name: str) -> int:
        return self.network.population(name).size

    def pruned(self, threshold: float) -> LayerNetwork:
        """The layer network with every synapse ``|w| < threshold * max|w|`` of its projection
        removed (``threshold`` = 0 keeps all)."""
        return _pruned(self, threshold)


def load_inputs(path: Path | None, input_size: int, samples: int, seed: int
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """``[T, B, input_size]`` spike counts and labels from ``--input`` (read and checked by
    :func:`codesign.inputs.load_inputs`: ``x`` ``[N, T, ...]``, optional ``y``), or seeded
    Bernoulli spikes when no file is given."""
    if path is None:
        rng = np.random.default_rng(seed)
        spikes = rng.random((SEEDED_TIMESTEPS, SEEDED_SAMPLES, input_size)) < SEEDED_RATE
        return spikes.astype(np.int64), None
    loaded = input_files.load_inputs(path)
    counts = golden.integer_counts((input_size,), loaded.steps[:, :samples])
    labels = loaded.labels[:samples] if loaded.labels is not None else None
    return counts, labels


def load_workload(model_path: str | Path, input_path: str | Path | None = None,
                  samples: int = DEFAULT_SAMPLES, dt: float = 1e-4, seed: int = 0) -> Workload:
    """Read the model, run the float reference on the sample inputs and measure its activity."""
    model_path = Path(model_path)
    graph = Discretize(dt, "zero").apply(frontend.load(model_path))
    network = Fuse().apply(graph)
    inputs, labels = load_inputs(Path(input_path) if input_path else None,
                                 network.input.size, samples, seed)
    result = float_reference.simulate(graph, inputs, record=True)
    reference_counts = result.output.reshape(inputs.shape[0], inputs.shape[1], -1).sum(axis=0)
    rates = {network.input.name: inputs.reshape(inputs.shape[0], inputs.shape[1], -1)
             .mean(axis=(0, 1))}
    for population in network.populations:
        spikes = result.records[population.name]["spikes"]
        rates[population.name] = spikes.reshape(spikes.shape[0], spikes.shape[1], -1) \
            .mean(axis=(0, 1))
    return Workload(model_path=model_path, network=network, inputs=inputs, labels=labels,
                    reference_counts=reference_counts, rates=rates, dt=dt)


def _pruned(workload: Workload, threshold: float) -> LayerNetwork:
    cache = workload._pruned_cache
    if threshold not in cache:
        network = workload.network
        projections = []
        for projection in network.projections:
            weight = sparse.csr_matrix(projection.weight, copy=True)
            if threshold > 0 and weight.nnz:
                limit = threshold * float(abs(weight.data).max())
                weight.data[abs(weight.data) < limit] = 0.0
                weight.eliminate_zeros()
            projections.append(Projection(projection.source, projection.target, weight,
                                          projection.delay))
        cache[threshold] = LayerNetwork(
            input=network.input, populations=network.populations, projections=projections,
            output=network.output, output_shape=network.output_shape, dt=network.dt,
            reset=network.reset)
    return cache[threshold]
