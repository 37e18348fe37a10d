"""Analytic cycles-per-timestep estimate from a :class:`~codesign.dse.models.placement_estimate.Placement`
and measured spike rates (milliseconds to evaluate; the DSE's lowest-fidelity latency).

It follows the timestep execution model of docs/hardware.md: phase 0 plays the host's input
events; then, per population in order, every core holding part of it sweeps its neurons through
the neuron-update pipeline (one neuron per cycle) and the synapse engine of every core streams
the words of each emitted spike (one word per cycle); crossbar tiles convert after their source
phase. A phase ends at a barrier. Cores work in parallel, so a phase costs its busiest core.

The constants below describe per-phase and per-event overheads of the RTL. They are estimates
until the compiler's program-level cycle model (and RTL measurements) calibrate them; the report
marks cycles from this module as ``estimate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.compiler.layer_ir import LayerNetwork
from codesign.dse.models.placement_estimate import Placement
from codesign.arch.config import HWConfig

#: Cycles from a phase's start pulse to its first barrier test plus the barrier itself.
PHASE_OVERHEAD_CYCLES = 6
#: Pipeline fill of the neuron-update unit (cycles until the last neuron's result is out).
NEURON_PIPELINE_CYCLES = 8
#: Source-table look-up and router hop per delivered event, before its words stream.
EVENT_OVERHEAD_CYCLES = 2


@dataclass
class CycleEstimate:
    """Per-timestep cycles and the work counts the energy model needs (per timestep, mean)."""

    cycles_per_step: float
    synaptic_events: float      # synapses reached by spikes (weight additions)
    synapse_words: float        # synapse words streamed from BRAM
    neuron_updates: float       # neurons swept
    adc_conversions: float      # crossbar column conversions
    crossbar_row_activations: float


def estimate(network: LayerNetwork, config: HWConfig, placement: Placement,
             rates: dict[str, np.ndarray]) -> CycleEstimate:
    """Mean cycles per timestep of ``network`` placed by ``placement`` at spike ``rates``
    (mean spikes per neuron per step of every source)."""
    def delivery(source: str) -> tuple[float, float]:
        """(busiest core's cycles, words streamed in total) for one step of ``source``'s spikes."""
        words = placement.words.get(source)
        if words is None:
            return 0.0, 0.0
        rate = rates[source][:, None]
        per_core = (rate * (words + (words > 0) * EVENT_OVERHEAD_CYCLES)).sum(axis=0)
        return float(per_core.max()), float((rate * words).sum())

    cycles, words_total = PHASE_OVERHEAD_CYCLES, 0.0
    busiest, streamed = delivery(network.input.name)
    cycles += busiest
    words_total += streamed
    for population in network.populations:
        sweep = float(placement.neurons_on_core[population.name].max())
        busiest, streamed = delivery(population.name)
        cycles += PHASE_OVERHEAD_CYCLES + sweep + NEURON_PIPELINE_CYCLES + busiest
        words_total += streamed

    synaptic_events, rows, conversions = 0.0, 0.0, 0.0
    for index, projection in enumerate(network.projections):
        fan_out = np.asarray((projection.weight != 0).sum(axis=0)).ravel()
        spikes = rates[projection.source]
        if index in placement.crossbar_projections:
            crossbar = config.crossbar
            active_rows = float(spikes.sum())
            column_groups = -(-(projection.weight.shape[0] * config.crossbar_weight_slices)
                              // crossbar.cols)
            row_tiles = -(-projection.weight.shape[1] // crossbar.rows)
            rows += active_rows * column_groups
            conversions += row_tiles * column_groups * crossbar.cols
            # each tile converts its columns one after another through the shared ADC
            cycles += PHASE_OVERHEAD_CYCLES + active_rows + crossbar.cols
        else:
            synaptic_events += float((spikes * fan_out).sum())
    neuron_updates = float(sum(p.size for p in network.populations))
    return CycleEstimate(cycles_per_step=cycles, synaptic_events=synaptic_events,
                         synapse_words=words_total, neuron_updates=neuron_updates,
                         adc_conversions=conversions, crossbar_row_activations=rows)
