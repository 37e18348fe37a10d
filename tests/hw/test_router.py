"""Router in Amaranth's simulator: multicast, back-pressure, no loss or duplication under random
stalls, round-robin fairness and the idle output."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from amaranth.sim import Simulator

from codesign.arch import protocol as host_driver
from codesign.arch.protocol import routing_entry_bits
from codesign.hw.rtl.router import Router

CORES = 3
DATA_BITS = 64
#: Router options: as the top level builds it with ("fast") and without ("small")
#: ``timing_registers``, and the stalling back-pressure with the two-cycle compare.
VARIANTS = {
    "fast": {},
    "stalling": {"stall_free": False},
    "small": {"stall_free": False, "write_register": False, "split_compare": False,
              "intake_copies": 1},
}


def table_for(cores: int) -> list[tuple[int, int, tuple[int, ...], bool]]:
    """(first, last, destination cores, to host): overlapping ranges OR their masks."""
    return [(0, 9, (0, 1), False),
            (5, 14, (2,), False),
            (10, 19, (1,), True),
            (30, 39, tuple(range(cores)), True)]


def expected_destinations(source: int, table) -> set:
    destinations = set()
    for first, last, cores, to_host in table:
        if first <= source <= last:
            destinations |= set(cores)
            if to_host:
                destinations.add("host")
    return destinations


async def load_table(ctx, dut: Router, table, cores: int) -> None:
    for index, (first, last, destination_cores, to_host) in enumerate(table):
        ctx.set(dut.table_write.address, index)
        ctx.set(dut.table_write.data, host_driver.routing_entry(first, last, destination_cores,
                                                                to_host, cores))
        ctx.set(dut.table_write.enable, 1)
        await ctx.tick()
    ctx.set(dut.table_write.enable, 0)
    await ctx.tick()


def run_traffic(events_per_port: list[list[int]], *, offer_probability: float,
                ready_probability: float, blocked_cycles: dict | None = None, seed: int = 1,
                queue_depth: int = 4, variant: str = "fast", table=None):
    """Drive every input and output from one testbench (no races between processes).

    Returns (received per destination in order, cycles, idle seen at the end, idle history,
    input stall seen)."""
    dut = Router(cores=CORES, queue_depth=queue_depth, table_entries=8, write_data_bits=DATA_BITS,
                 **VARIANTS[variant])
    table = table or table_for(CORES)
    rng = random.Random(seed)
    inputs = [*dut.core_events_in, dut.host_events_in]
    outputs = [*dut.core_events_out, dut.host_events_out]
    names = [*range(CORES), "host"]
    received = {name: [] for name in names}
    result = {}

    async def bench(ctx):
        await load_table(ctx, dut, table, CORES)
        assert ctx.get(dut.idle)
        pending = [list(events) for events in events_per_port]
        offering = [False] * len(inputs)
        cycle = 0
        stalled_with_offer = False
        quiet = 0
        while quiet < 10:
            for index, port in enumerate(inputs):
                # A stream source must hold valid until the transfer happens.
                if not offering[index] and pending[index] and rng.random() < offer_probability:
                    offering[index] = True
                ctx.set(port.valid, offering[index])
                ctx.set(port.payload, pending[index][0] if offering[index] else 0)
            for index, port in enumerate(outputs):
                blocked = blocked_cycles and cycle < blocked_cycles.get(names[index], 0)
                ctx.set(port.ready, (not blocked) and rng.random() < ready_probability)
            _, _, *sampled = await ctx.tick().sample(
                *(port.ready for port in inputs), *(port.valid for port in outputs),
                *(port.payload for port in outputs), *(port.ready for port in outputs))
            in_ready = sampled[:len(inputs)]
            out_valid = sampled[len(inputs):len(inputs) + len(outputs)]
            out_payload = sampled[len(inputs) + len(outputs):len(inputs) + 2 * len(outputs)]
            out_ready = sampled[len(inputs) + 2 * len(outputs):]
            for index in range(len(inputs)):
                if offering[index] and in_ready[index]:
                    pending[index].pop(0)
                    offering[index] = False
                elif offering[index]:
                    stalled_with_offer = True
            for index in range(len(outputs)):
                if out_valid[index] and out_ready[index]:
                    received[names[index]].append(out_payload[index])
            done = not any(pending) and not any(offering)
            quiet = quiet + 1 if done and not any(out_valid) else 0
            cycle += 1
            assert cycle < 20000, "router deadlocked"
        result.update(cycles=cycle, idle=ctx.get(dut.idle), stalled=stalled_with_offer,
                      deliveries=ctx.get(dut.deliveries))

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(bench)
    simulator.run()
    return received, result, table


def check_delivery(events_per_port, received, table) -> None:
    """Every destination gets exactly the events routed to it, and in each source port's order."""
    for name, got in received.items():
        wanted = Counter(event for events in events_per_port for event in events
                         if name in expected_destinations(event, table))
        assert Counter(got) == wanted, f"destination {name}: lost or duplicated events"
        for events in events_per_port:
            mine = [event for event in events if name in expected_destinations(event, table)]
            order = [event for event in got if event in set(mine)]
            if len(set(mine)) == len(mine):
                assert order == mine, f"destination {name}: order of one source changed"


