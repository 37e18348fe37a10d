"""Register replicas: each equals the value a cycle later, and Yosys keeps every one of them."""

import random

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from codesign.flows.synthesis import synthesize
from codesign.hw.lib.replicas import MAX_REPLICAS, replicas

WIDTH = 8


class Fanout(wiring.Component):
    """Four replicas of an 8-bit input, each on its own output bits."""

    value: In(WIDTH)
    outputs: Out(WIDTH * MAX_REPLICAS)

    def elaborate(self, platform):
        m = Module()
        copies = replicas(m, self.value, MAX_REPLICAS, "copy")
        for index, copy in enumerate(copies):
            m.d.comb += self.outputs[index * WIDTH:(index + 1) * WIDTH].eq(copy)
        return m


def test_every_replica_is_the_value_one_cycle_later():
    dut = Fanout()
    values = [random.Random(seed).randrange(1 << WIDTH) for seed in range(20)]
    seen = []

    async def testbench(ctx):
        for value in values:
            ctx.set(dut.value, value)
            await ctx.tick()
            outputs = ctx.get(dut.outputs)
            seen.append([outputs >> (index * WIDTH) & 0xFF for index in range(MAX_REPLICAS)])

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()
    assert seen == [[value] * MAX_REPLICAS for value in values]


def test_synthesis_keeps_every_replica(tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(tmp_path))
    # Plain copies would merge into WIDTH flip-flops (Yosys' opt_merge).
    assert synthesize(Fanout(), "ecp5").ffs == WIDTH * MAX_REPLICAS


def test_at_most_four_replicas():
    m = Module()
    with pytest.raises(ValueError, match="count must be 1..4"):
        replicas(m, 0, MAX_REPLICAS + 1, "too_many")
    m._MustUse__used = True  # nothing to elaborate
