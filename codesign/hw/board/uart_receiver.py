"""8N1 UART receiver: bytes from the ``rx`` pin, at a bit period that need not be a whole number
of clock cycles.

The bit period is kept in fixed point (``BitTiming``): a timer counts down one cycle at a time in
units of ``2^-fraction_bits`` cycles, and every bit boundary adds the period back, so the error
does not accumulate over a byte. At 25 MHz, 3 Mbaud is 8 1/3 cycles per bit: whole cycles alone
(8) would be 4 % fast, outside the tolerance of a UART; 5 fraction bits leave 0.1 %.

The start bit is seen through a two-flip-flop synchroniser; each bit is sampled half a period
after its start. A byte whose stop bit is low is dropped and pulses ``framing_error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from codesign.errors import CodesignError

#: Below this many clock cycles per bit the receiver cannot find the middle of a bit.
MIN_CYCLES_PER_BIT = 4
#: The largest error of the quantised bit period, as a share of a bit over a 10-bit frame.
MAX_FRAME_DRIFT = 0.02


@dataclass(frozen=True)
class BitTiming:
    """One bit lasts ``period / 2^fraction_bits`` clock cycles."""

    period: int
    fraction_bits: int

    @classmethod
    def from_cycles(cls, cycles_per_bit: float | Fraction) -> BitTiming:
        """The coarsest fixed point that keeps a frame's drift under ``MAX_FRAME_DRIFT``."""
        exact = Fraction(cycles_per_bit).limit_denominator(1 << 20)
        if exact < MIN_CYCLES_PER_BIT:
            raise CodesignError(f"the UART bit period of {float(exact):.3g} clock cycles is "
                                f"below {MIN_CYCLES_PER_BIT}",
                                "lower the baud rate or raise the clock frequency")
        for fraction_bits in range(9):
            period = round(exact * (1 << fraction_bits))
            drift = 10 * abs(Fraction(period, 1 << fraction_bits) - exact)
            if drift <= MAX_FRAME_DRIFT * exact:
                return cls(period, fraction_bits)
        return cls(round(exact * 256), 8)

    @property
    def one(self) -> int:
        """One clock cycle in the timer's units."""
        return 1 << self.fraction_bits

    @property
    def cycles(self) -> Fraction:
        return Fraction(self.period, self.one)

    def timer(self, name: str) -> Signal:
        return Signal(range(self.period + self.one), name=name)

    def tick(self, m: Module, timer: Signal) -> Signal:
        """A pulse at every bit boundary of ``timer`` (which must be loaded at a bit's start)."""
        boundary = Signal(name=f"{timer.name}_boundary")
        m.d.comb += boundary.eq((timer >> self.fraction_bits) == 0)
        with m.If(boundary):
            m.d.sync += timer.eq(timer + self.period - self.one)
        with m.Else():
            m.d.sync += timer.eq(timer - self.one)
        return boundary


class UARTReceiver(wiring.Component):
    """``rx`` -> ``data`` (one ``valid`` cycle per byte; the consumer must take it)."""

    def __init__(self, cycles_per_bit: float | Fraction):
        self.timing = BitTiming.from_cycles(cycles_per_bit)
        super().__init__({"rx": In(1, init=1),
                          "data": Out(stream.Signature(8, always_ready=True)),
                          "framing_error": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        timing = self.timing
        rx = Signal(init=1)
        m.submodules.rx_sync = FFSynchronizer(self.rx, rx, init=1)

        timer = timing.timer("rx_timer")
        boundary = timing.tick(m, timer)
        bit_index = Signal(range(8))
        shift = Signal(8)
        m.d.comb += self.data.payload.eq(shift)
        m.d.sync += [self.data.valid.eq(0), self.framing_error.eq(0)]

        with m.FSM(name="rx_fsm"):
            with m.State("IDLE"):
                with m.If(~rx):
                    # The first sample half a bit after the edge (which came in the last cycle):
                    # overrides the timer's own update.
                    m.d.sync += timer.eq(timing.period // 2 - timing.one)
                    m.next = "START"
            with m.State("START"):
                with m.If(boundary):
                    with m.If(rx):
                        m.next = "IDLE"            # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += bit_index.eq(0)
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(boundary):
                    m.d.sync += [shift.eq(Cat(shift[1:], rx)), bit_index.eq(bit_index + 1)]
                    with m.If(bit_index == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(boundary):
                    with m.If(rx):
                        m.d.sync += self.data.valid.eq(1)
                    with m.Else():
                        m.d.sync += self.framing_error.eq(1)
                    m.next = "IDLE"
        return m
