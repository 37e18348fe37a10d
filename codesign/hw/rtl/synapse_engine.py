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
lane) and clears it a cycle later (the zero write is registered per lane, like the clear's); ``clear`` zeroes every bank. Both are only legal
while the engine is idle (the core ensures it), and a swept accumulator is not swept again in
the next cycle. ``busy`` is an OR of a few flip-flops: the valids of the stages after the
issue stage are ORed a cycle ahead into ``draining``.
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


class SynapseEngine(wiring.Component):
    """See the module docstring. Ports:

    * ``events`` (stream of 16-bit source ids; the low ``source_index_bits`` index the table),
    * ``crossbar_rows`` (stream of row numbers of crossbar-mapped sources),
    * ``crossbar_sums`` (stream of :func:`crossbar_sum_layout`),
    * ``timestep_slot`` (t mod delay_slots, stable while busy), ``enable`` (accept new work),
    * ``program`` (writes of the SOURCE_TABLE and SYNAPSES memories),
    * ``sweep_read``/``sweep_neuron``/``sweep_slot``: the accumulator to read in the *next*
      cycle (registered here per lane) -> ``sweep_input`` three cycles after it is presented,
    * ``clear`` (strobe), ``busy``,
    * ``synaptic_events``: synapses (non-empty slots) accumulated since reset, wraps at 2^32.
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
            "sweep_read": In(1),
            "sweep_neuron": In(layout.neuron_index_bits),
            "sweep_slot": In(range(layout.delay_slots)),
            "sweep_input": Out(signed(layout.accumulator_bits)),
            "clear": In(1),
            "busy": Out(1),
            "synaptic_events": Out(32),
        })

    @classmethod
    def from_config(cls, config: Any) -> "SynapseEngine":
        return cls(CoreLayout.from_config(config))

    def elaborate(self, platform) -> Module:
        m = Module()
        layout = self.layout
        lanes = layout.synapse_lanes
        lane_shift = layout.lane_bits
        row_shift = (layout.rows_per_lane - 1).bit_length()
        bank_bits = bits_for(layout.delay_slots)
        accumulator_depth = layout.delay_slots * layout.rows_per_lane
        accumulator_address_bits = bits_for(accumulator_depth)

        def accumulator_address(bank, row):
            return (bank << row_shift) | row[:row_shift] if row_shift else bank

        def bank_of(delay):
            total = self.timestep_slot + delay
            return Mux(total >= layout.delay_slots, total - layout.delay_slots, total)[:bank_bits]

        # -- memories -------------------------------------------------------------------------
        entry_layout = struct_layout(layout.source_entry_fields)
        word_layout = struct_layout(layout.synapse_word_fields)
        # Written only by program loading, while no event is processed (the accumulators are
        # not collision free: a sweep reads and clears an entry in the same cycle).
        m.submodules.source_table = source_table = Memory(
            shape=entry_layout, depth=layout.source_table_depth, init=[], attrs=COLLISION_FREE)
        m.submodules.synapses = synapses = Memory(
            shape=word_layout, depth=layout.synapse_memory_depth, init=[], attrs=COLLISION_FREE)
        program = self.program
        for memory, select in ((source_table, MemorySelect.SOURCE_TABLE),
                               (synapses, MemorySelect.SYNAPSES)):
            port = memory.write_port()
            enable, address, word = memory_write(m, program, select, select.name.lower(),
                                                 layout.timing_registers)
            m.d.comb += [port.en.eq(enable), port.addr.eq(address), port.data.eq(word)]
        request_layout = data.StructLayout({"neuron": unsigned(layout.neuron_index_bits),
                                            "slot": self.sweep_slot.shape()})
        accumulator_read, accumulator_write = [], []
        for lane in range(lanes):
            memory = Memory(shape=signed(layout.accumulator_bits), depth=accumulator_depth,
                            init=[])
            m.submodules[f"accumulator_{lane}"] = memory
            accumulator_write.append(memory.write_port())
            accumulator_read.append(memory.read_port())

        # -- lookup: one event per cycle into the source table ---------------------------------
        # Two entry slots: the table's output (held while its read enable is low) and a register
        # behind it, so no logic sits between the block RAM's slow output and a flip-flop.
        looked_up = Signal()       # the table's output holds an entry not yet moved on
        entry_valid = Signal()
        entry = Signal(entry_layout, reset_less=True)  # data registers: qualified by valids
        entry_taken = Signal()
        table_read = source_table.read_port()
        move = looked_up & (~entry_valid | entry_taken)
        accept_event = self.events.valid & self.events.ready
        m.d.comb += [
            self.events.ready.eq(self.enable & (~looked_up | move)),
            table_read.addr.eq(self.events.payload[:layout.source_index_bits]),
            table_read.en.eq(accept_event),
        ]
        m.d.sync += [looked_up.eq(accept_event | (looked_up & ~move)),
                     entry_valid.eq(move | (entry_valid & ~entry_taken))]
        with m.If(move):
            m.d.sync += entry.eq(table_read.data)

        # -- issue: one synapse word per cycle; the next entry is taken with the last word -----
        address = Signal(layout.synapse_address_bits)
        remaining = Signal(len(entry.word_count))
        # Flags kept with `remaining`, so no compare of it sits in front of the ready signals.
        issuing = Signal()             # remaining != 0
        can_take = Signal(init=1)      # remaining <= 1: the next entry can be taken this cycle
        # The entry's row offset travels with its words (issue -> read -> word register).
        row_offsets = [Signal(layout.row_bits, name=f"row_offset_{stage}")
                       for stage in ("issue", "read", "word")] if layout.shared_rows else []
        # Crossbar rows leave through a register slice: its `ready` is a flip-flop, where the
        # top level's would be decoded from the row number.
        if layout.timing_registers:
            m.submodules.row_register = row_register = StreamRegister(layout.crossbar_row_bits)
            wiring.connect(m, row_register.o, wiring.flipped(self.crossbar_rows))
            rows, rows_held = row_register.i, row_register.occupied
        else:
            rows, rows_held = self.crossbar_rows, Const(0)
        m.d.comb += [
            rows.valid.eq(entry_valid & entry.crossbar & can_take),
            rows.payload.eq(entry.first_word),
            entry_taken.eq(entry_valid & can_take & (~entry.crossbar | rows.ready)),
        ]
        # (The compares are written as bit tests: Yosys would build carry chains for them.)
        with m.If(entry_taken & ~entry.crossbar):
            m.d.sync += [address.eq(entry.first_word), remaining.eq(entry.word_count),
                         issuing.eq(entry.word_count.any()),
                         can_take.eq(~entry.word_count[1:].any())]          # count <= 1
            if layout.shared_rows:
                m.d.sync += row_offsets[0].eq(entry.row_offset)
        with m.Elif(issuing):
            m.d.sync += [address.eq(address + 1), remaining.eq(remaining - 1),
                         issuing.eq(~can_take),
                         can_take.eq(~remaining[2:].any() & ~remaining[:2].all())]  # <= 2
        word_read = synapses.read_port()
        m.d.comb += [word_read.addr.eq(address), word_read.en.eq(1)]
        # Crossbar partial sums use the cycles without a word.
        sum_accepted = self.crossbar_sums.valid & self.crossbar_sums.ready
        m.d.comb += self.crossbar_sums.ready.eq(self.enable & ~issuing)

        # -- decode: one operation per lane ----------------------------------------------------
        # The block RAM's output is registered before any logic (its clock-to-out is ~6 ns on
        # ECP5); crossbar sums wait the same two cycles, so they fill exactly the word gaps.
        word_read_valid = Signal()
        word_valid = Signal()
        word = Signal(word_layout, reset_less=True)
        crossbar_accepted = Signal()
        crossbar_accepted_sum = Signal(crossbar_sum_layout(layout), reset_less=True)
        crossbar_sum = Signal(crossbar_sum_layout(layout), reset_less=True)
        m.d.sync += [word_read_valid.eq(issuing), word_valid.eq(word_read_valid),
                     word.eq(word_read.data), crossbar_accepted.eq(sum_accepted),
                     crossbar_sum.eq(crossbar_accepted_sum)]
        if layout.shared_rows:
            m.d.sync += [row_offsets[1].eq(row_offsets[0]), row_offsets[2].eq(row_offsets[1])]

        def shifted(row):
            return (row + row_offsets[2])[:layout.row_bits] if layout.shared_rows else row

        with m.If(sum_accepted):
            m.d.sync += crossbar_accepted_sum.eq(self.crossbar_sums.payload)
        operation_layout = data.StructLayout({
            "valid": unsigned(1), "address": unsigned(accumulator_address_bits),
            "weight": signed(layout.accumulator_bits)})
        crossbar_lane = crossbar_accepted_sum.target[:lane_shift] if lane_shift else Const(0)
        crossbar_address = accumulator_address(bank_of(crossbar_sum.delay),
                                               crossbar_sum.target[lane_shift:])

        # -- sweep requests, registered per lane ----------------------------------------------
        # The core presents each request a cycle ahead. Each lane's copy (replicas synthesis
        # keeps apart) sits beside its accumulator block RAM, so no register drives the read
        # address of every lane. The strobe has two copies that read 0 after a reset (initial
        # value 0 stored plain, all ones stored inverted).
        copies = min(lanes, MAX_REPLICAS) if layout.timing_registers else 1
        request = Cat(self.sweep_neuron, self.sweep_slot)
        requests = [data.View(request_layout, copy)
                    for copy in replicas(m, request, copies, "sweep_request")]
        strobes = [replica(m, self.sweep_read, copy, f"sweep_read_{copy}", reset_less=False)
                   for copy in ((0, 3) if copies > 1 else (0,))]

        def sweep_of(lane):
            """Lane ``lane``'s copy of the strobe, the neuron's lane and its address."""
            strobe, request = strobes[lane % len(strobes)], requests[lane % len(requests)]
            lane_number = request.neuron[:lane_shift] if lane_shift else Const(0)
            return (strobe, lane_number,
                    accumulator_address(request.slot, request.neuron[lane_shift:]))

        # -- per lane: read, capture, add with forwarding, write -------------------------------
        _, sweep_lane, sweep_address = sweep_of(0)
        sweep_lane_delayed = [Signal(max(1, lane_shift), name=f"sweep_lane_{i}") for i in (1, 2)]
        m.d.sync += [sweep_lane_delayed[0].eq(sweep_lane),
                     sweep_lane_delayed[1].eq(sweep_lane_delayed[0])]
        clearing = Signal()
        clear_address = Signal(accumulator_address_bits)
        # Zero writes (clear, and the swept accumulator) land a cycle after their address is
        # known, from registers: one address for every lane, an enable per lane.
        zero_address = Signal(accumulator_address_bits, reset_less=True)
        m.d.sync += zero_address.eq(Mux(clearing, clear_address, sweep_address))
        stage_valid = []
        for lane in range(lanes):
            # Each lane's decode register sits by its accumulator block RAM, so the read
            # address is a register; its source is selected by a flag of the lane's own (the
            # crossbar sum's lane, decoded a stage ahead), not by one valid bit for all lanes.
            crossbar_here = Signal(name=f"crossbar_here_{lane}")
            m.d.sync += crossbar_here.eq(crossbar_accepted & (crossbar_lane == lane))
            decoded = Signal(operation_layout, name=f"decoded_{lane}")
            m.d.sync += decoded.valid.eq(word_valid | crossbar_here)
            with m.If(crossbar_here):
                m.d.sync += [decoded.address.eq(crossbar_address),
                             decoded.weight.eq(crossbar_sum.value)]
            with m.Else():
                m.d.sync += [decoded.address.eq(accumulator_address(
                                 bank_of(word[f"lane{lane}_delay"]),
                                 shifted(word[f"lane{lane}_row"]))),
                             decoded.weight.eq(word[f"lane{lane}_weight"])]
            read, write = accumulator_read[lane], accumulator_write[lane]
            reading = Signal(operation_layout, name=f"reading_{lane}")
            captured = Signal(operation_layout, name=f"captured_{lane}")
            captured_value = Signal(signed(layout.accumulator_bits), name=f"captured_value_{lane}",
                                    reset_less=True)
            m.d.sync += [reading.eq(decoded), captured.eq(reading), captured_value.eq(read.data)]
            # The two writes before this one landed after its read: forward them, newest first.
            # Which of them to forward is compared a cycle ahead (``reading`` against the
            # operations that become those writes), so the add stage is only a select and the
            # adder.
            written = [Signal(operation_layout, name=f"written_{lane}_{age}") for age in (1, 2)]
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
            lane_strobe, lane_of_neuron, lane_address = sweep_of(lane)
            zeroing = Signal(name=f"zeroing_{lane}")
            m.d.sync += zeroing.eq(clearing | (lane_strobe & (lane_of_neuron == lane)))
            m.d.comb += [
                read.addr.eq(Mux(lane_strobe, lane_address, decoded.address)),
                read.en.eq(1),
                write.en.eq(zeroing | captured.valid),
                write.addr.eq(Mux(zeroing, zero_address, captured.address)),
                write.data.eq(Mux(zeroing, 0, total)),
            ]
            stage_valid += [crossbar_here, decoded.valid, reading.valid]

        # Every lane's output is registered, then the swept neuron's lane is selected.
        lane_outputs = [Signal.like(read.data, name=f"sweep_output_{lane}", reset_less=True)
                        for lane, read in enumerate(accumulator_read)]
        m.d.sync += [output.eq(read.data) for output, read in zip(lane_outputs, accumulator_read)]
        m.d.comb += self.sweep_input.eq(Array(lane_outputs)[sweep_lane_delayed[1]])

        # Count the synapses of each word (a registered popcount keeps it off the add path).
        word_synapses = Signal(range(lanes + 1))
        m.d.sync += [
            word_synapses.eq(Mux(word_valid, sum(
                (word[f"lane{lane}_weight"] != 0).as_unsigned() for lane in range(lanes)), 0)),
            self.synaptic_events.eq(self.synaptic_events + word_synapses),
        ]

        # -- clear: zero every bank of every lane, one row per cycle ---------------------------
        with m.If(self.clear & ~clearing):
            m.d.sync += [clearing.eq(1), clear_address.eq(0)]
        with m.Elif(clearing):
            m.d.sync += clear_address.eq(clear_address + 1)
            with m.If(clear_address == accumulator_depth - 1):
                m.d.sync += clearing.eq(0)

        # The stages after the issue stage hold work exactly when their predecessors did a cycle
        # earlier (the clear's zero writes included; a sweep's are covered by the core's sweep):
        # their OR is registered from those, away from the core's FSM.
        draining = Signal()
        m.d.sync += draining.eq(issuing | word_read_valid | word_valid | sum_accepted
                                | crossbar_accepted | clearing | Cat(*stage_valid).any())
        m.d.comb += self.busy.eq(looked_up | entry_valid | issuing | clearing | draining
                                 | rows_held)
        return m

