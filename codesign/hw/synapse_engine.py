"""Event-driven synapse engine: the dataflow part of a hybrid core.

For every source id on ``events`` it streams that source's synapse words from block RAM and adds
every slot's weight into the accumulator of its target, ``synapse_lanes`` synapses per cycle; its
work is proportional to spikes x fan-out / lanes, never to the neuron count. Pipeline::

    lookup   source table (sync read), entry register  one event per cycle
    issue    word address counter (sync read)           one word per cycle, no gap between events
    word     register the block-RAM output
    decode   lane slots -> (bank, row, weight)          crossbar partial sums merge here
    read     per-lane accumulator read
    capture  register the block-RAM output
    add      forwarded value + weight -> write back

A source-table entry's ``row_offset`` (``shared_rows``) is added to every slot's row in the
decode stage, modulo ``rows_per_lane``: sources whose rows differ only by that shift share words.

Accumulators: lane ``k`` owns neurons ``k, k + lanes, ...`` in its own memory (one read and one
write port, so one block RAM), address ``bank * rows_per_lane + neuron // lanes``, bank
``(timestep_slot + delay) mod delay_slots``. Read-modify-write hazards: a word's read happens two
cycles before the writes of the two words ahead of it land, so the add stage forwards from the
last two writes (newest first); sums are therefore exact for any sequence of targets.

The sweep reads (and in the same cycle clears) one accumulator through ``sweep_*``; ``clear``
zeroes every bank. Both are only legal while the engine is idle (the core ensures it).
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from codesign.hw.core_layout import (COLLISION_FREE, SOURCE_ID_BITS, CoreLayout, MemorySelect,
                                     bits_for)
from codesign.hw.host_interface import ProgramWriteSignature, memory_write


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
    * ``sweep_read``/``sweep_neuron``/``sweep_slot`` -> ``sweep_input`` two cycles later,
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
        entry_layout = layout.source_entry_fields.layout
        word_layout = layout.synapse_word_fields.layout
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
        # The entry's row offset travels with its words (issue -> read -> word register).
        row_offsets = [Signal(layout.row_bits, name=f"row_offset_{stage}")
                       for stage in ("issue", "read", "word")] if layout.shared_rows else []
        issuing = remaining != 0
        can_take = ~issuing | (remaining == 1)
        forward_row = entry_valid & entry.crossbar & can_take
        m.d.comb += [
            self.crossbar_rows.valid.eq(forward_row),
            self.crossbar_rows.payload.eq(entry.first_word),
            entry_taken.eq(entry_valid & can_take & (~entry.crossbar | self.crossbar_rows.ready)),
        ]
        with m.If(entry_taken & ~entry.crossbar):
            m.d.sync += [address.eq(entry.first_word), remaining.eq(entry.word_count)]
            if layout.shared_rows:
                m.d.sync += row_offsets[0].eq(entry.row_offset)
        with m.Elif(issuing):
            m.d.sync += [address.eq(address + 1), remaining.eq(remaining - 1)]
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
        crossbar_valid = Signal()
        crossbar_sum = Signal(crossbar_sum_layout(layout), reset_less=True)
        m.d.sync += [word_read_valid.eq(issuing), word_valid.eq(word_read_valid),
                     word.eq(word_read.data),
                     crossbar_accepted.eq(sum_accepted), crossbar_valid.eq(crossbar_accepted),
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
        crossbar_lane = crossbar_sum.target[:lane_shift] if lane_shift else Const(0)
        crossbar_row = crossbar_sum.target[lane_shift:]

        # -- per lane: read, capture, add with forwarding, write -------------------------------
        sweep_lane = self.sweep_neuron[:lane_shift] if lane_shift else Const(0)
        sweep_address = accumulator_address(self.sweep_slot, self.sweep_neuron[lane_shift:])
        sweep_lane_delayed = [Signal(max(1, lane_shift), name=f"sweep_lane_{i}") for i in (1, 2)]
        m.d.sync += [sweep_lane_delayed[0].eq(sweep_lane),
                     sweep_lane_delayed[1].eq(sweep_lane_delayed[0])]
        clearing = Signal()
        clear_address = Signal(accumulator_address_bits)
        pipeline_valid = []
        for lane in range(lanes):
            decoded = Signal(operation_layout, name=f"decoded_{lane}")
            with m.If(word_valid):
                m.d.comb += [
                    decoded.valid.eq(1),
                    decoded.address.eq(accumulator_address(
                        bank_of(word[f"lane{lane}_delay"]),
                        shifted(word[f"lane{lane}_row"]))),
                    decoded.weight.eq(word[f"lane{lane}_weight"]),
                ]
            with m.Elif(crossbar_valid & (crossbar_lane == lane)):
                m.d.comb += [
                    decoded.valid.eq(1),
                    decoded.address.eq(accumulator_address(bank_of(crossbar_sum.delay),
                                                           crossbar_row)),
                    decoded.weight.eq(crossbar_sum.value),
                ]
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
            sweep_here = self.sweep_read & (sweep_lane == lane)
            m.d.comb += [
                read.addr.eq(Mux(self.sweep_read, sweep_address, decoded.address)),
                read.en.eq(1),
            ]
            with m.If(clearing):
                m.d.comb += [write.en.eq(1), write.addr.eq(clear_address), write.data.eq(0)]
            with m.Elif(sweep_here):
                # Read-before-write in the same cycle: the sweep gets the sum, the bank gets 0.
                m.d.comb += [write.en.eq(1), write.addr.eq(sweep_address), write.data.eq(0)]
            with m.Else():
                m.d.comb += [write.en.eq(captured.valid), write.addr.eq(captured.address),
                             write.data.eq(total)]
            pipeline_valid += [reading.valid, captured.valid]

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

        m.d.comb += self.busy.eq(looked_up | entry_valid | issuing | word_read_valid | word_valid
                                 | crossbar_accepted | crossbar_valid | clearing
                                 | Cat(*pipeline_valid).any())
        return m

