"""End-to-end smoke test of the whole Accelerator on Verilator.

A hand-built program (no compiler): one input source -> a 4-neuron LIF segment on core 0 -> a
4-neuron LIF segment on core 1 (through the router), both layers also sent to the host; three
more inputs reach the core-0 layer through crossbar tile 0 (with device variation), converted
in a phase that fires no core. It is
loaded with WRITE records through the command stream, driven for ``STEPS`` timesteps with INPUT
and STEP, and read back with READ_OUTPUT, READ_COUNTERS and READ_STATE. Spikes and the final
neuron state must equal ``codesign.arithmetic.neuron_step`` evaluated in numpy.
"""

from __future__ import annotations

from pathlib import Path

import cocotb
import numpy as np
import pytest

from codesign import arithmetic
from codesign.arch import protocol as hd
from codesign.arch.config import HWConfig
from codesign.arch.layout import CoreLayout, MemorySelect
from codesign.arch.synapse_words import encode_source_entry, pack_matrix, pack_row
from codesign.hw.rtl.crossbar_tile import ADC_SHIFT_REGISTER, CELL_MEMORY
from codesign.hw.rtl.top import AcceleratorSizes

CONFIG = HWConfig.from_dict({
    "cores": 2, "neurons_per_core": 8, "synapse_memory_depth": 32, "synapse_lanes": 2,
    "weight_bits": 8, "state_bits": 16, "delay_slots": 2, "source_table_depth": 16,
    "profiles": 2, "router_queue_depth": 4, "host_width": 16,
    "crossbar": {"tiles": 1, "rows": 8, "cols": 16, "cell_bits": 4, "adc_bits": 6,
                 "variation_sigma": 0.05, "variation_seed": 9},
})
CROSSBAR = CONFIG.crossbar
LAYOUT = CoreLayout.from_config(CONFIG)
SIZES = AcceleratorSizes.from_config(CONFIG)
STEPS = 12
INPUT_ID = 0
CROSSBAR_IDS = (1, 2, 3)        # rows 0..2 of tile 0
CROSSBAR_WEIGHTS = np.array([[20, -35, 0, 60], [-7, 90, 45, 0], [127, 0, -127, 33]])
HIDDEN_BASE = 100
OUTPUT_BASE = 200
HIDDEN_WEIGHTS = np.array([30, 55, -20, 70])
OUTPUT_WEIGHTS = np.array([[40, 0, 10, 0], [0, 60, 0, 127], [90, 90, 0, 0], [-50, 0, 0, 80]])
HIDDEN_BIAS = np.array([0, 3 << 16, -(2 << 16), 12345])


def lif(voltage_decay: float, threshold: int) -> dict[str, int]:
    one = 1 << arithmetic.FRACTION_BITS
    return {"current_decay": 0, "input_gain": one, "voltage_decay": int(voltage_decay * one),
            "current_gain": one, "leak": 0, "threshold": threshold, "reset_voltage": 0,
            "reset_subtract": 0, "adaptation_decay": 0, "adaptation_step": 0}


PROFILES = [lif(0.9, 100), {**lif(0.75, 120), "reset_subtract": 1}]


def input_counts() -> np.ndarray:
    """``[STEPS, 1 + len(CROSSBAR_IDS)]`` events per step of INPUT_ID and the crossbar inputs."""
    return np.random.default_rng(5).integers(0, 4, (STEPS, 1 + len(CROSSBAR_IDS)))


def crossbar_tile() -> tuple[np.ndarray, np.ndarray, int]:
    """Cell levels, the conductances the tile holds, and the ADC shift."""
    levels = arithmetic.crossbar_levels(CROSSBAR_WEIGHTS, CROSSBAR.rows, CROSSBAR.cols,
                                        CONFIG.weight_bits, CROSSBAR.cell_bits)
    conductances = arithmetic.crossbar_conductances(levels, CROSSBAR.cell_bits,
                                                    CROSSBAR.variation_sigma,
                                                    CROSSBAR.variation_seed)
    return levels, conductances, arithmetic.crossbar_adc_shift(conductances, CROSSBAR.cell_bits,
                                                               CROSSBAR.adc_bits)


