"""``partition``: place a pruned fixed-point network on an ``HWConfig`` (chip -> core -> tile).

Core tier. Every population is cut into pieces, one per core it uses:

* ``spread`` (default): ``size / cores`` neurons on every core (a phase's sweep then takes
  ``size / cores`` cycles instead of ``size``); the first core rotates from population to
  population so that small populations land on different cores;
* ``pack``: cores are filled one after the other.

A piece that does not fit its core's free neurons spills over to the next core with room. A
piece is cut again where the neuron parameters change: each run of neurons with one parameter
*profile* (every ``NeuronParameters`` field except the per-neuron bias) is a *segment*, and each
profile run of a population is one *phase* of the timestep; all cores that hold part of a run
use the same segment-table index (the phase's index), as the phase table names one segment.

Tile tier. A projection is *eligible* for crossbar tiles when the config has tiles, its source
is a spiking population (tiles see binary rows, and phase 0's input counts can exceed 1), its
weights lie in the symmetric range the bit slicing needs, its delay is below ``delay_slots``,
the part of its target on every core fits one tile's outputs, and it is the only projection
from its source into those cores (a core's source table has one entry per source id: the
digital words or one crossbar row). Cost per projection: the digital engine streams
``max_lane(fan-out on the core)`` words per spike and stores them in synapse memory; a tile
streams ``used columns x active rows`` cells per conversion and stores nothing in synapse
memory. Digital is faster per spike, so ``auto`` moves eligible projections to tiles, largest
synapse-memory footprint first, only while some core's synapse memory overflows; ``prefer``
moves every eligible projection while tiles last; ``never`` keeps everything digital;
``crossbar_layers`` (the DSE's per-layer choice) moves the eligible projections into the named
targets while tiles last. Tile ``j``
is attached to core ``j % cores`` (codesign/hw/rtl/top.py): it receives rows from that core's
source table and adds its outputs into that core's neurons ``target_base + index``, so each tile
holds ``rows`` source neurons x the (contiguous) targets of its own core; every tile uses the
config's variation seed; ``adc_shift`` is the smallest that keeps a column from saturating with
every row active.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar

import numpy as np
import scipy.sparse as sparse

from codesign import arithmetic
from codesign.arch.config import HWConfig
from codesign.arch.layout import CoreLayout
from codesign.arch.protocol import SOURCE_ID_BITS
from codesign.compiler.layer_ir import CrossbarBlock, QuantizedNetwork
from codesign.compiler.program import MappingOptions, Partitioned, Phase, Segment, TileBlock
from codesign.errors import CodesignError, DoesNotFit

PROFILE_FIELDS = [f.name for f in fields(arithmetic.NeuronParameters) if f.name != "bias"]


def profile_runs(population) -> list[tuple[int, int, dict[str, int]]]:
    """``(start, stop, profile)`` runs of neurons that share one parameter profile."""
    size = population.size
    columns = np.stack([np.broadcast_to(np.asarray(getattr(population.parameters, name),
                                                   dtype=np.int64), (size,))
                        for name in PROFILE_FIELDS], axis=1)
    change = np.flatnonzero(np.any(columns[1:] != columns[:-1], axis=1)) + 1
    starts = [0, *change.tolist()]
    stops = [*change.tolist(), size]
    return [(start, stop, dict(zip(PROFILE_FIELDS, map(int, columns[start]))))
            for start, stop in zip(starts, stops)]


def split_population(size: int, free: np.ndarray, policy: str,
                     first_core: int) -> list[tuple[int, int]]:
    """The core tier's split rule: ``(core, count)`` pieces of a population of ``size`` neurons,
    given ``free`` neurons per core, in the order the pieces are placed (``first_core`` first,
    then the next cores round the chip; ``partition`` passes the population's index). A piece
    that does not fit spills over to the next cores with room; when the chip is full the pieces
    hold fewer than ``size`` neurons. The DSE's placement estimate calls it too."""
    cores = len(free)
    order = [(first_core + k) % cores for k in range(cores)]
    wanted = np.zeros(cores, dtype=np.int64)
    if policy == "spread":
        share, extra = divmod(size, cores)
        for position, core in enumerate(order):
            wanted[core] = share + (position < extra)
    else:
        wanted[order[0]] = size
    taken = np.minimum(wanted, free)
    spill = size - int(taken.sum())
    for core in order:
        more = min(spill, int(free[core] - taken[core]))
        taken[core] += more
        spill -= more
    return [(core, int(taken[core])) for core in order if taken[core] > 0]


@dataclass(frozen=True)
class Partition:
    """:class:`QuantizedNetwork` -> :class:`Partitioned` on ``config``."""

    config: HWConfig
    options: MappingOptions
    name: ClassVar[str] = "partition"

    def apply(self, network: QuantizedNetwork) -> Partitioned:
        config, layout = self.config, CoreLayout.from_config(self.config)
        needed = network.neuron_count()
        if needed > 2**SOURCE_ID_BITS:
            raise CodesignError(
                f"the network has {needed} neurons, more than the {2**SOURCE_ID_BITS} "
                f"{SOURCE_ID_BITS}-bit spike-source ids of any HWConfig",
                "split the network or use a smaller one")
        if needed > config.total_neurons:
            raise DoesNotFit(
                f"the network has {needed} neurons, more than cores x neurons_per_core = "
                f"{config.cores} x {config.neurons_per_core}", _fitting_neurons(needed, config))
        for projection in network.projections:
            if projection.delay >= config.delay_slots:
                raise DoesNotFit(
                    f"projection {projection.source} -> {projection.target} has delay "
                    f"{projection.delay}, beyond delay_slots = {config.delay_slots}",
                    {"delay_slots": projection.delay + 1})
        free = np.full(config.cores, config.neurons_per_core, dtype=np.int64)
        segments, phases = [], []
        core_profiles: list[list[dict[str, int]]] = [[] for _ in range(config.cores)]
        for order, population in enumerate(network.populations):
            runs = profile_runs(population)
            phase_of_run = []
            for _ in runs:
                phase_of_run.append(Phase(index=len(phases), population=population.name,
                                          cores=[]))
                phases.append(phase_of_run[-1])
            position = 0
            for core, count in split_population(population.size, free,
                                                self.options.partition, order % config.cores):
                local = config.neurons_per_core - int(free[core])
                free[core] -= count
                for (start, stop, profile), phase in zip(runs, phase_of_run):
                    low, high = max(start, position), min(stop, position + count)
                    if low >= high:
                        continue
                    if profile not in core_profiles[core]:
                        core_profiles[core].append(profile)
                    segments.append(Segment(population.name, low, high, core,
                                            local + low - position,
                                            core_profiles[core].index(profile), phase.index))
                    phase.cores.append(core)
                position += count
        if len(phases) > layout.segments:
            raise DoesNotFit(
                f"the network needs {len(phases)} phases (one per population and parameter "
                f"profile), more than the {layout.segments} segment-table entries per core",
                {"profiles": _power_of_two(-(-len(phases) // 2))})
        for core, profiles in enumerate(core_profiles):
            if len(profiles) > config.profiles:
                raise DoesNotFit(
                    f"core {core} needs {len(profiles)} neuron parameter profiles, more than "
                    f"profiles = {config.profiles}", {"profiles": len(profiles)})
        partitioned = Partitioned(config=config, network=network, segments=segments,
                                  engines=["digital"] * len(network.projections), tiles=[],
                                  phases=phases, core_profiles=core_profiles,
                                  options=self.options)
        self._choose_engines(partitioned, layout)
        return partitioned

    # -- tile tier ---------------------------------------------------------------------------
    def _choose_engines(self, partitioned: Partitioned, layout: CoreLayout) -> None:
        config, network = self.config, partitioned.network
        policy = self.options.crossbar
        if config.crossbar.tiles == 0 or policy == "never":
            return
        outputs = arithmetic.crossbar_outputs(config.crossbar.cols, config.weight_bits,
                                              config.crossbar.cell_bits)
        words = digital_words(partitioned, layout)
        layers = self.options.crossbar_layers
        candidates = [index for index in range(len(network.projections))
                      if (layers is None or network.projections[index].target in layers)
                      and self._eligible(partitioned, index, outputs)]
        if layers is not None:
            policy = "prefer"
        if policy == "auto":
            candidates.sort(key=lambda index: -words[index].max())
        free_tiles = {core: [tile for tile in range(config.crossbar.tiles)
                             if tile % config.cores == core] for core in range(config.cores)}
        for index in candidates:
            if policy == "auto" and sum(words[i] for i in range(len(words))
                                        if partitioned.engines[i] == "digital").max() \
                    <= config.synapse_memory_depth:
                break
            blocks = -(-partitioned.network.source_size(
                network.projections[index].source) // config.crossbar.rows)
            targets = self._target_cores(partitioned, index)
            if all(len(free_tiles[core]) >= blocks for core in targets):
                partitioned.engines[index] = "crossbar"
                self._program_tiles(partitioned, index, {
                    core: [free_tiles[core].pop(0) for _ in range(blocks)] for core in targets})
        self._finish_tiles(partitioned)

    def _target_cores(self, partitioned: Partitioned, index: int) -> dict[int, np.ndarray]:
        projection = partitioned.network.projections[index]
        core, _ = partitioned.placement(projection.target)
        return {int(c): np.flatnonzero(core == c) for c in np.unique(core)}

    def _eligible(self, partitioned: Partitioned, index: int, outputs: int) -> bool:
        network = partitioned.network
        projection = network.projections[index]
        if projection.source == network.input_name or projection.synapse_count == 0:
            return False
        if not network.population(projection.source).spiking:
            return False
        limit = (1 << (network.weight_bits - 1)) - 1
        if np.abs(projection.weight.data).max(initial=0) > limit:
            return False
        targets = self._target_cores(partitioned, index)
        if any(len(members) > outputs for members in targets.values()):
            return False
        for other_index, other in enumerate(network.projections):
            if other_index != index and other.source == projection.source:
                other_cores = set(self._target_cores(partitioned, other_index))
                if other_cores & set(targets):
                    return False
        return True

    def _program_tiles(self, partitioned: Partitioned, index: int,
                       tiles: dict[int, list[int]]) -> None:
        """Program projection ``index`` onto ``tiles[core]`` (one per block of ``rows``
        sources) for every core that holds part of its target."""
        config = self.config
        crossbar = config.crossbar
        projection = partitioned.network.projections[index]
        dense = projection.weight.T.tocsr()        # [sources, targets]
        for core, targets in self._target_cores(partitioned, index).items():
            for tile, start in zip(tiles[core], range(0, dense.shape[0], crossbar.rows)):
                stop = min(start + crossbar.rows, dense.shape[0])
                weights = dense[start:stop][:, targets].toarray().astype(np.int64)
                levels = arithmetic.crossbar_levels(weights, crossbar.rows, crossbar.cols,
                                                    config.weight_bits, crossbar.cell_bits)
                conductances = arithmetic.crossbar_conductances(
                    levels, crossbar.cell_bits, crossbar.variation_sigma, crossbar.variation_seed)
                shift = arithmetic.crossbar_adc_shift(conductances, crossbar.cell_bits,
                                                      crossbar.adc_bits)
                partitioned.tiles.append(TileBlock(tile, index, core, start, stop, targets,
                                                   levels, shift))

    def _finish_tiles(self, partitioned: Partitioned) -> None:
        """Attach the tiles' arithmetic to the network and their conversions to the phases."""
        network, crossbar = partitioned.network, self.config.crossbar
        projections = list(network.projections)
        for index, projection in enumerate(projections):
            blocks = [CrossbarBlock(t.tile, t.source_start, t.source_stop, t.targets,
                                    arithmetic.crossbar_conductances(
                                        t.levels, crossbar.cell_bits, crossbar.variation_sigma,
                                        crossbar.variation_seed),
                                    t.adc_shift, crossbar.cell_bits, crossbar.adc_bits)
                      for t in partitioned.tiles if t.projection == index]
            if blocks:
                projections[index] = replace(projection, crossbar=blocks)
        partitioned.network = replace(network, projections=projections)
        for phase in partitioned.phases:
            phase.tiles = sorted({block.tile for block in partitioned.tiles
                                  if projections[block.projection].source == phase.population})


def digital_words(partitioned: Partitioned, layout: CoreLayout) -> list[np.ndarray]:
    """Synapse words ``[cores]`` every projection would take on the digital engine (lane
    banking: a source needs ``max_lane(synapses in the lane)`` words on a core)."""
    config, network = partitioned.config, partitioned.network
    lanes = layout.synapse_lanes
    result = []
    for projection in network.projections:
        core, local = partitioned.placement(projection.target)
        slot = core * lanes + local % lanes
        pattern = (projection.weight != 0).astype(np.int64).T.tocsr()      # [sources, targets]
        one_hot = sparse.csr_matrix((np.ones(len(slot), dtype=np.int64),
                                     (np.arange(len(slot)), slot)),
                                    shape=(len(slot), config.cores * lanes))
        per_lane = (pattern @ one_hot).toarray().reshape(-1, config.cores, lanes)
        result.append(per_lane.max(axis=2).sum(axis=0))
    return result


def _power_of_two(value: int) -> int:
    return 1 << max(0, (int(value) - 1).bit_length())


def _fitting_neurons(needed: int, config: HWConfig) -> dict[str, int]:
    per_core = _power_of_two(-(-needed // config.cores))
    if per_core <= 65536 and per_core * config.cores <= 65536:
        return {"neurons_per_core": max(per_core, config.neurons_per_core)}
    return {"cores": -(-needed // config.neurons_per_core)}
