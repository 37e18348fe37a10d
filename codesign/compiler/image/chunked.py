"""Run a feed-forward network that does not fit the chip in *chunks*: a sequence of programs,
one per chunk of one layer, run layer by layer (``codesign compile --chunked``).

Given the spike trains of its sources over all ``T`` timesteps, the neurons of a population
evolve independently of each other, so a population can be computed in chunks: each chunk
program is a small network whose input is the part of the earlier layers' spikes the chunk
listens to and whose only population is the chunk; it runs for all ``T`` steps and its output
spikes become input of the chunks of the next layers. The hardware is reprogrammed between
chunks, so this trades latency (every chunk streams its program image and replays ``T`` steps)
for capacity.

* **Exact.** A chunk's input ``x = W s`` is the same integer sum as in the whole network; source
  columns with identical weights into the chunk (the pixels of one sum-pooling window feeding a
  convolution, after ``fuse`` folded the pooling into its weights) become one input whose spike
  *count* is their sum (``W s = W_grouped (G s)`` in integers; the golden model refuses
  accumulator overflow rather than saturating, so grouping changes nothing).
* **Chunks.** A population with a ``(channels, height, width)`` shape is cut into bands of rows
  (all channels), so a convolution's chunk listens to a band of its input only; other
  populations are cut into index ranges. The chunk size is the largest power-of-two fraction of
  the population whose every chunk maps on the HWConfig.
* **Limits.** Every projection must have delay 0 and come from the input or an earlier
  population (no recurrence: a recurrent layer's state needs its own spikes within the step),
  and every population must spike (a chunk hands on spikes, not voltages).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sparse

from codesign import arithmetic
from codesign.arch.config import HWConfig
from codesign.compiler.analysis import cycle_model
from codesign.compiler.image.program_image import ProgramImage, build_image
from codesign.compiler.layer_ir import QuantizedNetwork, QuantizedPopulation, QuantizedProjection
from codesign.compiler.pipeline import map_network
from codesign.compiler.program import MappedProgram, MappingOptions
from codesign.errors import CodesignError, DoesNotFit


@dataclass
class ChunkProgram:
    """One program: neurons ``neurons`` of ``population``. Its input ``k`` is the spike count
    ``sum(groups[j][k] @ spikes of sources[j])`` over the chunk's source populations."""

    population: str
    neurons: np.ndarray
    sources: list[str]
    groups: list[sparse.csr_matrix]
    #: The chunk's own network (input: the grouped sources; one population: the chunk), mapped,
    #: and its program image.
    program: MappedProgram
    image: ProgramImage


@dataclass
class ChunkedPlan:
    """The chunk programs of a network, and the network's outline that running them needs."""

    config: HWConfig
    input_name: str
    input_shape: tuple[int, ...]
    #: ``(name, size)`` of every population, in evaluation order.
    populations: list[tuple[str, int]]
    output: str
    output_shape: tuple[int, ...]
    chunks: list[ChunkProgram]

    def load_fields(self) -> int:
        """Host-stream fields (32-bit words) of all the chunks' program images: loading them
        costs at least this many cycles per sample at one field per cycle."""
        return sum(len(chunk.image.fields) for chunk in self.chunks)

    def describe(self) -> str:
        """Chunks per population, e.g. ``1: 4 x 1024, 3: 8 x 512`` (count x largest chunk)."""
        per_layer: dict[str, list[int]] = {}
        for chunk in self.chunks:
            per_layer.setdefault(chunk.population, []).append(chunk.neurons.size)
        return ", ".join(f"{name}: {len(sizes)} x {max(sizes)}" for name, sizes in
                         per_layer.items())


@dataclass
class ChunkResult:
    """What one chunk program returned: spikes ``[T, B, chunk]``, final state and the cycles of its steps
    ``[T, B]``."""

    spikes: np.ndarray
    final_state: arithmetic.NeuronState
    cycles: np.ndarray


@dataclass
class ChunkedResult:
    output: np.ndarray
    spikes: dict[str, np.ndarray]
    final_state: dict[str, arithmetic.NeuronState]
    #: ``[T, B]``: the cycles of step ``t`` (predicted or measured), summed over the chunks.
    cycles: np.ndarray


def plan_chunks(network: QuantizedNetwork, config: HWConfig,
                options: MappingOptions | None = None) -> ChunkedPlan:
    """Cut ``network`` into chunks whose programs each map on ``config``."""
    _check_feed_forward(network)
    programs = []
    for population in network.populations:
        for parts in _part_counts(population):
            chunks = _chunks(population, parts)
            try:
                built = [_chunk_program(network, population, neurons, config, options)
                         for neurons in chunks]
            except DoesNotFit as error:
                last_error = error
                continue
            programs.extend(built)
            break
        else:
            raise CodesignError(
                f"population '{population.name}' does not fit even one row or neuron per chunk: "
                f"{last_error.cause}", last_error.fix)
    return ChunkedPlan(config=config, input_name=network.input_name,
                         input_shape=tuple(network.input_shape),
                         populations=[(p.name, p.size) for p in network.populations],
                         output=network.output, output_shape=tuple(network.output_shape),
                         chunks=programs)


