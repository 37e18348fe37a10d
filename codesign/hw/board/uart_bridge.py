"""UART <-> host stream bridge of the board wrapper, with flow control: no command word is lost
at any baud rate (docs/board.md, "Link layer").

::

    rx ─► UARTReceiver ─► LinkReceiver ─► LinkFIFO ─► bytes to words ─► commands
    tx ◄─ UARTTransmitter ◄─ LinkTransmitter ◄────────────────────────── responses

Neither supported board can pause the host's UART: the ULX3S wires only the FT231X's RTS and
DTR to the FPGA (inputs, no CTS back to the FTDI chip), the iCEBreaker only RX and TX. So flow
control is in the link protocol (:mod:`codesign.arch.link`): the board buffers ``fifo_depth`` bytes,
and the host, which learns from every answer how far the accelerator has read, never has more
than that in flight. Frames carry a CRC-16 that the board checks before the accelerator sees a
byte; errors (framing, overrun, checksum) come back in a LINK frame as status flags.

A RESET frame empties the buffer and the partly gathered word, clears the status, pulses
``reset`` (BoardCore resets the accelerator with it where the board can) and makes the board
send a LINK frame (its identity: config hash, buffer depth).
"""

from __future__ import annotations

from fractions import Fraction

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from codesign.arch import link
from codesign.errors import CodesignError
from codesign.hw.board.link_fifo import LinkFIFO
from codesign.hw.board.link_receiver import LinkReceiver
from codesign.hw.board.link_transmitter import LinkTransmitter
from codesign.hw.board.uart_receiver import UARTReceiver
from codesign.hw.board.uart_transmitter import UARTTransmitter


class UARTBridge(wiring.Component):
    """8N1 UART at ``cycles_per_bit`` clock cycles per bit (``clock / baud``, need not be whole)
    <-> ``host_width``-bit command / response streams, bytes little-endian."""

    def __init__(self, cycles_per_bit: float | Fraction, host_width: int,
                 identity: link.Identity, spram: bool = False):
        if host_width not in (8, 16, 32):
            self._MustUse__silence = True  # a bridge rejected here was never meant to be used
            raise CodesignError(f"UART bridge host_width = {host_width} is not allowed",
                                "use one of 8, 16, 32")
        self.host_width = host_width
        self.identity = identity
        self.receiver = UARTReceiver(cycles_per_bit)
        self.transmitter = UARTTransmitter(cycles_per_bit)
        self.fifo = LinkFIFO(identity.fifo_depth, spram=spram)
        self.link_transmitter = LinkTransmitter(host_width, identity)
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "commands": Out(stream.Signature(host_width)),
            "responses": In(stream.Signature(host_width)),
            "reset": Out(1),
            "status": Out(4),
            "busy": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.receiver = receiver = self.receiver
        m.submodules.link_receiver = frames = LinkReceiver()
        m.submodules.fifo = fifo = self.fifo
        m.submodules.link_transmitter = sender = self.link_transmitter
        m.submodules.transmitter = transmitter = self.transmitter

        m.d.comb += [
            receiver.rx.eq(self.rx),
            frames.data.payload.eq(receiver.data.payload),
            frames.data.valid.eq(receiver.data.valid),
            frames.framing_error.eq(receiver.framing_error),
            fifo.write_data.eq(frames.write_data),
            fifo.write_enable.eq(frames.write_enable),
            frames.full.eq(fifo.full),
            fifo.commit.eq(frames.commit),
            fifo.clear.eq(frames.reset),
            sender.status.eq(frames.status),
            sender.reset.eq(frames.reset),
            self.reset.eq(frames.reset),
            self.status.eq(frames.status),
            self.tx.eq(transmitter.tx),
        ]
        wiring.connect(m, wiring.flipped(self.responses), sender.answers)
        wiring.connect(m, sender.data, transmitter.data)
        partial = self._gather_words(m, fifo.read, frames.reset)
        m.d.comb += self.busy.eq(~fifo.empty | fifo.read.valid | partial
                                 | self.commands.valid | sender.busy | ~transmitter.data.ready)
        return m

    def _gather_words(self, m: Module, data: stream.Interface, clear: Signal) -> Signal:
        """Buffered bytes -> ``commands`` words, least significant byte first; returns "a word
        is partly gathered"."""
        commands = self.commands
        if self.host_width == 8:
            wiring.connect(m, data, wiring.flipped(commands))
            return Signal()
        per_word = self.host_width // 8
        earlier = Signal(self.host_width - 8)        # the word's bytes so far
        position = Signal(range(per_word))
        m.d.comb += data.ready.eq(~commands.valid)
        with m.If(commands.valid & commands.ready):
            m.d.sync += commands.valid.eq(0)
        with m.If(data.valid & data.ready):
            with m.If(position == per_word - 1):
                m.d.sync += [commands.payload.eq(Cat(earlier, data.payload)),
                             commands.valid.eq(1), position.eq(0)]
            with m.Else():
                m.d.sync += [earlier.eq(Cat(earlier[8:], data.payload)),
                             position.eq(position + 1)]
        with m.If(clear):
            m.d.sync += [position.eq(0), commands.valid.eq(0)]
        return position != 0
