"""SynapseEngine (Amaranth simulator): bit-exact accumulators, throughput, event-driven scaling."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from amaranth.sim import Simulator

from codesign.arch.layout import CoreLayout, MemorySelect
from codesign.arch.synapse_words import (Synapse, decode_source_entry, decode_word,
                                         encode_source_entry, pack_matrix, pack_synapses)
from codesign.errors import CodesignError
from codesign.hw.rtl.synapse_engine import SynapseEngine


def make_layout(lanes: int = 4, neurons: int = 32, delay_slots: int = 2) -> CoreLayout:
    return CoreLayout(neurons_per_core=neurons, synapse_lanes=lanes, weight_bits=8,
                      state_bits=16, delay_slots=delay_slots, synapse_memory_depth=1024,
                      source_table_depth=64, profiles=2)


def simulate(layout: CoreLayout, words: list[int], entries: list[int], steps: list[dict]):
    """Loads the memories, then per step: sets the slot, streams its events (and crossbar sums)
    with the source never idle, waits for ``busy`` to fall; finally reads every accumulator
    through the sweep port. Returns (cycles per step, accumulators[slot, neuron], the
    synaptic_events counter)."""
    engine = SynapseEngine(layout)
    cycles, accumulators = [], np.zeros((layout.delay_slots, layout.neurons_per_core), np.int64)
    counted = []

    async def testbench(ctx):
        for select, memory in ((MemorySelect.SYNAPSES, words), (MemorySelect.SOURCE_TABLE, entries)):
            ctx.set(engine.program.enable, 0)   # the bus sets `memory` a cycle before its writes
            ctx.set(engine.program.memory, select)
            await ctx.tick()
            for address, word in enumerate(memory):
                ctx.set(engine.program.enable, 1)
                ctx.set(engine.program.address, address)
                ctx.set(engine.program.data, word)
                await ctx.tick()
        ctx.set(engine.program.enable, 0)
        for step in steps:
            ctx.set(engine.timestep_slot, step["slot"])
            count = 0

            async def transfer(port, payload):
                nonlocal count
                ctx.set(port.valid, 1)
                ctx.set(port.payload, payload)
                while True:
                    ready = ctx.get(port.ready)
                    await ctx.tick()
                    count += 1
                    if ready:
                        break
                ctx.set(port.valid, 0)

            for event in step["events"]:
                await transfer(engine.events, event)
            for target, value, delay in step.get("crossbar", []):
                await transfer(engine.crossbar_sums,
                               {"target": target, "value": value, "delay": delay})
            while ctx.get(engine.busy):
                await ctx.tick()
                count += 1
            cycles.append(count)
        counted.append(ctx.get(engine.synaptic_events))
        for slot in range(layout.delay_slots):
            for neuron in range(layout.neurons_per_core):
                ctx.set(engine.sweep_read, 1)
                ctx.set(engine.sweep_neuron, neuron)
                ctx.set(engine.sweep_slot, slot)
                await ctx.tick()
                ctx.set(engine.sweep_read, 0)
                await ctx.tick().repeat(2)      # read, then the lane's output register
                accumulators[slot, neuron] = ctx.get(engine.sweep_input[0])

    simulator = Simulator(engine)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()
    return cycles, accumulators, counted[0]


def expected_accumulators(layout, weights, delays, steps):
    """Numpy: every event adds its source's weight row into bank (slot + delay) mod slots."""
    expected = np.zeros((layout.delay_slots, layout.neurons_per_core), np.int64)
    for step in steps:
        for event in step["events"]:
            for target in range(layout.neurons_per_core):
                bank = (step["slot"] + delays[event, target]) % layout.delay_slots
                expected[bank, target] += weights[event, target]
        for target, value, delay in step.get("crossbar", []):
            expected[(step["slot"] + delay) % layout.delay_slots, target] += value
    return expected


