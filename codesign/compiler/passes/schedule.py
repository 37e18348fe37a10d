"""``schedule``: source ids, source tables, synapse memories, router table and phase order.

* **Order per timestep** (from ``partition``): phase 0 plays the host's input events; then one
  phase per profile run of every population, in the network's evaluation order (every delay-0
  projection goes forward, so a population fires after everything that feeds it this step);
  tiles convert right after the phase of their source population.
* **Source ids** (16 bit). A core's synapse engine indexes its source table with the low
  ``source_index_bits`` bits of the id, so the ids one core listens to must differ in those bits.
  Ids are given out block by block (input chunks, then segments in phase order; ids of a block
  are consecutive): each block takes the lowest free base whose listened ids land on free
  table rows of every core that listens to them (a circular correlation finds all bases at once).
* **Source tables and synapse words**: for each (listened id, core) the digital synapses are
  lane-banked and packed by :func:`codesign.arch.synapse_words.pack_shifted`; with
  ``shared_rows`` the rows are relative to the entry's ``row_offset`` and a word list already
  in the core's memory is pointed at instead of stored again (a convolution keeps a few rows per
  input channel: the border and lane-phase classes). Crossbar sources get an entry that
  forwards the event as the tile row.
* **Router table**: one entry per run of consecutive ids with the same destination mask (ids no
  one emits do not break a run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from codesign.arch.layout import AcceleratorSizes, CoreLayout
from codesign.arch.protocol import SOURCE_ID_BITS
from codesign.arch.synapse_words import Synapse, pack_shifted
from codesign.compiler.program import CoreProgram, MappedProgram, Partitioned, Route, SourceEntry
from codesign.errors import CodesignError, DoesNotFit

ID_SPACE = 1 << SOURCE_ID_BITS


@dataclass(frozen=True)
class Schedule:
    """:class:`Partitioned` -> :class:`MappedProgram`."""

    name: ClassVar[str] = "schedule"

    def apply(self, partitioned: Partitioned) -> MappedProgram:
        config, network = partitioned.config, partitioned.network
        layout = CoreLayout.from_config(config)
        program = MappedProgram(**{name: getattr(partitioned, name)
                                   for name in partitioned.__dataclass_fields__})
        listeners = _coarsen(program, _listeners(program))
        self._assign_ids(program, layout, listeners)
        program.cores = [CoreProgram(profiles=list(program.core_profiles[core]),
                                     bias=np.zeros(config.neurons_per_core, dtype=np.int64))
                         for core in range(config.cores)]
        for segment in program.segments:
            state = program.cores[segment.core]
            state.segments[segment.phase] = segment
            bias = np.broadcast_to(network.population(segment.population).parameters.bias,
                                   (network.population(segment.population).size,))
            state.bias[segment.local_first:segment.local_first + segment.size] = \
                bias[segment.start:segment.stop]
            state.used_neurons += segment.size
        self._fill_synapses(program, layout, listeners)
        program.routes = _routes(program, listeners)
        return program

    # -- ids ---------------------------------------------------------------------------------
    def _assign_ids(self, program: MappedProgram, layout: CoreLayout,
                    listeners: dict[str, np.ndarray]) -> None:
        config = program.config
        modulus = 1 << layout.source_index_bits
        occupied = np.zeros((config.cores, modulus), dtype=bool)
        occupied[:, layout.source_table_depth:] = True       # rows the table does not have
        next_id = 0
        blocks = [(program.network.input_name, start, min(start + modulus, program.network.input_size))
                  for start in range(0, program.network.input_size, modulus)]
        blocks += [(s.population, s.start, s.stop) for s in
                   sorted(program.segments, key=lambda s: (s.phase, s.core))]
        bases = []
        for name, start, stop in blocks:
            masks = listeners[name][start:stop]
            conflicts = np.zeros(modulus, dtype=np.int64)
            offsets_of = {}
            for core in range(config.cores):
                offsets = np.flatnonzero(masks & (1 << core))
                if offsets.size == 0:
                    continue
                offsets_of[core] = offsets
                indicator = np.zeros(modulus)
                np.add.at(indicator, offsets % modulus, 1)
                if indicator.max() > 1:
                    raise _table_error(program, listeners, core)
                # conflicts[r] = sum_o occupied[(r + o) % modulus]: circular cross-correlation
                correlation = np.fft.irfft(np.fft.rfft(occupied[core]) *
                                           np.conj(np.fft.rfft(indicator)), modulus)
                conflicts += np.rint(correlation).astype(np.int64)
            free = np.flatnonzero(conflicts == 0)
            if free.size == 0:
                raise _table_error(program, listeners, max(
                    offsets_of, key=lambda core: occupied[core].sum()))
            base = next_id + int(((free - next_id) % modulus).min())
            if base + (stop - start) > ID_SPACE:
                raise CodesignError(
                    f"the {SOURCE_ID_BITS}-bit source ids run out (network has "
                    f"{program.network.input_size + program.network.neuron_count()} sources)",
                    "use an HWConfig with a larger source_table_depth (fewer id collisions) "
                    "or a smaller network")
            for core, offsets in offsets_of.items():
                occupied[core, (base + offsets) % modulus] = True
            bases.append(base)
            next_id = base + (stop - start)
        inputs = len(blocks) - len(program.segments)
        program.input_chunks = [(start, stop, base) for (_, start, stop), base
                                in zip(blocks[:inputs], bases[:inputs])]
        ordered = sorted(program.segments, key=lambda s: (s.phase, s.core))
        for segment, base in zip(ordered, bases[inputs:]):
            segment.base_id = base

    # -- core memories -----------------------------------------------------------------------
    def _fill_synapses(self, program: MappedProgram, layout: CoreLayout,
                       listeners: dict[str, np.ndarray]) -> None:
        config, network = program.config, program.network
        index_mask = (1 << layout.source_index_bits) - 1
        # per core: word lists already in its synapse memory -> their first address
        stored: list[dict[tuple[int, ...], int]] = [{} for _ in range(config.cores)]
        for name in [network.input_name, *(p.name for p in network.populations)]:
            ids = program.input_ids() if name == network.input_name else \
                program.population_ids(name)
            # every synapse from `name` on the digital engine: (source, core, local, weight, delay)
            columns = [[] for _ in range(5)]
            for index, projection in enumerate(network.projections):
                if projection.source != name or program.engines[index] != "digital":
                    continue
                core, local = program.placement(projection.target)
                weights = projection.weight.T.tocoo()             # [sources, targets]
                for column, values in zip(columns, (weights.row, core[weights.col],
                                                    local[weights.col], weights.data,
                                                    np.full(weights.nnz, projection.delay))):
                    column.append(np.asarray(values, dtype=np.int64))
            arrays = [np.concatenate(c) if c else np.zeros(0, dtype=np.int64) for c in columns]
            source, core, local, weight, delay = arrays
            order = np.lexsort((local, source, core))
            source, core, local, weight, delay = (a[order] for a in arrays)
            groups = {}
            if source.size:
                cut = np.flatnonzero((np.diff(source) != 0) | (np.diff(core) != 0)) + 1
                for start, stop in zip([0, *cut.tolist()], [*cut.tolist(), source.size]):
                    groups[(int(core[start]), int(source[start]))] = (start, stop)
            masks = listeners[name]
            for neuron in np.flatnonzero(masks):
                for target_core in range(config.cores):
                    if not masks[neuron] & (1 << target_core):
                        continue
                    state = program.cores[target_core]
                    source_id = int(ids[neuron])
                    row = _crossbar_row(program, name, int(neuron), target_core)
                    if row is not None:
                        entry = SourceEntry(first_word=row, word_count=0, crossbar=True)
                    else:
                        start, stop = groups.get((target_core, int(neuron)), (0, 0))
                        offset, words = pack_shifted(layout, [
                            Synapse(int(local[i]), int(weight[i]), int(delay[i]))
                            for i in range(start, stop)])
                        first_word = stored[target_core].setdefault(
                            tuple(words), len(state.synapse_words))
                        if first_word == len(state.synapse_words):
                            state.synapse_words.extend(words)
                            state.stored_synapses += stop - start
                        entry = SourceEntry(first_word, len(words), row_offset=offset)
                        state.synapse_count += stop - start
                    state.sources[source_id & index_mask] = entry
        for core, state in enumerate(program.cores):
            if len(state.synapse_words) > config.synapse_memory_depth:
                needed = max(len(s.synapse_words) for s in program.cores)
                raise DoesNotFit(
                    f"core {core} needs {len(state.synapse_words)} synapse words, more than "
                    f"synapse_memory_depth = {config.synapse_memory_depth}",
                    {"synapse_memory_depth": needed},
                    "or more cores, crossbar tiles, or a pruning threshold")


def _crossbar_row(program: MappedProgram, source: str, neuron: int, core: int) -> int | None:
    """The core's crossbar row of ``neuron``: the rows of the core's tiles (``j % cores ==
    core``, in tile order) are numbered one after the other (codesign/hw/rtl/top.py)."""
    attached = [tile for tile in range(program.config.crossbar.tiles)
                if tile % program.config.cores == core]
    for block in program.tiles:
        if (block.core == core and block.source_start <= neuron < block.source_stop
                and program.network.projections[block.projection].source == source):
            return attached.index(block.tile) * program.config.crossbar.rows \
                + neuron - block.source_start
    return None


def _coarsen(program: Partitioned, listeners: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Route whole id blocks (input chunks, segments): every neuron of a block goes to every
    core any of them needs, so the router table holds one range per block. Cores get an empty
    source-table entry for the ids they do not use, never another source's entry."""
    network = program.network
    chunk = 1 << CoreLayout.from_config(program.config).source_index_bits
    blocks = [(network.input_name, start, min(start + chunk, network.input_size))
              for start in range(0, network.input_size, chunk)]
    blocks += [(s.population, s.start, s.stop) for s in program.segments]
    result = {name: masks.copy() for name, masks in listeners.items()}
    for name, start, stop in blocks:
        if stop > start:
            result[name][start:stop] = np.bitwise_or.reduce(listeners[name][start:stop])
    return result


