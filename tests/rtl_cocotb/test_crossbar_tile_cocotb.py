"""CrossbarTile on Verilator under cocotb: program a random weight matrix through the program
port (in a shuffled order), convert random spike vectors with random back-pressure, and compare
every result bit for bit with the golden ``arithmetic.crossbar_matvec``; ideal devices and device
variation."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import cocotb
import numpy as np
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from codesign import arithmetic
from codesign.arch.layout import bits_for
from codesign.hw.rtl.crossbar_tile import ADC_SHIFT_REGISTER, CELL_MEMORY, REGISTER_MEMORY

CONFIG_VARIABLE = "CROSSBAR_TILE_CONFIG"
STEPS = 6


@cocotb.test()
async def random_layer_bit_exact(dut):
    config = json.loads(os.environ[CONFIG_VARIABLE])
    rows, cols = config["rows"], config["cols"]
    weight_bits, cell_bits = config["weight_bits"], config["cell_bits"]
    adc_bits = config["adc_bits"]
    outputs = arithmetic.crossbar_outputs(cols, weight_bits, cell_bits)
    index_bits = bits_for(outputs)
    value_bits = arithmetic.crossbar_output_bits(rows, cols, weight_bits, cell_bits, adc_bits)
    rng = np.random.default_rng(config["seed"])
    limit = (1 << (weight_bits - 1)) - 1
    weights = rng.integers(-limit, limit + 1, size=(rows, outputs))
    levels = arithmetic.crossbar_levels(weights, rows, cols, weight_bits, cell_bits)

    Clock(dut.clk, 10, unit="ns").start()
    dut.program__enable.value = 0
    dut.row_events__valid.value = 0
    dut.convert.value = 0
    dut.results__ready.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0

    order = random.Random(config["seed"])
    cells = [(row, column) for row in range(rows) for column in range(levels.shape[1])]
    order.shuffle(cells)
    dut.program__memory.value = CELL_MEMORY
    dut.program__enable.value = 1
    for row, column in cells:
        dut.program__address.value = arithmetic.crossbar_cell_address(row, column, rows)
        dut.program__data.value = int(levels[row, column])
        await RisingEdge(dut.clk)
    dut.program__memory.value = REGISTER_MEMORY
    dut.program__address.value = ADC_SHIFT_REGISTER
    dut.program__data.value = config["adc_shift"]
    await RisingEdge(dut.clk)
    dut.program__enable.value = 0
    await RisingEdge(dut.clk)
    while int(dut.busy.value):  # cell writes in flight
        await RisingEdge(dut.clk)

    spikes = (rng.random((STEPS, rows)) < np.linspace(0.1, 1.0, STEPS)[:, None]).astype(np.int64)
    received = np.zeros((STEPS, outputs), dtype=np.int64)
    for step in range(STEPS):
        events = [int(row) for row in np.flatnonzero(spikes[step])]
        events += events[:3]  # repeats are dropped: rows are binary
        dut.row_events__valid.value = 1
        for row in events:
            dut.row_events__payload.value = row
            await RisingEdge(dut.clk)  # ready is high while the tile is idle and convert is low
        dut.row_events__valid.value = 0
        await ReadOnly()
        while int(dut.busy.value):  # row events in flight: convert waits, as the sequencer
            await RisingEdge(dut.clk)
            await ReadOnly()
        await RisingEdge(dut.clk)
        dut.convert.value = 1
        await RisingEdge(dut.clk)
        dut.convert.value = 0
        seen = []
        cycles = 0
        while cycles < 3 or int(dut.busy.value):
            dut.results__ready.value = int(order.random() < 0.7)
            await ReadOnly()
            if int(dut.results__valid.value) and int(dut.results__ready.value):
                payload = int(dut.results__payload.value)
                index = payload & ((1 << index_bits) - 1)
                value = payload >> index_bits
                if value >> (value_bits - 1):
                    value -= 1 << value_bits
                seen.append(index)
                received[step, index] = value
            await RisingEdge(dut.clk)
            cycles += 1
            assert cycles < 50 * rows * cols, "tile never finished"
        assert seen == (list(range(outputs)) if events else [])
        dut._log.info("step %d: %d active rows, %d cycles", step, len(set(events)), cycles)

    conductances = arithmetic.crossbar_conductances(levels, cell_bits, config["sigma"],
                                                    config["variation_seed"])
    expected = arithmetic.crossbar_matvec(conductances, spikes, weight_bits, cell_bits, adc_bits,
                                          config["adc_shift"])
    assert np.array_equal(received, expected), \
        f"tile {received.tolist()} != golden {expected.tolist()}"


@pytest.mark.parametrize("sigma", [0.0, 0.2])
def test_crossbar_tile_on_verilator(sigma):
    from codesign.flows.verilator import run_cocotb
    from codesign.hw.rtl.crossbar_tile import CrossbarTile

    config = {"rows": 24, "cols": 40, "weight_bits": 8, "cell_bits": 2, "adc_bits": 5,
              "adc_shift": 1, "sigma": sigma, "variation_seed": 2024, "seed": 11}
    tile = CrossbarTile(rows=config["rows"], cols=config["cols"],
                        weight_bits=config["weight_bits"], cell_bits=config["cell_bits"],
                        adc_bits=config["adc_bits"], variation_sigma=sigma,
                        variation_seed=config["variation_seed"])
    assert config["adc_shift"] <= tile.max_adc_shift
    run_cocotb(tile, toplevel="crossbar_tile", test_module=Path(__file__).stem,
               test_dir=Path(__file__).parent,
               extra_env={CONFIG_VARIABLE: json.dumps(config)})
