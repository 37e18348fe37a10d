"""A testbench for one-stream-in, one-stream-out components (``i`` -> ``o``): random offers and
stalls on both sides, checking on the way that ``i.ready`` does not follow ``o.ready`` within a
cycle (it must be a register)."""

from __future__ import annotations

import random
from typing import Callable

from amaranth.hdl import Value
from amaranth.sim import Simulator


def run_stream(dut, items: list[int], offer: float, accept: float, seed: int, cycles: int,
               observe: Callable = lambda ctx: (), registered_ready: bool = True
               ) -> tuple[list[int], list[tuple]]:
    """Returns (received, one ``(transfer in, transfer out, *observe(ctx))`` per cycle); stops
    once every item came out, or after ``cycles``. ``registered_ready=False`` skips the check
    that ``i.ready`` is a register."""
    rng = random.Random(seed)
    received, history = [], []
    payload_in, payload_out = (Value.cast(port.payload) for port in (dut.i, dut.o))

    async def bench(ctx):
        pending = list(items)
        for _ in range(cycles):
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
            if registered_ready:
                ready_before = ctx.get(dut.i.ready)
                ctx.set(dut.o.ready, not accepting)
                assert ctx.get(dut.i.ready) == ready_before, "i.ready follows o.ready"
                ctx.set(dut.o.ready, accepting)
            history.append((taken_in, taken_out, *observe(ctx)))
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
