"""StreamPipe in Amaranth's simulator: order, no loss or duplication under random stalls on both
sides, ``stages + 1`` cycles of latency, full throughput, and ``ready`` independent of the
consumer."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import unsigned

from codesign.hw.lib.stream_pipe import StreamPipe
from stream_bench import run_stream


def run(items: list[int], stages: int, offer: float, accept: float, seed: int):
    """Returns (received, cycles of (transfer in, transfer out))."""
    return run_stream(StreamPipe(unsigned(12), stages), items, offer, accept, seed,
                      cycles=20 * len(items) + 20 * stages)


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
