"""The board's receive buffer: command bytes from checked frames, on their way to the accelerator.

Bytes are written as they arrive, beyond the *committed* end; a frame's bytes become readable
only when the frame is ``commit``-ted (its checksum was right). A damaged frame is simply never
committed: the receiver commits nothing more until the link's reset, which ``clear``-s the
buffer. Three running counts, modulo ``2 * depth``, do the book-keeping: ``written``,
``committed`` and ``taken`` (read out of the memory).

The memory sees at most one access per cycle (a write has priority; a read waits a cycle), so
it may be a single-port RAM: block RAM in simulation and on ECP5, one SB_SPRAM256KA on the
iCE40 UP5K, whose 30 block RAMs the accelerator already uses (``spram=True``). Bytes arrive at
most once per UART frame (40 cycles or more) and leave at up to one every three cycles.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.hdl import ClockSignal, Instance
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from codesign.arch import link
from codesign.hw.rtl.layouts import COLLISION_FREE

SPRAM_WORDS = 16384


class LinkFIFO(wiring.Component):
    """``write_data`` / ``write_enable`` in (dropped while ``full``), ``commit`` at the end of a
    good frame, ``clear`` on a link reset; ``read`` out; ``empty``: no committed byte is left in
    the memory."""

    def __init__(self, depth: int, spram: bool = False):
        self.depth = link.check_fifo_depth(depth)
        self.spram = spram
        if spram and depth > SPRAM_WORDS:
            raise ValueError(f"an SB_SPRAM256KA holds {SPRAM_WORDS} bytes, not {depth}")
        self.count_bits = link.count_bits(depth)
        super().__init__({
            "write_data": In(8),
            "write_enable": In(1),
            "full": Out(1),
            "commit": In(1),
            "clear": In(1),
            "read": Out(stream.Signature(8)),
            "empty": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        address_bits = self.depth.bit_length() - 1
        written, committed, taken = (Signal(self.count_bits, name=name)
                                     for name in ("written", "committed", "taken"))
        m.d.comb += [
            self.empty.eq(taken == committed),
            # `written - taken == depth`: equal addresses, different laps.
            self.full.eq((written[:address_bits] == taken[:address_bits])
                         & (written[address_bits] != taken[address_bits])),
        ]
        write = Signal()
        read = Signal()
        pending = Signal()                  # a read was issued last cycle
        m.d.comb += [
            write.eq(self.write_enable & ~self.full),
            read.eq(~write & ~pending & ~self.read.valid & ~self.empty),
        ]
        read_data = self._memory(m, written[:address_bits], taken[:address_bits], write, read)

        with m.If(write):
            m.d.sync += written.eq(written + 1)
        with m.If(read):
            m.d.sync += taken.eq(taken + 1)
        m.d.sync += pending.eq(read)
        with m.If(pending):
            m.d.sync += [self.read.payload.eq(read_data), self.read.valid.eq(1)]
        with m.Elif(self.read.ready):
            m.d.sync += self.read.valid.eq(0)
        with m.If(self.commit):
            m.d.sync += committed.eq(written)
        with m.If(self.clear):
            m.d.sync += [written.eq(0), committed.eq(0), taken.eq(0), pending.eq(0),
                         self.read.valid.eq(0)]
        return m

    def _memory(self, m: Module, write_address, read_address, write, read):
        """The byte read by ``read`` (valid the next cycle)."""
        if self.spram:
            data_out = Signal(16)
            address = Signal(14)
            m.d.comb += address.eq(Mux(write, write_address, read_address))
            m.submodules.spram = Instance(
                "SB_SPRAM256KA",
                i_ADDRESS=address, i_DATAIN=Cat(self.write_data, Const(0, 8)),
                i_MASKWREN=Const(0b0011, 4), i_WREN=write, i_CHIPSELECT=write | read,
                i_CLOCK=ClockSignal(), i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1,
                o_DATAOUT=data_out)
            return data_out[:8]
        m.submodules.memory = memory = Memory(shape=8, depth=self.depth, init=[],
                                              attrs=COLLISION_FREE)
        write_port = memory.write_port()
        read_port = memory.read_port()
        m.d.comb += [write_port.addr.eq(write_address), write_port.data.eq(self.write_data),
                     write_port.en.eq(write), read_port.addr.eq(read_address),
                     read_port.en.eq(read)]
        return read_port.data
