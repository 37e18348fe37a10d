"""cocotb side of the host protocol: sends field lists through the Accelerator's ``command``
stream and collects the ``response`` stream, for the cocotb testbenches and
``codesign run --target rtl``.

Python never touches the design cycle by cycle while it computes: commands go out as fast as the
stream takes them, and the response collector sleeps until ``response.valid`` rises, so a STEP
runs at Verilator speed. Encoding and decoding stay in :mod:`codesign.arch.protocol`.
"""

from __future__ import annotations

from typing import Any, Sequence

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, ReadOnly, RisingEdge

from codesign.arch import protocol as host_driver


class HostStream:
    """The host end of the Accelerator's command/response streams (Verilog port names
    ``command__valid`` etc., as Amaranth flattens the signature)."""

    def __init__(self, dut: Any, host_width: int):
        self.dut = dut
        self.host_width = host_width
        self._words: list[int] = []
        self._arrived = Event()
        self._collector = None

    async def start(self, clock_period_ns: int = 10, clock: bool = True) -> None:
        """Start the clock (unless the design makes its own: ``clock=False``), reset the design
        and start the response collector."""
        dut = self.dut
        if clock:
            Clock(dut.clk, clock_period_ns, unit="ns").start()
        dut.command__valid.value = 0
        dut.response__ready.value = 1
        dut.rst.value = 1
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await RisingEdge(dut.clk)
        self._collector = cocotb.start_soon(self._collect())

    async def _collect(self) -> None:
        valid, payload = self.dut.response__valid, self.dut.response__payload
        while True:
            await ReadOnly()
            if int(valid.value):
                # ready is always high: the word transfers at the next edge.
                self._words.append(int(payload.value))
                self._arrived.set()
                await RisingEdge(self.dut.clk)
            else:
                await RisingEdge(valid)

    async def send(self, fields: Sequence[int]) -> None:
        """Send command fields (encoded by host_driver) as stream words."""
        dut = self.dut
        for word in host_driver.to_words(fields, self.host_width):
            dut.command__payload.value = word
            dut.command__valid.value = 1
            await ReadOnly()
            while not int(dut.command__ready.value):
                # Sleep through a running STEP instead of polling every cycle.
                await RisingEdge(dut.command__ready)
                await ReadOnly()
            await RisingEdge(dut.clk)
        dut.command__valid.value = 0

    async def receive(self, count: int) -> list[int]:
        """The next ``count`` response fields (waits for them)."""
        per_field = host_driver.FIELD_BITS // self.host_width
        waited = False
        while len(self._words) < count * per_field:
            self._arrived.clear()
            await self._arrived.wait()
            waited = True
        if waited:
            # The collector woke us in the read-only phase: move to a writable one.
            await RisingEdge(self.dut.clk)
        taken = self._words[:count * per_field]
        del self._words[:count * per_field]
        return host_driver.from_words(taken, self.host_width)

    async def receive_output(self) -> host_driver.OutputEvents:
        """The answer of READ_OUTPUT: fields up to and including the end marker."""
        fields = []
        while not fields or not fields[-1] & host_driver.END_MARKER:
            fields.extend(await self.receive(1))
        return host_driver.decode_output(fields)

    async def step(self, steps: int = 1) -> host_driver.StepStatus:
        await self.send(host_driver.encode_step(steps))
        return host_driver.decode_step(await self.receive(1))

    async def read_output(self) -> host_driver.OutputEvents:
        await self.send(host_driver.encode_read_output())
        return await self.receive_output()

    async def read_counters(self) -> dict[str, int]:
        await self.send(host_driver.encode_read_counters())
        return host_driver.decode_counters(await self.receive(len(host_driver.COUNTER_NAMES)))

    async def read_words(self, core: int, memory: int, first: int, count: int,
                         word_bits: int) -> list[int]:
        """READ_STATE of ``count`` words of ``memory`` (raw, unsigned)."""
        await self.send(host_driver.encode_read_state(core, first, count, word_bits, memory))
        fields = await self.receive(count * host_driver.fields_per_word(word_bits))
        return host_driver.decode_words(fields, word_bits)
