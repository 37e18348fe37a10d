"""The Accelerator in Amaranth's simulator: two crossbar tiles on one core (row numbering across
tiles, per-tile target base and delay), a phase that only converts, READ_STATE of a unit that
has no state; spikes must equal numpy's neuron_step on crossbar_matvec inputs."""

from __future__ import annotations

import dataclasses
import numpy as np
import pytest
from amaranth.sim import Simulator

from codesign import arithmetic
from codesign.arch import protocol as hd
from codesign.arch.config import HWConfig
from codesign.arch.layout import CoreLayout, MemorySelect
from codesign.arch.synapse_words import encode_source_entry
from codesign.hw.rtl.crossbar_tile import ADC_SHIFT_REGISTER, CELL_MEMORY
from codesign.hw.rtl.top import Accelerator, AcceleratorSizes

CONFIG = HWConfig.from_dict({
    "cores": 1, "neurons_per_core": 8, "synapse_memory_depth": 8, "synapse_lanes": 1,
    "source_table_depth": 16, "profiles": 1, "router_queue_depth": 2, "host_width": 32,
    "crossbar": {"tiles": 2, "rows": 3, "cols": 8, "cell_bits": 4, "adc_bits": 5},
})
LAYOUT = CoreLayout.from_config(CONFIG)
SIZES = AcceleratorSizes.from_config(CONFIG)
ROWS = CONFIG.crossbar.rows
# Tile 0: ids 1..3 -> core rows 0..2 -> neurons 0, 1 (delay 0).
# Tile 1: ids 4..5 -> core rows 3..4 (its rows 0..1) -> neurons 2, 3 (delay 1).
# Three rows per tile: the core's row numbers are not a power-of-two split.
TILE_WEIGHTS = [np.array([[50, -20], [30, 70], [127, 10]]),
                np.array([[60, -40], [0, 127]])]
TILE_IDS = [(1, 2, 3), (4, 5)]
TARGET_BASE = [0, 2]
DELAY = [0, 1]
OUTPUT_BASE = 40
STEPS = 8
PROFILE = {"current_decay": 0, "input_gain": 1 << 16, "voltage_decay": 1 << 16,
           "current_gain": 1 << 16, "leak": 0, "threshold": 150, "reset_voltage": 0,
           "reset_subtract": 1, "adaptation_decay": 0, "adaptation_step": 0}


def tile(index: int):
    levels = arithmetic.crossbar_levels(TILE_WEIGHTS[index], ROWS, CONFIG.crossbar.cols,
                                        CONFIG.weight_bits, CONFIG.crossbar.cell_bits)
    conductances = arithmetic.crossbar_conductances(levels, CONFIG.crossbar.cell_bits, 0.0, 1)
    shift = arithmetic.crossbar_adc_shift(conductances, CONFIG.crossbar.cell_bits,
                                          CONFIG.crossbar.adc_bits)
    return levels, conductances, shift


def spikes_per_step() -> np.ndarray:
    """[STEPS, 6]: events of source ids 0..5 per step (id 0 is unused)."""
    counts = np.random.default_rng(3).integers(0, 3, (STEPS, 6))
    counts[:, 0] = 0
    return counts


def golden() -> list[list[int]]:
    counts = spikes_per_step()
    synaptic_input = np.zeros((STEPS + 1, 4), dtype=np.int64)
    for index, ids in enumerate(TILE_IDS):
        _, conductances, shift = tile(index)
        rows = np.zeros((STEPS, ROWS), dtype=np.int64)
        rows[:, :len(ids)] = counts[:, list(ids)] > 0
        out = arithmetic.crossbar_matvec(conductances, rows, CONFIG.weight_bits,
                                         CONFIG.crossbar.cell_bits, CONFIG.crossbar.adc_bits,
                                         shift)[:, :2]
        base, delay = TARGET_BASE[index], DELAY[index]
        synaptic_input[delay:delay + STEPS, base:base + 2] += out
    parameters = arithmetic.NeuronParameters(bias=np.int64(0), **{
        name: np.int64(value) for name, value in PROFILE.items()})
    state = arithmetic.NeuronState(*(np.zeros(4, dtype=np.int64) for _ in range(3)))
    fired = []
    for step in range(STEPS):
        state, spikes = arithmetic.neuron_step(parameters, state, synaptic_input[step],
                                               CONFIG.state_bits, np.where)
        fired.append([OUTPUT_BASE + int(n) for n in np.flatnonzero(spikes)])
    return fired


