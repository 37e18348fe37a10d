"""Cycle model: cycles per timestep of a mapped program, computed from the documented
microarchitecture (docs/hardware.md, codesign/hw/rtl/sequencer.py, core.py, synapse_engine.py,
router.py, crossbar_tile.py) and the spike activity, without simulating the RTL.

Per timestep (the sequencer's ``last_step_cycles``, start and done cycles included)::

    step    = STEP_CYCLES + input + sum over phases of phase
    input   = INPUT_CYCLES + deliver(input events)
    phase   = PHASE_CYCLES + neuron unit latency + max over firing cores of (segment size)
              + deliver(the phase's spikes) [+ CONVERT_CYCLES + max over its tiles of convert]
    deliver = DELIVERY_CYCLES + max(events, max over cores d of engine work on d)
              (overrun of the sweep when the events only go to the host; one cycle per event
              when no route matches any of them)
    overrun = max(0, last router slot of the phase's spikes + HOST_DELIVERY_CYCLES - sweep)
    engine work on d = sum over events routed to d of max(1, words of that source on d)
    convert(tile) = outputs x max(active rows, 2S) + TILE_FIXED_CYCLES if a row is active

* the router looks up one event per cycle (multicast copies are free), so ``events`` bounds the
  delivery from below; each core's synapse engine takes one source-table entry per cycle and
  streams one synapse word per cycle with no gap between events, so a core's ``engine work``
  bounds it too; both run as pipelines, their fill is part of the constants;
* a firing core's engine is paused during its sweep, and a sweep starts only on an idle engine,
  so the sweep (one neuron per cycle) and the delivery of its spikes add up;
* spikes bound only for the host (the output layer) need no engine: the router passes them on
  during the sweep, one per cycle, while the firing cores emit theirs in neuron order (local
  neuron ``i`` of every segment in sweep cycle ``i``, a one-server queue); the phase ends
  HOST_DELIVERY_CYCLES after the last one's slot or with the sweep, whichever is later;
* the constants are the fixed costs of the sequencer's states (start, fetch, fire, settle,
  finish), the segment/profile reads, the neuron unit's pipeline drain and the router, engine
  and crossbar pipeline fills. They are a least-squares fit of these terms to the RTL's
  measured cycles (the NIR cases and random chains on the three sim/test_regression.py
  configs); sim/test_regression.py checks the model stays within 5% on every case.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from codesign import arithmetic
from codesign.compiler import golden
from codesign.compiler.program import MappedProgram

#: Start, INPUT, settle (3 cycles) and FINISH of the sequencer with no input and no phases.
STEP_CYCLES = 7
#: Extra cycles of phase 0 when it carries events (player priming).
INPUT_CYCLES = 1
#: FETCH, FIRE and its output register, settle, the registered barrier and the segment/profile
#: reads of one phase, without the neuron unit's pipeline drain (``NeuronUnit.latency``, added
#: per phase).
PHASE_CYCLES = 10
#: Router and engine pipeline fill of a phase that delivers events, with the register slices
#: on the core -> router and router -> core links, the router's five stages (grant, intake,
#: halves, match, deliver), the engine's per-lane decode register (and its crossbar-row
#: register) and the registered barrier.
DELIVERY_CYCLES = 14
#: From a host-bound spike's router slot (in sweep cycles) to the end of its phase, with the
#: register slices on the core -> router and router -> host links (and the router's five
#: stages).
HOST_DELIVERY_CYCLES = 9
#: Cycles the two link registers on an event's way add (core or host -> router -> core or
#: host); a config without ``timing_registers`` connects the streams directly.
LINK_CYCLES = 2
#: The router's halves stage (its range compare over two cycles, ``Router.split_compare``);
#: a config without ``timing_registers`` compares in one.
SPLIT_COMPARE_CYCLES = 1
#: CONVERT, settle, the result link's register, the registered barrier and the result path of
#: a tile conversion.
CONVERT_CYCLES = 5
#: Pipeline of a tile conversion (crossbar_tile.py: ``outputs * max(active_rows, 2S) + 13``),
#: plus the cycle its last result then spends in the engine's decode register.
TILE_FIXED_CYCLES = 14


@dataclass
class CycleBreakdown:
    """Predicted cycles ``[T, B]`` and the work behind them (totals over the run)."""

    cycles: np.ndarray
    routed_events: int
    synapse_words: int
    neurons_swept: int

    @property
    def per_step(self) -> float:
        return float(self.cycles.mean()) if self.cycles.size else 0.0


@functools.lru_cache(maxsize=None)
def neuron_latency(config) -> int:
    """Pipeline depth of the neuron-update unit for ``config`` (from the hardware's own build)."""
    from codesign.hw.rtl.neuron_unit import NeuronUnit

    return NeuronUnit.latency_of(config)


def _source_work(program: MappedProgram, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Engine cycles ``[neurons, cores]`` one spike of each neuron of source ``name`` costs on
    each core (0 where the router does not send it)."""
    config = program.config
    ids = program.input_ids() if name == program.network.input_name else \
        program.population_ids(name)
    index_mask = (1 << program.layout.source_index_bits) - 1
    work = np.zeros((len(ids), config.cores), dtype=np.int64)
    for route in program.routes:
        inside = np.flatnonzero((ids >= route.first_id) & (ids <= route.last_id))
        for core in route.cores:
            sources = program.cores[core].sources
            for neuron in inside.tolist():
                entry = sources.get(int(ids[neuron]) & index_mask)
                work[neuron, core] = max(1, entry.word_count if entry else 0)
    return work


def _tile_convert(program: MappedProgram, active: np.ndarray) -> np.ndarray:
    """Cycles of one tile conversion with ``active`` rows (0 when no row is active)."""
    crossbar, weight_bits = program.config.crossbar, program.config.weight_bits
    outputs = arithmetic.crossbar_outputs(crossbar.cols, weight_bits, crossbar.cell_bits)
    columns = arithmetic.crossbar_columns_per_output(weight_bits, crossbar.cell_bits)
    return np.where(active > 0, outputs * np.maximum(active, columns) + TILE_FIXED_CYCLES, 0)


def _sweep_overrun(spikes: np.ndarray, segments: list, sweep: int,
                   delivery: int) -> np.ndarray:
    """Cycles ``[T, B]`` that host-bound spikes add after a sweep of ``sweep`` cycles: the
    segments' local neuron ``i`` spikes in cycle ``i``, the router takes one per cycle, and the
    last one ends the phase ``delivery`` cycles after its router slot."""
    arrivals = np.zeros((*spikes.shape[:2], sweep), dtype=np.int64)
    for segment in segments:
        arrivals[:, :, :segment.size] += spikes[:, :, segment.start:segment.stop]
    last_slot = np.zeros(spikes.shape[:2], dtype=np.int64)
    for cycle in range(sweep):
        last_slot = np.where(arrivals[:, :, cycle] > 0,
                             np.maximum(last_slot, cycle) + arrivals[:, :, cycle], last_slot)
    return np.maximum(last_slot + delivery - sweep, 0)


def predict(program: MappedProgram, counts: np.ndarray,
            activity: dict[str, np.ndarray]) -> CycleBreakdown:
    """Cycles per step for input ``counts`` ``[T, B, input_size]`` and the spikes
    ``activity[population]`` ``[T, B, size]`` (from the golden model)."""
    network, config = program.network, program.config
    steps, batch = counts.shape[:2]
    counts = counts.reshape(steps, batch, -1).astype(np.int64)
    cycles = np.full((steps, batch), STEP_CYCLES, dtype=np.int64)
    drain = neuron_latency(config)
    unregistered = 0 if config.timing_registers else LINK_CYCLES + SPLIT_COMPARE_CYCLES
    host_delivery = HOST_DELIVERY_CYCLES - unregistered
    totals = {"events": 0, "words": 0, "swept": 0}

    def deliver(spikes: np.ndarray, work: np.ndarray, to_host: bool,
                overrun: np.ndarray | None = None) -> np.ndarray:
        """``spikes`` [T, B, neurons] (event counts) -> delivery cycles [T, B]; ``overrun``
        [T, B]: cycles host-bound events add after the sweep (None: no sweep, the events take
        one router slot each)."""
        routed = (work.any(axis=1) | to_host).astype(np.int64)
        events = spikes @ routed
        # an event no route matches still takes the router's one lookup per cycle
        looked_up = spikes.sum(axis=2)
        to_cores = spikes @ work.any(axis=1).astype(np.int64)
        per_core = spikes @ work                                   # [T, B, cores]
        totals["events"] += int(events.sum())
        totals["words"] += int(per_core.sum())
        busiest = per_core.max(axis=2, initial=0)
        host_only = events + host_delivery if overrun is None else overrun
        return np.where(to_cores > 0, DELIVERY_CYCLES - unregistered + np.maximum(events, busiest),
                        np.where(events > 0, host_only, looked_up))

    input_work = _source_work(program, network.input_name)
    input_delivery = deliver(counts, input_work, network.input_name == network.output)
    cycles += np.where(input_delivery > 0, INPUT_CYCLES + input_delivery, 0)
    for phase in program.phases:
        segments = [s for s in program.segments if s.phase == phase.index]
        sweep = max(s.size for s in segments)
        totals["swept"] += sum(s.size for s in segments) * steps * batch
        population = network.population(phase.population)
        spikes = np.zeros((steps, batch, population.size), dtype=np.int64)
        if population.spiking:
            for segment in segments:
                spikes[:, :, segment.start:segment.stop] = \
                    activity[phase.population].reshape(steps, batch, -1)[
                        :, :, segment.start:segment.stop]
        work = _source_work(program, phase.population)
        to_host = phase.population == network.output
        cycles += PHASE_CYCLES + drain + sweep + deliver(
            spikes, work, to_host,
            _sweep_overrun(spikes, segments, sweep, host_delivery) if to_host else None)
        if phase.tiles:
            convert = np.zeros((steps, batch), dtype=np.int64)
            for block in program.tiles:
                if block.tile not in phase.tiles:
                    continue
                active = (spikes[:, :, block.source_start:block.source_stop] != 0).sum(axis=2)
                convert = np.maximum(convert, _tile_convert(program, active))
            cycles += CONVERT_CYCLES + convert
    return CycleBreakdown(cycles=cycles, routed_events=totals["events"],
                          synapse_words=totals["words"], neurons_swept=totals["swept"])


def predict_run(program: MappedProgram, inputs: np.ndarray) -> tuple[CycleBreakdown,
                                                                     golden.GoldenResult]:
    """Run the golden model on the mapped network and predict the cycles of every step."""
    result = golden.simulate(program.network, inputs, record=True)
    counts = golden.integer_input(program.network, inputs)
    activity = {name: record["spikes"] for name, record in result.records.items()}
    return predict(program, counts, activity), result


def static_estimate(program: MappedProgram, rate: float) -> float:
    """Cycles per step if every source spikes with probability ``rate`` per step (expected
    work, for the mapping report before any input is known)."""
    network = program.network
    total = STEP_CYCLES
    unregistered = 0 if program.config.timing_registers else LINK_CYCLES + SPLIT_COMPARE_CYCLES
    input_work = _source_work(program, network.input_name)
    events = rate * network.input_size
    if events:
        total += INPUT_CYCLES + DELIVERY_CYCLES - unregistered + max(
            events, rate * input_work.sum(axis=0).max(initial=0))
    for phase in program.phases:
        segments = [s for s in program.segments if s.phase == phase.index]
        total += PHASE_CYCLES + neuron_latency(program.config) + max(s.size for s in segments)
        population = network.population(phase.population)
        if not population.spiking:
            continue
        work = _source_work(program, phase.population)
        events = rate * population.size
        total += DELIVERY_CYCLES - unregistered + max(
            events, rate * work.sum(axis=0).max(initial=0))
    return float(total)
