"""SplitMemory: words written through the replicated inputs read back whole, two cycles after
their address, and a reset writes nothing."""

import random

from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from codesign.hw.lib.split_memory import SplitMemory

WIDTH, DEPTH = 37, 8   # an odd width: the two column groups differ in size


async def write_words(ctx, dut: SplitMemory, words: list[int]) -> None:
    """One word per cycle from address 0, then the write enable low."""
    ctx.set(dut.write_enable, 1)
    for address, word in enumerate(words):
        ctx.set(dut.write_address, address)
        ctx.set(dut.write_data, word)
        await ctx.tick()
    ctx.set(dut.write_enable, 0)


def test_words_read_back_two_cycles_after_their_address():
    dut = SplitMemory(WIDTH, DEPTH)
    rng = random.Random(5)
    words = [rng.randrange(1 << WIDTH) for _ in range(DEPTH)]
    read = []

    async def testbench(ctx):
        await write_words(ctx, dut, words)
        order = [rng.randrange(DEPTH) for _ in range(12)]
        for address in order + [0, 0]:
            ctx.set(dut.read_address, address)
            await ctx.tick()
            read.append(ctx.get(dut.read_data))
        # An address set in cycle c is registered at the end of c and read at the end of c + 1:
        # its word is on read_data in cycle c + 2, sampled after the tick that follows c + 1.
        assert read[1:13] == [words[address] for address in order]

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()
    assert len(read) == 14


def test_a_reset_writes_nothing():
    dut = SplitMemory(WIDTH, DEPTH)
    top = Module()
    top.domains.sync = domain = ClockDomain()
    top.submodules.dut = dut
    words = [random.Random(address).randrange(1 << WIDTH) for address in range(DEPTH)]
    seen = []

    async def testbench(ctx):
        await write_words(ctx, dut, words)
        ctx.set(dut.write_data, (1 << WIDTH) - 1)
        await ctx.tick()
        ctx.set(domain.rst, 1)   # every replica returns to its initial value
        await ctx.tick()
        ctx.set(domain.rst, 0)
        for _ in range(3):
            await ctx.tick()
        for address in range(DEPTH):
            ctx.set(dut.read_address, address)
            await ctx.tick()
            await ctx.tick()
            seen.append(ctx.get(dut.read_data))

    simulator = Simulator(top)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()
    assert seen == words
