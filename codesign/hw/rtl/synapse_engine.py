"""Event-driven synapse engine: the dataflow part of a hybrid core.

For every source id on ``events`` it streams that source's synapse words from block RAM and adds
every slot's weight into the accumulator of its target, ``synapse_lanes`` synapses per cycle; its
work is proportional to spikes x fan-out / lanes, never to the neuron count. Pipeline::

    lookup   source table (sync read), entry register  one event per cycle
    issue    word address counter (sync read)           one word per cycle, no gap between events
    word     register the block-RAM output
    decode   per lane: slot -> (address, weight)        crossbar partial sums merge here
             into a register beside the lane's accumulator block RAM
    read     per-lane accumulator read
    capture  register the block-RAM output
    add      forwarded value + weight -> write back

A source-table entry's ``row_offset`` (``shared_rows``) is added to every slot's row in the
decode stage, modulo ``rows_per_lane``: sources whose rows differ only by that shift share words.
Crossbar-mapped entries leave as row numbers through a register slice (with
``timing_registers``).

``events.ready`` and ``crossbar_sums.ready`` (the clock enables of the register slices in front
of the engine) are small functions of flip-flops: the issue stage keeps ``remaining != 0`` and
``remaining <= 1`` as flags, and ``enable`` is a register in the core.

Accumulators: lane ``k`` owns neurons ``k, k + lanes, ...`` in its own memory (one read and one
write port, so one block RAM), address ``bank * rows_per_lane + neuron // lanes``, bank
``(timestep_slot + delay) mod delay_slots``. Read-modify-write hazards: a word's read happens two
cycles before the writes of the two words ahead of it land, so the add stage forwards from the
last two writes (newest first); sums are therefore exact for any sequence of targets.

The sweep reads one accumulator through ``sweep_*`` (presented a cycle ahead and registered per
lane) on each lane's second read port, so it runs while events are being accumulated (the spikes
of the sweep itself included); the zero it owes the swept accumulator is written by the lane's
write port in a later cycle without an addition (per lane a range of rows of one bank, since a
sweep reads its rows in ascending order). A sweep may therefore read only accumulators that no
event in flight adds into (the schedule: a bank is swept after every event for it arrived, and
nothing adds into it again before the next timestep), one bank and ascending neurons per sweep,
each neuron once; ``busy`` stays high until the owed zeros are written. ``clear`` zeroes every
bank, only while the engine is idle. ``busy`` is an OR of a few flip-flops: the valids of the
stages after the issue stage are ORed a cycle ahead into ``draining``.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from codesign.arch.layout import CoreLayout, MemorySelect, bits_for
from codesign.arch.protocol import SOURCE_ID_BITS
from codesign.hw.lib.replicas import MAX_REPLICAS, replica, replicas
from codesign.hw.lib.stream_register import StreamRegister
from codesign.hw.rtl.host_interface import ProgramWriteSignature, memory_write
from codesign.hw.rtl.layouts import COLLISION_FREE, struct_layout


def crossbar_sum_layout(layout: CoreLayout) -> data.StructLayout:
    """A crossbar tile's partial sum for one target neuron of this core."""
    return data.StructLayout({"target": unsigned(layout.neuron_index_bits),
                              "value": signed(layout.accumulator_bits),
                              "delay": unsigned(layout.delay_bits)})



class _Nets:
    """The signals and memory ports the parts of :meth:`SynapseEngine.elaborate` share, each
    under the name of the signal."""

