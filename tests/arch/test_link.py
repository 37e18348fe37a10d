"""The link protocol's pure-Python side: the CRC definition and its derived tables, frame
encoding and decoding, the LINK payload, the config hash."""

from __future__ import annotations

import dataclasses
import random

import pytest

from codesign.arch import link
from codesign.arch.config import HWConfig
from codesign.errors import CodesignError


def test_crc_is_ccitt_false_and_the_library_crc_agrees_with_the_definition():
    data = b"123456789"
    value = link.CRC_INIT
    for byte in data:
        value = link.crc16_update(value, byte)
    assert value == 0x29B1 == link.crc16(data)     # the published check value
    rng = random.Random(1)
    for _ in range(50):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        value = link.CRC_INIT
        for byte in data:
            value = link.crc16_update(value, byte)
        assert value == link.crc16(data)


def test_step_taps_reproduce_the_step():
    taps = link.crc16_step_taps()
    rng = random.Random(2)
    for _ in range(200):
        crc, bit = rng.randrange(1 << 16), rng.randrange(2)
        derived = sum(((bin(crc & mask).count("1") + (bit if with_bit else 0)) & 1) << index
                      for index, (mask, with_bit) in enumerate(taps))
        assert derived == link.crc16_step(crc, bit)


def test_frames_round_trip_with_flags_and_escapes_in_the_payload():
    payload = bytes([link.FLAG, link.ESCAPE, link.FLAG ^ link.ESCAPE_XOR, 0, 0xFF]) * 3
    wire = link.encode_frame(link.DATA, payload) + link.encode_frame(link.RESET)
    assert wire.count(bytes([link.FLAG])) == 4          # flags only at frame ends
    frames = link.FrameDecoder().feed(wire)
    assert frames == [link.Frame(link.DATA, payload), link.Frame(link.RESET, b"")]


def test_the_decoder_drops_bytes_before_the_first_flag_and_keeps_partial_frames():
    decoder = link.FrameDecoder()
    wire = link.encode_frame(link.ANSWER, b"abc")
    assert decoder.feed(b"\x12\x34" + wire[:4]) == []
    assert decoder.feed(wire[4:]) == [link.Frame(link.ANSWER, b"abc")]


def test_every_single_byte_corruption_is_detected():
    wire = link.encode_frame(link.ANSWER, bytes(range(40)))
    for position in range(1, len(wire) - 1):
        for flip in (0x01, 0x10, 0x80, 0xFF):
            damaged = bytearray(wire)
            damaged[position] ^= flip
            frames = link.FrameDecoder().feed(bytes(damaged))
            assert not any(f.intact and f.payload != bytes(range(40)) for f in frames)
            assert not (len(frames) == 1 and frames[0].intact)


def test_link_payload_round_trips():
    identity = link.Identity(link.LINK_VERSION, link.CAN_RESET_ACCELERATOR, 0xDEADBEEF, 8192)
    state = link.LinkState.from_payload(identity.link_payload(link.OVERRUN | link.BAD_FRAME))
    assert state.identity == identity and state.identity.resets_accelerator
    assert link.status_text(state.status) == "buffer overrun, malformed frame"
    with pytest.raises(CodesignError, match="LINK frame has 3 bytes"):
        link.LinkState.from_payload(b"abc")


def test_config_hash_compares_values():
    config = HWConfig()
    assert link.config_hash(config) == link.config_hash(
        dataclasses.replace(config, clock_mhz=float(config.clock_mhz)))
    assert link.config_hash(config) != link.config_hash(
        dataclasses.replace(config, neurons_per_core=config.neurons_per_core * 2))


def test_buffer_depth_must_be_a_power_of_two():
    with pytest.raises(CodesignError, match="not a power of two"):
        link.check_fifo_depth(1000)
