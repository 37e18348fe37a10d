"""The serial link between a host and a board: frames, checksums, flow control (docs/board.md,
"Link layer").

Pure Python, no HDL imports: the host runtime (:mod:`codesign.flows.board_runtime`) encodes and
decodes frames with it, and the board's link components (:mod:`codesign.hw.board.link_receiver`,
:mod:`codesign.hw.board.link_transmitter`) build their checksum logic from :func:`crc16_step_taps`,
which is derived from :func:`crc16_step`, so both ends share one definition.

A frame, in both directions, is HDLC-like (RFC 1662 byte stuffing)::

    FLAG  stuffed(kind, payload ..., crc[15:8], crc[7:0])  FLAG

``FLAG`` (0x7E) only ever delimits frames: a ``FLAG`` or ``ESCAPE`` (0x7D) inside a frame is sent
as ``ESCAPE, byte ^ 0x20``. ``crc`` is CRC-16/CCITT-FALSE (polynomial 0x1021, initial value
0xFFFF, no reflection, no final XOR) of ``kind`` and the payload; over ``kind``, the payload and
the two CRC bytes it is 0. An empty frame (two flags in a row) means nothing.

Host -> board: ``DATA`` (payload: command bytes for the accelerator, host-protocol fields
little-endian) and ``RESET`` (no payload: empty the link, clear the status, reset the
accelerator where the board can, answer ``LINK``).

Board -> host: ``ANSWER`` (payload: response bytes of the accelerator) and ``LINK`` (the board's
identity and status, :class:`LinkState`), sent after a reset and whenever an error flag is set.

Flow control: the board buffers up to ``fifo_depth`` bytes of ``DATA`` payload, and hands them
to the accelerator in order. The accelerator answers a command only after it has taken the
whole command out of that buffer, so when an answer arrives the host knows every byte up to the
end of its command has left the buffer: the host never has more than ``fifo_depth`` bytes
beyond the last answered command (and sends a side-effect-free READ_COUNTERS when a long run of
silent commands, e.g. a program load, would otherwise leave nothing to answer). The board needs
no credit messages, and no byte is ever sent into a full buffer.

The board keeps a frame's bytes from the accelerator until the frame's checksum has been
checked; a damaged frame is dropped, no later ``DATA`` frame is accepted until the next
``RESET``, and a ``LINK`` frame says why.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from dataclasses import dataclass

from codesign.errors import CodesignError

FLAG = 0x7E
ESCAPE = 0x7D
ESCAPE_XOR = 0x20

CRC_POLYNOMIAL = 0x1021
CRC_INIT = 0xFFFF
CRC_BYTES = 2

# Frame kinds, host -> board.
DATA = 0x01
RESET = 0x02
# Frame kinds, board -> host.
ANSWER = 0x01
LINK = 0x02

#: An ANSWER frame ends after this many payload bytes (or sooner, when the accelerator has no
#: answer ready), so a LINK frame is never held back for long.
MAX_ANSWER_BYTES = 128

# Status flags (sticky until RESET), in a LINK frame.
FRAMING_ERROR = 1 << 0      # a byte without its stop bit (noise, or the wrong baud rate)
OVERRUN = 1 << 1            # a DATA byte arrived with the buffer full: the host overran its credit
BAD_CHECKSUM = 1 << 2       # a frame's CRC did not match: a byte was damaged on the way
BAD_FRAME = 1 << 3          # a frame too short, of an unknown kind, or a RESET with a payload
STATUS_NAMES = {FRAMING_ERROR: "framing error", OVERRUN: "buffer overrun",
                BAD_CHECKSUM: "bad checksum", BAD_FRAME: "malformed frame"}

LINK_VERSION = 1
#: Capability: RESET also resets the accelerator (boards whose design has a reset).
CAN_RESET_ACCELERATOR = 1 << 0
LINK_BYTES = 8


def crc16_step(crc: int, bit: int) -> int:
    """CRC-16/CCITT-FALSE after one more message bit: the definition of the link's checksum (the
    board's logic is derived from it, :func:`crc16_step_taps`)."""
    feedback = ((crc >> 15) ^ bit) & 1
    return ((crc << 1) & 0xFFFF) ^ (CRC_POLYNOMIAL if feedback else 0)


def crc16_update(crc: int, byte: int) -> int:
    """The CRC after one more byte, most significant bit first."""
    for bit in range(7, -1, -1):
        crc = crc16_step(crc, (byte >> bit) & 1)
    return crc


def crc16_step_taps() -> list[tuple[int, int]]:
    """For each bit of :func:`crc16_step`'s result, least significant first, the bits of the
    old CRC whose XOR it is and whether the message bit is in it (``(crc_mask, with_bit)``).
    The CRC is linear over GF(2), so feeding it one set bit at a time finds them; the board's
    bit-serial checksum logic (:mod:`codesign.hw.board.serial_crc`) is built from them."""
    taps = []
    for result_bit in range(16):
        crc_mask = sum(1 << bit for bit in range(16) if crc16_step(1 << bit, 0) >> result_bit & 1)
        taps.append((crc_mask, bool(crc16_step(0, 1) >> result_bit & 1)))
    return taps


