"""Every derived size and word layout of the accelerator, defined once, in pure Python.

:class:`CoreLayout` derives one core's widths, depths and memory word layouts from the HWConfig
knobs; :class:`AcceleratorSizes` the top level's table sizes. The RTL builds its memories and
ports from them (``codesign.hw.rtl.layouts.struct_layout`` turns :class:`Fields` into an
Amaranth layout), the compiler encodes program images with them and the DSE's models count
with them, so the three cannot disagree. ``HWConfig`` itself holds only knobs.

Every memory word is an ordered list of bit fields, least significant first (:class:`Fields`),
which packs and unpacks Python integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from codesign import arithmetic
from codesign.arch import protocol
from codesign.arch.protocol import SOURCE_ID_BITS
from codesign.errors import CodesignError


def bits_for(count: int) -> int:
    """Bits needed to address ``count`` items (at least 1)."""
    return max(1, (count - 1).bit_length())


@dataclass(frozen=True)
class Fields:
    """An ordered list of ``(name, bits, signed)`` bit fields, least significant first."""

    fields: tuple[tuple[str, int, bool], ...]

    @property
    def width(self) -> int:
        return sum(bits for _, bits, _ in self.fields)

    def pack(self, values: dict[str, int]) -> int:
        """One word from ``values`` (every field required); out-of-range values are errors."""
        if set(values) != {name for name, _, _ in self.fields}:
            raise CodesignError(f"word fields {sorted(values)} do not match "
                                f"{[name for name, _, _ in self.fields]}",
                                "pass exactly the listed fields")
        word, offset = 0, 0
        for name, bits, is_signed in self.fields:
            value = int(values[name])
            low, high = arithmetic.signed_limits(bits) if is_signed else (0, (1 << bits) - 1)
            if not low <= value <= high:
                raise CodesignError(f"field {name}={value} does not fit "
                                    f"{'signed' if is_signed else 'unsigned'} {bits} bits "
                                    f"(range {low}..{high})",
                                    "choose a larger hardware configuration or smaller values")
            word |= (value & ((1 << bits) - 1)) << offset
            offset += bits
        return word

    def unpack(self, word: int) -> dict[str, int]:
        """The field values of ``word`` (signed fields sign-extended)."""
        values, offset = {}, 0
        for name, bits, is_signed in self.fields:
            value = (word >> offset) & ((1 << bits) - 1)
            if is_signed and value >> (bits - 1):
                value -= 1 << bits
            values[name] = value
            offset += bits
        return values


def parameter_fields(state_bits: int, *, include_bias: bool) -> Fields:
    """NeuronParameters as bit fields (a *profile* is every parameter except the bias)."""
    widths = arithmetic.parameter_widths(state_bits)
    return Fields(tuple((name, bits, is_signed) for name, (bits, is_signed) in widths.items()
                        if include_bias or name != "bias"))


def state_fields(state_bits: int) -> Fields:
    """NeuronState as bit fields."""
    return Fields(tuple((name, state_bits, True) for name in ("voltage", "current", "adaptation")))


def bias_fields(state_bits: int) -> Fields:
    bits, _ = arithmetic.parameter_widths(state_bits)["bias"]
    return Fields((("bias", bits, True),))


class MemorySelect(IntEnum):
    """The ``select`` value of a core's program-write port."""

    SOURCE_TABLE = 0
    SYNAPSES = 1
    PROFILES = 2
    SEGMENTS = 3
    BIAS = 4
    STATE = 5


