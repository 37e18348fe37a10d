"""CrossbarTile in Amaranth's simulator, bit-exact against the golden ``crossbar_matvec``:
ideal devices (also against the exact integer matvec), device variation, ADC saturation with a
non-zero adc_shift, duplicate and out-of-range row events, back-pressure, event-driven timing."""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from codesign import arithmetic
from codesign.arch.config import HWConfig
from codesign.errors import CodesignError
from codesign.hw.rtl.crossbar_tile import (ADC_SHIFT_REGISTER, CELL_MEMORY, CrossbarTile,
                                           REGISTER_MEMORY, conversion_cycles)


def run_tile(tile: CrossbarTile, levels: np.ndarray, adc_shift: int, steps: list[list[int]],
             ready_probability: float = 1.0, seed: int = 1) -> tuple[list[dict], list[int]]:
    """Program ``levels`` (in a shuffled order), then for each step send its row events, pulse
    ``convert`` and collect the results. Returns ({index: value} per step, cycles per step)."""
    rng = random.Random(seed)
    results: list[dict] = []
    cycles: list[int] = []

    async def bench(ctx):
        cells = [(row, column) for row in range(levels.shape[0])
                 for column in range(levels.shape[1])]
        rng.shuffle(cells)  # the conductances must not depend on the write order
        for row, column in cells:
            ctx.set(tile.program.memory, CELL_MEMORY)
            ctx.set(tile.program.address, arithmetic.crossbar_cell_address(row, column,
                                                                            tile.rows))
            ctx.set(tile.program.data, int(levels[row, column]))
            ctx.set(tile.program.enable, 1)
            await ctx.tick()
        # Addresses beyond the tile's cells are ignored (they must not alias onto a cell).
        for address in (tile.depth, tile.depth + tile.rows + 1):
            ctx.set(tile.program.address, address)
            ctx.set(tile.program.data, (1 << tile.cell_bits) - 1)
            await ctx.tick()
        ctx.set(tile.program.memory, REGISTER_MEMORY)
        ctx.set(tile.program.address, ADC_SHIFT_REGISTER)
        ctx.set(tile.program.data, adc_shift)
        await ctx.tick()
        ctx.set(tile.program.enable, 0)
        await ctx.tick()
        for _ in range(tile.program_latency):
            await ctx.tick()
        assert not ctx.get(tile.busy)
        for events in steps:
            for row in events:
                ctx.set(tile.row_events.valid, 1)
                ctx.set(tile.row_events.payload, row)
                while not ctx.get(tile.row_events.ready):
                    await ctx.tick()
                await ctx.tick()
            ctx.set(tile.row_events.valid, 0)
            while ctx.get(tile.busy):  # row events in flight: convert waits, as the sequencer
                await ctx.tick()
            ctx.set(tile.convert, 1)
            await ctx.tick()
            ctx.set(tile.convert, 0)
            received = {}
            cycle = 0
            while cycle < 3 or ctx.get(tile.busy):
                ready = rng.random() < ready_probability
                ctx.set(tile.results.ready, ready)
                if ready and ctx.get(tile.results.valid):
                    index = ctx.get(tile.results.payload.index)
                    assert index not in received
                    received[index] = ctx.get(tile.results.payload.value)
                await ctx.tick()
                cycle += 1
                assert cycle < 100_000
            results.append(received)
            cycles.append(cycle)

    simulator = Simulator(tile)
    simulator.add_clock(1e-8)
    simulator.add_testbench(bench)
    simulator.run()
    return results, cycles


def spike_matrix(steps: list[list[int]], rows: int) -> np.ndarray:
    spikes = np.zeros((len(steps), rows), dtype=np.int64)
    for step, events in enumerate(steps):
        for row in events:
            if row < rows:
                spikes[step, row] = 1
    return spikes


def random_steps(rng: np.random.Generator, rows: int, count: int, activity: float) -> list:
    return [[int(row) for row in np.flatnonzero(rng.random(rows) < activity)]
            for _ in range(count)]


def as_matrix(results: list[dict], outputs: int) -> np.ndarray:
    """Results as [steps, outputs]; a step without active rows emits nothing (all zero)."""
    matrix = np.zeros((len(results), outputs), dtype=np.int64)
    for step, received in enumerate(results):
        assert sorted(received) in ([], list(range(outputs)))
        for index, value in received.items():
            matrix[step, index] = value
    return matrix


