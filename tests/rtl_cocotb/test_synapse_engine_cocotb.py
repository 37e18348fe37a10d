"""SynapseEngine on Verilator under cocotb: program loading, a dense burst and a sparse burst
over two timestep slots, accumulators compared with numpy sums, throughput in exact cycles."""

from __future__ import annotations

from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

from codesign.arch.layout import CoreLayout, MemorySelect
from codesign.arch.synapse_words import pack_matrix

LAYOUT = CoreLayout(neurons_per_core=64, synapse_lanes=4, weight_bits=8, state_bits=16,
                    delay_slots=2, synapse_memory_depth=2048, source_table_depth=64, profiles=2)
SOURCES = 48


def network():
    rng = np.random.default_rng(3)
    weights = rng.integers(-128, 128, (SOURCES, LAYOUT.neurons_per_core))
    weights[weights == 0] = 1          # dense: every slot of every word is used
    delays = rng.integers(0, LAYOUT.delay_slots, weights.shape)
    return weights, delays


@cocotb.test()
async def dense_and_sparse_bursts(dut):
    weights, delays = network()
    words, entries = pack_matrix(LAYOUT, weights, delays)
    Clock(dut.clk, 10, unit="ns").start()
    for name in ("events__valid", "program__enable", "sweep_read", "clear",
                 "crossbar_sums__valid"):
        getattr(dut, name).value = 0
    dut.crossbar_rows__ready.value = 1
    dut.enable.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    for select, memory in ((MemorySelect.SYNAPSES, words), (MemorySelect.SOURCE_TABLE, entries)):
        await FallingEdge(dut.clk)
        dut.program__enable.value = 0   # the bus sets `memory` a cycle before its writes
        dut.program__memory.value = int(select)
        for address, word in enumerate(memory):
            await FallingEdge(dut.clk)
            dut.program__enable.value = 1
            dut.program__address.value = address
            dut.program__data.value = word
    await FallingEdge(dut.clk)
    dut.program__enable.value = 0

    rng = np.random.default_rng(4)
    bursts = [(0, list(range(SOURCES))), (1, sorted(rng.choice(SOURCES, SOURCES // 10,
                                                                replace=False).tolist()))]
    expected = np.zeros((LAYOUT.delay_slots, LAYOUT.neurons_per_core), np.int64)
    cycles = []
    for slot, events in bursts:
        for event in events:
            for target in range(LAYOUT.neurons_per_core):
                expected[(slot + delays[event, target]) % LAYOUT.delay_slots, target] += \
                    weights[event, target]
        dut.timestep_slot.value = slot
        pending, count = list(events), 0
        # Inputs change on the falling edge; ``ready`` depends only on the engine's state, so
        # its value there tells whether the next rising edge takes the offered event.
        while True:
            await FallingEdge(dut.clk)
            if pending:
                dut.events__valid.value = 1
                dut.events__payload.value = pending[0]
                if int(dut.events__ready.value):
                    pending.pop(0)
            else:
                dut.events__valid.value = 0
                if not int(dut.busy.value):
                    break
            count += 1
        cycles.append(count)
    got = np.zeros_like(expected)
    for slot in range(LAYOUT.delay_slots):
        for neuron in range(LAYOUT.neurons_per_core):
            dut.sweep_read.value = 1
            dut.sweep_neuron.value = neuron
            dut.sweep_slot.value = slot
            await FallingEdge(dut.clk)
            dut.sweep_read.value = 0
            await ClockCycles(dut.clk, 2, rising=False)   # read, then the lane's output register
            got[slot, neuron] = dut.sweep_input.value.to_signed()
    np.testing.assert_array_equal(got, expected)
    full, tenth = cycles
    rate = SOURCES * LAYOUT.neurons_per_core / full
    dut._log.info("dense: %d cycles, %.3f synapses/cycle; 10%% activity: %d cycles (%.3f)",
                  full, rate, tenth, tenth / full)
    assert rate >= 0.9 * LAYOUT.synapse_lanes
    assert tenth <= 0.15 * full


def test_synapse_engine_on_verilator():
    from codesign.flows.verilator import run_cocotb
    from codesign.hw.rtl.synapse_engine import SynapseEngine

    run_cocotb(SynapseEngine(LAYOUT), toplevel="synapse_engine", test_module=Path(__file__).stem,
               test_dir=Path(__file__).parent)
