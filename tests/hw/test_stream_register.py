"""StreamRegister in Amaranth's simulator: order, no loss or duplication under random stalls on
both sides, one cycle of latency, full throughput, and ``ready`` independent of the consumer."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import unsigned
from amaranth.lib import data

from codesign.hw.lib.stream_register import StreamRegister
from stream_bench import run_stream


def run(items: list[int], offer: float, accept: float, seed: int, shape=unsigned(12),
        skid: bool = True):
    """Returns (received, cycles of (transfer in, transfer out, occupied))."""
    dut = StreamRegister(shape, skid=skid)
    return run_stream(dut, items, offer, accept, seed, cycles=20 * len(items) + 20,
                      observe=lambda ctx: (ctx.get(dut.occupied),), registered_ready=skid)


@pytest.mark.parametrize("seed", range(6))
def test_random_stalls_keep_order_without_loss(seed):
    items = [random.Random(seed).randrange(1 << 12) for _ in range(200)]
    received, _ = run(items, offer=0.7, accept=0.5, seed=seed)
    assert received == items


def test_full_throughput_and_one_cycle_latency():
    items = list(range(50))
    received, history = run(items, offer=1.0, accept=1.0, seed=0)
    assert received == items
    ins = [cycle for cycle, (taken_in, _, _) in enumerate(history) if taken_in]
    outs = [cycle for cycle, (_, taken_out, _) in enumerate(history) if taken_out]
    assert ins == list(range(50))
    assert outs == [cycle + 1 for cycle in ins]


def test_occupied_while_an_item_is_held():
    received, history = run([5, 6, 7], offer=1.0, accept=0.3, seed=3)
    assert received == [5, 6, 7]
    held = 0
    for taken_in, taken_out, occupied in history:
        assert bool(occupied) == (held > 0)
        held += int(taken_in) - int(taken_out)
    assert held == 0


def test_struct_payload():
    layout = data.StructLayout({"index": unsigned(4), "value": unsigned(8)})
    items = [random.Random(9).randrange(1 << 12) for _ in range(60)]
    received, _ = run(items, offer=0.8, accept=0.6, seed=9, shape=layout)
    assert received == items


@pytest.mark.parametrize("seed", range(3))
def test_without_skid_entry_keeps_order_without_loss(seed):
    items = [random.Random(seed).randrange(1 << 12) for _ in range(200)]
    received, _ = run(items, offer=0.7, accept=0.5, seed=seed, skid=False)
    assert received == items


def test_without_skid_entry_full_throughput_and_one_cycle_latency():
    items = list(range(50))
    received, history = run(items, offer=1.0, accept=1.0, seed=0, skid=False)
    assert received == items
    ins = [cycle for cycle, (taken_in, _, _) in enumerate(history) if taken_in]
    outs = [cycle for cycle, (_, taken_out, _) in enumerate(history) if taken_out]
    assert ins == list(range(50))
    assert outs == [cycle + 1 for cycle in ins]
