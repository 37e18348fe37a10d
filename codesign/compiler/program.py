"""The mapped program: a fixed-point network placed on an accelerator (``HWConfig``).

Produced by ``partition`` (which neurons sit on which core, which projections go to crossbar
tiles) and ``schedule`` (source ids, source tables, synapse words, router table, phase table).
``program_image`` serialises it; the golden model executes :attr:`MappedProgram.network`
(the pruned network with the crossbar projections' tile arithmetic attached), which is exactly
what the hardware computes.

Mapping tiers (after CIM-MLC): **chip** (phases and router table: which cores fire when, which
core hears which spike), **core** (neuron segments, profiles, source table, synapse memory),
**tile** (crossbar blocks: a slice of one projection's weight matrix per tile). The report lists
the choices of every tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codesign.compiler.layer_ir import QuantizedNetwork
from codesign.errors import CodesignError
from codesign.arch.config import HWConfig
from codesign.arch.layout import CoreLayout

PARTITION_POLICIES = ("spread", "pack")
CROSSBAR_POLICIES = ("auto", "prefer", "never")


@dataclass
class MappingOptions:
    """Knobs of the back end.

    * ``prune_threshold``: synapses with ``|integer weight| <= threshold`` are dropped.
    * ``partition``: ``spread`` cuts every population evenly over all cores (phases sweep in
      parallel; the default), ``pack`` fills cores one after the other (fewer source-table
      entries and router copies).
    * ``crossbar``: ``auto`` puts a projection on crossbar tiles only when the digital synapse
      memory cannot hold it, ``prefer`` puts every eligible projection there while tiles last,
      ``never`` keeps everything digital.
    """

    prune_threshold: int = 0
    partition: str = "spread"
    crossbar: str = "auto"

    def __post_init__(self) -> None:
        if self.partition not in PARTITION_POLICIES:
            raise CodesignError(f"partition policy '{self.partition}' is unknown",
                                f"use one of {', '.join(PARTITION_POLICIES)}")
        if self.crossbar not in CROSSBAR_POLICIES:
            raise CodesignError(f"crossbar policy '{self.crossbar}' is unknown",
                                f"use one of {', '.join(CROSSBAR_POLICIES)}")


@dataclass
class Segment:
    """Neurons ``start..stop-1`` of ``population`` on ``core`` at local ``local_first..``, all
    with one parameter profile; fired in phase ``phase`` (= the core's segment-table index);
    neuron ``start + i`` emits source id ``base_id + i``."""

    population: str
    start: int
    stop: int
    core: int
    local_first: int
    profile: int
    phase: int
    base_id: int = -1

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass
class TileBlock:
    """A crossbar tile holding ``weights`` ``[sources, targets]`` of ``projection``: source
    neurons ``source_start..`` are rows 0.., the targets (population indices) sit on ``core``,
    whose synapse engine forwards the rows and receives the sums. ``levels`` are the cells the
    compiler writes; ``adc_shift`` keeps every column sum below saturation."""

    tile: int
    projection: int
    core: int
    source_start: int
    source_stop: int
    targets: np.ndarray
    levels: np.ndarray
    adc_shift: int


@dataclass
class Phase:
    """One entry of the phase table: ``cores`` sweep segment index ``index`` (a profile run of
    ``population``); afterwards ``tiles`` convert."""

    index: int
    population: str
    cores: list[int]
    tiles: list[int] = field(default_factory=list)


@dataclass
class SourceEntry:
    """A core's source-table entry for one source id."""

    first_word: int
    word_count: int
    crossbar: bool = False
    #: Added to the row of every slot (HWConfig.shared_rows): sources share shifted rows.
    row_offset: int = 0


@dataclass
class CoreProgram:
    """Memory contents of one core (words encoded with :mod:`codesign.arch.layout`)."""

    profiles: list[dict[str, int]] = field(default_factory=list)
    segments: dict[int, Segment] = field(default_factory=dict)
    bias: np.ndarray | None = None
    sources: dict[int, SourceEntry] = field(default_factory=dict)
    synapse_words: list[int] = field(default_factory=list)
    #: Synapses the core's sources stand for, and those its words hold (shared rows once).
    synapse_count: int = 0
    stored_synapses: int = 0
    used_neurons: int = 0


@dataclass
class Route:
    """Router-table entry: ids ``first_id..last_id`` go to ``cores`` (and the host)."""

    first_id: int
    last_id: int
    cores: list[int]
    to_host: bool


@dataclass
class Partitioned:
    """Output of ``partition``."""

    config: HWConfig
    network: QuantizedNetwork
    segments: list[Segment]
    engines: list[str]
    tiles: list[TileBlock]
    phases: list[Phase]
    core_profiles: list[list[dict[str, int]]]
    options: MappingOptions
    #: ``(start, stop, base_id)``: input neurons ``start..stop-1`` are ids ``base_id..`` (schedule)
    input_chunks: list[tuple[int, int, int]] = field(default_factory=list)

    def dump(self) -> str:
        return "\n".join(mapping_report_lines(self))

    def input_ids(self) -> np.ndarray:
        """Source id of every input neuron."""
        ids = np.zeros(self.network.input_size, dtype=np.int64)
        for start, stop, base in self.input_chunks:
            ids[start:stop] = base + np.arange(stop - start)
        return ids

    def population_ids(self, name: str) -> np.ndarray:
        """Source id of every neuron of population ``name``."""
        ids = np.full(self.network.population(name).size, -1, dtype=np.int64)
        for segment in self.segments:
            if segment.population == name:
                ids[segment.start:segment.stop] = segment.base_id + np.arange(segment.size)
        return ids

    def placement(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(core, local index)`` of every neuron of population ``name``."""
        size = self.network.population(name).size
        core, local = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
        for segment in self.segments:
            if segment.population == name:
                core[segment.start:segment.stop] = segment.core
                local[segment.start:segment.stop] = segment.local_first + np.arange(segment.size)
        return core, local


@dataclass
class MappedProgram(Partitioned):
    """Output of ``schedule``: everything the program image carries."""

    cores: list[CoreProgram] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)

    @property
    def layout(self) -> CoreLayout:
        return CoreLayout.from_config(self.config)

def map_network(network: QuantizedNetwork, config: HWConfig,
                options: MappingOptions | None = None) -> MappedProgram:
    """The back end's passes: sparsity -> partition -> schedule."""
    from codesign.compiler.pass_manager import PassManager
    from codesign.compiler.passes.partition import Partition
    from codesign.compiler.passes.schedule import Schedule
    from codesign.compiler.passes.sparsity import Sparsity

    options = options or MappingOptions()
    return PassManager([Sparsity(options.prune_threshold), Partition(config, options),
                        Schedule()]).run(network)


def mapping_report_lines(program: Partitioned) -> list[str]:
    """The mapping report: tiers chip -> core -> tile, utilisation, where every layer went."""
    config, network = program.config, program.network
    lines = [f"chip: {config.cores} cores x {config.neurons_per_core} neurons, "
             f"{config.synapse_memory_depth} synapse words x {config.synapse_lanes} lanes, "
             f"{config.crossbar.tiles} crossbar tiles; partition={program.options.partition} "
             f"crossbar={program.options.crossbar} prune<={program.options.prune_threshold}"]
    sparsity = network.metadata.get("sparsity")
    if sparsity:
        lines.append(f"  sparsity: kept {sparsity['kept']} synapses, dropped {sparsity['dropped']}")
    lines.append(f"  phases per timestep: input, then {len(program.phases)}")
    for phase in program.phases:
        tiles = f", then tiles {phase.tiles} convert" if phase.tiles else ""
        lines.append(f"    phase {phase.index}: fire '{phase.population}' on cores "
                     f"{phase.cores}{tiles}")
    if isinstance(program, MappedProgram):
        lines.append(f"  router: {len(program.routes)} table entries")
    lines.append("layers:")
    for population in network.populations:
        parts = [f"core {s.core}[{s.local_first}..{s.local_first + s.size - 1}]"
                 for s in program.segments if s.population == population.name]
        lines.append(f"  {population.name} {population.model} {population.size} neurons -> "
                     + ", ".join(parts))
    for index, projection in enumerate(network.projections):
        engine = program.engines[index]
        where = engine
        if engine == "crossbar":
            where += " tiles " + ", ".join(str(t.tile) for t in program.tiles
                                           if t.projection == index)
        lines.append(f"  {projection.source} -> {projection.target} (delay {projection.delay}, "
                     f"{projection.synapse_count} synapses): {where}")
    lines.append("cores:")
    for core in range(config.cores):
        neurons = sum(s.size for s in program.segments if s.core == core)
        text = (f"  core {core}: neurons {neurons}/{config.neurons_per_core} "
                f"({100 * neurons / config.neurons_per_core:.1f}%), profiles "
                f"{len(program.core_profiles[core])}/{config.profiles}")
        if isinstance(program, MappedProgram) and program.cores:
            state = program.cores[core]
            words = len(state.synapse_words)
            slots = words * config.synapse_lanes
            fill = 100 * state.stored_synapses / slots if slots else 0.0
            text += (f", synapse words {words}/{config.synapse_memory_depth} "
                     f"({100 * words / config.synapse_memory_depth:.1f}%, lane fill {fill:.1f}%)"
                     f", sources {len(state.sources)}/{config.source_table_depth}")
            if state.synapse_count > state.stored_synapses:
                text += (f", shared rows: {state.synapse_count} synapses stored as "
                         f"{state.stored_synapses}")
        lines.append(text)
    if config.crossbar.tiles:
        lines.append("tiles:")
        rows, cols = config.crossbar.rows, config.crossbar.cols
        for tile in range(config.crossbar.tiles):
            block = next((t for t in program.tiles if t.tile == tile), None)
            if block is None:
                lines.append(f"  tile {tile}: unused")
                continue
            used_rows = block.source_stop - block.source_start
            used_cols = np.count_nonzero(block.levels.any(axis=0))
            projection = network.projections[block.projection]
            lines.append(f"  tile {tile}: {projection.source} -> {projection.target} rows "
                         f"{used_rows}/{rows}, outputs {len(block.targets)} on core "
                         f"{block.core}, columns with cells {used_cols}/{cols}, "
                         f"adc_shift {block.adc_shift}")
    return lines
