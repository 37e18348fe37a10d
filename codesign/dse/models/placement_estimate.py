"""Layer-level placement estimate: how a (pruned) layer network lands on an HWConfig under a
partition policy, without running the compiler's mapping pass.

It follows the architecture's packing rules (docs/hardware.md): neurons of a population sit in
contiguous segments on cores; a source's synapses on one core are packed into words of
``synapse_lanes`` synapses where lane ``k`` only targets local neurons ``i % lanes == k``, so a
source needs ``max_k(synapses in lane k)`` words on that core; each (source, core) pair takes one
source-table entry. With ``shared_rows`` a core stores one copy of the words of sources whose
synapses there are equal up to a shift of their targets by a multiple of ``lanes`` (a
convolution's pixels), as the compiler's schedule pass does. A projection mapped to crossbar
tiles needs
``ceil(sources / rows) * ceil(targets * weight_slices / cols)`` tiles instead.

The DSE uses it to prune configurations that cannot hold the network and as the workload of the
cycle and energy estimates. It is an estimate: the compiler's partition/map pass decides the real
placement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sparse

from codesign.compiler.layer_ir import LayerNetwork
from codesign.arch.config import HWConfig

#: Partition policies: ``spread`` splits every population evenly over all cores (most
#: parallelism, most router traffic); ``pack`` fills cores one after the other (fewest cores and
#: source-table entries per event).
PARTITION_POLICIES = ("spread", "pack")


@dataclass
class Placement:
    """Where the network landed. ``words[source]`` is ``[cores]`` synapse words that one spike of
    each neuron of ``source`` streams per core (``[neurons, cores]``); ``words_per_core`` the
    words each core stores (shared rows stored once); ``neurons_on_core[pop]`` is ``[cores]``;
    ``misfits`` lists why it does not fit (empty = it fits)."""

    neurons_on_core: dict[str, np.ndarray]
    words: dict[str, np.ndarray]
    words_per_core: np.ndarray
    sources_per_core: np.ndarray
    crossbar_tiles_used: int
    crossbar_projections: list[int] = field(default_factory=list)
    misfits: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not self.misfits


def _assign(network: LayerNetwork, config: HWConfig, policy: str
            ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """``core[pop]`` and ``local[pop]`` index arrays per population, and neurons per core."""
    cores, capacity = config.cores, config.neurons_per_core
    used = np.zeros(cores, dtype=np.int64)
    core_of, local_of = {}, {}
    for population in network.populations:
        size = population.size
        if policy == "spread":
            chunk = -(-size // cores)
            core = np.minimum(np.arange(size) // chunk, cores - 1)
        else:
            # first fit in order; the last core takes any overflow (reported as a misfit)
            core = np.empty(size, dtype=np.int64)
            filled, position = used.copy(), 0
            for current in range(cores):
                room = capacity - filled[current] if current < cores - 1 else size - position
                take = int(min(max(room, 0), size - position))
                core[position:position + take] = current
                position += take
        local = np.empty(size, dtype=np.int64)
        for index in range(cores):
            members = np.flatnonzero(core == index)
            local[members] = used[index] + np.arange(len(members))
        used += np.bincount(core, minlength=cores)
        core_of[population.name], local_of[population.name] = core, local
    return core_of, local_of, used


def place(network: LayerNetwork, config: HWConfig, policy: str = "spread",
          crossbar_targets: frozenset[str] = frozenset()) -> Placement:
    """Place ``network`` on ``config``; projections into ``crossbar_targets`` go to crossbar tiles."""
    cores, lanes = config.cores, config.synapse_lanes
    core_of, local_of, neurons_per_core = _assign(network, config, policy)
    misfits = []
    if neurons_per_core.max() > config.neurons_per_core:
        misfits.append(f"{int(neurons_per_core.max())} neurons on one core > neurons_per_core "
                       f"{config.neurons_per_core}")
    slots = cores * lanes
    counts: dict[str, sparse.csr_matrix] = {}
    digital: dict[str, list[tuple[sparse.csr_matrix, np.ndarray, np.ndarray, int]]] = {}
    tiles_used, crossbar_projections = 0, []
    for index, projection in enumerate(network.projections):
        weight = projection.weight.T.tocsr()                              # [sources, targets]
        pattern = (weight != 0).astype(np.int64)
        if projection.target in crossbar_targets:
            crossbar = config.crossbar
            sources, targets = pattern.shape
            tiles_used += -(-sources // crossbar.rows) * \
                -(-(targets * config.crossbar_weight_slices) // crossbar.cols)
            crossbar_projections.append(index)
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
    if tiles_used > config.crossbar.tiles:
        misfits.append(f"{tiles_used} crossbar tiles needed > crossbar.tiles "
                       f"{config.crossbar.tiles}")
    neurons_on_core = {name: np.bincount(core, minlength=cores) for name, core in core_of.items()}
    return Placement(neurons_on_core=neurons_on_core, words=words, words_per_core=words_per_core,
                     sources_per_core=sources_per_core, crossbar_tiles_used=tiles_used,
                     crossbar_projections=crossbar_projections, misfits=misfits)


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