def test_ideal_tile_equals_exact_integer_matvec():
    rows, cols, weight_bits, cell_bits = 16, 32, 8, 2  # 4 outputs x 16 rows: 64 words
    tile = CrossbarTile(rows=rows, cols=cols, weight_bits=weight_bits, cell_bits=cell_bits,
                        adc_bits=12)
    rng = np.random.default_rng(3)
    weights = rng.integers(-127, 128, size=(rows, tile.output_count))
    weights[0, 0], weights[1, 0] = 127, -127
    levels = arithmetic.crossbar_levels(weights, rows, cols, weight_bits, cell_bits)
    # A row repeated back to back is checked against the flag its first event just set.
    steps = random_steps(rng, rows, 4, 0.5) + [list(range(rows)), [], [2, 2, 7, 2, 7, 7]]
    results, _ = run_tile(tile, levels, 0, steps)
    spikes = spike_matrix(steps, rows)
    # 16 rows x level 3 = 48 < 2^12: nothing saturates, so the tile computes the exact matvec.
    assert np.array_equal(as_matrix(results, tile.output_count), spikes @ weights)


@pytest.mark.parametrize("sigma,adc_bits,adc_shift,cell_bits,ready",
                         [(0.0, 3, 1, 3, 1.0), (0.15, 5, 0, 2, 0.6), (0.3, 4, 2, 1, 1.0)])
def test_tile_matches_golden_model(sigma, adc_bits, adc_shift, cell_bits, ready):
    rows, cols, weight_bits, seed = 10, 20, 6, 12345
    tile = CrossbarTile(rows=rows, cols=cols, weight_bits=weight_bits, cell_bits=cell_bits,
                        adc_bits=adc_bits, variation_sigma=sigma, variation_seed=seed)
    assert adc_shift <= tile.max_adc_shift
    rng = np.random.default_rng(int(sigma * 100) + adc_bits)
    weights = rng.integers(-31, 32, size=(rows - 2, tile.output_count))
    levels = arithmetic.crossbar_levels(weights, rows, cols, weight_bits, cell_bits)
    steps = random_steps(rng, rows, 4, 0.6) + [list(range(rows))]
    # Duplicates and out-of-range rows are dropped: rows are binary.
    steps[0] = steps[0] + steps[0][:2] + [rows, rows + 3]
    results, _ = run_tile(tile, levels, adc_shift, steps, ready_probability=ready, seed=7)
    conductances = arithmetic.crossbar_conductances(levels, cell_bits, sigma, seed)
    expected = arithmetic.crossbar_matvec(conductances, spike_matrix(steps, rows), weight_bits,
                                          cell_bits, adc_bits, adc_shift)
    assert np.array_equal(as_matrix(results, tile.output_count), expected)
    if sigma:
        assert not np.array_equal(conductances, levels << arithmetic.CONDUCTANCE_FRACTION_BITS)
    else:
        # With 3 ADC bits all rows active must saturate somewhere: the case is exercised.
        assert (spike_matrix(steps, rows) @ conductances >> (arithmetic.CONDUCTANCE_FRACTION_BITS
                                                             + adc_shift)).max() > 7


def test_conversion_is_event_driven():
    rows, cols = 64, 16
    tile = CrossbarTile(rows=rows, cols=cols, weight_bits=8, cell_bits=4, adc_bits=8)
    assert (tile.lanes, tile.output_count) == (4, 4)
    levels = arithmetic.crossbar_levels(np.ones((rows, tile.output_count), dtype=np.int64),
                                        rows, cols, 8, 4)
    active = [1, 2, 6, 9, 64]
    _, cycles = run_tile(tile, levels, 0, [list(range(count)) for count in active])
    # Each output reads one block RAM word (its 2S columns) per active row and needs at least
    # 2S cycles of the column converter; then a fixed pipeline fill.
    for count, measured in zip(active, cycles):
        assert tile.output_count * max(count, tile.lanes) <= measured
        assert measured == conversion_cycles(tile.output_count, tile.lanes, count)
    assert cycles[2] <= 0.15 * cycles[4]  # 10% activity


def test_from_config_and_bad_sizes():
    config = HWConfig.from_dict({"weight_bits": 8, "crossbar": {
        "tiles": 1, "rows": 16, "cols": 32, "cell_bits": 2, "adc_bits": 6,
        "variation_sigma": 0.1, "variation_seed": 9}})
    tile = CrossbarTile.from_config(config)
    assert (tile.rows, tile.output_count, tile.variation_seed) == (16, 4, 9)
    assert tile.variation_scale == arithmetic.variation_scale(0.1) > 0
    Fragment.get(tile, None)  # it elaborates
    with pytest.raises(CodesignError, match="columns"):
        CrossbarTile(rows=4, cols=7, weight_bits=8, cell_bits=2, adc_bits=6)