@dataclass(frozen=True)
class CoreLayout:
    """Sizes and word layouts of one core, derived from the hardware parameters."""

    neurons_per_core: int
    synapse_lanes: int
    weight_bits: int
    state_bits: int
    delay_slots: int
    synapse_memory_depth: int
    source_table_depth: int
    profiles: int
    #: The neuron units' build (HWConfig knobs of the same names; they do not change any word).
    neuron_dsp_bits: int = 18
    neuron_stage_depth: float = 2.0
    #: HWConfig.neuron_lanes: neuron ``n`` is updated by unit ``n % neuron_lanes``, and its
    #: state and bias are word ``n // neuron_lanes`` of that lane's memories.
    neuron_lanes: int = 1
    #: HWConfig.timing_registers: the profile memory's output is copied into a register (True) or
    #: kept in block RAM and read straight from its held output (False).
    timing_registers: bool = True
    #: HWConfig.shared_rows: source-table entries carry a ``row_offset`` added to every slot's row.
    shared_rows: bool = True
    #: HWConfig.sweep_overlap: the sweep reads the accumulators through a port of its own and
    #: the engine keeps accumulating during sweeps (False: one port, the engine pauses).
    sweep_overlap: bool = True
    #: HWConfig.skip_resting: segments at rest are not swept while their bank is untouched.
    skip_resting: bool = True
    words: dict[MemorySelect, Fields] = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        for name in ("neurons_per_core", "synapse_lanes", "neuron_lanes"):
            value = getattr(self, name)
            if value < 1 or value & (value - 1):
                raise CodesignError(f"{name}={value} is not a power of two",
                                    f"set {name} to 1, 2, 4, 8, ...")
        if self.neuron_lanes > self.synapse_lanes:
            raise CodesignError(f"neuron_lanes={self.neuron_lanes} exceeds "
                                f"synapse_lanes={self.synapse_lanes}",
                                "use at most as many neuron lanes as synapse lanes")
        if self.synapse_lanes > self.neurons_per_core:
            raise CodesignError(f"synapse_lanes={self.synapse_lanes} exceeds "
                                f"neurons_per_core={self.neurons_per_core}",
                                "use at most as many lanes as neurons per core")
        for name in ("delay_slots", "synapse_memory_depth", "source_table_depth", "profiles"):
            if getattr(self, name) < 1:
                raise CodesignError(f"{name}={getattr(self, name)} must be >= 1",
                                    f"set {name} to a positive value")
        words = {
            MemorySelect.SOURCE_TABLE: self.source_entry_fields,
            MemorySelect.SYNAPSES: self.synapse_word_fields,
            MemorySelect.PROFILES: parameter_fields(self.state_bits, include_bias=False),
            MemorySelect.SEGMENTS: self.segment_fields,
            MemorySelect.BIAS: bias_fields(self.state_bits),
            MemorySelect.STATE: state_fields(self.state_bits),
        }
        object.__setattr__(self, "words", words)

    @classmethod
    def from_config(cls, config: Any) -> "CoreLayout":
        """From an ``HWConfig`` (any object with the same attribute names)."""
        return cls(neurons_per_core=config.neurons_per_core, synapse_lanes=config.synapse_lanes,
                   weight_bits=config.weight_bits, state_bits=config.state_bits,
                   delay_slots=config.delay_slots,
                   synapse_memory_depth=config.synapse_memory_depth,
                   source_table_depth=config.source_table_depth, profiles=config.profiles,
                   neuron_dsp_bits=config.neuron_dsp_bits,
                   neuron_stage_depth=config.neuron_stage_depth,
                   neuron_lanes=config.neuron_lanes,
                   timing_registers=config.timing_registers,
                   shared_rows=config.shared_rows, sweep_overlap=config.sweep_overlap,
                   skip_resting=config.skip_resting)

    # -- derived widths ---------------------------------------------------------------------
    @property
    def accumulator_bits(self) -> int:
        return arithmetic.accumulator_bits(self.weight_bits)

    @property
    def neuron_index_bits(self) -> int:
        return bits_for(self.neurons_per_core)

    @property
    def lane_bits(self) -> int:
        """Bits of the lane number (0 for one lane)."""
        return (self.synapse_lanes - 1).bit_length()

    @property
    def neuron_lane_bits(self) -> int:
        """Bits of the neuron-lane number (0 for one neuron lane)."""
        return (self.neuron_lanes - 1).bit_length()

    @property
    def neurons_per_lane(self) -> int:
        """Words of each neuron lane's state and bias memories."""
        return self.neurons_per_core // self.neuron_lanes

    @property
    def rows_per_lane(self) -> int:
        """Neurons per accumulator lane: lane ``k`` holds neurons ``k, k + lanes, ...``."""
        return self.neurons_per_core // self.synapse_lanes

    @property
    def row_bits(self) -> int:
        return bits_for(self.rows_per_lane)

    @property
    def delay_bits(self) -> int:
        """Bits of a synaptic delay 0..delay_slots-1."""
        return bits_for(self.delay_slots)

    @property
    def synapse_address_bits(self) -> int:
        return bits_for(self.synapse_memory_depth)

    @property
    def source_index_bits(self) -> int:
        return bits_for(self.source_table_depth)

    @property
    def profile_bits(self) -> int:
        return bits_for(self.profiles)

    @property
    def segments(self) -> int:
        """Segment-table entries: one per profile is enough, a few more let layers share one."""
        return max(2 * self.profiles, 4)

    @property
    def segment_bits(self) -> int:
        return bits_for(self.segments)

    @property
    def crossbar_row_bits(self) -> int:
        """Width of a crossbar row number (the ``first_word`` field of a crossbar entry)."""
        return self.synapse_address_bits

    # -- word layouts -----------------------------------------------------------------------
    @property
    def lane_fields(self) -> Fields:
        """One synapse slot: ``row`` = target // lanes (the lane is target % lanes)."""
        return Fields((("row", self.row_bits, False), ("weight", self.weight_bits, True),
                       ("delay", self.delay_bits, False)))

    @property
    def synapse_word_fields(self) -> Fields:
        """A synapse word: slot of lane 0 in the low bits, then lane 1, ..."""
        lane = self.lane_fields
        return Fields(tuple((f"lane{k}_{name}", bits, is_signed)
                            for k in range(self.synapse_lanes)
                            for name, bits, is_signed in lane.fields))

    @property
    def source_entry_fields(self) -> Fields:
        """Source table: ``word_count`` synapse words from ``first_word``, every slot's row
        shifted by ``row_offset`` (modulo ``rows_per_lane``; only with ``shared_rows``); a
        ``crossbar`` entry instead forwards the event as row ``first_word`` to the crossbar
        tile."""
        offset = (("row_offset", self.row_bits, False),) if self.shared_rows else ()
        return Fields((("first_word", self.synapse_address_bits, False),
                       ("word_count", bits_for(self.synapse_memory_depth + 1), False),
                       ("crossbar", 1, False), *offset))

    @property
    def segment_fields(self) -> Fields:
        """Segment table: neurons ``first..last`` (inclusive) use ``profile`` and emit spikes as
        source ids ``base_id + (neuron - first)``."""
        return Fields((("first", self.neuron_index_bits, False),
                       ("last", self.neuron_index_bits, False),
                       ("profile", self.profile_bits, False),
                       ("base_id", SOURCE_ID_BITS, False)))

    def depth(self, select: MemorySelect) -> int:
        """Number of words of the memory ``select``."""
        return {MemorySelect.SOURCE_TABLE: self.source_table_depth,
                MemorySelect.SYNAPSES: self.synapse_memory_depth,
                MemorySelect.PROFILES: self.profiles,
                MemorySelect.SEGMENTS: self.segments,
                MemorySelect.BIAS: self.neurons_per_core,
                MemorySelect.STATE: self.neurons_per_core}[select]

    @property
    def write_data_bits(self) -> int:
        """Width of the program-write data: the widest memory word."""
        return max(fields.width for fields in self.words.values())


