"""The mapping report: tiers chip -> core -> tile, utilisation, and where every layer went.

It reads a :class:`~codesign.compiler.program.Partitioned` program (after ``partition``) or a
:class:`~codesign.compiler.program.MappedProgram` (after ``schedule``, which adds the router
table and the core memories) through their attributes only, so the program's types can print
themselves with it (``Partitioned.dump``) without an import cycle.
"""

from __future__ import annotations

import numpy as np


def mapping_report_lines(program) -> list[str]:
    """The report of a ``Partitioned`` or ``MappedProgram``, one line per entry."""
    scheduled = hasattr(program, "routes")     # a MappedProgram: router table, core memories
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
    if scheduled:
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
        if scheduled and program.cores:
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
