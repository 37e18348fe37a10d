"""The mapped program's types: a fixed-point network placed on an accelerator (``HWConfig``).

Types only; the passes that build them are ``passes/partition.py`` and ``passes/schedule.py``
(run by :func:`codesign.compiler.pipeline.map_network`), the report that describes them is
:mod:`codesign.compiler.analysis.mapping_report`.

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

from codesign.arch.config import HWConfig
from codesign.arch.layout import CoreLayout
from codesign.compiler.analysis.mapping_report import mapping_report_lines
from codesign.compiler.layer_ir import QuantizedNetwork
from codesign.errors import CodesignError

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
    * ``crossbar_layers``: when given, only projections into these target populations may go
      to tiles (each while tiles last, as ``prefer``); the DSE's per-layer choice.
    """

    prune_threshold: int = 0
    partition: str = "spread"
    crossbar: str = "auto"
    crossbar_layers: tuple[str, ...] | None = None

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
