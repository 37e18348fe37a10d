"""The accelerator's host protocol, encoded and decoded in pure Python (docs/hardware.md,
"Host interface protocol"): the one definition of its opcodes, units, memories, registers, word
formats and of the width of a spike-source id (``SOURCE_ID_BITS``).

No simulator or HDL imports: the compiler uses it to serialise program images, the cocotb
testbenches send its word lists in bulk through the command stream, and the board flow sends the
same words over the UART.

The protocol is a sequence of 32-bit *fields*. On a ``host_width``-bit stream (8, 16 or 32) each
field travels as ``32 / host_width`` words, least significant first (:func:`to_words`,
:func:`from_words`). A memory word wider than 32 bits travels as ``ceil(bits / 32)`` fields,
least significant first (:func:`split_word`, :func:`join_word`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from codesign.errors import CodesignError

FIELD_BITS = 32
FIELD_MASK = (1 << FIELD_BITS) - 1
SOURCE_ID_BITS = 16
HOST_WIDTHS = (8, 16, 32)

# Opcodes: bits 31..24 of a command's first field.
WRITE = 0x01
INPUT = 0x02
STEP = 0x03
READ_OUTPUT = 0x04
READ_STATE = 0x05
READ_COUNTERS = 0x06

# Units (bits 23..16 of WRITE / READ_STATE headers).
CORE_UNIT_BASE = 0x00      # core k is unit k
TILE_UNIT_BASE = 0x40      # crossbar tile j is unit 0x40 + j
ROUTER_UNIT = 0x80
SEQUENCER_UNIT = 0x81

# Memories of the sequencer unit.
PHASE_TABLE = 0            # one phase entry per address
SEQUENCER_REGISTERS = 1    # the registers below
PHASE_COUNT_REGISTER = 0
TIMESTEP_REGISTER = 1
TIMESTEP_SLOT_REGISTER = 2  # t mod delay_slots; write together with TIMESTEP_REGISTER
CLEAR_REGISTER = 3          # any write: cores zero their accumulators and neuron states
# Memories of a crossbar tile unit: its cell levels (address: arithmetic.crossbar_cell_address)
# and its registers. The tile itself keeps adc_shift (register 0); the top level keeps the rest:
# result ``index`` goes to neuron ``target_base + index`` of the tile's core, into the
# accumulator bank of ``delay``.
TILE_CELLS = 0
TILE_REGISTERS = 1
TILE_ADC_SHIFT_REGISTER = 0
TILE_TARGET_BASE_REGISTER = 1
TILE_DELAY_REGISTER = 2
# The router unit has one memory (0): the routing table.
ROUTING_TABLE = 0

# STEP response flags (sticky, cleared when a STEP reports them).
FLAG_INPUT_OVERFLOW = 1 << 0
FLAG_OUTPUT_OVERFLOW = 1 << 1
FLAG_UNKNOWN_OPCODE = 1 << 2

# READ_OUTPUT: an event field has bit 31 clear, the end marker has it set.
END_MARKER = 1 << 31
END_OVERFLOW = 1 << 30
OUTPUT_STEP_BITS = 15

#: READ_COUNTERS returns these fields, in this order. ``last_step_cycles``: cycles of the last
#: timestep (docs/hardware.md says which). ``total_cycles``, ``routed_events`` (event copies the
#: router delivered to cores) and ``synaptic_events`` (non-empty digital synapse slots the
#: cores' engines accumulated) count since reset and wrap at 2^32, so a host measures a run by
#: differences. ``timestep`` is the sequencer's counter.
COUNTER_NAMES = ("last_step_cycles", "total_cycles", "routed_events", "synaptic_events",
                 "timestep")

_COUNT_LIMIT = 1 << 24


def _check(value: int, bits: int, what: str) -> int:
    if not 0 <= value < (1 << bits):
        raise CodesignError(f"{what} = {value} does not fit in {bits} bits",
                            f"use a value in 0..{(1 << bits) - 1}")
    return value


def fields_per_word(bits: int) -> int:
    """How many 32-bit fields carry one memory word of ``bits`` bits."""
    return max(1, -(-bits // FIELD_BITS))


def split_word(value: int, bits: int) -> list[int]:
    """A (possibly negative or wide) memory word as fields, least significant first."""
    value &= (1 << bits) - 1
    return [(value >> (FIELD_BITS * index)) & FIELD_MASK for index in range(fields_per_word(bits))]


def join_word(fields: Sequence[int], bits: int, signed: bool = False) -> int:
    """Inverse of :func:`split_word`."""
    value = sum((field & FIELD_MASK) << (FIELD_BITS * index) for index, field in enumerate(fields))
    value &= (1 << bits) - 1
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def to_words(fields: Iterable[int], host_width: int) -> list[int]:
    """Fields as ``host_width``-bit stream words, least significant first."""
    if host_width not in HOST_WIDTHS:
        raise CodesignError(f"host_width = {host_width} is not supported",
                            f"use one of {', '.join(map(str, HOST_WIDTHS))}")
    per_field = FIELD_BITS // host_width
    mask = (1 << host_width) - 1
    return [(field >> (host_width * index)) & mask
            for field in fields for index in range(per_field)]


def from_words(words: Sequence[int], host_width: int) -> list[int]:
    """Inverse of :func:`to_words` (a trailing partial field is an error)."""
    per_field = FIELD_BITS // host_width
    if len(words) % per_field:
        raise CodesignError(f"{len(words)} response words of {host_width} bits are not a whole "
                            f"number of 32-bit fields", "read whole fields from the host stream")
    return [sum(words[start + index] << (host_width * index) for index in range(per_field))
            for start in range(0, len(words), per_field)]


def header(opcode: int, unit: int = 0, memory: int = 0, low: int = 0) -> int:
    """First field of a command: ``opcode[31:24] unit[23:16] memory[15:8] low[7:0]``."""
    return (opcode << 24) | (_check(unit, 8, "unit") << 16) | (_check(memory, 8, "memory") << 8) \
        | _check(low, 8, "header low byte")


def core_unit(core: int) -> int:
    return CORE_UNIT_BASE + _check(core, 6, "core index")


def tile_unit(tile: int) -> int:
    return TILE_UNIT_BASE + _check(tile, 6, "crossbar tile index")


def encode_write(unit: int, memory: int, address: int, words: Sequence[int],
                 word_bits: int) -> list[int]:
    """WRITE: ``header(WRITE, unit, memory, fields_per_word)``, address, count, then each word as
    ``fields_per_word(word_bits)`` fields."""
    per_word = fields_per_word(word_bits)
    fields = [header(WRITE, unit, memory, per_word), _check(address, 32, "address"),
              _check(len(words), 32, "word count")]
    for word in words:
        fields.extend(split_word(int(word), word_bits))
    return fields


def encode_input(events: Iterable[int] | Mapping[int, int]) -> list[int]:
    """INPUT: ``header(INPUT) | count``, then ``count`` fields ``repeat[31:16] id[15:0]``.

    ``events`` is either source ids (one per event; repeats allowed) or a mapping
    ``source id -> number of events``. Events of one timestep are summed by the synapses, so
    their order does not matter and equal ids are merged.
    """
    counts = Counter(events) if not isinstance(events, Mapping) else dict(events)
    fields = []
    for source, repeat in counts.items():
        _check(int(source), SOURCE_ID_BITS, "source id")
        while repeat > 0:
            chunk = min(int(repeat), (1 << 16) - 1)
            fields.append((chunk << 16) | int(source))
            repeat -= chunk
    if len(fields) >= _COUNT_LIMIT:
        raise CodesignError(f"{len(fields)} input entries in one INPUT command",
                            f"send fewer than {_COUNT_LIMIT} per command")
    return [(INPUT << 24) | len(fields), *fields]


def encode_step(steps: int = 1) -> list[int]:
    """STEP: run ``steps`` timesteps (1 .. 2^24 - 1); answers one status field."""
    if not 1 <= steps < _COUNT_LIMIT:
        raise CodesignError(f"STEP of {steps} timesteps", f"use 1..{_COUNT_LIMIT - 1}")
    return [(STEP << 24) | steps]


def encode_read_output() -> list[int]:
    """READ_OUTPUT: answers the buffered output events, then the end marker."""
    return [READ_OUTPUT << 24]


def encode_read_state(core: int, first: int, count: int, word_bits: int,
                      memory: int = 0) -> list[int]:
    """READ_STATE: ``header(READ_STATE, core, memory, fields_per_word)``, first address, count;
    answers ``count * fields_per_word(word_bits)`` fields."""
    return [header(READ_STATE, core_unit(core), memory, fields_per_word(word_bits)),
            _check(first, 32, "first address"), _check(count, 32, "count")]


def encode_read_counters() -> list[int]:
    """READ_COUNTERS: answers ``len(COUNTER_NAMES)`` fields."""
    return [READ_COUNTERS << 24]


@dataclass
class StepStatus:
    steps: int
    flags: int


def decode_step(fields: Sequence[int]) -> StepStatus:
    """The one-field answer of STEP: ``STEP[31:24] flags[23:16] steps[15:0]``."""
    field = fields[0]
    if field >> 24 != STEP:
        raise CodesignError(f"expected a STEP answer, got field 0x{field:08x}",
                            "check that the host stream is in sync (reset the accelerator)")
    return StepStatus(steps=field & 0xFFFF, flags=(field >> 16) & 0xFF)


@dataclass
class OutputEvents:
    events: list[tuple[int, int]]   # (step since the previous READ_OUTPUT, source id)
    overflow: bool                  # the output buffer filled up and events were dropped
    fields_used: int


def decode_output(fields: Sequence[int]) -> OutputEvents:
    """The answer of READ_OUTPUT: ``0 step[30:16] id[15:0]`` per event, then the end marker
    ``1 overflow[30] count[15:0]``."""
    events = []
    for index, field in enumerate(fields):
        if field & END_MARKER:
            count = field & 0xFFFF
            if count != len(events) & 0xFFFF:
                raise CodesignError(f"output end marker counts {count} events, received "
                                    f"{len(events)}", "check the host stream for lost words")
            return OutputEvents(events, bool(field & END_OVERFLOW), index + 1)
        events.append(((field >> 16) & ((1 << OUTPUT_STEP_BITS) - 1), field & 0xFFFF))
    raise CodesignError("READ_OUTPUT answer has no end marker", "read until the end marker")


def decode_counters(fields: Sequence[int]) -> dict[str, int]:
    """The answer of READ_COUNTERS as ``name -> value``."""
    if len(fields) < len(COUNTER_NAMES):
        raise CodesignError(f"READ_COUNTERS answered {len(fields)} fields",
                            f"read {len(COUNTER_NAMES)} fields")
    return dict(zip(COUNTER_NAMES, fields))


def decode_words(fields: Sequence[int], word_bits: int, signed: bool = False) -> list[int]:
    """The answer of READ_STATE: memory words of ``word_bits`` bits."""
    per_word = fields_per_word(word_bits)
    return [join_word(fields[start:start + per_word], word_bits, signed)
            for start in range(0, len(fields) - per_word + 1, per_word)]


def routing_entry(first_id: int, last_id: int, cores: Iterable[int], to_host: bool,
                  core_count: int) -> int:
    """A routing-table word: ``first_id[16] last_id[16] mask[core_count + 1]`` (LSB first);
    mask bit k = core k, bit ``core_count`` = host."""
    mask = 0
    for core in cores:
        if not 0 <= core < core_count:
            raise CodesignError(f"routing to core {core}", f"use cores 0..{core_count - 1}")
        mask |= 1 << core
    if to_host:
        mask |= 1 << core_count
    return (_check(first_id, SOURCE_ID_BITS, "first source id")
            | _check(last_id, SOURCE_ID_BITS, "last source id") << SOURCE_ID_BITS
            | mask << (2 * SOURCE_ID_BITS))


def routing_entry_bits(core_count: int) -> int:
    """Width of a routing-table word (:func:`routing_entry`) for ``core_count`` cores."""
    return 2 * SOURCE_ID_BITS + core_count + 1


def phase_entry_bits(core_count: int, tile_count: int, segment_bits: int) -> int:
    """Width of a phase-table word (:func:`phase_entry`)."""
    return core_count + tile_count + segment_bits


def phase_entry(fire_cores: Iterable[int], segment: int, convert_tiles: Iterable[int],
                core_count: int, tile_count: int, segment_bits: int) -> int:
    """A phase-table word: ``fire_mask[core_count] convert_mask[tile_count]
    segment[segment_bits]`` (LSB first)."""
    fire = sum(1 << _check(core, max(1, core_count.bit_length()), "core") for core in fire_cores)
    convert = sum(1 << tile for tile in convert_tiles)
    if fire >> core_count or convert >> tile_count:
        raise CodesignError("phase entry names a core or tile that does not exist",
                            f"use cores 0..{core_count - 1} and tiles 0..{tile_count - 1}")
    return fire | convert << core_count | _check(segment, segment_bits, "segment") \
        << (core_count + tile_count)