def golden() -> tuple[list[set[tuple[int, int]]], list[np.ndarray]]:
    """Per step the set of (step, source id) output events; the final state of both layers."""
    counts = input_counts()
    layers = [(PROFILES[0], HIDDEN_BIAS), (PROFILES[1], np.zeros(4, dtype=np.int64))]
    states = [arithmetic.NeuronState(*(np.zeros(4, dtype=np.int64) for _ in range(3)))
              for _ in layers]
    events = []
    _, conductances, adc_shift = crossbar_tile()
    rows = np.zeros((STEPS, CROSSBAR.rows), dtype=np.int64)
    rows[:, :len(CROSSBAR_IDS)] = counts[:, 1:] > 0           # rows are binary
    crossbar = arithmetic.crossbar_matvec(conductances, rows, CONFIG.weight_bits,
                                          CROSSBAR.cell_bits, CROSSBAR.adc_bits, adc_shift)
    for step in range(STEPS):
        hidden_input = HIDDEN_WEIGHTS * counts[step, 0] + crossbar[step, :4]
        found = set()
        spikes = None
        for layer, ((profile, bias), base) in enumerate(zip(layers, (HIDDEN_BASE, OUTPUT_BASE))):
            synaptic_input = hidden_input if layer == 0 else spikes.astype(np.int64) @ OUTPUT_WEIGHTS
            parameters = arithmetic.NeuronParameters(bias=bias, **{
                name: np.int64(value) for name, value in profile.items()})
            states[layer], spikes = arithmetic.neuron_step(parameters, states[layer],
                                                           synaptic_input, CONFIG.state_bits,
                                                           np.where)
            found |= {(step, base + int(n)) for n in np.flatnonzero(spikes)}
        events.append(found)
    final = [np.stack([state.voltage, state.current, state.adaptation]) for state in states]
    return events, final


def write(core: int, select: MemorySelect, address: int, words: list[int]) -> list[int]:
    return hd.encode_write(hd.core_unit(core), select, address, words,
                           LAYOUT.words[select].width)


def program() -> list[int]:
    """The WRITE records of the hand-built program."""
    hidden_words = pack_row(LAYOUT, HIDDEN_WEIGHTS)
    # Core 1's output segment is neurons 2..5 (its segment 1): the synapses target them.
    output_targets = np.zeros((4, CONFIG.neurons_per_core), dtype=np.int64)
    output_targets[:, 2:6] = OUTPUT_WEIGHTS
    output_words, output_entries = pack_matrix(LAYOUT, output_targets)
    index_mask = CONFIG.source_table_depth - 1   # the table is indexed by the id's low bits
    profiles = [LAYOUT.words[MemorySelect.PROFILES].pack(profile) for profile in PROFILES]
    segment = LAYOUT.words[MemorySelect.SEGMENTS]
    fields = []
    # Core 0: input -> hidden (segment 0). Core 1: hidden -> output (segment 1).
    fields += write(0, MemorySelect.SOURCE_TABLE, INPUT_ID & index_mask,
                    [encode_source_entry(LAYOUT, 0, len(hidden_words))])
    # Crossbar inputs: core 0 forwards them as rows 0.. to its tile 0.
    fields += write(0, MemorySelect.SOURCE_TABLE, CROSSBAR_IDS[0] & index_mask,
                    [encode_source_entry(LAYOUT, row, 0, crossbar=True)
                     for row in range(len(CROSSBAR_IDS))])
    levels, _, adc_shift = crossbar_tile()
    fields += hd.encode_write(hd.tile_unit(0), CELL_MEMORY, 0, levels.T.ravel().tolist(),
                              CROSSBAR.cell_bits)                # column-major cell addresses
    fields += hd.encode_write(hd.tile_unit(0), hd.TILE_REGISTERS, ADC_SHIFT_REGISTER,
                              [adc_shift, 0, 0], 32)             # adc_shift, target_base, delay
    fields += write(0, MemorySelect.SYNAPSES, 0, hidden_words)
    fields += write(0, MemorySelect.PROFILES, 0, profiles)
    fields += write(0, MemorySelect.SEGMENTS, 0, [segment.pack(
        {"first": 0, "last": 3, "profile": 0, "base_id": HIDDEN_BASE})])
    fields += write(0, MemorySelect.BIAS, 0, [LAYOUT.words[MemorySelect.BIAS].pack({"bias": b})
                                              for b in HIDDEN_BIAS])
    fields += write(1, MemorySelect.SOURCE_TABLE, HIDDEN_BASE & index_mask, output_entries)
    fields += write(1, MemorySelect.SYNAPSES, 0, output_words)
    fields += write(1, MemorySelect.PROFILES, 0, profiles)
    fields += write(1, MemorySelect.SEGMENTS, 1, [segment.pack(
        {"first": 2, "last": 5, "profile": 1, "base_id": OUTPUT_BASE})])
    routes = [hd.routing_entry(INPUT_ID, CROSSBAR_IDS[-1], [0], False, CONFIG.cores),
              hd.routing_entry(HIDDEN_BASE, HIDDEN_BASE + 3, [1], True, CONFIG.cores),
              hd.routing_entry(OUTPUT_BASE, OUTPUT_BASE + 3, [], True, CONFIG.cores)]
    fields += hd.encode_write(hd.ROUTER_UNIT, hd.ROUTING_TABLE, 0, routes,
                              SIZES.write_data_bits)
    tiles = CROSSBAR.tiles
    phases = [hd.phase_entry([], 0, [0], CONFIG.cores, tiles, SIZES.segment_bits),  # convert
              hd.phase_entry([0], 0, [], CONFIG.cores, tiles, SIZES.segment_bits),
              hd.phase_entry([1], 1, [], CONFIG.cores, tiles, SIZES.segment_bits)]
    fields += hd.encode_write(hd.SEQUENCER_UNIT, hd.PHASE_TABLE, 0, phases, 32)
    fields += hd.encode_write(hd.SEQUENCER_UNIT, hd.SEQUENCER_REGISTERS, hd.PHASE_COUNT_REGISTER,
                              [len(phases)], 32)
    return fields


