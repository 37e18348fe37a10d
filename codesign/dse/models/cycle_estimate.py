"""The DSE's cheap cycles-per-timestep estimate: the compiler's cycle model
(:mod:`codesign.compiler.analysis.cycle_model`, fitted to and checked against the RTL) evaluated
on expected activity instead of spike trains, on a
:class:`~codesign.dse.models.placement_estimate.Placement` instead of a mapped program
(milliseconds per design point; the search's latency).

It uses the cycle model's terms and constants (``STEP_CYCLES``, ``INPUT_CYCLES``,
``PHASE_CYCLES``, ``EMIT_CYCLES``, ``ROUTER_CYCLES``, ``ARRIVAL_CYCLES``, ``ENGINE_TAIL_CYCLES``,
``HOST_TAIL_CYCLES``, ``INPUT_SETTLE_CYCLES``, ``CONVERT_CYCLES``, ``TILE_FIXED_CYCLES``, the unregistered-link
corrections and the neuron unit's spike latency)::

    step    = STEP_CYCLES + P(input events) * (INPUT_CYCLES
              + INPUT_EMIT_CYCLES + deliver(input) - INPUT_SETTLE_CYCLES)
              + sum over populations of phase(population)
              [+ CONVERT_CYCLES + convert of the population's tiles]
    phase   = max(sweep, P(a spike) * (EMIT_CYCLES + spike latency + deliver(population)))
    sweep   = PHASE_CYCLES + spike latency + groups of neuron_lanes neurons on the fullest core
    deliver = ROUTER_CYCLES + ARRIVAL_CYCLES + ENGINE_TAIL_CYCLES
              + max(E[events], max over cores d of E[engine work on d])
              (host-only spikes: E[overrun of the sweep], see the cycle model)

with ``E[.]`` and ``P(.)`` over a step in which every neuron spikes independently at its rate
(rates above 1, input counts, count as certain events). Where it differs from the cycle model:

* expectations of maxima are maxima of expectations (``max(events, busiest core)`` and the
  busiest core are taken on mean activity), which can only lower the estimate;
* no segment is at rest (``skip_resting`` depends on the spike trains), and the last
  write-backs' settle is left out (a few cycles per step);
* one phase per population (the compiler adds one per extra parameter profile) and the
  placement estimate's synapse words (from the float weights: weights that quantise to 0 still
  count);
* a host-bound spike's slot in the sweep ignores queueing behind spikes of other cores.

On the RTL regression networks (tests/rtl_cocotb/test_regression.py's NIR cases on its three
configs) it stays within ``BAND`` (10 %) of the cycle model's mean cycles per step on the same
activity; tests/dse/test_cycle_estimate.py checks it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from codesign import arithmetic
from codesign.arch.config import HWConfig
from codesign.arch.layout import CoreLayout
from codesign.compiler.analysis.cycle_model import (ARRIVAL_CYCLES, CONVERT_CYCLES,
                                                    EMIT_CYCLES, ENGINE_TAIL_CYCLES,
                                                    HOST_TAIL_CYCLES, INPUT_CYCLES,
                                                    INPUT_EMIT_CYCLES, INPUT_SETTLE_CYCLES,
                                                    LINK_CYCLES,
                                                    PHASE_CYCLES, ROUTER_CYCLES,
                                                    SPLIT_COMPARE_CYCLES, STEP_CYCLES,
                                                    TILE_FIXED_CYCLES, neuron_latencies)
from codesign.compiler.layer_ir import LayerNetwork
from codesign.dse.models.placement_estimate import Placement

#: Largest relative difference from the cycle model on the regression networks (tested).
BAND = 0.10


@dataclass
class CycleEstimate:
    """Per-timestep cycles and the work counts the energy model needs (per timestep, mean)."""

    cycles_per_step: float
    synaptic_events: float      # synapses reached by spikes (weight additions)
    synapse_words: float        # synapse words streamed from BRAM
    neuron_updates: float       # neurons swept
    adc_conversions: float      # crossbar column conversions
    crossbar_row_activations: float


@functools.lru_cache(maxsize=None)
def _spike_latency(state_bits: int, weight_bits: int, stage_depth: float, dsp_bits: int,
                   timing_registers: bool, skip_resting: bool) -> int:
    """The neuron unit's spike latency for the knobs it depends on (the unit's tag, which rides
    beside the datapath, does not change it): one build per combination, not per design
    point."""
    return neuron_latencies(HWConfig(state_bits=state_bits, weight_bits=weight_bits,
                                     neuron_stage_depth=stage_depth, neuron_dsp_bits=dsp_bits,
                                     timing_registers=timing_registers,
                                     skip_resting=skip_resting))[1]


def _any(rates: np.ndarray) -> float:
    """P(at least one event) of neurons spiking independently at ``rates``."""
    return float(1.0 - np.prod(1.0 - np.clip(rates, 0.0, 1.0)))


def _engine_work(network: LayerNetwork, config: HWConfig, placement: Placement,
                 source: str) -> np.ndarray:
    """Engine cycles ``[neurons, cores]`` one event of each neuron of ``source`` costs per core,
    as the compiler routes it: whole id blocks (a population's neurons on one core, or
    ``2^source_index_bits`` inputs) go to every core any of them needs, and each event takes
    ``max(1, words)`` cycles on a core it reaches (a crossbar row: one)."""
    size = network.input.size if source == network.input.name else \
        network.population(source).size
    needed = np.zeros((size, config.cores), dtype=np.int64)
    words = placement.words.get(source)
    if words is not None:
        needed = words.copy()
    for tile in placement.tiles:
        if tile.source == source:
            needed[tile.source_start:tile.source_stop, tile.core] = np.maximum(
                needed[tile.source_start:tile.source_stop, tile.core], 1)
    if source == network.input.name:
        chunk = 1 << CoreLayout.from_config(config).source_index_bits
        block = np.arange(size) // chunk
    else:
        block = placement.core_of[source]
    routed = np.zeros_like(needed, dtype=bool)
    for index in np.unique(block):
        members = block == index
        routed[members] = (needed[members] > 0).any(axis=0)
    return np.where(routed, np.maximum(needed, 1), 0)


def _host_overrun(rates: np.ndarray, position: np.ndarray, sweep: int, delivery: int) -> float:
    """E[cycles host-bound spikes add after a sweep of ``sweep`` cycles]: the last spike's slot
    (a neuron at ``position`` in its segment spikes in sweep cycle ``position``) plus
    ``delivery``, beyond the sweep."""
    expected, later_silent = 0.0, 1.0
    for cycle in range(sweep - 1, -1, -1):      # P(the last spiking cycle is ``cycle``)
        here = rates[position == cycle]
        last_here = later_silent * _any(here)
        expected += last_here * max(0, cycle + 1 + delivery - sweep)
        later_silent *= 1.0 - _any(here)
    return expected


def estimate(network: LayerNetwork, config: HWConfig, placement: Placement,
             rates: dict[str, np.ndarray]) -> CycleEstimate:
    """Mean cycles per timestep of ``network`` placed by ``placement`` at spike ``rates``
    (mean spikes per neuron per step of every source)."""
    unregistered = 0 if config.timing_registers else LINK_CYCLES + SPLIT_COMPARE_CYCLES
    pipeline = ROUTER_CYCLES + ARRIVAL_CYCLES - unregistered + ENGINE_TAIL_CYCLES
    spike_latency = _spike_latency(config.state_bits, config.weight_bits,
                                   config.neuron_stage_depth, config.neuron_dsp_bits,
                                   config.timing_registers, config.skip_resting)
    lanes = config.neuron_lanes

    def deliver(source: str, groups: int | None = None) -> float:
        """Expected cycles from a step's first event of ``source`` to the end of its deliveries
        (``groups``: the groups of its sweep, None for the input); host-only spikes: the
        expected cycles they add after the sweep."""
        rate = rates[source]
        work = _engine_work(network, config, placement, source)
        to_cores = work.any(axis=1)
        to_host = source == network.output
        events = float(rate @ (to_cores | to_host))
        busiest = float((rate @ work).max(initial=0))
        if to_cores.any():
            return pipeline + max(events, busiest)
        if to_host and groups is not None:
            local = placement.local_of[source]
            first = {core: local[placement.core_of[source] == core].min()
                     for core in np.unique(placement.core_of[source])}
            position = local - np.array([first[core] for core in placement.core_of[source]])
            tail = EMIT_CYCLES + ROUTER_CYCLES + HOST_TAIL_CYCLES - unregistered - PHASE_CYCLES
            return _host_overrun(rate, position // lanes, groups, tail - 1)
        if to_host:
            return events + HOST_TAIL_CYCLES - unregistered
        return float(rate.sum())                  # no route matches: one lookup per event

    cycles = STEP_CYCLES + _any(rates[network.input.name]) * (INPUT_CYCLES + max(
        0.0, INPUT_EMIT_CYCLES + deliver(network.input.name) - INPUT_SETTLE_CYCLES))
    for population in network.populations:
        groups = -(-int(placement.neurons_on_core[population.name].max()) // lanes)
        sweep = PHASE_CYCLES + spike_latency + groups
        # (a read-out that does not spike has rate 0: no delivery, as in the cycle model)
        if _engine_work(network, config, placement, population.name).any():
            cycles += max(sweep, _any(rates[population.name])
                          * (EMIT_CYCLES + spike_latency + deliver(population.name)))
        else:
            cycles += sweep + deliver(population.name, groups)
        cycles += _convert(network, config, placement, population.name, rates)

    synaptic_events, rows, conversions = 0.0, 0.0, 0.0
    for index, projection in enumerate(network.projections):
        spikes = rates[projection.source]
        tiles = [tile for tile in placement.tiles if tile.projection == index]
        if tiles:    # every tile reads its active rows and converts all its columns
            rows += sum(float(spikes[tile.source_start:tile.source_stop].sum())
                        for tile in tiles)
            conversions += len(tiles) * config.crossbar.cols
        else:
            fan_out = np.asarray((projection.weight != 0).sum(axis=0)).ravel()
            synaptic_events += float((spikes * fan_out).sum())
    words_total = sum(float(rates[source] @ words.sum(axis=1))
                      for source, words in placement.words.items())
    neuron_updates = float(sum(p.size for p in network.populations))
    return CycleEstimate(cycles_per_step=float(cycles), synaptic_events=synaptic_events,
                         synapse_words=words_total, neuron_updates=neuron_updates,
                         adc_conversions=conversions, crossbar_row_activations=rows)


def _convert(network: LayerNetwork, config: HWConfig, placement: Placement, source: str,
             rates: dict[str, np.ndarray]) -> float:
    """Expected cycles of the tile conversions after ``source``'s phase (0 without tiles):
    ``CONVERT_CYCLES`` plus the slowest tile, ``outputs x max(active rows, 2S) +
    TILE_FIXED_CYCLES`` when a row is active."""
    tiles = [tile for tile in placement.tiles if tile.source == source]
    if not tiles:
        return 0.0
    crossbar = config.crossbar
    outputs = arithmetic.crossbar_outputs(crossbar.cols, config.weight_bits, crossbar.cell_bits)
    columns = arithmetic.crossbar_columns_per_output(config.weight_bits, crossbar.cell_bits)
    rate = rates[source]
    slowest = max(_any(rate[tile.source_start:tile.source_stop])
                  * (outputs * columns + TILE_FIXED_CYCLES)
                  + outputs * max(0.0, float(rate[tile.source_start:tile.source_stop].sum())
                                  - columns)
                  for tile in tiles)
    return CONVERT_CYCLES + slowest