class SynapseEngine(wiring.Component):
    """See the module docstring. Ports:

    * ``events`` (stream of 16-bit source ids; the low ``source_index_bits`` index the table),
    * ``crossbar_rows`` (stream of row numbers of crossbar-mapped sources),
    * ``crossbar_sums`` (stream of :func:`crossbar_sum_layout`),
    * ``timestep_slot`` (t mod delay_slots, stable while busy), ``enable`` (accept new work),
    * ``program`` (writes of the SOURCE_TABLE and SYNAPSES memories),
    * ``sweep_read``/``sweep_neuron``/``sweep_slot``: the accumulators to read in the *next*
      cycle (registered here per lane): neurons ``sweep_neuron + j`` (``sweep_neuron`` a
      multiple of ``neuron_lanes``) for every ``j`` whose bit of ``sweep_read`` is set ->
      ``sweep_input[j]`` three cycles after they are presented,
    * ``clear`` (strobe), ``busy``,
    * ``synaptic_events``: synapses (non-empty slots) accumulated since reset, wraps at 2^32,
    * ``added_banks``: a bit per accumulator bank, high a cycle after a synapse or crossbar sum
      was added into that bank (empty slots add nothing).
    """

    def __init__(self, layout: CoreLayout, write_data_bits: int | None = None):
        self.layout = layout
        write_data_bits = write_data_bits or layout.write_data_bits
        super().__init__({
            "events": In(stream.Signature(SOURCE_ID_BITS)),
            "crossbar_rows": Out(stream.Signature(layout.crossbar_row_bits)),
            "crossbar_sums": In(stream.Signature(crossbar_sum_layout(layout))),
            "timestep_slot": In(range(layout.delay_slots)),
            "enable": In(1, init=1),
            "program": In(ProgramWriteSignature(write_data_bits)),
            "sweep_read": In(layout.neuron_lanes),
            "sweep_neuron": In(layout.neuron_index_bits),
            "sweep_slot": In(range(layout.delay_slots)),
            "sweep_input": Out(data.ArrayLayout(signed(layout.accumulator_bits),
                                                layout.neuron_lanes)),
            "clear": In(1),
            "busy": Out(1),
            "synaptic_events": Out(32),
            "added_banks": Out(layout.delay_slots),
        })

    @classmethod
    def from_config(cls, config: Any) -> "SynapseEngine":
        return cls(CoreLayout.from_config(config))

    def elaborate(self, platform) -> Module:
        m = Module()
        s = _Nets()   # the signals and ports the parts share
        self._memories(m, s)
        self._lookup(m, s)
        self._issue(m, s)
        self._decode(m, s)
        self._sweep_requests(m, s)
        self._lanes(m, s)
        self._clear(m, s)
        return m

    def _accumulator_address(self, bank, row):
        """Word of accumulator ``row`` of ``bank`` in a lane's memory."""
        row_shift = (self.layout.rows_per_lane - 1).bit_length()
        return (bank << row_shift) | row[:row_shift] if row_shift else bank

    def _bank_of(self, delay):
        """The bank of the timestep ``delay`` steps after the current one."""
        layout = self.layout
        total = self.timestep_slot + delay
        return Mux(total >= layout.delay_slots, total - layout.delay_slots,
                   total)[:bits_for(layout.delay_slots)]

    def _memories(self, m: Module, s: _Nets) -> None:
        """The source table, the synapse words and each lane's accumulator banks."""
        layout = self.layout
        lanes = layout.synapse_lanes
        accumulator_depth = layout.delay_slots * layout.rows_per_lane
        # -- memories -------------------------------------------------------------------------
        s.entry_layout = struct_layout(layout.source_entry_fields)
        s.word_layout = struct_layout(layout.synapse_word_fields)
        # Written only by program loading, while no event is processed (the accumulators are
        # not collision free: a sweep reads and clears an entry in the same cycle).
        m.submodules.source_table = s.source_table = Memory(
            shape=s.entry_layout, depth=layout.source_table_depth, init=[], attrs=COLLISION_FREE)
        m.submodules.synapses = s.synapses = Memory(
            shape=s.word_layout, depth=layout.synapse_memory_depth, init=[], attrs=COLLISION_FREE)
        program = self.program
        for memory, select in ((s.source_table, MemorySelect.SOURCE_TABLE),
                               (s.synapses, MemorySelect.SYNAPSES)):
            port = memory.write_port()
            enable, address, s.word = memory_write(m, program, select, select.name.lower(),
                                                 layout.timing_registers)
            m.d.comb += [port.en.eq(enable), port.addr.eq(address), port.data.eq(s.word)]
        s.request_layout = data.StructLayout({"neuron": unsigned(layout.neuron_index_bits),
                                            "slot": self.sweep_slot.shape()})
        # Per lane one write port (additions, zeros) and, with ``sweep_overlap``, two read
        # ports: the additions' and the sweep's, so a sweep runs while events are accumulated
        # (synthesis keeps a copy of the memory per read port). Without it the sweep shares the
        # additions' port (the core pauses the engine during sweeps).
        s.accumulator_read, s.accumulator_write, s.sweep_read = [], [], []
        for lane in range(lanes):
            memory = Memory(shape=signed(layout.accumulator_bits), depth=accumulator_depth,
                            init=[])
            m.submodules[f"accumulator_{lane}"] = memory
            s.accumulator_write.append(memory.write_port())
            s.accumulator_read.append(memory.read_port())
            s.sweep_read.append(memory.read_port() if layout.sweep_overlap
                              else s.accumulator_read[-1])

    def _lookup(self, m: Module, s: _Nets) -> None:
        """Events into the source table, one per cycle, into two entry slots."""
        layout = self.layout
        # -- lookup: one event per cycle into the source table ---------------------------------
        # Two entry slots: the table's output (held while its read enable is low) and a register
        # behind it, so no logic sits between the block RAM's slow output and a flip-flop.
        s.looked_up = Signal()       # the table's output holds an entry not yet moved on
        s.entry_valid = Signal()
        s.entry = Signal(s.entry_layout, reset_less=True)  # data registers: qualified by valids
        s.entry_taken = Signal()
        table_read = s.source_table.read_port()
        move = s.looked_up & (~s.entry_valid | s.entry_taken)
        accept_event = self.events.valid & self.events.ready
        m.d.comb += [
            self.events.ready.eq(self.enable & (~s.looked_up | move)),
            table_read.addr.eq(self.events.payload[:layout.source_index_bits]),
            table_read.en.eq(accept_event),
        ]
        m.d.sync += [s.looked_up.eq(accept_event | (s.looked_up & ~move)),
                     s.entry_valid.eq(move | (s.entry_valid & ~s.entry_taken))]
        with m.If(move):
            m.d.sync += s.entry.eq(table_read.data)

    def _issue(self, m: Module, s: _Nets) -> None:
        """One synapse word per cycle from the entry; crossbar sums in the gaps."""
        layout = self.layout
        # -- issue: one synapse word per cycle; the next entry is taken with the last word -----
        address = Signal(layout.synapse_address_bits)
        remaining = Signal(len(s.entry.word_count))
        # Flags kept with `remaining`, so no compare of it sits in front of the ready signals.
        s.issuing = Signal()             # remaining != 0
        can_take = Signal(init=1)      # remaining <= 1: the next entry can be taken this cycle
        # The entry's row offset travels with its words (issue -> read -> word register).
        s.row_offsets = [Signal(layout.row_bits, name=f"row_offset_{stage}")
                       for stage in ("issue", "read", "word")] if layout.shared_rows else []
        # Crossbar rows leave through a register slice: its `ready` is a flip-flop, where the
        # top level's would be decoded from the row number.
        if layout.timing_registers:
            m.submodules.row_register = row_register = StreamRegister(layout.crossbar_row_bits)
            wiring.connect(m, row_register.o, wiring.flipped(self.crossbar_rows))
            rows, s.rows_held = row_register.i, row_register.occupied
        else:
            rows, s.rows_held = self.crossbar_rows, Const(0)
        m.d.comb += [
            rows.valid.eq(s.entry_valid & s.entry.crossbar & can_take),
            rows.payload.eq(s.entry.first_word),
            s.entry_taken.eq(s.entry_valid & can_take & (~s.entry.crossbar | rows.ready)),
        ]
        # (The compares are written as bit tests: Yosys would build carry chains for them.)
        with m.If(s.entry_taken & ~s.entry.crossbar):
            m.d.sync += [address.eq(s.entry.first_word), remaining.eq(s.entry.word_count),
                         s.issuing.eq(s.entry.word_count.any()),
                         can_take.eq(~s.entry.word_count[1:].any())]          # count <= 1
            if layout.shared_rows:
                m.d.sync += s.row_offsets[0].eq(s.entry.row_offset)
        with m.Elif(s.issuing):
            m.d.sync += [address.eq(address + 1), remaining.eq(remaining - 1),
                         s.issuing.eq(~can_take),
                         can_take.eq(~remaining[2:].any() & ~remaining[:2].all())]  # <= 2
        s.word_read = s.synapses.read_port()
        m.d.comb += [s.word_read.addr.eq(address), s.word_read.en.eq(1)]
        # Crossbar partial sums use the cycles without a word.
        s.sum_accepted = self.crossbar_sums.valid & self.crossbar_sums.ready
        m.d.comb += self.crossbar_sums.ready.eq(self.enable & ~s.issuing)

    def _decode(self, m: Module, s: _Nets) -> None:
        """The registered word and crossbar sum, decoded into one operation per lane."""
        layout = self.layout
        lane_shift = layout.lane_bits
        accumulator_depth = layout.delay_slots * layout.rows_per_lane
        accumulator_address_bits = bits_for(accumulator_depth)
        # -- decode: one operation per lane ----------------------------------------------------
        # The block RAM's output is registered before any logic (its clock-to-out is ~6 ns on
        # ECP5); crossbar sums wait the same two cycles, so they fill exactly the word gaps.
        s.word_read_valid = Signal()
        s.word_valid = Signal()
        s.word = Signal(s.word_layout, reset_less=True)
        s.crossbar_accepted = Signal()
        crossbar_accepted_sum = Signal(crossbar_sum_layout(layout), reset_less=True)
        s.crossbar_sum = Signal(crossbar_sum_layout(layout), reset_less=True)
        m.d.sync += [s.word_read_valid.eq(s.issuing), s.word_valid.eq(s.word_read_valid),
                     s.word.eq(s.word_read.data), s.crossbar_accepted.eq(s.sum_accepted),
                     s.crossbar_sum.eq(crossbar_accepted_sum)]
        if layout.shared_rows:
            m.d.sync += [s.row_offsets[1].eq(s.row_offsets[0]),
                         s.row_offsets[2].eq(s.row_offsets[1])]

        def shifted(row):
            return (row + s.row_offsets[2])[:layout.row_bits] if layout.shared_rows else row

        s.shifted = shifted

        with m.If(s.sum_accepted):
            m.d.sync += crossbar_accepted_sum.eq(self.crossbar_sums.payload)
        s.operation_layout = data.StructLayout({
            "valid": unsigned(1), "address": unsigned(accumulator_address_bits),
            "weight": signed(layout.accumulator_bits)})
        s.crossbar_lane = crossbar_accepted_sum.target[:lane_shift] if lane_shift else Const(0)
        s.crossbar_address = self._accumulator_address(self._bank_of(s.crossbar_sum.delay),
                                               s.crossbar_sum.target[lane_shift:])

    def _sweep_requests(self, m: Module, s: _Nets) -> None:
        """The core's sweep requests, registered beside each lane."""
        layout = self.layout
        lanes = layout.synapse_lanes
        lane_shift = layout.lane_bits
        # -- sweep requests, registered per lane ----------------------------------------------
        # The core presents each request a cycle ahead. Each lane's copy (replicas synthesis
        # keeps apart) sits beside its accumulator block RAM, so no register drives the read
        # address of every lane. The strobe has two copies that read 0 after a reset (initial
        # value 0 stored plain, all ones stored inverted).
        copies = min(lanes, MAX_REPLICAS) if layout.timing_registers else 1
        request = Cat(self.sweep_neuron, self.sweep_slot)
        s.requests = [data.View(s.request_layout, copy)
                    for copy in replicas(m, request, copies, "sweep_request")]
        strobes = [replica(m, self.sweep_read, copy, f"sweep_read_{copy}", reset_less=False)
                   for copy in ((0, 3) if copies > 1 else (0,))]

        # A sweep request covers neurons `neuron + j` of one row: lanes `block * k + j`, with
        # `block` the request's lane bits above the neuron-lane bits.
        s.group_shift = layout.neuron_lane_bits
        s.block_bits = lane_shift - s.group_shift

        def sweep_of(lane):
            """Lane ``lane``'s copy of the request: whether it reads this lane, its row and
            bank."""
            strobe, request = strobes[lane % len(strobes)], s.requests[lane % len(s.requests)]
            here = strobe[lane % layout.neuron_lanes]
            if s.block_bits:
                here = here & (request.neuron[s.group_shift:lane_shift] == lane >> s.group_shift)
            return here, request.neuron[lane_shift:], request.slot

        s.sweep_of = sweep_of

    def _lanes(self, m: Module, s: _Nets) -> None:
        """Per lane: read, capture, add with forwarding, write; the sweep's reads and zeros."""
        layout = self.layout
        lanes = layout.synapse_lanes
        lane_shift = layout.lane_bits
        row_shift = (layout.rows_per_lane - 1).bit_length()
        bank_bits = bits_for(layout.delay_slots)
        accumulator_depth = layout.delay_slots * layout.rows_per_lane
        accumulator_address_bits = bits_for(accumulator_depth)
        # -- per lane: read, capture, add with forwarding, write -------------------------------
        block = s.requests[0].neuron[s.group_shift:lane_shift] if s.block_bits else Const(0)
        sweep_block_delayed = [Signal(max(1, s.block_bits), name=f"sweep_block_{i}")
                               for i in (1, 2)]
        m.d.sync += [sweep_block_delayed[0].eq(block),
                     sweep_block_delayed[1].eq(sweep_block_delayed[0])]
        s.clearing = Signal()
        s.clear_address = Signal(accumulator_address_bits)
        # The clear's zero writes land a cycle after their address is known, from registers.
        clear_zero = Signal()
        clear_zero_address = Signal(accumulator_address_bits, reset_less=True)
        m.d.sync += [clear_zero.eq(s.clearing), clear_zero_address.eq(s.clear_address)]
        s.stage_valid, s.zeros_pending, added = [], [], []
        for lane in range(lanes):
            # Each lane's decode register sits by its accumulator block RAM, so the read
            # address is a register; its source is selected by a flag of the lane's own (the
            # crossbar sum's lane, decoded a stage ahead), not by one valid bit for all lanes.
            crossbar_here = Signal(name=f"crossbar_here_{lane}")
            m.d.sync += crossbar_here.eq(s.crossbar_accepted & (s.crossbar_lane == lane))
            decoded = Signal(s.operation_layout, name=f"decoded_{lane}")
            m.d.sync += decoded.valid.eq((s.word_valid & s.word[f"lane{lane}_weight"].any())
                                         | crossbar_here)
            with m.If(crossbar_here):
                m.d.sync += [decoded.address.eq(s.crossbar_address),
                             decoded.weight.eq(s.crossbar_sum.value)]
            with m.Else():
                m.d.sync += [decoded.address.eq(self._accumulator_address(
                                 self._bank_of(s.word[f"lane{lane}_delay"]),
                                 s.shifted(s.word[f"lane{lane}_row"]))),
                             decoded.weight.eq(s.word[f"lane{lane}_weight"])]
            read, write = s.accumulator_read[lane], s.accumulator_write[lane]
            reading = Signal(s.operation_layout, name=f"reading_{lane}")
            captured = Signal(s.operation_layout, name=f"captured_{lane}")
            captured_value = Signal(signed(layout.accumulator_bits), name=f"captured_value_{lane}",
                                    reset_less=True)
            m.d.sync += [reading.eq(decoded), captured.eq(reading), captured_value.eq(read.data)]
            # The two writes before this one landed after its read: forward them, newest first.
            # Which of them to forward is compared a cycle ahead (``reading`` against the
            # operations that become those writes), so the add stage is only a select and the
            # adder.
            written = [Signal(s.operation_layout, name=f"written_{lane}_{age}") for age in (1, 2)]
            forward = [Signal(name=f"forward_{lane}_{age}") for age in (1, 2)]
            m.d.sync += [
                forward[0].eq(captured.valid & (captured.address == reading.address)),
                forward[1].eq(written[0].valid & (written[0].address == reading.address)),
            ]
            base = Mux(forward[0], written[0].weight,
                       Mux(forward[1], written[1].weight, captured_value))
            total = Signal(signed(layout.accumulator_bits), name=f"total_{lane}")
            m.d.comb += total.eq(base + captured.weight)
            m.d.sync += [
                written[0].valid.eq(captured.valid),
                written[0].address.eq(captured.address),
                written[0].weight.eq(total),
                written[1].eq(written[0]),
            ]
            # The sweep reads through its own port and leaves the zero it owes the swept
            # accumulator to the lane's write port, in a cycle without an addition: a sweep
            # reads one bank's rows in ascending order, so what is owed is the range
            # ``zero_row..last_row`` of ``zero_bank``. Nothing adds into those accumulators
            # before the range is written (the schedule sends no event into a swept bank
            # during its timestep, and the phase barrier waits for the range).
            swept, lane_row, lane_bank = s.sweep_of(lane)
            pending = Signal(name=f"zero_pending_{lane}")
            zero_row = Signal(max(1, row_shift), name=f"zero_row_{lane}", reset_less=True)
            last_row = Signal.like(zero_row, name=f"last_row_{lane}")
            zero_bank = Signal(bank_bits, name=f"zero_bank_{lane}", reset_less=True)
            zero_now = pending & ~captured.valid
            range_ends = zero_now & (zero_row == last_row)
            with m.If(swept):
                m.d.sync += last_row.eq(lane_row)
                with m.If(~pending | range_ends):
                    m.d.sync += [pending.eq(1), zero_row.eq(lane_row), zero_bank.eq(lane_bank)]
                with m.Elif(zero_now):
                    m.d.sync += zero_row.eq(zero_row + 1)
            with m.Elif(zero_now):
                m.d.sync += zero_row.eq(zero_row + 1)
                with m.If(range_ends):
                    m.d.sync += pending.eq(0)
            s.zeros_pending.append(pending)
            added.append(Cat(captured.valid & (captured.address >> row_shift == bank)
                             for bank in range(layout.delay_slots)))
            sweep_address = self._accumulator_address(lane_bank, lane_row)
            if layout.sweep_overlap:
                m.d.comb += [read.addr.eq(decoded.address),
                             s.sweep_read[lane].addr.eq(sweep_address),
                             s.sweep_read[lane].en.eq(1)]
            else:
                m.d.comb += read.addr.eq(Mux(swept, sweep_address, decoded.address))
            m.d.comb += [
                read.en.eq(1),
                write.en.eq(clear_zero | captured.valid | zero_now),
                write.addr.eq(Mux(captured.valid, captured.address,
                                  Mux(clear_zero, clear_zero_address,
                                      self._accumulator_address(zero_bank, zero_row)))),
                write.data.eq(Mux(captured.valid, total, 0)),
            ]
            s.stage_valid += [crossbar_here, decoded.valid, reading.valid]

        total = added[0]
        for lane_added in added[1:]:
            total = total | lane_added
        m.d.sync += self.added_banks.eq(total)

        # Every lane's sweep output is registered, then each neuron lane's is selected from the
        # swept block.
        lane_outputs = [Signal.like(read.data, name=f"sweep_output_{lane}", reset_less=True)
                        for lane, read in enumerate(s.sweep_read)]
        m.d.sync += [output.eq(read.data) for output, read in zip(lane_outputs, s.sweep_read)]
        k = layout.neuron_lanes
        for j in range(k):
            m.d.comb += self.sweep_input[j].eq(
                Array(lane_outputs[j::k])[sweep_block_delayed[1]] if s.block_bits
                else lane_outputs[j])

        # Count the synapses of each word (a registered popcount keeps it off the add path).
        word_synapses = Signal(range(lanes + 1))
        m.d.sync += [
            word_synapses.eq(Mux(s.word_valid, sum(
                (s.word[f"lane{lane}_weight"] != 0).as_unsigned() for lane in range(lanes)), 0)),
            self.synaptic_events.eq(self.synaptic_events + word_synapses),
        ]

    def _clear(self, m: Module, s: _Nets) -> None:
        """Zeroing every bank of every lane, and busy."""
        layout = self.layout
        accumulator_depth = layout.delay_slots * layout.rows_per_lane
        # -- clear: zero every bank of every lane, one row per cycle ---------------------------
        with m.If(self.clear & ~s.clearing):
            m.d.sync += [s.clearing.eq(1), s.clear_address.eq(0)]
        with m.Elif(s.clearing):
            m.d.sync += s.clear_address.eq(s.clear_address + 1)
            with m.If(s.clear_address == accumulator_depth - 1):
                m.d.sync += s.clearing.eq(0)

        # The stages after the issue stage hold work exactly when their predecessors did a cycle
        # earlier (the clear's zero writes included; a sweep's are covered by the core's sweep):
        # their OR is registered from those, away from the core's FSM.
        draining = Signal()
        m.d.sync += draining.eq(s.issuing | s.word_read_valid | s.word_valid | s.sum_accepted
                                | s.crossbar_accepted | s.clearing | Cat(*s.stage_valid).any())
        m.d.comb += self.busy.eq(s.looked_up | s.entry_valid | s.issuing | s.clearing | draining
                                 | s.rows_held | Cat(*s.zeros_pending).any())
        return m

