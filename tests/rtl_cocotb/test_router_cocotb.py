"""Router on Verilator under cocotb: random multicast traffic with random stalls on every port;
every destination must receive exactly the events the routing table sends it."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from codesign.arch import protocol as host_driver

CORES = 2
TABLE = [(0, 9, (0,), False), (5, 19, (1,), True), (100, 199, (0, 1), True)]
EVENTS = 400


def destinations_of(source: int) -> set:
    found = set()
    for first, last, cores, to_host in TABLE:
        if first <= source <= last:
            found |= set(cores) | ({"host"} if to_host else set())
    return found


@cocotb.test()
async def random_multicast_traffic(dut):
    Clock(dut.clk, 10, unit="ns").start()
    inputs = [(dut.core_events_in__0__valid, dut.core_events_in__0__payload,
               dut.core_events_in__0__ready),
              (dut.core_events_in__1__valid, dut.core_events_in__1__payload,
               dut.core_events_in__1__ready),
              (dut.host_events_in__valid, dut.host_events_in__payload, dut.host_events_in__ready)]
    outputs = {0: (dut.core_events_out__0__valid, dut.core_events_out__0__payload,
                   dut.core_events_out__0__ready),
               1: (dut.core_events_out__1__valid, dut.core_events_out__1__payload,
                   dut.core_events_out__1__ready),
               "host": (dut.host_events_out__valid, dut.host_events_out__payload,
                        dut.host_events_out__ready)}
    for valid, _, _ in inputs:
        valid.value = 0
    for _, _, ready in outputs.values():
        ready.value = 0
    dut.table_write__enable.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    for index, (first, last, cores, to_host) in enumerate(TABLE):
        dut.table_write__address.value = index
        dut.table_write__data.value = host_driver.routing_entry(first, last, cores, to_host, CORES)
        dut.table_write__enable.value = 1
        await RisingEdge(dut.clk)
    dut.table_write__enable.value = 0
    await RisingEdge(dut.clk)

    rng = random.Random(7)
    pending = [[rng.choice([*range(0, 25), *range(100, 200)]) for _ in range(EVENTS)]
               for _ in inputs]
    sent = [list(events) for events in pending]
    offering = [False] * len(inputs)
    received = {name: [] for name in outputs}
    quiet = 0
    cycles = 0
    while quiet < 8:
        for index, (valid, payload, _) in enumerate(inputs):
            if not offering[index] and pending[index] and rng.random() < 0.8:
                offering[index] = True
            valid.value = int(offering[index])
            payload.value = pending[index][0] if offering[index] else 0
        for _, _, ready in outputs.values():
            ready.value = int(rng.random() < 0.45)
        await ReadOnly()
        accepted = [offering[index] and int(ready.value) for index, (_, _, ready)
                    in enumerate(inputs)]
        delivered = {name: int(payload.value) for name, (valid, payload, ready)
                     in outputs.items() if int(valid.value) and int(ready.value)}
        idle = int(dut.idle.value)
        await RisingEdge(dut.clk)
        for index, taken in enumerate(accepted):
            if taken:
                pending[index].pop(0)
                offering[index] = False
        for name, event in delivered.items():
            received[name].append(event)
        done = not any(pending) and not any(offering)
        quiet = quiet + 1 if done and idle else 0
        cycles += 1
        assert cycles < 100 * EVENTS, "router deadlocked"

    for name, got in received.items():
        wanted = Counter(event for events in sent for event in events
                         if name in destinations_of(event))
        assert Counter(got) == wanted, f"destination {name}: events lost or duplicated"
    copies = sum(len(received[core]) for core in range(CORES))
    assert int(dut.deliveries.value) == copies
    dut._log.info("%d events in, %d copies out in %d cycles",
                  sum(map(len, sent)), copies + len(received["host"]), cycles)


def test_router_on_verilator():
    from codesign.flows.verilator import run_cocotb
    from codesign.hw.rtl.router import Router

    router = Router(cores=CORES, queue_depth=4, table_entries=4, write_data_bits=64)
    run_cocotb(router, toplevel="router", test_module=Path(__file__).stem,
               test_dir=Path(__file__).parent)
