"""Host interface: decodes the command stream and answers on the response stream.

The protocol (opcodes, field layouts, packing) is defined once, in Python, by
:mod:`codesign.hw.host_driver`, and documented in docs/hardware.md ("Host interface protocol").
This component is its hardware decoder:

* ``host_width``-bit stream words are gathered into 32-bit fields (least significant word first)
  and answers are split back the same way;
* WRITE drives the :class:`ProgramWriteSignature` bus (one ``enable`` pulse per memory word, the
  top level decodes ``unit``);
* INPUT fills the input buffer, which the sequencer plays into the router in phase 0 of the next
  timestep (``input_play`` -> ``input_events``, one event per repeat);
* STEP pulses ``step_start`` and waits for ``step_done`` once per timestep;
* events the router sends to the host are captured in the output buffer (tagged with the step
  index since the last READ_OUTPUT) while the timestep runs, so slow hosts never stall the
  accelerator and never change its cycle counts;
* READ_STATE reads words through the :class:`ReadSignature` bus; READ_COUNTERS answers
  ``counters``.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from codesign.hw import host_driver as protocol
from codesign.hw.core_layout import COLLISION_FREE, bits_for

SOURCE_ID_BITS = protocol.SOURCE_ID_BITS
FIELD_BITS = protocol.FIELD_BITS


class ProgramWriteSignature(wiring.Signature):
    """Program-loading bus, from the host interface's side: one memory word per ``enable``.

    ``unit`` and ``memory`` are set at least one cycle before the first ``enable`` of their
    writes and held through the last (the host sends a command's header, address and count
    before its data), so receivers may compare them in registers.
    """

    def __init__(self, data_bits: int):
        super().__init__({
            "unit": Out(8),
            "memory": Out(8),
            "address": Out(32),
            "data": Out(data_bits),
            "enable": Out(1),
        })


def memory_write(m: Module, program: Any, select: int, name: str,
                 registered: bool) -> tuple[Value, Value, Value]:
    """``(enable, address, data)`` of one memory's writes from a program-write bus (``program``
    seen from the receiving side), the memory being addressed by ``memory == select``.

    ``registered``: the memory gets its own copy, one cycle later: the ``memory == select``
    compare is a register (``memory`` is set before the writes, see ``ProgramWriteSignature``),
    and the reset-less ``address`` / ``data`` copies load whenever it is high, so their clock
    enable is that one flip-flop (no decode in front of a couple of hundred enables), and the
    copies of different memories differ (synthesis cannot merge them). The bus then drives one
    register per memory, which the placer keeps beside it.
    """
    if not registered:
        return program.enable & (program.memory == select), program.address, program.data
    addressed = Signal(name=f"{name}_addressed")
    enable = Signal(name=f"{name}_write_enable")
    address = Signal.like(program.address, name=f"{name}_write_address", reset_less=True)
    data = Signal.like(program.data, name=f"{name}_write_data", reset_less=True)
    m.d.sync += [addressed.eq(program.memory == select), enable.eq(program.enable & addressed)]
    with m.If(addressed):
        m.d.sync += [address.eq(program.address), data.eq(program.data)]
    return enable, address, data


#: What the command decoder asks of a field, computed as the field is gathered.
FIELD_FACTS = data.StructLayout({
    "zero": 1, "low_24_zero": 1,
    "opcode_write": 1, "opcode_read_state": 1, "opcode_input": 1, "opcode_step": 1,
    "opcode_read_output": 1, "opcode_read_counters": 1,
})


class ReadSignature(wiring.Signature):
    """Read-back bus: ``enable`` for one cycle with the address; the unit answers ``data`` with
    ``valid`` for one cycle, any number of cycles later."""

    def __init__(self, data_bits: int):
        super().__init__({
            "unit": Out(8),
            "memory": Out(8),
            "address": Out(32),
            "enable": Out(1),
            "data": In(data_bits),
            "valid": In(1),
        })


class HostInterface(wiring.Component):
    """Command decoder of the host protocol; see the module docstring for the ports' roles."""

    def __init__(self, host_width: int, write_data_bits: int, read_data_bits: int,
                 input_buffer_depth: int, output_buffer_depth: int):
        assert host_width in protocol.HOST_WIDTHS
        self.host_width = host_width
        self.write_fields = protocol.fields_per_word(write_data_bits)
        self.read_fields = protocol.fields_per_word(read_data_bits)
        self.input_buffer_depth = input_buffer_depth
        self.output_buffer_depth = output_buffer_depth
        super().__init__({
            "command": In(stream.Signature(host_width)),
            "response": Out(stream.Signature(host_width)),
            "program": Out(ProgramWriteSignature(self.write_fields * FIELD_BITS)),
            "read": Out(ReadSignature(self.read_fields * FIELD_BITS)),
            "step_start": Out(1),
            "step_done": In(1),
            "input_play": In(1),
            "input_busy": Out(1),
            "input_events": Out(stream.Signature(SOURCE_ID_BITS)),
            "output_events": In(stream.Signature(SOURCE_ID_BITS)),
            "counters": In(32).array(len(protocol.COUNTER_NAMES)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        in_field, in_valid, in_ready, facts = self._gather_fields(m)
        out_field, out_valid, out_ready = self._split_fields(m)

        opcode = Signal(8)
        unit = Signal(8)
        memory = Signal(8)
        per_word = Signal(8)
        address = Signal(32)
        count = Signal(32)
        slot = Signal(8)
        flags = Signal(8)
        step_index = Signal(protocol.OUTPUT_STEP_BITS)

        # Input buffer: INPUT appends fields `repeat[31:16] id[15:0]`, phase 0 plays them. Both
        # buffers are written and read in different commands, never in the same cycle.
        inputs = m.submodules.input_buffer = Memory(
            shape=FIELD_BITS, depth=self.input_buffer_depth, init=[], attrs=COLLISION_FREE)
        input_write = inputs.write_port()
        input_read = inputs.read_port()
        input_count = Signal(range(self.input_buffer_depth + 1))

        # Output buffer: `step[30:16] id[15:0]` per event the router sends to the host.
        outputs = m.submodules.output_buffer = Memory(
            shape=protocol.OUTPUT_STEP_BITS + SOURCE_ID_BITS, depth=self.output_buffer_depth,
            init=[], attrs=COLLISION_FREE)
        output_write = outputs.write_port()
        output_read = outputs.read_port()
        output_count = Signal(range(self.output_buffer_depth + 1))
        output_overflow = Signal()
        output_word = Signal.like(output_read.data, reset_less=True)

        # WRITE: gather a word's fields, then pulse `enable` with the whole word the next cycle.
        word = Signal(self.write_fields * FIELD_BITS, reset_less=True)  # qualified by enable
        # Fields the host does not send for a narrower memory read as zero: masked on the way
        # out rather than cleared in `word`, whose flip-flops then need no reset input.
        sent_fields = Signal.like(word, reset_less=True)
        write_address = Signal(32)
        # One-hot: the field of `word` the next WRITE_DATA field fills (zero outside WRITE_DATA).
        # Each field's clock enable is then this flip-flop and `in_valid`, not a decode of the
        # FSM state and `slot` fanned out to all of `word`.
        field_select = Signal(self.write_fields)
        with m.If(in_valid):
            for index in range(self.write_fields):
                with m.If(field_select[index]):
                    m.d.sync += word.word_select(index, FIELD_BITS).eq(in_field)
        program = self.program
        m.d.comb += [program.unit.eq(unit), program.memory.eq(memory),
                     program.address.eq(write_address), program.data.eq(word & sent_fields)]
        m.d.sync += program.enable.eq(0)
        with m.If(program.enable):
            m.d.sync += write_address.eq(write_address + 1)

        read_word = Signal(self.read_fields * FIELD_BITS, reset_less=True)
        m.d.comb += [self.read.unit.eq(unit), self.read.memory.eq(memory),
                     self.read.address.eq(address)]

        last_field_of_word = slot + 1 >= per_word
        step_flags = flags | Cat(Const(0, 1), output_overflow)  # bit 1: FLAG_OUTPUT_OVERFLOW
        assert protocol.FLAG_OUTPUT_OVERFLOW == 1 << 1

        with m.FSM():
            with m.State("HEADER"):
                m.d.comb += in_ready.eq(1)
                with m.If(in_valid):
                    m.d.sync += [opcode.eq(in_field[24:]), unit.eq(in_field[16:24]),
                                 memory.eq(in_field[8:16]), per_word.eq(in_field[:8]),
                                 count.eq(in_field[:24]), slot.eq(0)]
                    m.d.sync += sent_fields.eq(Cat(   # the first field is always sent
                        ((in_field[:8] > index) | (index == 0)).replicate(FIELD_BITS)
                        for index in range(self.write_fields)))
                    with m.If(facts.opcode_write | facts.opcode_read_state):
                        m.next = "ADDRESS"
                    with m.Elif(facts.opcode_input):
                        with m.If(~facts.low_24_zero):
                            m.next = "INPUT_DATA"
                    with m.Elif(facts.opcode_step):
                        m.next = "STEP_START"
                    with m.Elif(facts.opcode_read_output):
                        m.d.sync += address.eq(0)
                        m.next = "OUTPUT_FETCH"
                    with m.Elif(facts.opcode_read_counters):
                        m.d.sync += address.eq(0)
                        m.next = "COUNTERS_SEND"
                    with m.Else():
                        m.d.sync += flags.eq(flags | protocol.FLAG_UNKNOWN_OPCODE)

            with m.State("ADDRESS"):
                m.d.comb += in_ready.eq(1)
                with m.If(in_valid):
                    m.d.sync += [address.eq(in_field), write_address.eq(in_field)]
                    m.next = "COUNT"

            with m.State("COUNT"):
                m.d.comb += in_ready.eq(1)
                with m.If(in_valid):
                    m.d.sync += count.eq(in_field)
                    with m.If(facts.zero):
                        m.next = "HEADER"
                    with m.Elif(opcode == protocol.WRITE):
                        m.d.sync += field_select.eq(1)
                        m.next = "WRITE_DATA"
                    with m.Else():
                        m.next = "READ_ISSUE"

            with m.State("WRITE_DATA"):
                m.d.comb += in_ready.eq(1)
                with m.If(in_valid):
                    with m.If(last_field_of_word):
                        m.d.sync += [slot.eq(0), program.enable.eq(1), count.eq(count - 1),
                                     field_select.eq(1)]
                        with m.If(count == 1):
                            m.d.sync += field_select.eq(0)
                            m.next = "HEADER"
                    with m.Else():
                        m.d.sync += [slot.eq(slot + 1), field_select.eq(field_select << 1)]

            with m.State("INPUT_DATA"):
                m.d.comb += in_ready.eq(1)
                with m.If(in_valid):
                    with m.If(input_count < self.input_buffer_depth):
                        m.d.comb += [input_write.en.eq(1), input_write.addr.eq(input_count),
                                     input_write.data.eq(in_field)]
                        m.d.sync += input_count.eq(input_count + 1)
                    with m.Else():
                        m.d.sync += flags.eq(flags | protocol.FLAG_INPUT_OVERFLOW)
                    m.d.sync += count.eq(count - 1)
                    with m.If(count == 1):
                        m.next = "HEADER"

            with m.State("STEP_START"):
                with m.If(count == 0):
                    m.next = "STEP_ANSWER"
                with m.Else():
                    m.d.comb += self.step_start.eq(1)
                    m.next = "STEP_WAIT"

            with m.State("STEP_WAIT"):
                with m.If(self.step_done):
                    m.d.sync += [count.eq(count - 1),
                                 step_index.eq(step_index + 1)]
                    m.next = "STEP_START"

            with m.State("STEP_ANSWER"):
                m.d.comb += [out_valid.eq(1),
                             # Every requested step is done by now: steps_done[15:0] is the
                             # header's steps[15:0] (no counter of its own).
                             out_field.eq(Cat(per_word, memory, step_flags,
                                              Const(protocol.STEP, 8)))]
                with m.If(out_ready):
                    m.d.sync += flags.eq(0)
                    m.next = "HEADER"

            with m.State("OUTPUT_FETCH"):
                m.d.comb += output_read.addr.eq(address)
                # READ_OUTPUT counts `address` up from 0 to `output_count`, so its high bits are
                # zero here: comparing only the low ones keeps 32-bit compares out of the FSM.
                with m.If(address[:len(output_count)] == output_count):
                    m.next = "OUTPUT_END"
                with m.Else():
                    m.next = "OUTPUT_LOAD"

            with m.State("OUTPUT_LOAD"):
                # The block RAM's output goes to a register before the response multiplexer.
                m.d.sync += output_word.eq(output_read.data)
                m.next = "OUTPUT_SEND"

            with m.State("OUTPUT_SEND"):
                m.d.comb += [out_valid.eq(1), out_field.eq(output_word)]
                with m.If(out_ready):
                    m.d.sync += address.eq(address + 1)
                    m.next = "OUTPUT_FETCH"

            with m.State("OUTPUT_END"):
                m.d.comb += [out_valid.eq(1),
                             out_field.eq(protocol.END_MARKER
                                          | Cat(output_count.as_unsigned(), Const(0, 16))
                                          | (output_overflow << 30))]
                with m.If(out_ready):
                    m.d.sync += [output_count.eq(0), output_overflow.eq(0), step_index.eq(0)]
                    m.next = "HEADER"

            with m.State("READ_ISSUE"):
                m.d.comb += self.read.enable.eq(1)
                m.next = "READ_WAIT"

            with m.State("READ_WAIT"):
                with m.If(self.read.valid):
                    m.d.sync += [read_word.eq(self.read.data), slot.eq(0)]
                    m.next = "READ_SEND"

            with m.State("READ_SEND"):
                m.d.comb += [out_valid.eq(1),
                             out_field.eq(read_word.word_select(slot, FIELD_BITS))]
                with m.If(out_ready):
                    with m.If(last_field_of_word):
                        m.d.sync += [address.eq(address + 1), count.eq(count - 1)]
                        with m.If(count == 1):
                            m.next = "HEADER"
                        with m.Else():
                            m.next = "READ_ISSUE"
                    with m.Else():
                        m.d.sync += slot.eq(slot + 1)

            with m.State("COUNTERS_SEND"):
                m.d.comb += out_valid.eq(1)
                # READ_COUNTERS counts `address` up from 0: only its low bits select a counter.
                counter_index = address[:bits_for(len(self.counters))]
                with m.Switch(counter_index):
                    for index, counter in enumerate(self.counters):
                        with m.Case(index):
                            m.d.comb += out_field.eq(counter)
                with m.If(out_ready):
                    m.d.sync += address.eq(address + 1)
                    with m.If(counter_index == len(self.counters) - 1):
                        m.next = "HEADER"

        # Output capture: always ready, so the router never waits for the host.
        m.d.comb += [self.output_events.ready.eq(1),
                     output_write.addr.eq(output_count),
                     output_write.data.eq(Cat(self.output_events.payload, step_index))]
        with m.If(self.output_events.valid):
            with m.If(output_count < self.output_buffer_depth):
                m.d.comb += output_write.en.eq(1)
                m.d.sync += output_count.eq(output_count + 1)
            with m.Else():
                m.d.sync += output_overflow.eq(1)

        self._play_inputs(m, input_read, input_count)
        return m

    def _play_inputs(self, m: Module, input_read, input_count: Signal) -> None:
        """Phase 0: stream the buffered entries, `repeat` events each, then empty the buffer.

        Entries flow through two slots, like the synapse engine's source table: the block RAM's
        output (held while its read enable is low) and the ``head`` register the events are
        played from, so no logic sits between the RAM's slow output and the next read address.
        The first entry is read in the ``input_play`` cycle and the next one is read while the
        head plays, so the player emits one event per cycle from the second cycle after
        ``input_play`` on.
        """
        playing = Signal()
        fetch = Signal(range(self.input_buffer_depth + 1))   # next entry to read
        looked_up = Signal()                                  # the RAM's output holds an entry
        head_valid = Signal()
        head_id = Signal(SOURCE_ID_BITS)
        remaining = Signal(16)                                # events of the head still to play
        events = self.input_events
        entry_id, entry_repeat = input_read.data[:16], input_read.data[16:]
        start = self.input_play & ~playing & (input_count != 0)

        m.d.comb += [self.input_busy.eq(playing), events.payload.eq(head_id),
                     events.valid.eq(head_valid & (remaining != 0))]
        head_done = head_valid & ((remaining == 0) | ((remaining == 1) & events.ready))
        move = looked_up & (~head_valid | head_done)
        read = start | (playing & (fetch != input_count) & (~looked_up | move))
        m.d.comb += [input_read.addr.eq(Mux(start, 0, fetch)), input_read.en.eq(read)]
        with m.If(read):
            m.d.sync += fetch.eq(Mux(start, 1, fetch + 1))
        m.d.sync += looked_up.eq(read | (looked_up & ~move))
        with m.If(move):
            m.d.sync += [head_valid.eq(1), head_id.eq(entry_id), remaining.eq(entry_repeat)]
        with m.Elif(head_done):
            m.d.sync += head_valid.eq(0)
        with m.Elif(events.valid & events.ready):
            m.d.sync += remaining.eq(remaining - 1)
        with m.If(playing & (fetch == input_count) & ~looked_up & (~head_valid | head_done)):
            m.d.sync += [playing.eq(0), input_count.eq(0)]
        with m.If(start):
            m.d.sync += playing.eq(1)

    def _gather_fields(self, m: Module):
        """Command words -> 32-bit fields (least significant word first), with the field's
        ``FIELD_FACTS`` registered beside it: the decoder's next state then depends on a few
        flip-flops instead of 32-bit compares of the field."""
        per_field = FIELD_BITS // self.host_width
        field = Signal(FIELD_BITS)
        facts = Signal(FIELD_FACTS)
        full = Signal()
        position = Signal(range(per_field))
        valid = Signal()
        ready = Signal()
        command = self.command
        take = command.valid & command.ready
        m.d.comb += [valid.eq(full), command.ready.eq(~full | ready)]
        with m.If(full & ready):
            m.d.sync += full.eq(0)
        with m.If(take):
            with m.Switch(position):
                for index in range(per_field):
                    with m.Case(index):
                        m.d.sync += field.word_select(index, self.host_width).eq(command.payload)
            with m.If(position == per_field - 1):
                # The complete field: the earlier words (registered) and the last one arriving.
                complete = Cat(field[:FIELD_BITS - self.host_width], command.payload)
                opcode = complete[24:]
                m.d.sync += [position.eq(0), full.eq(1), facts.eq(Cat(
                    complete == 0, complete[:24] == 0,
                    opcode == protocol.WRITE, opcode == protocol.READ_STATE,
                    opcode == protocol.INPUT, opcode == protocol.STEP,
                    opcode == protocol.READ_OUTPUT, opcode == protocol.READ_COUNTERS))]
            with m.Else():
                m.d.sync += position.eq(position + 1)
        return field, valid, ready, facts

    def _split_fields(self, m: Module):
        """32-bit fields -> response words (least significant word first)."""
        per_field = FIELD_BITS // self.host_width
        field = Signal(FIELD_BITS)
        loaded = Signal(FIELD_BITS)
        full = Signal()
        position = Signal(range(per_field))
        valid = Signal()
        ready = Signal()
        response = self.response
        last_word = position == per_field - 1
        m.d.comb += [response.valid.eq(full),
                     response.payload.eq(loaded.word_select(position, self.host_width)),
                     ready.eq(~full | (response.ready & last_word))]
        with m.If(response.valid & response.ready):
            with m.If(last_word):
                m.d.sync += [position.eq(0), full.eq(0)]
            with m.Else():
                m.d.sync += position.eq(position + 1)
        with m.If(valid & ready):
            m.d.sync += [loaded.eq(field), full.eq(1)]
        return field, valid, ready