def test_multicast_routes_each_event_to_its_table_destinations():
    events = [[0, 7, 12], [15, 33], [], [5, 19, 25, 30]]   # 25 matches no entry: dropped
    received, result, table = run_traffic(events, offer_probability=1.0, ready_probability=1.0)
    assert sorted(received[0]) == [0, 5, 7, 30, 33]
    assert sorted(received[1]) == [0, 5, 7, 12, 15, 19, 30, 33]
    assert sorted(received[2]) == [5, 7, 12, 30, 33]
    assert sorted(received["host"]) == [12, 15, 19, 30, 33]
    assert result["deliveries"] == 5 + 8 + 5   # core copies only
    assert result["idle"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("seed", range(6))
def test_no_loss_or_duplication_under_random_stalls(seed, variant):
    rng = random.Random(100 + seed)
    unique = rng.sample(range(40), 40)
    events = [unique[port * 10:(port + 1) * 10] for port in range(CORES + 1)]
    events[1] += [rng.choice(events[1]) for _ in range(30)]   # repeats of its own ids too
    received, result, table = run_traffic(events, offer_probability=0.7, ready_probability=0.3,
                                          seed=seed, queue_depth=2 if seed % 2 else 8,
                                          variant=variant)
    check_delivery(events, received, table)
    assert result["idle"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_ranges_across_the_high_byte(variant):
    """Bounds and ids on both sides of high-byte boundaries (the split compare's halves)."""
    table = [(0x01F0, 0x0310, (0,), False), (0x1234, 0x1234, (1,), False),
             (0x00FF, 0x0100, (2,), False), (0xFE01, 0xFFFF, (), True),
             (0x02FF, 0x0400, (1,), False)]
    edges = {bound + delta for first, last, _, _ in table for bound in (first, last)
             for delta in (-257, -256, -255, -1, 0, 1, 255, 256, 257)}
    ids = sorted(edge for edge in edges if 0 <= edge < 1 << 16)
    events = [ids[port::CORES + 1] for port in range(CORES + 1)]
    received, result, table = run_traffic(events, offer_probability=0.9, ready_probability=0.8,
                                          variant=variant, table=table)
    check_delivery(events, received, table)
    assert any(received.values())


def test_back_pressure_stalls_inputs_without_losing_events():
    # Core 0 accepts nothing for 300 cycles: its queue fills, the pipeline stops, inputs stall.
    events = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 3, [], [], []]
    received, result, table = run_traffic(events, offer_probability=1.0, ready_probability=1.0,
                                          blocked_cycles={0: 300})
    assert result["stalled"], "a full destination queue must stall the inputs"
    assert received[0] == events[0]
    assert received[1] == events[0]
    assert result["cycles"] > 300


def test_round_robin_serves_every_port():
    dut = Router(cores=CORES, queue_depth=16, table_entries=2, write_data_bits=DATA_BITS)
    grants = []

    async def bench(ctx):
        await load_table(ctx, dut, [(0, 100, (), False)], CORES)
        for port in [*dut.core_events_in, dut.host_events_in]:
            ctx.set(port.valid, 1)
        for _ in range(12):
            _, _, *ready = await ctx.tick().sample(
                *(port.ready for port in [*dut.core_events_in, dut.host_events_in]))
            assert sum(ready) <= 1
            grants.append(ready.index(1) if any(ready) else None)

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(bench)
    simulator.run()
    # The grant is registered: the first one comes a cycle after the valids rise. Every port
    # always offers: then one grant per cycle, rotating through all ports.
    assert grants[0] is None
    assert grants[1:9] == [0, 1, 2, 3, 0, 1, 2, 3]
    assert None not in grants[1:]


@pytest.mark.parametrize("stall_free", [True, False])
def test_a_single_streaming_port_gets_one_event_per_cycle(stall_free):
    """The port just granted stays a candidate, so a lone source is not slowed down."""
    dut = Router(cores=CORES, queue_depth=16, table_entries=2, write_data_bits=DATA_BITS,
                 stall_free=stall_free)
    taken = []

    async def bench(ctx):
        await load_table(ctx, dut, [(0, 100, (0,), False)], CORES)
        ctx.set(dut.core_events_out[0].ready, 1)
        port = dut.core_events_in[1]
        ctx.set(port.valid, 1)
        for _ in range(12):
            _, _, ready = await ctx.tick().sample(port.ready)
            taken.append(ready)

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(bench)
    simulator.run()
    assert taken == [0] + [1] * 11


def test_entry_width_matches_driver():
    assert routing_entry_bits(CORES) == 32 + CORES + 1
    word = host_driver.routing_entry(3, 9, [2], True, CORES)
    assert word == 3 | 9 << 16 | 0b1100 << 32