def run(plan: ChunkedPlan, counts: np.ndarray,
        runner: Callable[[Sequence[tuple[ChunkProgram, np.ndarray]]], list[ChunkResult]]
        ) -> ChunkedResult:
    """Run the chunks layer by layer on integer input ``counts`` ``[T, B, *input_shape]``;
    ``runner`` runs the chunk programs of one layer (they only depend on earlier layers):
    :func:`golden_runner` here, ``codesign.flows.rtl_target.chunk_runner`` on the RTL (the
    command line hands it in; the compiler never imports a tool flow)."""
    steps, batch = counts.shape[:2]
    spikes = {plan.input_name: counts.reshape(steps, batch, -1).astype(np.int64)}
    final_state: dict[str, arithmetic.NeuronState] = {}
    cycles = np.zeros((steps, batch), dtype=np.int64)
    for name, size in plan.populations:
        layer = [chunk for chunk in plan.chunks if chunk.population == name]
        results = runner([(chunk, chunk_input(chunk, spikes)) for chunk in layer])
        spikes[name] = np.zeros((steps, batch, size), dtype=np.int64)
        state = [np.zeros((batch, size), dtype=np.int64) for _ in range(3)]
        for chunk, result in zip(layer, results):
            spikes[name][:, :, chunk.neurons] = result.spikes.reshape(steps, batch, -1)
            for whole, part in zip(state, (result.final_state.voltage,
                                           result.final_state.current,
                                           result.final_state.adaptation)):
                whole[:, chunk.neurons] = part
            cycles = cycles + result.cycles
        final_state[name] = arithmetic.NeuronState(*state)
    output = spikes[plan.output].reshape(steps, batch, *plan.output_shape)
    return ChunkedResult(output=output, spikes=spikes, final_state=final_state, cycles=cycles)


def chunk_input(chunk: ChunkProgram, spikes: dict[str, np.ndarray]) -> np.ndarray:
    """The chunk's input counts ``[T, B, inputs]`` from its sources' spikes ``[T, B, size]``."""
    return np.concatenate([spikes[source] @ group.T.toarray()
                           for source, group in zip(chunk.sources, chunk.groups)], axis=2)


def golden_runner(chunks: Sequence[tuple[ChunkProgram, np.ndarray]]) -> list[ChunkResult]:
    """Each chunk program on the golden model, with the cycle model's prediction of its
    steps."""
    results = []
    for chunk, counts in chunks:
        prediction, result = cycle_model.predict_run(chunk.program, counts)
        results.append(ChunkResult(result.output, result.final_state[chunk.population],
                                   prediction.cycles))
    return results


def _check_feed_forward(network: QuantizedNetwork) -> None:
    order = {network.input_name: -1, **{p.name: i for i, p in enumerate(network.populations)}}
    for projection in network.projections:
        if projection.delay or order[projection.source] >= order[projection.target]:
            raise CodesignError(
                f"projection {projection.source} -> {projection.target} (delay "
                f"{projection.delay}) is recurrent or delayed: a layer cannot run in chunks",
                "use an HWConfig that holds the whole network")
    for population in network.populations:
        if not population.spiking:
            raise CodesignError(f"population '{population.name}' does not spike (a readout): "
                                "chunks hand spikes to each other",
                                "use an HWConfig that holds the whole network")


def _part_counts(population: QuantizedPopulation) -> list[int]:
    """Numbers of chunks to try, fewest first: powers of two up to one row (or neuron) each."""
    units = population.shape[1] if len(population.shape) == 3 else population.size
    counts, parts = [], 1
    while parts < units:
        counts.append(parts)
        parts *= 2
    return counts + [units]


def _chunks(population: QuantizedPopulation, parts: int) -> list[np.ndarray]:
    """``parts`` chunks of neuron indices: bands of rows over all channels, or index ranges."""
    if len(population.shape) == 3:
        channels, height, width = population.shape
        index = np.arange(population.size).reshape(channels, height, width)
        return [index[:, rows, :].reshape(-1)
                for rows in np.array_split(np.arange(height), parts) if rows.size]
    return [part for part in np.array_split(np.arange(population.size), parts) if part.size]


def _chunk_program(network: QuantizedNetwork, population: QuantizedPopulation, neurons: np.ndarray,
                config: HWConfig, options: MappingOptions | None) -> ChunkProgram:
    sources, groups, blocks = [], [], []
    for projection in network.incoming(population.name):
        rows = projection.weight.tocsr()[neurons].tocsc()
        rows.eliminate_zeros()
        columns: dict[tuple, int] = {}
        members: list[list[int]] = []
        for column in np.flatnonzero(np.diff(rows.indptr)):
            start, stop = rows.indptr[column], rows.indptr[column + 1]
            key = (tuple(rows.indices[start:stop]), tuple(rows.data[start:stop]))
            if key not in columns:
                columns[key] = len(members)
                members.append([])
            members[columns[key]].append(int(column))
        size = network.source_size(projection.source)
        group = sparse.csr_matrix((np.ones(sum(map(len, members)), dtype=np.int64),
                                   ([k for k, m in enumerate(members) for _ in m],
                                    [c for m in members for c in m])),
                                  shape=(len(members), size))
        representatives = [m[0] for m in members]
        sources.append(projection.source)
        groups.append(group)
        blocks.append(rows[:, representatives])
    weight = sparse.hstack(blocks).tocsr() if blocks else \
        sparse.csr_matrix((neurons.size, 0), dtype=np.int64)
    chunk = replace(population, shape=(neurons.size,), parameters=arithmetic.NeuronParameters(
        **{f.name: np.broadcast_to(np.asarray(getattr(population.parameters, f.name)),
                                   (population.size,))[neurons]
           for f in fields(arithmetic.NeuronParameters)}))
    input_name = f"input of {population.name}"
    sub = replace(network, input_name=input_name, input_shape=(weight.shape[1],),
                  populations=[chunk],
                  projections=[QuantizedProjection(input_name, population.name, weight)],
                  output=population.name, output_shape=(neurons.size,), metadata={})
    program = map_network(sub, config, options)
    return ChunkProgram(population=population.name, neurons=neurons, sources=sources,
                     groups=groups, program=program, image=build_image(program))
