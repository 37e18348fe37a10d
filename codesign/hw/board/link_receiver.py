"""The board's frame receiver: bytes from the UART -> checked frames (:mod:`codesign.arch.link`).

Per byte: a ``FLAG`` ends the frame, an ``ESCAPE`` marks the next byte as escaped, any other byte
(unescaped) is the frame's next byte. The first is the frame's kind. The rest pass through a
two-byte delay line, so that when the closing flag comes the two CRC bytes are the ones still
in it: of a ``DATA`` frame only what leaves the delay line is written to the
:class:`~codesign.hw.board.link_fifo.LinkFIFO`, and the flag commits it if its checksum is right and
no error has been flagged since the last reset. So after a damaged frame nothing reaches the
accelerator until the host resets the link. The checksum (:class:`SerialCRC16`, the host's
definition) runs over every byte of the frame; over a whole intact frame it is 0.

``status`` holds the sticky error flags (``link.FRAMING_ERROR`` ...); a correct
``RESET`` frame pulses ``reset``, which clears them (the bridge also resets the buffer and the
transmitter with it, BoardCore the accelerator where the board can).
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from codesign.arch import link
from codesign.hw.board.serial_crc import SerialCRC16


class LinkReceiver(wiring.Component):
    """UART bytes in; the buffer's write side, ``reset`` and ``status`` out."""

    def __init__(self):
        super().__init__({
            "data": In(stream.Signature(8, always_ready=True)),
            "framing_error": In(1),
            "write_data": Out(8),
            "write_enable": Out(1),
            "full": In(1),
            "commit": Out(1),
            "reset": Out(1),
            "status": Out(4),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.crc = crc = SerialCRC16()
        byte = self.data.payload
        escaped = Signal()
        # Bytes of the frame so far (kind included), saturating at 4: a RESET frame has
        # exactly 3, any frame at least 3.
        length = Signal(range(5))
        is_data = Signal()
        is_reset = Signal()
        newer, older = Signal(8), Signal(8)    # the delay line (full from the third byte on)

        m.d.sync += [self.commit.eq(0), self.reset.eq(0)]
        m.d.comb += self.write_data.eq(older)
        with m.If(self.framing_error):
            m.d.sync += self.status.eq(self.status | link.FRAMING_ERROR)

        value = byte ^ Mux(escaped, link.ESCAPE_XOR, 0)
        m.d.comb += crc.byte.eq(value)
        with m.If(self.data.valid):
            with m.If(byte == link.FLAG):
                self._end_of_frame(m, crc.crc, length, is_data, is_reset, escaped)
                m.d.comb += crc.clear.eq(1)
                m.d.sync += [escaped.eq(0), length.eq(0)]
            with m.Elif(byte == link.ESCAPE):
                m.d.sync += escaped.eq(1)
            with m.Else():
                m.d.comb += crc.start.eq(1)
                m.d.sync += [escaped.eq(0), length.eq(Mux(length == 4, 4, length + 1))]
                with m.If(length == 0):
                    m.d.sync += [is_data.eq(value == link.DATA),
                                 is_reset.eq(value == link.RESET)]
                with m.Else():
                    m.d.sync += [newer.eq(value), older.eq(newer)]
                    with m.If((length >= 3) & is_data):
                        # `older` leaves the delay line: it is payload, not CRC.
                        with m.If(self.full):
                            m.d.sync += self.status.eq(self.status | link.OVERRUN)
                        with m.Else():
                            m.d.comb += self.write_enable.eq(1)
        return m

    def _end_of_frame(self, m: Module, crc, length, is_data, is_reset, escaped) -> None:
        """At a flag: act on the frame that it closes (an empty frame is nothing). A frame that
        lost a byte (framing error, overrun) has the error flagged already; its checksum fails
        too, and says so."""
        well_formed = (length >= 3) & ~escaped
        with m.If(length != 0):
            with m.If(~well_formed):
                m.d.sync += self.status.eq(self.status | link.BAD_FRAME)
            with m.Elif(crc != 0):
                m.d.sync += self.status.eq(self.status | link.BAD_CHECKSUM)
            with m.Elif(is_reset & (length == 3)):
                m.d.sync += [self.reset.eq(1), self.status.eq(0)]
            with m.Elif(is_data):
                with m.If(self.status == 0):
                    m.d.sync += self.commit.eq(1)
            with m.Else():
                m.d.sync += self.status.eq(self.status | link.BAD_FRAME)
