"""Program image: round trip, and corrupted images are rejected with one-line errors."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from codesign.arch import protocol
from codesign.arch.config import HWConfig
from codesign.compiler.image import program_image
from codesign.compiler.pipeline import map_network
from codesign.errors import CodesignError
from networks import chain


@pytest.fixture(scope="module")
def image_bytes() -> bytes:
    program = map_network(chain([12, 16, 4], recurrent=True), HWConfig(cores=2, neurons_per_core=16))
    return program_image.build_image(program).to_bytes()


def test_header_fields_and_records_are_host_protocol_writes(image_bytes):
    magic, version, header, manifest, count, _, _ = struct.unpack_from("<8sIIIIII", image_bytes)
    assert magic == b"CDSGPIMG" and version == 2 and header == 32
    assert len(image_bytes) == header + manifest + 4 * count
    image = program_image.parse_image(image_bytes)
    memories = program_image.decode_records(image)
    assert (protocol.ROUTER_UNIT, protocol.ROUTING_TABLE) in memories
    assert memories[(protocol.SEQUENCER_UNIT, protocol.SEQUENCER_REGISTERS)][0] == 2  # phases


def _expect_rejected(data: bytes, words: str, tmp_path):
    with pytest.raises(CodesignError, match=words) as error:
        program_image.parse_image(data)
    assert "\n" not in str(error.value)
    path = tmp_path / "program.img"
    path.write_bytes(data)
    with pytest.raises(CodesignError, match=words):
        program_image.load_image(path)


def test_bad_checksum_is_rejected(image_bytes, tmp_path):
    data = bytearray(image_bytes)
    data[-5] ^= 0x10                       # one bit of the last record
    _expect_rejected(bytes(data), "checksum", tmp_path)


def test_wrong_version_is_rejected(image_bytes, tmp_path):
    head = bytearray(image_bytes[:32])
    struct.pack_into("<I", head, 8, 99)
    struct.pack_into("<I", head, 28, zlib.crc32(bytes(head[:28])))
    _expect_rejected(bytes(head) + image_bytes[32:], "version 99", tmp_path)


@pytest.mark.parametrize("keep", [10, 32, -4])
def test_truncated_image_is_rejected(image_bytes, tmp_path, keep):
    _expect_rejected(image_bytes[:keep], "truncated", tmp_path)


def test_corrupted_header_is_rejected(image_bytes, tmp_path):
    data = bytearray(image_bytes)
    data[17] ^= 1                          # manifest size
    _expect_rejected(bytes(data), "header checksum", tmp_path)


def test_record_framing_is_checked(image_bytes):
    image = program_image.parse_image(image_bytes)
    image.fields = np.concatenate([image.fields, np.array([protocol.STEP << 24], np.uint32)])
    with pytest.raises(CodesignError, match="not a WRITE"):
        program_image.decode_records(image)


def test_every_router_entry_is_written_so_no_earlier_route_survives(image_bytes):
    from codesign.hw.rtl.top import AcceleratorSizes

    image = program_image.parse_image(image_bytes)
    table = program_image.decode_records(image)[(protocol.ROUTER_UNIT, protocol.ROUTING_TABLE)]
    assert sorted(table) == list(range(AcceleratorSizes.from_config(image.config)
                                       .routing_table_entries))
    used = program_image.program_from_image(image).routes
    unused = [word for word in table.values() if word & 0xFFFF > (word >> 16) & 0xFFFF]
    assert len(used) + len(unused) == len(table) and unused
