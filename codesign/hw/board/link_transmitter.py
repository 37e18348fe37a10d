"""The board's frame transmitter: the accelerator's answers and the link's state, as frames
(:mod:`codesign.arch.link`) to the UART.

Between frames it sends a ``LINK`` frame if one is due (after a reset, or when an error flag
was set since the last one), else an ``ANSWER`` frame if the accelerator offers a response word.
An ``ANSWER`` frame takes response words while they keep coming, up to ``MAX_ANSWER_BYTES``,
then closes; a word is taken from the accelerator only when its bytes can go out, so the
accelerator waits (it never drops an answer).

Every byte of a frame passes the stuffer (``FLAG`` and ``ESCAPE`` go out as ``ESCAPE, byte ^
0x20``); the checksum (:class:`SerialCRC16`) runs over the kind and the payload.
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import enum, stream, wiring
from amaranth.lib.wiring import In, Out

from codesign.arch import link
from codesign.hw.board.serial_crc import SerialCRC16


class State(enum.Enum):
    IDLE = 0
    OPEN = 1        # the opening flag
    KIND = 2
    PAYLOAD = 3
    CRC_HIGH = 4
    CRC_LOW = 5
    CLOSE = 6       # the closing flag


class LinkTransmitter(wiring.Component):
    """``answers`` (the accelerator's response words) and ``status`` in, ``data`` (bytes for
    the UART) out; ``reset`` (the link's RESET) makes a LINK frame due."""

    def __init__(self, host_width: int, identity: link.Identity):
        self.host_width = host_width
        self.identity = identity
        super().__init__({
            "answers": In(stream.Signature(host_width)),
            "status": In(4),
            "reset": In(1),
            "data": Out(stream.Signature(8)),
            "busy": Out(1),          # a frame is going out or due
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.crc = crc = SerialCRC16()
        bytes_per_word = self.host_width // 8

        state = Signal(State)
        is_link = Signal()                             # else an ANSWER frame
        index = Signal(range(link.MAX_ANSWER_BYTES))   # payload byte of the frame
        word = Signal(self.host_width)                 # the answer word going out
        escaping = Signal()                            # the ESCAPE went out, the byte is next
        reset_seen = Signal()
        sent_status = Signal(4)
        link_due = reset_seen | (self.status != sent_status)
        m.d.comb += self.busy.eq((state != State.IDLE) | link_due)

        # The LINK payload: constants but for the status in the high half of byte 1.
        constant = self.identity.link_payload()
        link_bytes = Array([Const(constant[0], 8), Cat(Const(constant[1] & 0xF, 4), sent_status),
                            *(Const(byte, 8) for byte in constant[2:])])
        logical = Signal(8)           # the frame byte before stuffing
        with m.Switch(state):
            with m.Case(State.KIND):
                m.d.comb += logical.eq(Mux(is_link, link.LINK, link.ANSWER))
            with m.Case(State.PAYLOAD):
                m.d.comb += logical.eq(Mux(is_link, link_bytes[index[:3]], word))
            with m.Case(State.CRC_HIGH):
                m.d.comb += logical.eq(crc.crc[8:])
            with m.Case(State.CRC_LOW):
                m.d.comb += logical.eq(crc.crc[:8])
        special = (logical == link.FLAG) | (logical == link.ESCAPE)
        flag = (state == State.OPEN) | (state == State.CLOSE)
        m.d.comb += [
            self.data.payload.eq(Mux(flag, link.FLAG, Mux(
                escaping, logical ^ link.ESCAPE_XOR, Mux(special, link.ESCAPE, logical)))),
            # The checksum bytes wait for the checksum.
            self.data.valid.eq((state != State.IDLE) & ~crc.busy),
            crc.byte.eq(logical),
        ]
        sent = self.data.valid & self.data.ready
        advance = Signal()            # the current frame byte has gone out
        with m.If(sent & ~flag):
            with m.If(special & ~escaping):
                m.d.sync += escaping.eq(1)
            with m.Else():
                m.d.sync += escaping.eq(0)
                m.d.comb += advance.eq(1)

        take_word = Signal()
        m.d.comb += self.answers.ready.eq(take_word)
        with m.Switch(state):
            with m.Case(State.IDLE):
                m.d.comb += crc.clear.eq(1)
                m.d.sync += index.eq(0)
                with m.If(link_due):
                    m.d.sync += [is_link.eq(1), reset_seen.eq(0), sent_status.eq(self.status),
                                 state.eq(State.OPEN)]
                with m.Elif(self.answers.valid):
                    m.d.comb += take_word.eq(1)
                    m.d.sync += [is_link.eq(0), word.eq(self.answers.payload),
                                 state.eq(State.OPEN)]
            with m.Case(State.OPEN):
                with m.If(sent):
                    m.d.sync += state.eq(State.KIND)
            with m.Case(State.KIND):
                with m.If(advance):
                    m.d.comb += crc.start.eq(1)
                    m.d.sync += state.eq(State.PAYLOAD)
            with m.Case(State.PAYLOAD):
                with m.If(advance):
                    m.d.comb += crc.start.eq(1)
                    m.d.sync += [index.eq(index + 1), word.eq(word >> 8)]
                    self._next_payload_byte(m, state, is_link, index, word, take_word)
            with m.Case(State.CRC_HIGH):
                with m.If(advance):
                    m.d.sync += state.eq(State.CRC_LOW)
            with m.Case(State.CRC_LOW):
                with m.If(advance):
                    m.d.sync += state.eq(State.CLOSE)
            with m.Case(State.CLOSE):
                with m.If(sent):
                    m.d.sync += state.eq(State.IDLE)

        with m.If(self.reset):
            # The byte on the line finishes; the frame it belonged to is abandoned (the host's
            # decoder drops it) and a LINK frame goes out next.
            m.d.sync += [reset_seen.eq(1), sent_status.eq(0), escaping.eq(0),
                         state.eq(State.IDLE)]
        return m

    def _next_payload_byte(self, m: Module, state, is_link, index, word, take_word) -> None:
        """After a payload byte: the next one, or the checksum."""
        bytes_per_word = self.host_width // 8
        with m.If(is_link):
            with m.If(index == link.LINK_BYTES - 1):
                m.d.sync += state.eq(State.CRC_HIGH)
        with m.Elif(index[:(bytes_per_word - 1).bit_length()] == bytes_per_word - 1):
            # The last byte of an answer word: the next word, if there is one and room for it.
            room = index < link.MAX_ANSWER_BYTES - bytes_per_word
            with m.If(self.answers.valid & room):
                m.d.comb += take_word.eq(1)
                m.d.sync += word.eq(self.answers.payload)
            with m.Else():
                m.d.sync += state.eq(State.CRC_HIGH)