def crc16(data: bytes, crc: int = CRC_INIT) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (the standard library's ``crc_hqx`` is this CRC; a test
    checks it against :func:`crc16_update`)."""
    return binascii.crc_hqx(data, crc)


def stuff(data: bytes) -> bytes:
    """``data`` with every ``ESCAPE`` and ``FLAG`` escaped."""
    return data.replace(b"\x7d", b"\x7d\x5d").replace(b"\x7e", b"\x7d\x5e")


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    """One frame on the wire, flags included."""
    body = bytes([kind]) + bytes(payload)
    crc = crc16(body)
    return bytes([FLAG]) + stuff(body + bytes([crc >> 8, crc & 0xFF])) + bytes([FLAG])


@dataclass(frozen=True)
class Frame:
    """A received frame; ``intact`` is False when its checksum or escaping was wrong."""

    kind: int
    payload: bytes
    intact: bool = True


class FrameDecoder:
    """Splits a received byte stream into frames (bytes before the first flag are dropped)."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._synchronised = False

    def feed(self, data: bytes) -> list[Frame]:
        self._pending += data
        *complete, rest = self._pending.split(bytes([FLAG]))
        if not complete:
            return []
        if not self._synchronised:   # the bytes before the first flag are not a whole frame
            complete = complete[1:]
            self._synchronised = True
        self._pending = bytearray(rest)
        return [_unstuff(raw) for raw in complete if raw]


def _unstuff(raw: bytes) -> Frame:
    parts = bytes(raw).split(b"\x7d")
    body = bytearray(parts[0])
    intact = True
    for part in parts[1:]:
        if not part:            # an escape followed by nothing (or by another escape)
            intact = False
            continue
        body.append(part[0] ^ ESCAPE_XOR)
        body += part[1:]
    if len(body) < 1 + CRC_BYTES or crc16(bytes(body)) != 0:
        intact = False
    return Frame(kind=body[0] if body else -1, payload=bytes(body[1:-CRC_BYTES]), intact=intact)


@dataclass(frozen=True)
class Identity:
    """What a board's bitstream is: link version, capabilities, the HWConfig's hash
    (:func:`config_hash`) and the depth of the link's buffer."""

    version: int
    capabilities: int
    config_hash: int
    fifo_depth: int

    @property
    def resets_accelerator(self) -> bool:
        return bool(self.capabilities & CAN_RESET_ACCELERATOR)

    def link_payload(self, status: int = 0) -> bytes:
        """A LINK frame's payload: ``version, capabilities | status << 4, config_hash (4 bytes),
        fifo_depth (2 bytes)``, little-endian."""
        return (bytes([self.version, self.capabilities | status << 4])
                + self.config_hash.to_bytes(4, "little") + self.fifo_depth.to_bytes(2, "little"))


@dataclass(frozen=True)
class LinkState:
    """A LINK frame: the board's identity and its status flags."""

    identity: Identity
    status: int

    @classmethod
    def from_payload(cls, payload: bytes) -> LinkState:
        if len(payload) != LINK_BYTES:
            raise CodesignError(f"the board's LINK frame has {len(payload)} bytes, not "
                                f"{LINK_BYTES}", "rebuild and load the bitstream with this "
                                "codesign version (codesign hw build --program)")
        identity = Identity(version=payload[0], capabilities=payload[1] & 0xF,
                            config_hash=int.from_bytes(payload[2:6], "little"),
                            fifo_depth=int.from_bytes(payload[6:8], "little"))
        return cls(identity=identity, status=payload[1] >> 4)


def check_fifo_depth(depth: int) -> int:
    """The link buffer holds a power of two of bytes, at least 64 and at most 2^15."""
    if depth < 64 or depth > 1 << 15 or depth & (depth - 1):
        raise CodesignError(f"link buffer depth {depth} is not a power of two in 64..32768",
                            "use a power of two such as 1024 or 8192")
    return depth


def count_bits(fifo_depth: int) -> int:
    """Width of the buffer's byte counts (modulo ``2 * fifo_depth``)."""
    return check_fifo_depth(fifo_depth).bit_length()


def status_text(flags: int) -> str:
    """Status flags as words, e.g. ``"bad checksum, buffer overrun"``."""
    names = [name for flag, name in STATUS_NAMES.items() if flags & flag]
    unknown = flags & ~sum(STATUS_NAMES)
    if unknown:
        names.append(f"unknown flags 0x{unknown:02x}")
    return ", ".join(names) or "no error"


def config_hash(config) -> int:
    """32-bit identity of an HWConfig: what a bitstream was built for and what a program was
    compiled for must agree. Numbers are compared by value (``12`` and ``12.0`` are equal)."""
    def canonical(value):
        if isinstance(value, dict):
            return {key: canonical(item) for key, item in value.items()}
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return value

    text = json.dumps(canonical(config.to_dict()), sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
