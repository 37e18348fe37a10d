"""The board's serial link (UARTBridge: UART, frames, buffer, checksums) in Amaranth's
simulator. The host side is written independently of the RTL: bytes go onto ``rx`` from exact bit
times and ``tx`` is read back the same way (tests/hw/serial_line.py), frames are encoded and
decoded with codesign.arch.link, the host's definition."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction

import pytest
from amaranth.sim import Simulator
from serial_line import decode_levels, line_levels

from codesign.arch import link
from codesign.errors import CodesignError
from codesign.hw.board.uart_bridge import UARTBridge

PERIOD = Fraction(5)
IDENTITY = link.Identity(version=link.LINK_VERSION, capabilities=link.CAN_RESET_ACCELERATOR,
                         config_hash=0x1234ABCD, fifo_depth=64)
RESET = link.encode_frame(link.RESET)


@dataclass
class Session:
    """What a simulated host saw: command words delivered, link frames received, resets."""

    commands: list[int] = field(default_factory=list)
    frames: list[link.Frame] = field(default_factory=list)
    resets: int = 0

    def answers(self) -> bytes:
        return b"".join(f.payload for f in self.frames if f.kind == link.ANSWER)

    def states(self) -> list[link.LinkState]:
        return [link.LinkState.from_payload(f.payload) for f in self.frames
                if f.kind == link.LINK]


def run(host_bytes: bytes, host_width: int = 32, responses: list[int] = (),
        ready_chance: float = 1.0, seed: int = 0, tail_cycles: int = 4000,
        levels: list[int] | None = None) -> Session:
    """Play ``host_bytes`` (or raw line ``levels``) into a bridge, offer ``responses`` words,
    take command words when a coin with ``ready_chance`` says so."""
    bridge = UARTBridge(PERIOD, host_width, IDENTITY)
    levels = levels if levels is not None else line_levels(host_bytes, PERIOD)
    rng = random.Random(seed)
    session = Session()
    tx_levels = []

    async def testbench(ctx):
        pending = list(responses)
        for cycle in range(len(levels) + tail_cycles):
            ctx.set(bridge.rx, levels[cycle] if cycle < len(levels) else 1)
            ready = rng.random() < ready_chance
            ctx.set(bridge.commands.ready, ready)
            offering = bool(pending)
            if offering:
                ctx.set(bridge.responses.payload, pending[0])
            ctx.set(bridge.responses.valid, offering)
            command_valid = ctx.get(bridge.commands.valid)
            command = ctx.get(bridge.commands.payload)
            response_ready = ctx.get(bridge.responses.ready)
            session.resets += ctx.get(bridge.reset)
            await ctx.tick()
            tx_levels.append(ctx.get(bridge.tx))
            if command_valid and ready:
                session.commands.append(command)
            if offering and response_ready:
                pending.pop(0)

    simulator = Simulator(bridge)
    simulator.add_clock(1e-6)
    simulator.add_testbench(testbench)
    simulator.run()
    session.frames = link.FrameDecoder().feed(bytes(decode_levels(tx_levels, PERIOD)))
    return session


def words_of(data: bytes, host_width: int) -> list[int]:
    size = host_width // 8
    return [int.from_bytes(data[i:i + size], "little") for i in range(0, len(data), size)]


@pytest.mark.parametrize("host_width", [8, 16, 32])
def test_data_frames_become_command_words_in_order(host_width: int):
    rng = random.Random(host_width)
    # FLAG and ESCAPE inside the payload are stuffed by the encoder and restored by the board.
    payload = bytes([link.FLAG, link.ESCAPE, 0, 0xFF] + [rng.randrange(256) for _ in range(20)])
    data = RESET + link.encode_frame(link.DATA, payload[:12]) \
        + link.encode_frame(link.DATA, payload[12:])
    session = run(data, host_width)
    assert session.commands == words_of(payload, host_width)
    assert session.resets == 1
    assert [(s.identity, s.status) for s in session.states()] == [(IDENTITY, 0)]
    assert all(frame.intact for frame in session.frames)


@pytest.mark.parametrize("host_width", [8, 32])
def test_answers_go_out_in_answer_frames_of_bounded_length(host_width: int):
    rng = random.Random(7)
    words = [rng.randrange(1 << host_width) for _ in range(2 * link.MAX_ANSWER_BYTES
                                                        // (host_width // 8) + 3)]
    words[0] = link.FLAG | link.ESCAPE << 8 if host_width == 32 else link.FLAG
    session = run(b"", host_width, responses=words,
                  tail_cycles=int(len(words) * host_width // 8 * 12 * PERIOD) + 2000)
    frames = [f for f in session.frames if f.kind == link.ANSWER]
    assert all(f.intact for f in frames)
    assert words_of(session.answers(), host_width) == words
    assert len(frames) >= 3 and max(len(f.payload) for f in frames) <= link.MAX_ANSWER_BYTES


def test_a_damaged_frame_is_never_delivered_and_is_reported():
    good = link.encode_frame(link.DATA, bytes(range(1, 9)))
    damaged = bytearray(link.encode_frame(link.DATA, bytes(range(11, 19))))
    damaged[4] ^= 0x04                     # one payload bit flipped on the line
    after = link.encode_frame(link.DATA, bytes(range(21, 29)))
    session = run(RESET + good + bytes(damaged) + after + RESET + after, 8)
    # The damaged frame and the good one after it are dropped; after the reset, delivery
    # resumes.
    assert session.commands == list(range(1, 9)) + list(range(21, 29))
    assert [s.status for s in session.states()] == [0, link.BAD_CHECKSUM, 0]


def test_a_missing_stop_bit_is_a_framing_error():
    frame = link.encode_frame(link.DATA, b"\x01\x02\x03\x04")
    levels = line_levels(RESET, PERIOD) + line_levels(frame[:3], PERIOD) \
        + line_levels(frame[3:4], PERIOD, stop=0, idle=0) + line_levels(frame[4:], PERIOD)
    session = run(b"", 8, levels=levels)
    assert session.commands == []
    assert session.states()[-1].status & link.FRAMING_ERROR


def test_a_host_that_overruns_the_buffer_is_told_so():
    """The host ignores the flow control: 80 bytes into a 64-byte buffer the accelerator does
    not drain. No byte beyond the buffer reaches the accelerator."""
    session = run(RESET + link.encode_frame(link.DATA, bytes(80)), 8, ready_chance=0.0)
    assert session.commands == []
    assert session.states()[-1].status & link.OVERRUN


def test_a_slow_accelerator_loses_no_word():
    """The accelerator takes a word in one cycle of 40 on average while the host fills the
    buffer to the brim: every word arrives, in order."""
    rng = random.Random(5)
    payload = bytes(rng.randrange(256) for _ in range(64))
    frames = b"".join(link.encode_frame(link.DATA, payload[i:i + 16]) for i in range(0, 64, 16))
    session = run(RESET + frames, 32, ready_chance=1 / 40, tail_cycles=8000)
    assert session.commands == words_of(payload, 32)
    assert [s.status for s in session.states()] == [0]


@pytest.mark.parametrize("frame, flag", [
    (link.encode_frame(0x33, b"\x01\x02"), link.BAD_FRAME),            # unknown kind
    (link.encode_frame(link.RESET, b"\x00"), link.BAD_FRAME),          # RESET with a payload
    (bytes([link.FLAG, link.DATA, link.FLAG]), link.BAD_FRAME),        # no checksum
])
def test_malformed_frames_are_reported(frame: bytes, flag: int):
    session = run(RESET + frame + link.encode_frame(link.DATA, b"\x05"), 8)
    assert session.commands == []
    assert session.states()[-1].status == flag


def test_bad_host_width_is_refused():
    with pytest.raises(CodesignError, match="host_width = 12"):
        UARTBridge(PERIOD, 12, IDENTITY)