@pytest.mark.parametrize("lanes,delay_slots", [(1, 2), (4, 3), (8, 2)])
def test_accumulators_bit_exact(lanes, delay_slots):
    layout = make_layout(lanes=lanes, delay_slots=delay_slots)
    rng = np.random.default_rng(lanes)
    sources = 12
    weights = rng.integers(-128, 128, (sources, layout.neurons_per_core))
    weights[rng.random(weights.shape) < 0.6] = 0  # sparse rows, uneven lane fill
    delays = rng.integers(0, delay_slots, weights.shape)
    words, entries = pack_matrix(layout, weights, delays)
    # Source 12: repeated synapses onto few targets -> back-to-back hazards in every lane.
    hazard = [Synapse(target=t % lanes + lanes * (i % 2), weight=int(rng.integers(-128, 128)),
                      delay=0) for i, t in enumerate(range(lanes * 6))]
    entries.append(encode_source_entry(layout, len(words), len(pack_synapses(layout, hazard))))
    words += pack_synapses(layout, hazard)
    weights = np.vstack([weights, np.zeros(layout.neurons_per_core, np.int64)])
    delays = np.vstack([delays, np.zeros(layout.neurons_per_core, np.int64)])
    for synapse in hazard:
        weights[-1, synapse.target] += synapse.weight
    entries.append(encode_source_entry(layout, 0, 0))  # source 13: no synapses
    weights = np.vstack([weights, np.zeros(layout.neurons_per_core, np.int64)])
    delays = np.vstack([delays, np.zeros(layout.neurons_per_core, np.int64)])
    steps = [{"slot": slot, "events": [int(e) for e in rng.integers(0, 14, 25)] + [12, 12, 13]}
             for slot in (0, 1 % delay_slots)]
    steps[1]["crossbar"] = [(int(t), int(v), int(d)) for t, v, d in
                            zip(rng.integers(0, layout.neurons_per_core, 10),
                                rng.integers(-5000, 5000, 10), rng.integers(0, delay_slots, 10))]
    _, accumulators, counted = simulate(layout, words, entries, steps)
    expected = expected_accumulators(layout, weights, delays, steps)
    assert np.abs(expected).max() > 0
    np.testing.assert_array_equal(accumulators, expected)
    synapses_of = [sum(s.weight != 0 for word in words[e["first_word"]:][:e["word_count"]]
                       for s in decode_word(layout, word))
                   for e in (decode_source_entry(layout, entry) for entry in entries)]
    assert counted == sum(synapses_of[event] for step in steps for event in step["events"])


def test_shared_rows_shift_targets_by_the_entry_offset():
    """Sources pointing at one word list with different row offsets (one wraps around the core)
    add the same weights into shifted targets, back to back (the offset must stay with its
    words through the pipeline)."""
    layout = make_layout(lanes=4, neurons=32)
    rng = np.random.default_rng(5)
    kernel = [Synapse(target=t, weight=int(w), delay=int(d)) for t, w, d in
              zip((0, 1, 2, 5, 6, 9), rng.integers(1, 128, 6), rng.integers(0, 2, 6))]
    words = pack_synapses(layout, kernel)
    offsets = [0, 1, 3, 6, 7]                      # rows; row 7 + 2 wraps to row 1
    entries = [encode_source_entry(layout, 0, len(words), row_offset=offset) for offset in offsets]
    weights = np.zeros((len(offsets), layout.neurons_per_core), np.int64)
    delays = np.zeros_like(weights)
    for source, offset in enumerate(offsets):
        for synapse in kernel:
            target = (synapse.target + offset * layout.synapse_lanes) % layout.neurons_per_core
            weights[source, target], delays[source, target] = synapse.weight, synapse.delay
    steps = [{"slot": 0, "events": [0, 4, 1, 1, 3, 2]}, {"slot": 1, "events": [4, 0, 2]}]
    _, accumulators, _ = simulate(layout, words, entries, steps)
    np.testing.assert_array_equal(accumulators, expected_accumulators(layout, weights, delays,
                                                                      steps))


def test_without_shared_rows_an_offset_is_refused():
    layout = dataclasses.replace(make_layout(), shared_rows=False)
    assert "row_offset" not in decode_source_entry(layout, encode_source_entry(layout, 0, 1))
    with pytest.raises(CodesignError, match="shared_rows"):
        encode_source_entry(layout, 0, 1, row_offset=2)


def dense_program(layout, sources, rng):
    weights = rng.integers(1, 128, (sources, layout.neurons_per_core))
    return pack_matrix(layout, weights, 0)


def test_dense_throughput_reaches_lane_bound():
    layout = make_layout(lanes=4, neurons=64)
    rng = np.random.default_rng(1)
    sources = 40
    words, entries = dense_program(layout, sources, rng)
    cycles, _, _ = simulate(layout, words, entries, [{"slot": 0, "events": list(range(sources))}])
    synaptic_events = sources * layout.neurons_per_core
    rate = synaptic_events / cycles[0]
    assert rate >= 0.9 * layout.synapse_lanes, (rate, cycles)


def test_work_scales_with_activity():
    layout = make_layout(lanes=4, neurons=64)
    rng = np.random.default_rng(2)
    sources = 60
    words, entries = dense_program(layout, sources, rng)
    active = sorted(rng.choice(sources, sources // 10, replace=False).tolist())
    cycles, _, _ = simulate(layout, words, entries, [{"slot": 0, "events": list(range(sources))},
                                                  {"slot": 1, "events": active}])
    full, tenth = cycles
    assert tenth <= 0.15 * full, (tenth, full)
