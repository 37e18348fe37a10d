"""cocotb side of :mod:`codesign.flows.board_simulation` (run by it, never imported by it): the
simulated board's serial line on a pseudo-terminal.

Bytes the host writes to the pseudo-terminal go, one by one, into the host-side UART
transmitter as fast as it takes them (back to back at the line's rate); bytes the host-side
receiver decodes go back out. Python touches the design once per byte, never per bit. The
pseudo-terminal is polled every ``POLL_CYCLES``; when nothing is in flight anywhere, the
simulation waits for the host in ``select`` instead of spinning. It ends when the stop file
appears, its parent process is gone, or after an ``unplug_after`` fault, and writes the timeline
of bytes.
"""

from __future__ import annotations

import collections
import json
import os
import pty
import select
import tty
from fractions import Fraction

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, Event, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

#: Clock period of the model's own clock (codesign.flows.rtl_target.clocked_top), in ns.
PERIOD_NS = 10
POLL_CYCLES = 256
#: How long the simulation waits for the host, in one go, when everything is idle.
IDLE_WAIT_SECONDS = 0.005


def _cycle() -> int:
    return int(get_sim_time("ns")) // PERIOD_NS


@cocotb.test()
async def serve(dut):
    environment = os.environ
    faults = json.loads(environment["CODESIGN_BOARD_FAULTS"])
    period = Fraction(environment["CODESIGN_BOARD_CYCLES_PER_BIT"])
    corrupt_to_board = {int(n): int(bit) for n, bit in faults.get("corrupt_to_board", [])}
    corrupt_to_host = {int(n): int(mask) for n, mask in faults.get("corrupt_to_host", [])}
    unplug_after = faults.get("unplug_after")

    master, slave = pty.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    published = environment["CODESIGN_BOARD_PTY"]
    with open(published + ".tmp", "w") as handle:
        handle.write(os.ttyname(slave))
    os.replace(published + ".tmp", published)

    dut.to_board__valid.value = 0
    dut.fault_to_board.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0

    inbound = collections.deque()        # bytes from the host, not yet on the wire
    outbound = bytearray()               # bytes for the host, not yet written
    timeline = {"to_board": [], "to_host": []}
    arrived = Event()
    feeding = [False]

    async def invert_bit(bit: int) -> None:
        """The byte just taken starts next cycle: invert the middle half of bit ``bit``."""
        await Timer(int((1 + (1 + bit + Fraction(1, 4)) * period) * PERIOD_NS), "ns")
        dut.fault_to_board.value = 1
        await Timer(int(period / 2 * PERIOD_NS) or PERIOD_NS, "ns")
        dut.fault_to_board.value = 0

    async def feed() -> None:
        count = 0
        while True:
            if not inbound:
                feeding[0] = False
                arrived.clear()
                await arrived.wait()
                continue
            feeding[0] = True
            dut.to_board__payload.value = inbound.popleft()
            dut.to_board__valid.value = 1
            await ReadOnly()
            while not int(dut.to_board__ready.value):
                await RisingEdge(dut.to_board__ready)
                await ReadOnly()
            await RisingEdge(dut.clk)
            dut.to_board__valid.value = 0
            timeline["to_board"].append(_cycle())
            if count in corrupt_to_board:
                cocotb.start_soon(invert_bit(corrupt_to_board[count]))
            count += 1

    async def collect() -> None:
        count = 0
        while True:
            await RisingEdge(dut.to_host_valid)
            await ReadOnly()
            outbound.append(int(dut.to_host_data.value) ^ corrupt_to_host.get(count, 0))
            timeline["to_host"].append(_cycle())
            count += 1

    cocotb.start_soon(feed())
    cocotb.start_soon(collect())
    parent = os.getppid()
    received = 0
    polls = 0
    while True:
        await Timer(POLL_CYCLES * PERIOD_NS, "ns")
        polls += 1
        try:
            data = os.read(master, 1 << 16)
        except (BlockingIOError, OSError):   # OSError: nobody holds the terminal open yet
            data = b""
        if data:
            received += len(data)
            inbound.extend(data)
            arrived.set()
        if outbound:
            try:
                del outbound[:os.write(master, bytes(outbound))]
            except (BlockingIOError, OSError):
                pass
        if unplug_after is not None and received >= unplug_after:
            os.close(master)
            os.close(slave)
            break
        idle = not (data or inbound or outbound or feeding[0] or int(dut.busy.value))
        if idle:
            select.select([master], [], [], IDLE_WAIT_SECONDS)
        # Stop when asked, or when the process that started the simulation is gone.
        if (idle or polls % 1024 == 0) and (os.path.exists(environment["CODESIGN_BOARD_STOP"])
                                            or os.getppid() != parent):
            os.close(master)
            os.close(slave)
            break
    np.savez(environment["CODESIGN_BOARD_TIMELINE"], cycles=_cycle(),
             to_board=np.asarray(timeline["to_board"], dtype=np.int64),
             to_host=np.asarray(timeline["to_host"], dtype=np.int64))
