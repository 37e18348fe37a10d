"""StreamPipe in Amaranth's simulator: order, no loss or duplication under random stalls on both
sides, ``stages + 1`` cycles of latency, full throughput, and ``ready`` independent of the
consumer."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import Value, unsigned
from amaranth.sim import Simulator

from codesign.hw.stream_pipe import StreamPipe


def run(items: list[int], stages: int, offer: float, accept: float, seed: int):
    """Drive ``i`` and ``o`` from one testbench; returns (received, cycles of (transfer in,
    transfer out))."""
    dut = StreamPipe(unsigned(12), stages)
    rng = random.Random(seed)
    received, history = [], []
    payload_in, payload_out = (Value.cast(port.payload) for port in (dut.i, dut.o))

    async def bench(ctx):
        pending = list(items)
        for _ in range(20 * len(items) + 20 * stages):
            offering = bool(pending) and rng.random() < offer
            accepting = rng.random() < accept
            ctx.set(dut.i.valid, offering)
            if offering:
                ctx.set(payload_in, pending[0])
            ctx.set(dut.o.ready, accepting)
            taken_in = offering and ctx.get(dut.i.ready)
            taken_out = ctx.get(dut.o.valid) and accepting
            if taken_out:
                received.append(ctx.get(payload_out))
            # i.ready is a register: flipping o.ready within the cycle must not change it.
            ready_before = ctx.get(dut.i.ready)
            ctx.set(dut.o.ready, not accepting)
            assert ctx.get(dut.i.ready) == ready_before
            ctx.set(dut.o.ready, accepting)
            history.append((taken_in, taken_out))
            if taken_in:
                pending.pop(0)
            await ctx.tick()
            if not pending and len(received) == len(items):
                break

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return received, history


@pytest.mark.parametrize("stages, seed", [(1, 0), (2, 1), (3, 2), (3, 3), (5, 4)])
def test_random_stalls_keep_order_without_loss(stages, seed):
    items = [random.Random(seed).randrange(1 << 12) for _ in range(300)]
    received, _ = run(items, stages, offer=0.7, accept=0.5, seed=seed)
    assert received == items


@pytest.mark.parametrize("stages", [1, 3])
def test_full_throughput_after_the_latency(stages):
    items = list(range(100))
    received, history = run(items, stages, offer=1.0, accept=1.0, seed=0)
    assert received == items
    ins = [cycle for cycle, (taken_in, _) in enumerate(history) if taken_in]
    outs = [cycle for cycle, (_, taken_out) in enumerate(history) if taken_out]
    assert ins == list(range(100))
    assert outs == [cycle + stages + 2 for cycle in ins]


def test_a_stalled_consumer_fills_the_sink_and_stops_the_source():
    """With the output never read, exactly ``capacity`` items are taken, none lost."""
    pipe = StreamPipe(unsigned(12), 2)
    pipe._MustUse__used = True   # only asked for its capacity
    received, history = run(list(range(40)), 2, offer=1.0, accept=0.0, seed=5)
    assert received == []
    assert sum(taken_in for taken_in, _ in history) == pipe.capacity


def test_needs_a_stage():
    with pytest.raises(ValueError, match="at least one stage"):
        StreamPipe(unsigned(8), 0)
