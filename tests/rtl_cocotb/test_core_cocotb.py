"""Core on Verilator under cocotb: the two-layer network of tests/hw/test_core.py (recurrent
projection, crossbar partial sums and a crossbar-mapped source), with this testbench acting as
the router; spikes and the final state (read back through the read port) must match numpy."""

from __future__ import annotations

import sys
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

from codesign.arch.layout import MemorySelect
from codesign.hw.rtl.synapse_engine import crossbar_sum_layout

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hw"))
from test_core import (CROSSBAR_ROW, CROSSBAR_SOURCE, INPUTS, LAYOUT, STEPS,  # noqa: E402
                       Network)


@cocotb.test()
async def network_bit_exact(dut):
    network = Network(np.random.default_rng(7))
    expected_spikes, expected_state = network.reference()
    Clock(dut.clk, 10, unit="ns").start()
    for name in ("events_in__valid", "program__enable", "read__enable", "fire", "clear",
                 "crossbar_sums__valid"):
        getattr(dut, name).value = 0
    dut.spikes_out__ready.value = 1
    dut.crossbar_rows__ready.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    previous = None
    for select, address, word in network.program():
        await FallingEdge(dut.clk)
        if select != previous:   # the bus sets `memory` a cycle before its writes
            dut.program__enable.value = 0
            dut.program__memory.value = int(select)
            await FallingEdge(dut.clk)
            previous = select
        dut.program__enable.value = 1
        dut.program__address.value = address
        dut.program__data.value = word
    await FallingEdge(dut.clk)
    dut.program__enable.value = 0

    queue: list[int] = []
    rows: list[int] = []
    sums_layout = crossbar_sum_layout(LAYOUT)

    async def settle(step_spikes: list[int]) -> int:
        """Router role until the core is idle and nothing is queued; returns the cycles."""
        cycles = 0
        while True:
            # Everything sampled here holds until the next rising edge, which takes it.
            if int(dut.spikes_out__valid.value):
                spike = int(dut.spikes_out__payload.value)
                step_spikes.append(spike)
                queue.append(spike)
            if int(dut.crossbar_rows__valid.value):
                rows.append(int(dut.crossbar_rows__payload.value))
            if queue:
                dut.events_in__valid.value = 1
                dut.events_in__payload.value = queue[0]
                if int(dut.events_in__ready.value):
                    queue.pop(0)
            else:
                dut.events_in__valid.value = 0
                if cycles > 2 and not int(dut.busy.value):
                    return cycles
            await FallingEdge(dut.clk)
            cycles += 1

    spikes_per_step = []
    for t in range(STEPS):
        dut.timestep_slot.value = t % LAYOUT.delay_slots
        step_spikes: list[int] = []
        for step, target, value, delay in network.crossbar:
            if step == t:
                dut.crossbar_sums__valid.value = 1
                dut.crossbar_sums__payload.value = sums_layout.const(
                    {"target": target, "value": value, "delay": delay}).as_value().value
                while True:
                    ready = int(dut.crossbar_sums__ready.value)
                    await FallingEdge(dut.clk)
                    if ready:
                        break
                dut.crossbar_sums__valid.value = 0
        queue += [i for i in range(INPUTS) if network.inputs[t, i]]
        if t == 4:
            queue.append(CROSSBAR_SOURCE)
        await settle(step_spikes)
        for segment in (0, 1):
            dut.fire.value = 1
            dut.segment.value = segment
            await FallingEdge(dut.clk)
            dut.fire.value = 0
            await settle(step_spikes)
        spikes_per_step.append(step_spikes)
    assert spikes_per_step == expected_spikes

    state_fields = LAYOUT.words[MemorySelect.STATE]
    for neuron in range(LAYOUT.neurons_per_core):
        dut.read__enable.value = 1
        dut.read__memory.value = int(MemorySelect.STATE)
        dut.read__address.value = neuron
        await FallingEdge(dut.clk)
        dut.read__enable.value = 0
        while not int(dut.read__valid.value):
            await FallingEdge(dut.clk)
        state = state_fields.unpack(int(dut.read__data.value))
        for name in ("voltage", "current", "adaptation"):
            assert state[name] == getattr(expected_state, name)[neuron], (neuron, name)
    assert rows == [CROSSBAR_ROW]
    dut._log.info("%d steps, %d spikes bit-exact", STEPS, sum(map(len, spikes_per_step)))


def test_core_on_verilator():
    from codesign.flows.verilator import run_cocotb
    from codesign.hw.rtl.core import Core

    run_cocotb(Core(LAYOUT), toplevel="core", test_module=Path(__file__).stem,
               test_dir=Path(__file__).parent)