@dataclass(frozen=True)
class AcceleratorSizes:
    """Sizes of the top-level tables the compiler must respect."""

    cores: int
    tiles: int
    segment_bits: int
    phase_table_depth: int        # phases per timestep (one segment index each)
    routing_table_entries: int
    input_buffer_depth: int       # INPUT entries (distinct source ids) per timestep
    output_buffer_depth: int      # output events buffered between READ_OUTPUTs
    write_data_bits: int          # widest memory word of the program-write bus
    read_data_bits: int           # READ_STATE word (a core's STATE word)

    @classmethod
    def from_config(cls, config: Any) -> "AcceleratorSizes":
        """From an ``HWConfig``."""
        layout = CoreLayout.from_config(config)
        tiles = config.crossbar.tiles
        return cls(
            cores=config.cores, tiles=tiles, segment_bits=layout.segment_bits,
            phase_table_depth=layout.segments,
            # One range per layer (a phase), plus as many for inputs and split layers.
            routing_table_entries=2 * layout.segments,
            input_buffer_depth=config.source_table_depth,
            output_buffer_depth=1 << bits_for(config.total_neurons),
            write_data_bits=max(layout.write_data_bits,
                                protocol.routing_entry_bits(config.cores),
                                protocol.phase_entry_bits(config.cores, tiles,
                                                          layout.segment_bits),
                                protocol.FIELD_BITS),
            read_data_bits=layout.words[MemorySelect.STATE].width)
