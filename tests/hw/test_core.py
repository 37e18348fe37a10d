"""Core (Amaranth simulator): a two-layer network with a recurrent projection, crossbar partial
sums and host read-back, against a numpy model built from arithmetic.neuron_step."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from amaranth.sim import Simulator

from codesign import arithmetic
from codesign.arch.layout import CoreLayout, MemorySelect
from codesign.arch.synapse_words import encode_source_entry, pack_row
from codesign.arithmetic import NeuronParameters, NeuronState
from codesign.hw.rtl.core import Core
from neuron_models import profile

LAYOUT = CoreLayout(neurons_per_core=32, synapse_lanes=4, weight_bits=8, state_bits=16,
                    delay_slots=2, synapse_memory_depth=512, source_table_depth=64, profiles=4)
# With neuron lanes, neuron 12 (A) and 13 (B) share a group: each sweep updates (and owes a
# zero to the accumulator of) only its own.
A = np.arange(0, 13)            # layer A: neurons 0..12, profile 0
B = np.arange(13, 24)           # layer B: neurons 13..23, profile 1
INPUTS = 8                      # host sources 0..7 -> A
A_BASE, B_BASE = 8, 32          # spike ids of A: 8..19, of B: 32..41
CROSSBAR_SOURCE, CROSSBAR_ROW = 50, 7
STEPS = 10
EMPTY_SEGMENT = 2


class Network:
    """Random weights and parameters, the program image and the numpy reference."""

    def __init__(self, rng: np.random.Generator):
        n = LAYOUT.neurons_per_core
        self.w_in = np.zeros((INPUTS, n), np.int64)
        self.w_in[:, A] = rng.integers(-40, 120, (INPUTS, len(A)))
        self.w_ab = np.zeros((len(A), n), np.int64)
        self.w_ab[:, B] = rng.integers(-60, 127, (len(A), len(B)))
        self.w_aa = np.zeros((len(A), n), np.int64)
        self.w_aa[:, A] = rng.integers(-128, 60, (len(A), len(A)))
        self.w_aa[rng.random(self.w_aa.shape) < 0.5] = 0
        self.profiles = [profile("LIF", 16, 0, rng), profile("AdaptiveLIF", 16, 1, rng)]
        for values in self.profiles:
            values.update(input_gain=1 << 16, current_gain=1 << 15, voltage_decay=58982,
                          threshold=300, leak=0)
        self.bias = np.zeros(n, np.int64)
        self.bias[A] = rng.integers(0, 200, len(A)) << 12
        self.bias[B] = rng.integers(0, 200, len(B)) << 12
        self.initial_voltage = rng.integers(-300, 300, n)
        self.inputs = rng.random((STEPS, INPUTS)) < 0.5
        # Crossbar partial sums into A at some steps: (step, target, value, delay).
        self.crossbar = [(2, 3, 700, 0), (2, 5, -200, 1), (6, 0, 900, 0)]

    def program(self) -> list[tuple[MemorySelect, int, int]]:
        words, entries = [], {}
        for source, (weights, delay) in enumerate(
                [(self.w_in[i], 0) for i in range(INPUTS)]):
            row = pack_row(LAYOUT, weights, delay)
            entries[source] = encode_source_entry(LAYOUT, len(words), len(row))
            words += row
        for i in range(len(A)):
            row = pack_row(LAYOUT, self.w_ab[i], 0) + pack_row(LAYOUT, self.w_aa[i], 1)
            entries[A_BASE + i] = encode_source_entry(LAYOUT, len(words), len(row))
            words += row
        for i in range(len(B)):
            entries[B_BASE + i] = encode_source_entry(LAYOUT, 0, 0)
        entries[CROSSBAR_SOURCE] = encode_source_entry(LAYOUT, CROSSBAR_ROW, 0, crossbar=True)
        fields = LAYOUT.words
        image = [(MemorySelect.SYNAPSES, address, word) for address, word in enumerate(words)]
        image += [(MemorySelect.SOURCE_TABLE, source, entry) for source, entry in entries.items()]
        image += [(MemorySelect.PROFILES, index, fields[MemorySelect.PROFILES].pack(values))
                  for index, values in enumerate(self.profiles)]
        image += [(MemorySelect.SEGMENTS, 0, fields[MemorySelect.SEGMENTS].pack(
                      {"first": A[0], "last": A[-1], "profile": 0, "base_id": A_BASE})),
                  (MemorySelect.SEGMENTS, 1, fields[MemorySelect.SEGMENTS].pack(
                      {"first": B[0], "last": B[-1], "profile": 1, "base_id": B_BASE})),
                  # An empty segment (first > last): firing it must update no neuron.
                  (MemorySelect.SEGMENTS, EMPTY_SEGMENT, fields[MemorySelect.SEGMENTS].pack(
                      {"first": B[-1], "last": A[0], "profile": 1, "base_id": B_BASE}))]
        image += [(MemorySelect.BIAS, i, fields[MemorySelect.BIAS].pack({"bias": int(b)}))
                  for i, b in enumerate(self.bias)]
        image += [(MemorySelect.STATE, i, fields[MemorySelect.STATE].pack(
                      {"voltage": int(v), "current": 0, "adaptation": 0}))
                  for i, v in enumerate(self.initial_voltage)]
        return image

    def reference(self):
        """Spike ids per step and the final state, with numpy int64 and np.where."""
        n = LAYOUT.neurons_per_core
        state = NeuronState(voltage=self.initial_voltage.astype(np.int64),
                            current=np.zeros(n, np.int64), adaptation=np.zeros(n, np.int64))
        pending = np.zeros(n, np.int64)     # input for the next step (delay 1)
        spikes_per_step = []
        for t in range(STEPS):
            x, pending = pending + self.inputs[t].astype(np.int64) @ self.w_in, np.zeros(n, np.int64)
            for step, target, value, delay in self.crossbar:
                if step == t:
                    if delay == 0:
                        x[target] += value
                    else:
                        pending[target] += value
            ids = []
            for neurons, profile_values, base in ((A, self.profiles[0], A_BASE),
                                                  (B, self.profiles[1], B_BASE)):
                parameters = NeuronParameters(bias=self.bias[neurons], **{
                    k: np.int64(v) for k, v in profile_values.items()})
                layer_state = NeuronState(state.voltage[neurons], state.current[neurons],
                                          state.adaptation[neurons])
                new, spike = arithmetic.neuron_step(parameters, layer_state, x[neurons], 16,
                                                    np.where)
                state.voltage[neurons], state.current[neurons] = new.voltage, new.current
                state.adaptation[neurons] = new.adaptation
                fired = np.flatnonzero(spike)
                ids += [base + int(i) for i in fired]
                if neurons is A:
                    x += spike.astype(np.int64) @ self.w_ab
                    pending += spike.astype(np.int64) @ self.w_aa
            spikes_per_step.append(ids)
        return spikes_per_step, state


def run_core(network: Network, timing_registers: bool = True, neuron_lanes: int = 1,
             sweep_overlap: bool = True):
    core = Core(dataclasses.replace(LAYOUT, timing_registers=timing_registers,
                                    neuron_lanes=neuron_lanes, sweep_overlap=sweep_overlap))
    spikes_per_step, rows, states, cleared = [], [], [], []

    async def testbench(ctx):
        queue: list[int] = []

        async def cycle():
            ctx.set(core.events_in.valid, bool(queue))
            if queue:
                ctx.set(core.events_in.payload, queue[0])
            ctx.set(core.spikes_out.ready, 1)
            ctx.set(core.crossbar_rows.ready, 1)
            taken = queue and ctx.get(core.events_in.ready)
            spike = ctx.get(core.spikes_out.payload) if ctx.get(core.spikes_out.valid) else None
            row = ctx.get(core.crossbar_rows.payload) if ctx.get(core.crossbar_rows.valid) else None
            await ctx.tick()
            if taken:
                queue.pop(0)
            if row is not None:
                rows.append(row)
            return spike

        async def settle(step_spikes):
            for _ in range(2):
                await cycle()
            while queue or ctx.get(core.busy):
                spike = await cycle()
                if spike is not None:
                    step_spikes.append(spike)
                    queue.append(spike)   # the router multicasts every spike back to this core

        previous = None
        for select, address, word in network.program():
            if select != previous:   # the bus sets `memory` a cycle before its writes
                ctx.set(core.program.enable, 0)
                ctx.set(core.program.memory, select)
                await ctx.tick()
                previous = select
            ctx.set(core.program.enable, 1)
            ctx.set(core.program.address, address)
            ctx.set(core.program.data, word)
            await ctx.tick()
        ctx.set(core.program.enable, 0)
        for t in range(STEPS):
            ctx.set(core.timestep_slot, t % LAYOUT.delay_slots)
            step_spikes: list[int] = []
            queue += [i for i in range(INPUTS) if network.inputs[t, i]]
            for step, target, value, delay in network.crossbar:
                if step == t:
                    ctx.set(core.crossbar_sums.valid, 1)
                    ctx.set(core.crossbar_sums.payload,
                            {"target": target, "value": value, "delay": delay})
                    await ctx.tick().until(core.crossbar_sums.ready)
                    ctx.set(core.crossbar_sums.valid, 0)
            if t == 4:
                queue.append(CROSSBAR_SOURCE)
            await settle(step_spikes)
            for segment in (0, EMPTY_SEGMENT, 1):
                ctx.set(core.fire, 1)
                ctx.set(core.segment, segment)
                await cycle()
                ctx.set(core.fire, 0)
                await settle(step_spikes)
            spikes_per_step.append(step_spikes)

        async def read_states():
            values = []
            for neuron in range(LAYOUT.neurons_per_core):
                ctx.set(core.read.enable, 1)
                ctx.set(core.read.memory, MemorySelect.STATE)
                ctx.set(core.read.address, neuron)
                await ctx.tick()
                ctx.set(core.read.enable, 0)
                while not ctx.get(core.read.valid):
                    await ctx.tick()
                values.append(LAYOUT.words[MemorySelect.STATE].unpack(ctx.get(core.read.data)))
            return values

        states.extend(await read_states())
        ctx.set(core.clear, 1)
        await ctx.tick()
        ctx.set(core.clear, 0)
        await settle([])
        cleared.extend(await read_states())

    simulator = Simulator(core)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()
    return spikes_per_step, rows, states, cleared


@pytest.mark.parametrize("timing_registers, neuron_lanes, sweep_overlap",
                         [(True, 1, True), (False, 1, False), (True, 2, True), (True, 4, True),
                          (False, 2, True), (True, 2, False)])
def test_core_runs_network_bit_exact(timing_registers: bool, neuron_lanes: int,
                                     sweep_overlap: bool):
    network = Network(np.random.default_rng(7))
    expected_spikes, expected_state = network.reference()
    spikes, rows, states, cleared = run_core(network, timing_registers, neuron_lanes,
                                             sweep_overlap)
    assert sum(map(len, expected_spikes)) > 10       # the network is not silent
    assert any(B_BASE <= i for ids in expected_spikes for i in ids)
    assert spikes == expected_spikes
    for name in ("voltage", "current", "adaptation"):
        np.testing.assert_array_equal([s[name] for s in states], getattr(expected_state, name),
                                      err_msg=name)
    assert rows == [CROSSBAR_ROW]
    assert all(value == 0 for s in cleared for value in s.values())
