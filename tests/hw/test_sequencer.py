"""Phase sequencer in Amaranth's simulator, with behavioural cores and tiles: phase order,
segment index at the fire pulse, the barrier, conversions, cycle counts, timestep slots, clear."""

from __future__ import annotations

import pytest
from amaranth.sim import Simulator

from codesign.arch import protocol as hd
from codesign.hw.rtl.sequencer import SETTLE_CYCLES, Sequencer

CORES, TILES, SEGMENT_BITS, DELAY_SLOTS = 3, 2, 3, 3


def run(phases: list[tuple[list[int], int, list[int]]], steps: int, busy_cycles: int = 5,
        clear: bool = False, registered_writes: bool = False):
    dut = Sequencer(cores=CORES, tiles=TILES, segment_bits=SEGMENT_BITS, phase_table_depth=8,
                    delay_slots=DELAY_SLOTS, write_data_bits=32,
                    registered_writes=registered_writes)
    log = {"events": [], "cycles": [], "slots": []}

    async def host(ctx):
        words = [hd.phase_entry(cores, segment, tiles, CORES, TILES, SEGMENT_BITS)
                 for cores, segment, tiles in phases]
        writes = [(hd.PHASE_TABLE, address, word) for address, word in enumerate(words)]
        writes.append((hd.SEQUENCER_REGISTERS, hd.PHASE_COUNT_REGISTER, len(phases)))
        if clear:
            writes.append((hd.SEQUENCER_REGISTERS, hd.CLEAR_REGISTER, 0))
        current_memory = None
        for memory, address, data in writes:
            if memory != current_memory:
                current_memory = memory
                # The bus contract: `memory` is set a cycle before its writes.
                ctx.set(dut.program.enable, 0)
                ctx.set(dut.program.memory, memory)
                await ctx.tick()
            ctx.set(dut.program.address, address)
            ctx.set(dut.program.data, data)
            ctx.set(dut.program.enable, 1)
            await ctx.tick()
        ctx.set(dut.program.enable, 0)
        for _ in range(steps):
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            await ctx.tick().until(dut.done)
            await ctx.tick()
            log["cycles"].append(ctx.get(dut.last_step_cycles))
            log["slots"].append(ctx.get(dut.timestep_slot))
        log["timestep"] = ctx.get(dut.timestep)
        log["total"] = ctx.get(dut.total_cycles)

    async def units(ctx):
        """Cores and tiles stay busy for `busy_cycles` after their pulse, raised one cycle late
        (like the real core); the input player is busy for 3 cycles."""
        remaining = {("core", k): 0 for k in range(CORES)}
        remaining.update({("tile", j): 0 for j in range(TILES)})
        remaining["input"] = 0
        cycle = 0
        async for _, _, fire, segment, convert, play, wipe in ctx.tick().sample(
                dut.fire, dut.segment, dut.convert, dut.input_play, dut.clear):
            cycle += 1
            barrier_now = all(value == 0 for value in remaining.values())
            for key in remaining:
                remaining[key] = max(0, remaining[key] - 1)
            for core in range(CORES):
                if fire >> core & 1:
                    log["events"].append(("fire", core, segment, barrier_now))
                    remaining[("core", core)] = busy_cycles
            for tile in range(TILES):
                if convert >> tile & 1:
                    log["events"].append(("convert", tile, barrier_now))
                    remaining[("tile", tile)] = busy_cycles
            if play:
                log["events"].append(("play",))
                remaining["input"] = 3
            if wipe:
                log["events"].append(("clear",))
                for core in range(CORES):
                    remaining[("core", core)] = 40
            ctx.set(dut.cores_busy, sum(1 << k for k in range(CORES) if remaining[("core", k)]))
            ctx.set(dut.cores_settled, (1 << CORES) - 1)
            ctx.set(dut.tiles_busy, sum(1 << j for j in range(TILES) if remaining[("tile", j)]))
            ctx.set(dut.input_busy, remaining["input"] != 0)
            ctx.set(dut.router_idle, 1)

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(host)
    simulator.add_testbench(units, background=True)
    simulator.run()
    return log


@pytest.mark.parametrize("registered_writes", [False, True])
def test_phases_run_in_order_after_the_barrier(registered_writes):
    phases = [([0, 2], 5, []), ([1], 2, [0, 1]), ([0], 7, [])]
    log = run(phases, steps=2, registered_writes=registered_writes)
    one_step = [("play",), ("fire", 0, 5, True), ("fire", 2, 5, True), ("fire", 1, 2, True),
                ("convert", 0, True), ("convert", 1, True), ("fire", 0, 7, True)]
    assert log["events"] == one_step * 2
    assert log["timestep"] == 2
    assert log["cycles"][0] == log["cycles"][1]
    assert log["total"] == sum(log["cycles"])


@pytest.mark.parametrize("registered_writes", [False, True])
def test_cycle_count_grows_with_busy_time(registered_writes):
    phases = [([0], 0, [])]
    short = run(phases, steps=1, busy_cycles=4, registered_writes=registered_writes)["cycles"][0]
    long = run(phases, steps=1, busy_cycles=24, registered_writes=registered_writes)["cycles"][0]
    assert long - short == 20
    # start, play, settle + player busy, fetch, fire, its output register, settle + busy,
    # finish: a tight bound.
    assert short <= 1 + 1 + max(SETTLE_CYCLES, 3) + 1 + 1 + 1 + 1 + max(SETTLE_CYCLES, 4) + 2


@pytest.mark.parametrize("registered_writes", [False, True])
def test_timestep_slot_wraps_and_no_phases_is_allowed(registered_writes):
    log = run([], steps=7, registered_writes=registered_writes)
    assert log["slots"] == [1, 2, 0, 1, 2, 0, 1]
    assert log["events"] == [("play",)] * 7


@pytest.mark.parametrize("registered_writes", [False, True])
def test_clear_is_waited_for_and_not_counted(registered_writes):
    phases = [([0], 1, [])]
    cleared = run(phases, steps=1, clear=True, registered_writes=registered_writes)
    plain = run(phases, steps=1, registered_writes=registered_writes)
    assert ("clear",) in cleared["events"]
    assert cleared["cycles"] == plain["cycles"]
