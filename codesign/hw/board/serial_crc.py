"""Bit-serial CRC-16 of the link (:func:`codesign.arch.link.crc16_step`): one message bit
per cycle, so a byte takes 8 cycles. Bytes come at most once per UART frame (40 cycles or more),
and on the iCE40 UP5K, whose logic cells the accelerator nearly fills, this is a third of the
cells of a byte-wide CRC.
"""

from __future__ import annotations

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from codesign.arch import link

_TAPS = link.crc16_step_taps()


class SerialCRC16(wiring.Component):
    """``start`` with ``byte``: ``crc`` takes the byte in over the next 8 cycles (``busy``);
    ``clear`` sets it to the initial value."""

    def __init__(self):
        super().__init__({"byte": In(8), "start": In(1), "clear": In(1),
                          "crc": Out(16), "busy": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        # Cleared before every message; its power-up value does not matter (and 0 keeps iCE40
        # flip-flops, which power up cleared, from being inverted).
        crc = Signal(16)
        bits = Signal(8)                 # the byte's bits still to go, most significant first
        left = Signal(range(9))
        m.d.comb += [self.crc.eq(crc), self.busy.eq(left != 0)]
        bit = bits[7]
        with m.If(left != 0):
            m.d.sync += [crc.eq(Cat((crc & mask).xor() ^ (bit if with_bit else 0)
                                    for mask, with_bit in _TAPS)),
                         bits.eq(bits << 1), left.eq(left - 1)]
        with m.If(self.start):
            m.d.sync += [bits.eq(self.byte), left.eq(8)]
        with m.If(self.clear):
            m.d.sync += [crc.eq(link.CRC_INIT), left.eq(0)]
        return m