def _listeners(program: Partitioned) -> dict[str, np.ndarray]:
    """Per source (input and populations): a bit mask of listening cores for every neuron."""
    network = program.network
    result = {network.input_name: np.zeros(network.input_size, dtype=np.int64)}
    for population in network.populations:
        result[population.name] = np.zeros(population.size, dtype=np.int64)
    for index, projection in enumerate(network.projections):
        masks = result[projection.source]
        if program.engines[index] == "crossbar":
            for block in program.tiles:
                if block.projection == index:
                    masks[block.source_start:block.source_stop] |= 1 << block.core
            continue
        core, _ = program.placement(projection.target)
        weights = projection.weight.T.tocoo()
        np.bitwise_or.at(masks, weights.row, np.left_shift(1, core[weights.col]))
    return result


def _routes(program: MappedProgram, listeners: dict[str, np.ndarray]) -> list[Route]:
    cores, network = program.config.cores, program.network
    destination = {}
    for name, masks in listeners.items():
        ids = program.input_ids() if name == network.input_name else program.population_ids(name)
        host = name == network.output
        for source_id, mask in zip(ids.tolist(), masks.tolist()):
            value = mask | (host << cores)
            if value:
                destination[source_id] = value
    runs: list[list[int]] = []                      # [first_id, last_id, destination]
    for source_id in sorted(destination):
        if runs and runs[-1][2] == destination[source_id]:
            runs[-1][1] = source_id
        else:
            runs.append([source_id, source_id, destination[source_id]])
    limit = AcceleratorSizes.from_config(program.config).routing_table_entries
    if len(runs) > limit:
        raise DoesNotFit(
            f"the program needs {len(runs)} router-table entries, more than the "
            f"{limit} the router holds (2 x segment-table entries)",
            {"profiles": 1 << max(0, (-(-len(runs) // 4) - 1).bit_length())},
            "more table entries; or partition: pack")
    return [Route(first, last, [c for c in range(cores) if value >> c & 1],
                  bool(value >> cores & 1)) for first, last, value in runs]


def _table_error(program: Partitioned, listeners: dict[str, np.ndarray], core: int) -> DoesNotFit:
    heard = sum(int(np.count_nonzero(masks & (1 << core))) for masks in listeners.values())
    most = max(sum(int(np.count_nonzero(masks & (1 << c))) for masks in listeners.values())
               for c in range(program.config.cores))
    depth = 1 << max(0, (2 * most - 1).bit_length())
    return DoesNotFit(
        f"core {core} listens to {heard} spike sources, which do not fit its "
        f"source_table_depth = {program.config.source_table_depth} entries without id collisions",
        {"source_table_depth": min(depth, ID_SPACE)}, "or more cores")
