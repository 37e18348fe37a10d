"""8N1 UART transmitter: bytes onto the ``tx`` pin, least significant bit first, at the same
fixed-point bit period as :class:`~codesign.hw.board.uart_receiver.UARTReceiver`."""

from __future__ import annotations

from fractions import Fraction

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from codesign.hw.board.uart_receiver import BitTiming


class UARTTransmitter(wiring.Component):
    """``data`` -> ``tx``; ``data.ready`` while the line is idle (one byte in flight)."""

    def __init__(self, cycles_per_bit: float | Fraction):
        self.timing = BitTiming.from_cycles(cycles_per_bit)
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        timing = self.timing
        timer = timing.timer("tx_timer")
        boundary = timing.tick(m, timer)
        # start bit, 8 data bits, stop bit, least significant first
        frame = Signal(10, init=0b11_1111_1111)
        bits_left = Signal(range(11))

        m.d.comb += [self.tx.eq(frame[0]), self.data.ready.eq(bits_left == 0)]
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [frame.eq((1 << 9) | (self.data.payload << 1)), bits_left.eq(10),
                         timer.eq(timing.period - timing.one)]
        with m.Elif((bits_left != 0) & boundary):
            m.d.sync += [frame.eq(frame >> 1 | (1 << 9)), bits_left.eq(bits_left - 1)]
        return m