def program() -> list[int]:
    def write(core_memory: MemorySelect, address: int, words: list[int]) -> list[int]:
        return hd.encode_write(hd.core_unit(0), core_memory, address, words,
                               LAYOUT.words[core_memory].width)

    fields = write(MemorySelect.PROFILES, 0, [LAYOUT.words[MemorySelect.PROFILES].pack(PROFILE)])
    fields += write(MemorySelect.SEGMENTS, 0, [LAYOUT.words[MemorySelect.SEGMENTS].pack(
        {"first": 0, "last": 3, "profile": 0, "base_id": OUTPUT_BASE})])
    core_row = 0
    for index, ids in enumerate(TILE_IDS):
        levels, _, shift = tile(index)
        fields += write(MemorySelect.SOURCE_TABLE, ids[0],
                        [encode_source_entry(LAYOUT, core_row + row, 0, crossbar=True)
                         for row in range(len(ids))])
        core_row += ROWS
        fields += hd.encode_write(hd.tile_unit(index), CELL_MEMORY, 0, levels.T.ravel().tolist(),
                                  CONFIG.crossbar.cell_bits)
        fields += hd.encode_write(hd.tile_unit(index), hd.TILE_REGISTERS, ADC_SHIFT_REGISTER,
                                  [shift, TARGET_BASE[index], DELAY[index]], 32)
    fields += hd.encode_write(hd.ROUTER_UNIT, hd.ROUTING_TABLE, 0, [
        hd.routing_entry(1, 5, [0], False, 1), hd.routing_entry(OUTPUT_BASE, OUTPUT_BASE + 3, [],
                                                                True, 1)], SIZES.write_data_bits)
    phases = [hd.phase_entry([], 0, [0, 1], 1, 2, SIZES.segment_bits),
              hd.phase_entry([0], 0, [], 1, 2, SIZES.segment_bits)]
    fields += hd.encode_write(hd.SEQUENCER_UNIT, hd.PHASE_TABLE, 0, phases, 32)
    fields += hd.encode_write(hd.SEQUENCER_UNIT, hd.SEQUENCER_REGISTERS, 0,
                              [len(phases), 0, 0, 0], 32)
    return fields


@pytest.mark.parametrize("timing_registers", [True, False])
def test_two_tiles_on_one_core_match_numpy(timing_registers: bool):
    dut = Accelerator(dataclasses.replace(CONFIG, timing_registers=timing_registers))
    counts = spikes_per_step()
    commands = program()
    answers = 0
    for step in range(STEPS):
        commands += hd.encode_input({source: int(counts[step, source]) for source in range(6)})
        commands += hd.encode_step() + hd.encode_read_output()
    commands += hd.encode_read_state(5, 0, 2, 64)      # unit 5 is no core: answers zeros
    words = hd.to_words(commands, CONFIG.host_width)
    received: list[int] = []
    expected = golden()
    answers = STEPS * 2 + sum(len(events) for events in expected) + 4

    async def host(ctx):
        ctx.set(dut.response.ready, 1)
        position = 0
        for _ in range(40000):
            offering = position < len(words)
            ctx.set(dut.command.valid, offering)
            ctx.set(dut.command.payload, words[position] if offering else 0)
            _, _, ready, valid, payload = await ctx.tick().sample(
                dut.command.ready, dut.response.valid, dut.response.payload)
            if offering and ready:
                position += 1
            if valid:
                received.append(payload)
            if len(received) >= answers and position == len(words):
                break

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(host)
    simulator.run()

    fields = hd.from_words(received, CONFIG.host_width)
    for step in range(STEPS):
        assert hd.decode_step(fields[:1]).steps == 1
        output = hd.decode_output(fields[1:])
        fields = fields[1 + output.fields_used:]
        assert sorted(source for _, source in output.events) == expected[step], f"step {step}"
    assert fields == [0, 0, 0, 0]
    assert any(expected), "the program must make some neuron spike"


@pytest.mark.parametrize("tiles,cores", [(0, 1), (3, 2)])
def test_sizes_and_elaboration(tiles, cores):
    config = HWConfig.from_dict({"cores": cores, "neurons_per_core": 16,
                                 "synapse_memory_depth": 64, "source_table_depth": 32,
                                 "profiles": 2, "crossbar": {"tiles": tiles, "rows": 8,
                                                             "cols": 16}})
    sizes = AcceleratorSizes.from_config(config)
    layout = CoreLayout.from_config(config)
    assert sizes.phase_table_depth == layout.segments
    assert sizes.routing_table_entries == 2 * layout.segments
    assert sizes.output_buffer_depth >= cores * 16
    assert sizes.write_data_bits >= layout.write_data_bits
    from amaranth.back import rtlil
    assert "command__payload" in rtlil.convert(Accelerator(config), name="top")


def test_empty_program_steps_and_counters():
    config = HWConfig.from_dict({"cores": 1, "neurons_per_core": 8, "synapse_memory_depth": 8,
                                 "synapse_lanes": 1, "source_table_depth": 8, "profiles": 1,
                                 "host_width": 8})
    dut = Accelerator(config)
    words = hd.to_words(hd.encode_step(3) + hd.encode_read_counters(), 8)
    received: list[int] = []

    async def host(ctx):
        ctx.set(dut.response.ready, 1)
        position = 0
        while len(received) < 4 * (1 + len(hd.COUNTER_NAMES)):
            offering = position < len(words)
            ctx.set(dut.command.valid, offering)
            ctx.set(dut.command.payload, words[position] if offering else 0)
            _, _, ready, valid, payload = await ctx.tick().sample(
                dut.command.ready, dut.response.valid, dut.response.payload)
            position += offering and ready
            if valid:
                received.append(payload)

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(host)
    simulator.run()
    fields = hd.from_words(received, 8)
    assert hd.decode_step(fields[:1]).steps == 3
    counters = hd.decode_counters(fields[1:])
    # docs/hardware.md: an empty program takes 7 cycles per timestep.
    assert counters == {"last_step_cycles": 7, "total_cycles": 21, "routed_events": 0,
                        "synaptic_events": 0, "timestep": 3}
