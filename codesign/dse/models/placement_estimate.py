"""Layer-level placement estimate: how a (pruned) layer network lands on an HWConfig under a
partition policy, without quantising it or running the compiler's mapping passes.

Neurons are placed by the compiler's own split rule (``partition.split_population``), so every
population lands on the cores, and at the local indices, the compiler gives it. The rest follows
the architecture's packing rules (docs/hardware.md): a source's synapses on one core are packed
into words of ``synapse_lanes`` synapses where lane ``k`` only targets local neurons
``i % lanes == k``, so a source needs ``max_k(synapses in lane k)`` words on that core; each
(source, core) pair takes one source-table entry. With ``shared_rows`` a core stores one copy of
the words of sources whose synapses there are equal up to a shift of their targets by a
multiple of ``lanes`` (a convolution's pixels), as the compiler's schedule pass does. A
projection mapped to crossbar tiles needs ``ceil(sources / rows) * ceil(targets *
columns_per_output / cols)`` tiles instead.

The DSE uses it to prune configurations that cannot hold the network and as the workload of the
cycle and energy estimates. What it leaves out of the compiler's mapping: quantisation (weights
that round to 0 still count), parameter profiles (one phase per population), id collisions in
the source tables and the routing-table limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sparse

from codesign import arithmetic
from codesign.arch.config import HWConfig
from codesign.compiler.layer_ir import LayerNetwork
from codesign.compiler.passes.partition import split_population


@dataclass(frozen=True)
class TileUse:
    """One crossbar tile the estimate uses: sources ``source_start..source_stop-1`` of projection
    ``projection`` (from ``source``) into its targets on ``core`` (as ``partition`` programs
    tiles: one tile per block of ``rows`` sources and target core)."""

    projection: int
    source: str
    core: int
    source_start: int
    source_stop: int


@dataclass
class Placement:
    """Where the network landed. ``core_of[pop]`` / ``local_of[pop]``: every neuron's core and
    core-local index; ``neurons_on_core[pop]`` is ``[cores]``; ``words[source]`` is the
    ``[neurons, cores]`` synapse words one spike of each neuron of ``source`` streams per core;
    ``words_per_core`` the words each core stores (shared rows stored once); ``tiles`` the
    crossbar tiles used; ``misfits`` lists why it does not fit (empty = it fits)."""

    core_of: dict[str, np.ndarray]
    local_of: dict[str, np.ndarray]
    neurons_on_core: dict[str, np.ndarray]
    words: dict[str, np.ndarray]
    words_per_core: np.ndarray
    sources_per_core: np.ndarray
    tiles: list[TileUse] = field(default_factory=list)
    misfits: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not self.misfits

    @property
    def crossbar_tiles_used(self) -> int:
        return len(self.tiles)

    @property
    def crossbar_projections(self) -> list[int]:
        return sorted({tile.projection for tile in self.tiles})


def assign_neurons(network: LayerNetwork, config: HWConfig, policy: str
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """``core[pop]`` and ``local[pop]`` index arrays per population, and neurons per core, by the
    compiler's own core-tier rule (:func:`codesign.compiler.passes.partition.split_population`,
    the first core rotating from population to population as ``partition`` does). Neurons the
    chip has no room for go to the last core of their population's order (reported as a
    misfit by :func:`place`)."""
    cores, capacity = config.cores, config.neurons_per_core
    free = np.full(cores, capacity, dtype=np.int64)
    core_of, local_of = {}, {}
    for order, population in enumerate(network.populations):
        size = population.size
        first_core = order % cores
        core = np.empty(size, dtype=np.int64)
        local = np.empty(size, dtype=np.int64)
        position = 0
        for index, count in split_population(size, free, policy, first_core):
            core[position:position + count] = index
            local[position:position + count] = capacity - free[index] + np.arange(count)
            free[index] -= count
            position += count
        if position < size:                       # the chip is full: overflow on one core
            last = (first_core - 1) % cores
            core[position:] = last
            local[position:] = capacity - free[last] + np.arange(size - position)
            free[last] -= size - position
        core_of[population.name], local_of[population.name] = core, local
    return core_of, local_of, capacity - free


def place(network: LayerNetwork, config: HWConfig, policy: str = "spread",
          crossbar_targets: frozenset[str] = frozenset()) -> Placement:
    """Place ``network`` on ``config``; projections into ``crossbar_targets`` go to crossbar tiles."""
    cores, lanes = config.cores, config.synapse_lanes
    core_of, local_of, neurons_per_core = assign_neurons(network, config, policy)
    misfits = []
    if neurons_per_core.sum() > config.total_neurons:
        misfits.append(f"{int(neurons_per_core.sum())} neurons > cores x neurons_per_core = "
                       f"{config.cores} x {config.neurons_per_core}")
    slots = cores * lanes
    counts: dict[str, sparse.csr_matrix] = {}
    digital: dict[str, list[tuple[sparse.csr_matrix, np.ndarray, np.ndarray, int]]] = {}
    tiles: list[TileUse] = []
    for index, projection in enumerate(network.projections):
        weight = projection.weight.T.tocsr()                              # [sources, targets]
        pattern = (weight != 0).astype(np.int64)
        if projection.target in crossbar_targets:
            tiles += _tiles(index, projection, core_of[projection.target], config, misfits)
            continue
        target = projection.target
        slot = core_of[target] * lanes + local_of[target] % lanes
        one_hot = sparse.csr_matrix((np.ones(len(slot), dtype=np.int64),
                                     (np.arange(len(slot)), slot)), shape=(len(slot), slots))
        contribution = pattern @ one_hot
        counts[projection.source] = counts[projection.source] + contribution \
            if projection.source in counts else contribution
        digital.setdefault(projection.source, []).append(
            (weight, core_of[target], local_of[target], projection.delay))
    words = {}
    words_per_core = np.zeros(cores, dtype=np.int64)
    sources_per_core = np.zeros(cores, dtype=np.int64)
    stored_lists: list[set[bytes]] = [set() for _ in range(cores)]   # shared across sources
    for source, count in counts.items():
        per_lane = count.toarray().reshape(count.shape[0], cores, lanes)
        source_words = per_lane.max(axis=2)
        words[source] = source_words
        words_per_core += _stored_words(digital[source], source_words, config, stored_lists) \
            if config.shared_rows else source_words.sum(axis=0)
        sources_per_core += (source_words > 0).sum(axis=0)
    if words_per_core.max(initial=0) > config.synapse_memory_depth:
        misfits.append(f"{int(words_per_core.max())} synapse words on one core > "
                       f"synapse_memory_depth {config.synapse_memory_depth}")
    if sources_per_core.max(initial=0) > config.source_table_depth:
        misfits.append(f"{int(sources_per_core.max())} spike sources on one core > "
                       f"source_table_depth {config.source_table_depth}")
    for core in range(cores):
        needed = sum(tile.core == core for tile in tiles)
        attached = len(range(core, config.crossbar.tiles, cores))   # tile j sits on core j % cores
        if needed > attached:
            misfits.append(f"{needed} crossbar tiles needed on core {core} > the {attached} of "
                           f"crossbar.tiles {config.crossbar.tiles} attached to it")
    neurons_on_core = {name: np.bincount(core, minlength=cores) for name, core in core_of.items()}
    return Placement(core_of=core_of, local_of=local_of, neurons_on_core=neurons_on_core,
                     words=words, words_per_core=words_per_core,
                     sources_per_core=sources_per_core, tiles=tiles, misfits=misfits)


def _tiles(index: int, projection, target_core: np.ndarray, config: HWConfig,
           misfits: list[str]) -> list[TileUse]:
    """The tiles ``partition`` programs for one crossbar projection: per core holding part of
    its target, one tile per block of ``rows`` sources; that part must fit one tile's
    outputs."""
    crossbar = config.crossbar
    outputs = arithmetic.crossbar_outputs(crossbar.cols, config.weight_bits, crossbar.cell_bits)
    sources = projection.weight.shape[1]
    tiles = []
    for core in np.unique(target_core).tolist():
        part = int(np.count_nonzero(target_core == core))
        if part > outputs:
            misfits.append(f"{projection.source} -> {projection.target}: {part} targets on core "
                           f"{core} > the {outputs} outputs of a crossbar tile")
        tiles += [TileUse(index, projection.source, core, start,
                          min(start + crossbar.rows, sources))
                  for start in range(0, sources, crossbar.rows)]
    return tiles


def _stored_words(projections: list[tuple[sparse.csr_matrix, np.ndarray, np.ndarray, int]],
                  source_words: np.ndarray, config: HWConfig,
                  seen: list[set[bytes]]) -> np.ndarray:
    """Words ``[cores]`` the neurons of one source population add to their cores with shared
    rows: one copy per distinct synapse list, targets taken relative to the source's lowest row
    on the core; ``seen[core]`` holds the lists already stored there (by any population).

    ``projections`` are ``(weight [sources, targets], core and local index of each target,
    delay)``; ``source_words`` is ``[sources, cores]``."""
    lanes = config.synapse_lanes
    rows: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(source_words.shape[0])]
    for weight, core_of_target, local_of_target, delay in projections:
        for source in range(weight.shape[0]):
            targets = weight.indices[weight.indptr[source]:weight.indptr[source + 1]]
            values = weight.data[weight.indptr[source]:weight.indptr[source + 1]]
            rows[source].append((core_of_target[targets], local_of_target[targets], values,
                                 np.full(len(targets), delay)))
    stored = np.zeros(config.cores, dtype=np.int64)
    for source, parts in enumerate(rows):
        cores, local, values, delays = (np.concatenate(column) for column in zip(*parts))
        keep = values != 0
        cores, local, values, delays = cores[keep], local[keep], values[keep], delays[keep]
        for core in np.unique(cores):
            mine = np.flatnonzero(cores == core)
            mine = mine[np.argsort(local[mine], kind="stable")]
            shifted = local[mine] - (local[mine].min() // lanes) * lanes
            key = shifted.tobytes() + values[mine].tobytes() + delays[mine].tobytes()
            if key not in seen[core]:
                seen[core].add(key)
                stored[core] += source_words[source, core]
    return stored