@cocotb.test()
async def hand_built_program_matches_numpy(dut):
    from codesign.flows.testbench.host_stream import HostStream

    host = HostStream(dut, CONFIG.host_width)
    await host.start()
    await host.send(program())
    counts = input_counts()
    wanted_events, final = golden()
    total_cycles = 0
    for step in range(STEPS):
        await host.send(hd.encode_input(dict(zip((INPUT_ID, *CROSSBAR_IDS),
                                                 map(int, counts[step])))))
        status = await host.step()
        assert status.steps == 1 and status.flags == 0, status
        output = await host.read_output()
        got = {(step, source) for (offset, source) in output.events}
        assert all(offset == 0 for offset, _ in output.events)
        assert got == wanted_events[step], (
            f"step {step}: RTL events {sorted(got)} != golden {sorted(wanted_events[step])}")
        counters = await host.read_counters()
        assert counters["timestep"] == step + 1
        assert counters["last_step_cycles"] > 0
        total_cycles += counters["last_step_cycles"]
        dut._log.info("step %d: %d input events, %d output events, %d cycles", step,
                      counts[step].sum(), len(got), counters["last_step_cycles"])
    assert counters["total_cycles"] == total_cycles
    hidden_spikes = sum(1 for events in wanted_events for _, source in events
                        if source < OUTPUT_BASE)
    assert counters["routed_events"] == int(counts.sum()) + hidden_spikes
    # Digital synapses only (crossbar sums are not synapse-engine words): 4 per input event,
    # 2 non-zero weights per hidden spike.
    assert counters["synaptic_events"] == 4 * int(counts[:, 0].sum()) + 2 * hidden_spikes

    state_fields = LAYOUT.words[MemorySelect.STATE]
    for core, first, expected in ((0, 0, final[0]), (1, 2, final[1])):
        words = await host.read_words(core, MemorySelect.STATE, first, 4, state_fields.width)
        values = [state_fields.unpack(word) for word in words]
        got = np.array([[value[name] for value in values]
                        for name in ("voltage", "current", "adaptation")])
        assert (got == expected).all(), f"core {core} final state {got} != golden {expected}"


@pytest.mark.slow   # the Verilator build of the whole accelerator takes ~1-2 minutes
def test_accelerator_end_to_end_on_verilator():
    from codesign.flows.verilator import run_cocotb
    from codesign.hw.rtl.top import Accelerator

    run_cocotb(Accelerator(CONFIG), toplevel="accelerator", test_module=Path(__file__).stem,
               test_dir=Path(__file__).parent)
