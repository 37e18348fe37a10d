"""Cycle model: cycles per timestep of a mapped program, computed from the documented
microarchitecture (docs/hardware.md, codesign/hw/rtl/sequencer.py, core.py, synapse_engine.py,
router.py, crossbar_tile.py) and the spike activity, without simulating the RTL.

Per timestep (the sequencer's ``last_step_cycles``, start and done cycles included)::

    step  = STEP_CYCLES + input phase + sum over phases of (phase [+ conversion])
    input = INPUT_CYCLES + the deliveries of the host's events beyond INPUT_SETTLE_CYCLES, if any
    phase = max(sweep, last delivery + ENGINE_TAIL_CYCLES, last host-bound slot + HOST_TAIL_CYCLES)
    sweep = PHASE_CYCLES + spike latency + groups   (a core that skips its segment: SKIP_CYCLES)

* **Sweeps overlap deliveries** (``sweep_overlap``): a core's spikes leave in sweep order, the
  spike of group ``g`` (``neuron_lanes`` neurons per group) ``EMIT_CYCLES + spike latency + g``
  cycles after the phase starts, one per cycle; the router takes one event per cycle
  (``ROUTER_CYCLES`` after its emission; multicast copies are free) and each destination core's
  synapse engine, a one-server queue, takes it ``ARRIVAL_CYCLES`` later and works
  ``max(1, words)`` cycles on it. An event with words ends ``ENGINE_TAIL_CYCLES`` after its
  last word; one without (its source has no synapses on that core) never leaves the lookup
  stage and ends ``EMPTY_EVENT_TAIL_CYCLES`` after it; one no route matches is dropped by the
  router, ``UNROUTED_TAIL_CYCLES`` after its slot. The phase ends after its sweep, its last
  delivery and its last host-bound event, whichever is latest. The host's input events are emitted by the player,
  one per cycle from ``INPUT_EMIT_CYCLES`` on, in input order. Without ``sweep_overlap`` the
  engines pause during the sweep (the deliveries start at ``sweep`` at the earliest).
* **Resting segments** (``skip_resting``): a segment all of whose neurons were at rest in
  their last update (input 0, state unchanged, no spike: the golden model's records) is not
  swept while nothing was added into its core's accumulator bank for the timestep (no synapse
  of a source that spiked since the bank was last swept, no crossbar sum).
* Crossbar tiles convert after their source phase: ``CONVERT_CYCLES + outputs x max(active
  rows, 2S) + TILE_FIXED_CYCLES`` when a row is active.
* The constants are the fixed costs of the sequencer's states, the segment/profile reads, the
  links, the router's stages and the engine's pipeline. They were fitted to the RTL's measured
  cycles (the NIR cases and random graphs on the sim/test_regression.py configs);
  sim/test_regression.py checks the model stays within 5% on every case.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from codesign import arithmetic
from codesign.compiler import golden
from codesign.compiler.program import MappedProgram

#: Start, INPUT, its settle and barrier, and FINISH of a step with no input and no phases.
STEP_CYCLES = 7
#: Extra cycles of the input phase when it carries events (the player's first fetch).
INPUT_CYCLES = 1
#: From the phase's start (its fire pulse leaves the sequencer) to its end, beyond the spike
#: latency and the groups of the sweep: the fire and segment reads, the state and accumulator
#: reads, the drain of the last spike and the registered barrier.
PHASE_CYCLES = 8
#: A phase whose firing cores all skip their segment (at rest): fire, decision, barrier.
SKIP_CYCLES = 4
#: From the end of a core's sweep (``PHASE_CYCLES`` after its last spike) to the first cycle a
#: fire of the same core is served without waiting: its last state write-back lands
#: (``latency - spike_latency`` cycles after the spike) and its rest flag is stored.
SETTLE_CYCLES = 3
#: Cycles of that wait a sweep hides (its segment and profile reads need no settled state).
SWEEP_SETTLE_SLACK = 3
#: From a core's settle (above) to the end of the step when it is the last thing in flight
#: (the sequencer's finish waits for every core's ``settled``).
FINISH_SETTLE_CYCLES = 2
#: From the phase's start to the first group's spike in the spike FIFO, beyond the latency.
EMIT_CYCLES = 6
#: From an event's emission (spike FIFO or input player) to its router slot.
ROUTER_CYCLES = 2
#: From an event's router slot to its source-table lookup in a destination core's engine
#: (the router's stages after the grant, the link register).
ARRIVAL_CYCLES = 5
#: From the end of an engine's last event to the end of the phase (the engine's pipeline, its
#: owed zeros, the registered busy and barrier).
ENGINE_TAIL_CYCLES = 9
#: From the lookup of an event without synapse words on a core (no source-table entry, or an
#: empty one) to the end of the phase: the words' six stages (issue to add) never start.
EMPTY_EVENT_TAIL_CYCLES = ENGINE_TAIL_CYCLES - 6
#: The input phase's barrier settle (the sequencer's ``SETTLE_CYCLES``), which STEP_CYCLES
#: counts: deliveries of the host's events that end within it cost no extra cycle.
INPUT_SETTLE_CYCLES = 3
#: From the router slot of an event no route matches (the router drops it) to the end of the
#: phase: the router's stages and its registered idle (with ``timing_registers``).
UNROUTED_TAIL_CYCLES = 5
#: From a host-bound event's router slot to the end of the phase.
HOST_TAIL_CYCLES = 9
#: From the input phase's start to the player's first event.
INPUT_EMIT_CYCLES = 1
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
def neuron_latencies(config) -> tuple[int, int]:
    """``(latency, spike latency)`` of the neuron-update unit for ``config`` (from the
    hardware's own build)."""
    from codesign.hw.rtl.neuron_unit import NeuronUnit

    return NeuronUnit.latencies_of(config)


def neuron_latency(config) -> int:
    """Pipeline depth of the neuron-update unit for ``config``."""
    return neuron_latencies(config)[0]


def sweep_groups(first: int, size: int, lanes: int) -> int:
    """Cycles a core's sweep issues for ``size`` neurons from local ``first``: the groups of
    ``lanes`` neurons (aligned to ``lanes``) that hold one of them."""
    return (first + size - 1) // lanes - first // lanes + 1 if size else 0


def _source_work(program: MappedProgram, name: str) -> np.ndarray:
    """Synapse words ``[neurons, cores]`` one spike of each neuron of source ``name`` makes
    each core's engine issue (1 for a crossbar entry's rows; 0 for an event without words,
    ``NOT_ROUTED`` where the router does not send it)."""
    config = program.config
    ids = program.input_ids() if name == program.network.input_name else \
        program.population_ids(name)
    index_mask = (1 << program.layout.source_index_bits) - 1
    work = np.full((len(ids), config.cores), NOT_ROUTED, dtype=np.int64)
    for route in program.routes:
        inside = np.flatnonzero((ids >= route.first_id) & (ids <= route.last_id))
        for core in route.cores:
            sources = program.cores[core].sources
            for neuron in inside.tolist():
                entry = sources.get(int(ids[neuron]) & index_mask)
                work[neuron, core] = 0 if entry is None else \
                    max(int(entry.crossbar), entry.word_count)
    return work


#: ``_source_work`` of a core the router does not send the source's events to.
NOT_ROUTED = -1


def _engine_cycles(work: np.ndarray) -> np.ndarray:
    """Cycles of the engines' issue stage per event, from ``_source_work``."""
    return np.where(work == NOT_ROUTED, 0, np.maximum(work, 1))


def _to_host(program: MappedProgram, name: str) -> np.ndarray:
    """Whether the router sends each neuron's events of source ``name`` to the host."""
    ids = program.input_ids() if name == program.network.input_name else \
        program.population_ids(name)
    host = np.zeros(len(ids), dtype=bool)
    for route in program.routes:
        if route.to_host:
            host |= (ids >= route.first_id) & (ids <= route.last_id)
    return host


def _tile_convert(program: MappedProgram, active: np.ndarray) -> np.ndarray:
    """Cycles of one tile conversion with ``active`` rows (0 when no row is active)."""
    crossbar, weight_bits = program.config.crossbar, program.config.weight_bits
    outputs = arithmetic.crossbar_outputs(crossbar.cols, weight_bits, crossbar.cell_bits)
    columns = arithmetic.crossbar_columns_per_output(weight_bits, crossbar.cell_bits)
    return np.where(active > 0, outputs * np.maximum(active, columns) + TILE_FIXED_CYCLES, 0)


class _Deliveries:
    """The router and the destination engines of one phase, as queues over ``[T, B]``."""

    def __init__(self, shape: tuple[int, int], cores: int, start: np.ndarray | int,
                 unregistered: int):
        self.router = np.full(shape, -1, dtype=np.int64)      # last router slot
        self.engines = np.full((*shape, cores), -1, dtype=np.int64)   # last event's issue end
        self.ends = np.full((*shape, cores), -1, dtype=np.int64)      # its pipeline's end
        self.host = np.full(shape, -1, dtype=np.int64)
        self.dropped = np.full(shape, -1, dtype=np.int64)    # last unrouted event's slot
        self.start = start          # engines take no event before (no sweep overlap)
        self.unregistered = unregistered
        self.events = 0
        self.words = 0

    def send(self, emitted: np.ndarray, count: np.ndarray, work: np.ndarray,
             to_host: bool) -> None:
        """``count`` events ``[T, B]`` of one source, the first emitted at ``emitted``, one
        per cycle; ``work[core]`` synapse words each (``NOT_ROUTED``: not sent there)."""
        sent = count > 0
        if not sent.any():
            return
        first = np.maximum(emitted + ROUTER_CYCLES, self.router + 1)
        self.router = np.where(sent, first + count - 1, self.router)
        arrival = np.maximum(first + ARRIVAL_CYCLES - self.unregistered, self.start)
        for core in np.flatnonzero(work != NOT_ROUTED):
            done = np.maximum(arrival, self.engines[:, :, core]) + count * max(1, work[core])
            tail = ENGINE_TAIL_CYCLES if work[core] else EMPTY_EVENT_TAIL_CYCLES
            self.engines[:, :, core] = np.where(sent, done, self.engines[:, :, core])
            self.ends[:, :, core] = np.where(sent, np.maximum(self.ends[:, :, core], done + tail),
                                             self.ends[:, :, core])
        if to_host:
            self.host = np.where(sent, self.router, self.host)
        routed = bool((work != NOT_ROUTED).any()) or to_host
        if not routed:
            self.dropped = np.where(sent, self.router, self.dropped)
        self.events += int(count.sum()) if routed else 0
        self.words += int(count.sum()) * int(np.maximum(work, 0).sum())

    def end(self, unregistered: int) -> np.ndarray:
        """Cycles from the phase's start until its deliveries are done (0 without any)."""
        # a dropped event passes the intake link and the range compare, not the outgoing link
        dropped_tail = UNROUTED_TAIL_CYCLES - max(0, unregistered - LINK_CYCLES // 2)
        return np.maximum(np.maximum(self.ends.max(axis=2, initial=0),
                                     np.where(self.dropped >= 0,
                                              self.dropped + dropped_tail, 0)),
                          np.where(self.host >= 0,
                                   self.host + HOST_TAIL_CYCLES - unregistered, 0))


def _touched(program: MappedProgram, counts: np.ndarray, activity: dict[str, np.ndarray],
             steps: int, batch: int) -> dict[tuple[int, int, int], np.ndarray]:
    """``(core, target step offset d, source phase)`` -> ``[T, B]``: a source whose events of
    step ``t`` add into core's bank of step ``t + d`` spiked (phase -1: the host's input)."""
    network, config = program.network, program.config
    phase_of = {phase.population: phase.index for phase in program.phases}
    touched: dict[tuple[int, int, int], np.ndarray] = {}
    for index, projection in enumerate(network.projections):
        if projection.source == network.input_name:
            source, phase = counts, -1
        else:
            source = activity[projection.source].reshape(steps, batch, -1)
            phase = phase_of[projection.source]
        if program.engines[index] == "crossbar":
            for block in program.tiles:
                if block.projection == index:
                    active = source[:, :, block.source_start:block.source_stop].any(axis=2)
                    key = (block.core, projection.delay, phase)
                    touched[key] = touched.get(key, False) | active
            continue
        cores, _ = program.placement(projection.target)
        weights = projection.weight.T.tocsr()          # [sources, targets]
        for core in range(config.cores):
            reaches = np.asarray((weights[:, cores == core] != 0).sum(axis=1)).ravel() > 0
            if reaches.any():
                key = (core, projection.delay, phase)
                touched[key] = touched.get(key, False) | (source[:, :, reaches] > 0).any(axis=2)
    return touched


def _skipped(program: MappedProgram, counts: np.ndarray, result: golden.GoldenResult,
             steps: int, batch: int) -> dict[int, np.ndarray]:
    """``id(segment)`` -> ``[T, B]``: the core skips the segment's sweep (``skip_resting``)."""
    config = program.config
    skipped = {id(segment): np.zeros((steps, batch), dtype=bool) for segment in program.segments}
    if not config.skip_resting:
        return skipped
    records = result.records
    activity = {name: record["spikes"] for name, record in records.items()}
    touched = _touched(program, counts, activity, steps, batch)
    for segment in program.segments:
        record = records[segment.population]
        fields = [record[key].reshape(steps, batch, -1)[:, :, segment.start:segment.stop]
                  for key in ("v", "i", "a")]
        previous = [np.concatenate([np.zeros_like(f[:1]), f[:-1]]) for f in fields]
        x = record["x"].reshape(steps, batch, -1)[:, :, segment.start:segment.stop]
        spikes = record["spikes"].reshape(steps, batch, -1)[:, :, segment.start:segment.stop]
        at_rest = ((x == 0) & (spikes == 0)
                   & np.logical_and.reduce([f == p for f, p in zip(fields, previous)])).all(axis=2)
        # Is anything added into this core's bank of step t before the segment's phase?
        bank = np.zeros((steps, batch), dtype=bool)
        for (core, delay, phase), active in touched.items():
            if core != segment.core or (delay == 0 and phase >= segment.phase):
                continue
            shifted = np.zeros((steps, batch), dtype=bool)
            shifted[delay:] = np.broadcast_to(active, (steps, batch))[:steps - delay]
            bank |= shifted
        resting = np.zeros(batch, dtype=bool)
        for step in range(steps):
            skip = resting & ~bank[step]
            skipped[id(segment)][step] = skip
            resting = np.where(skip, resting, at_rest[step])
    return skipped


def predict(program: MappedProgram, counts: np.ndarray,
            result: golden.GoldenResult) -> CycleBreakdown:
    """Cycles per step for input ``counts`` ``[T, B, input_size]`` and the golden model's
    ``result`` (run with ``record=True``)."""
    network, config = program.network, program.config
    steps, batch = counts.shape[:2]
    counts = counts.reshape(steps, batch, -1).astype(np.int64)
    shape = (steps, batch)
    cycles = np.full(shape, STEP_CYCLES, dtype=np.int64)
    latency, spike_latency = neuron_latencies(config)
    lanes = config.neuron_lanes
    unregistered = 0 if config.timing_registers else LINK_CYCLES + SPLIT_COMPARE_CYCLES
    skipped = _skipped(program, counts, result, steps, batch)
    totals = {"events": 0, "words": 0, "swept": 0}

    # Input phase: the player emits one event per cycle, in input order.
    input_work = _source_work(program, network.input_name)
    input_to_host = _to_host(program, network.input_name)
    deliveries = _Deliveries(shape, config.cores, 0, unregistered)
    emitted = np.full(shape, INPUT_EMIT_CYCLES, dtype=np.int64)
    for neuron in range(counts.shape[2]):
        count = counts[:, :, neuron]
        deliveries.send(emitted, count, input_work[neuron], bool(input_to_host[neuron]))
        emitted = emitted + count
    any_input = counts.sum(axis=2) > 0
    cycles += np.where(any_input, INPUT_CYCLES + np.maximum(
        0, deliveries.end(unregistered) - INPUT_SETTLE_CYCLES), 0)
    totals["events"] += deliveries.events
    totals["words"] += deliveries.words

    # Per core: the cycle of the step from which a fire is served at once (its last sweep's
    # write-backs landed).
    settled = np.zeros((*shape, config.cores), dtype=np.int64)
    for phase in program.phases:
        segments = [s for s in program.segments if s.phase == phase.index]
        population = network.population(phase.population)
        spikes = result.records[phase.population]["spikes"].reshape(steps, batch, -1).copy() \
            if population.spiking else np.zeros((steps, batch, population.size), np.int64)
        # Per core: its wait for the previous sweep's write-backs, then its sweep's groups, or
        # SKIP_CYCLES where it skips its segment.
        sweep = np.zeros(shape, dtype=np.int64)
        wait = {}
        for segment in segments:
            groups = sweep_groups(segment.local_first, segment.size, lanes)
            skip = skipped[id(segment)]
            wait[segment.core] = np.maximum(0, settled[:, :, segment.core] - cycles
                                            - np.where(skip, 0, SWEEP_SETTLE_SLACK))
            own = wait[segment.core] + np.where(skip, SKIP_CYCLES,
                                                PHASE_CYCLES + spike_latency + groups)
            sweep = np.maximum(sweep, own)
            settled[:, :, segment.core] = np.where(skip, settled[:, :, segment.core],
                                                   cycles + own + SETTLE_CYCLES)
            totals["swept"] += int((~skip).sum()) * segment.size
            spikes[:, :, segment.start:segment.stop] *= ~skip[:, :, None]
        start = 0 if config.sweep_overlap else sweep
        deliveries = _Deliveries(shape, config.cores, start, unregistered)
        work = _source_work(program, phase.population)
        to_host = _to_host(program, phase.population)
        # Spikes leave each core in sweep order, one per cycle; the router takes them in the
        # order of their groups.
        events = sorted(((segment.local_first + i) // lanes - segment.local_first // lanes,
                         segment.core, segment.start + i)
                        for segment in segments for i in range(segment.size))
        emitted = {segment.core: np.full(shape, -1, dtype=np.int64) for segment in segments}
        for group, core, neuron in events:
            spiked = spikes[:, :, neuron]
            if not spiked.any():
                continue
            at = np.maximum(wait[core] + EMIT_CYCLES + spike_latency + group, emitted[core] + 1)
            emitted[core] = np.where(spiked > 0, at, emitted[core])
            deliveries.send(at, spiked, work[neuron], bool(to_host[neuron]))
        cycles += np.maximum(sweep, deliveries.end(unregistered))
        totals["events"] += deliveries.events
        totals["words"] += deliveries.words
        if phase.tiles:
            convert = np.zeros(shape, dtype=np.int64)
            for block in program.tiles:
                if block.tile not in phase.tiles:
                    continue
                active = (spikes[:, :, block.source_start:block.source_stop] != 0).sum(axis=2)
                convert = np.maximum(convert, _tile_convert(program, active))
            cycles += CONVERT_CYCLES + convert
    cycles = np.maximum(cycles, settled.max(axis=2) + FINISH_SETTLE_CYCLES)
    return CycleBreakdown(cycles=cycles, routed_events=totals["events"],
                          synapse_words=totals["words"], neurons_swept=totals["swept"])


def predict_run(program: MappedProgram, inputs: np.ndarray) -> tuple[CycleBreakdown,
                                                                     golden.GoldenResult]:
    """Run the golden model on the mapped network and predict the cycles of every step."""
    result = golden.simulate(program.network, inputs, record=True)
    counts = golden.integer_input(program.network, inputs)
    return predict(program, counts, result), result


def static_estimate(program: MappedProgram, rate: float) -> float:
    """Cycles per step if every source spikes with probability ``rate`` per step (expected
    work, for the mapping report before any input is known; no segment at rest): each phase
    costs its sweep or, if later, the delivery of its expected events after its first spike."""
    network, config = program.network, program.config
    lanes = config.neuron_lanes
    _, spike_latency = neuron_latencies(config)
    unregistered = 0 if config.timing_registers else LINK_CYCLES + SPLIT_COMPARE_CYCLES
    delivery = ROUTER_CYCLES + ARRIVAL_CYCLES - unregistered + ENGINE_TAIL_CYCLES
    total = STEP_CYCLES
    input_work = _source_work(program, network.input_name)
    events = rate * network.input_size
    if events:
        total += INPUT_CYCLES + max(0, INPUT_EMIT_CYCLES + delivery - INPUT_SETTLE_CYCLES + max(
            events, rate * _engine_cycles(input_work).sum(axis=0).max(initial=0)))
    for phase in program.phases:
        segments = [s for s in program.segments if s.phase == phase.index]
        sweep = PHASE_CYCLES + spike_latency + max(
            sweep_groups(s.local_first, s.size, lanes) for s in segments)
        population = network.population(phase.population)
        if population.spiking:
            work = _source_work(program, phase.population)
            busiest = rate * _engine_cycles(work).sum(axis=0).max(initial=0)
            sweep = max(sweep, EMIT_CYCLES + spike_latency + delivery
                        + max(rate * population.size, busiest))
        total += sweep
    return float(total)
