"""Host interface: decodes the command stream and answers on the response stream.

The protocol (opcodes, field layouts, packing) is defined once, in Python, by
:mod:`codesign.arch.protocol`, and documented in docs/hardware.md ("Host interface protocol").
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

Pipelining (for ~100 MHz with the host's streams and the units far apart on the die)::

    command words ─► gather ─► field + FIELD_FACTS register ─► decoder (one-hot states)
    response words ◄─ split ◄─ field register ◄───────────────────┘

Both field registers are :class:`StreamRegister` skid buffers: ``command.ready`` and the
``ready`` the decoder sees are flip-flops, and ``response.ready`` reaches only the response
register's clock enables. The decoder's state is one-hot (a state's decode is a flip-flop);
its ``ready`` / ``valid`` toward the field registers are ORs of five state flip-flops. It reads
registered facts instead of compares: the header's opcode decode and zero / one tests
(``FIELD_FACTS``), ``count == 1`` (``count_is_one``; ``count`` itself is decremented the cycle
after the decision), "last field of the word" (kept with the field count), the READ_COUNTERS
counter (one-hot). ``step_start`` and ``read.enable`` are registered pulses, READ_STATE's bus
address is its own register, and the response field is an AND-OR of registers selected by the
state flip-flops.
A field reaches the decoder the cycle after its last word, an answer field leaves the cycle after
the decoder offers it, ``step_start`` rises the cycle after the STEP header or the previous
``step_done`` (as before: the timestep cycle counts do not change), and fields stream at one per
cycle each way. READ_COUNTERS takes one more cycle per counter (each is registered on its way in
from across the die); a STEP answers one cycle sooner.
"""

from __future__ import annotations

import operator
from contextlib import contextmanager
from functools import reduce
from typing import Any, NamedTuple

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from codesign.arch import protocol
from codesign.arch.protocol import FIELD_BITS, SOURCE_ID_BITS
from codesign.hw.lib.stream_register import StreamRegister
from codesign.hw.rtl.layouts import COLLISION_FREE


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


def register_writes(m: Module, program: Any, select: int, addresses: list[int], name: str,
                    registered: bool) -> tuple[list[Value], Value]:
    """Write strobes of a unit's registers at ``addresses`` of memory ``select``, and the data
    they load, from a program-write bus seen from the receiving side.

    ``registered``: each strobe is a flip-flop (``enable``, the registered ``memory`` compare and
    the ``address`` compare of a write, one cycle later) and the data a register loaded while
    the memory is addressed, so a register's clock enable is one flip-flop, not a decode of the
    bus; the write lands one cycle later.
    """
    if not registered:
        selected = program.enable & (program.memory == select)
        return [selected & (program.address == address) for address in addresses], program.data
    addressed = Signal(name=f"{name}_addressed")
    strobes = [Signal(name=f"{name}_write_{address}") for address in addresses]
    data = Signal.like(program.data, name=f"{name}_write_data", reset_less=True)
    m.d.sync += addressed.eq(program.memory == select)
    m.d.sync += [strobe.eq(program.enable & addressed & (program.address == address))
                 for strobe, address in zip(strobes, addresses)]
    with m.If(addressed):
        m.d.sync += data.eq(program.data)
    return strobes, data


#: What the command decoder asks of a field, computed as the field is gathered.
FIELD_FACTS = data.StructLayout({
    "zero": 1, "one": 1, "low_24_zero": 1, "low_24_one": 1,
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


#: The decoder's states, in the order of the commands' flow (one flip-flop each). The
#: ACCEPTING ones take command fields, the OFFERING ones offer a response field.
STATES = ("HEADER", "ADDRESS", "COUNT", "WRITE_DATA", "INPUT_DATA", "STEP_WAIT", "STEP_ANSWER",
          "OUTPUT_FETCH", "OUTPUT_LOAD", "OUTPUT_SEND", "OUTPUT_END", "READ_WAIT", "READ_SEND",
          "COUNTERS_LOAD", "COUNTERS_SEND")
ACCEPTING_STATES = {"HEADER", "ADDRESS", "COUNT", "WRITE_DATA", "INPUT_DATA"}
OFFERING_STATES = {"STEP_ANSWER", "OUTPUT_SEND", "OUTPUT_END", "READ_SEND", "COUNTERS_SEND"}


class _InputBuffer(NamedTuple):
    """INPUT's buffer (``HostInterface._input_buffer``): its ports and its entry count."""
    write: Any
    read: Any
    count: Signal


class _OutputBuffer(NamedTuple):
    """The output buffer (``HostInterface._output_buffer``): its ports, entry count and
    overflow flag, READ_OUTPUT's entry (``index``) and the entry being sent (``word``)."""
    write: Any
    read: Any
    count: Signal
    overflow: Signal
    word: Signal
    index: Signal


class _CounterReadout(NamedTuple):
    """READ_COUNTERS: the counter to send next (one-hot) and the one being sent."""
    select: Signal
    word: Signal


class _WritePath(NamedTuple):
    """WRITE's datapath (``HostInterface._write_path``)."""
    word: Signal
    sent_fields: Signal
    address: Signal
    field_select: Signal


class _ReadPath(NamedTuple):
    """READ_STATE's datapath (``HostInterface._read_path``)."""
    address: Signal
    word: Signal


class _Decoder:
    """The command decoder while :meth:`HostInterface.elaborate` describes it: its field
    streams, the command's registers that every state shares, and the one-hot state with the
    transitions between states."""

    def __init__(self, m: Module, fields_in: stream.Interface, fields_out: stream.Interface):
        self.m = m
        self.fields_in = fields_in
        self.in_field, self.facts = fields_in.payload.field, fields_in.payload.facts
        self.in_valid = fields_in.valid
        self.out_field, self.out_valid = fields_out.payload, fields_out.valid
        self.out_ready = fields_out.ready

        self.command_is_write = Signal()
        self.unit = Signal(8)
        self.memory = Signal(8)
        self.per_word = Signal(8)
        self.count = Signal(32)
        self.count_is_one = Signal()       # `count == 1`, kept beside `count`
        self.flags = Signal(8)
        self.step_index = Signal(protocol.OUTPUT_STEP_BITS)

        # Fields of the current WRITE / READ_STATE word after the one in hand, and whether that
        # one is the word's last, kept as registers instead of `slot + 1 >= per_word`.
        self.fields_after = Signal(8)
        self.last_field_of_word = Signal()
        # `count` is decremented the cycle after the decision (`count_down`), so its clock
        # enable is a flip-flop rather than the OR of every state's condition; `count_is_one`
        # allows for a decrement still pending.
        self.count_decrement = Signal()

        # The decoder's state is one-hot, one flip-flop per state: a state's decode is that
        # flip-flop, not a compare of a binary state register that fans out to every clock
        # enable.
        self.state = {name: Signal(init=name == "HEADER", name=f"state_{name.lower()}")
                      for name in STATES}
        self.current = "HEADER"   # the state whose block is being described: `goto` leaves it

    def start_word(self) -> None:
        """The next field is the first of a word."""
        self.m.d.sync += [self.fields_after.eq(self.per_word - 1),
                          self.last_field_of_word.eq(self.per_word <= 1)]

    def next_field(self) -> None:
        """The next field is the next one of the word."""
        self.m.d.sync += [self.fields_after.eq(self.fields_after - 1),
                          self.last_field_of_word.eq(self.fields_after == 1)]

    def count_down(self) -> None:
        """One word (or input entry, or timestep) of the command's ``count`` is done."""
        self.m.d.sync += [
            self.count_decrement.eq(1),
            self.count_is_one.eq(Mux(self.count_decrement, self.count == 3, self.count == 2))]

    def any_of(self, names: set[str]) -> Value:
        """High in any of the states ``names``: an OR of their flip-flops."""
        return Cat(self.state[name] for name in STATES if name in names).any()

    @contextmanager
    def in_state(self, name: str):
        """Describe state ``name``: what it does, and where it goes (``goto``)."""
        self.current = name
        with self.m.If(self.state[name]):
            yield

    def goto(self, target: str) -> None:
        """Leave the state being described for ``target``."""
        self.m.d.sync += [self.state[self.current].eq(0), self.state[target].eq(1)]


class HostInterface(wiring.Component):
    """Command decoder of the host protocol; see the module docstring for the ports' roles."""

    def __init__(self, host_width: int, write_data_bits: int, read_data_bits: int,
                 input_buffer_depth: int, output_buffer_depth: int,
                 registered_ready: bool = True):
        assert host_width in protocol.HOST_WIDTHS
        #: The field registers are skid buffers (registered readies); without, plain registers.
        self.registered_ready = registered_ready
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
        decoder = _Decoder(m, self._gather_fields(m), self._split_fields(m))
        input_buffer = self._input_buffer(m, decoder)
        output_buffer = self._output_buffer(m)
        # READ_COUNTERS: one-hot, the counter to send next (no decode in front of the
        # multiplexer, and the last one is a flip-flop).
        counter_select = Signal(len(self.counters))
        counter_word = Signal(32, reset_less=True)
        counter_readout = _CounterReadout(counter_select, counter_word)
        write_path = self._write_path(m, decoder)
        read_path = self._read_path(m, decoder)

        # A header's or COUNT field's load (in the states, described after this) overrides a
        # pending decrement: the old count is done with.
        m.d.sync += decoder.count_decrement.eq(0)
        with m.If(decoder.count_decrement):
            m.d.sync += decoder.count.eq(decoder.count - 1)
        # `step_start` and `read.enable` are registered pulses, set by the transition that
        # starts a timestep / a read (both leave the host for far units).
        m.d.sync += [self.step_start.eq(0), self.read.enable.eq(0)]
        # The field streams' `ready` / `valid` are ORs of five state flip-flops.
        m.d.comb += [decoder.fields_in.ready.eq(decoder.any_of(ACCEPTING_STATES)),
                     decoder.out_valid.eq(decoder.any_of(OFFERING_STATES))]
        self._response(m, decoder, output_buffer, read_path, counter_readout)

        self._header_state(m, decoder, output_buffer, counter_readout, write_path)
        self._address_and_count_states(m, decoder, write_path, read_path)
        self._write_state(m, decoder, write_path)
        self._input_state(m, decoder, input_buffer)
        self._step_states(m, decoder)
        self._read_output_states(m, decoder, output_buffer)
        self._read_state_states(m, decoder, read_path)
        self._read_counters_states(m, decoder, counter_readout)

        self._capture_outputs(m, decoder, output_buffer)
        self._play_inputs(m, input_buffer.read, input_buffer.count)
        return m

    def _input_buffer(self, m: Module, decoder: _Decoder) -> _InputBuffer:
        """Input buffer: INPUT appends fields `repeat[31:16] id[15:0]`, phase 0 plays them.

        Both buffers are written and read in different commands, never in the same cycle."""
        inputs = m.submodules.input_buffer = Memory(
            shape=FIELD_BITS, depth=self.input_buffer_depth, init=[], attrs=COLLISION_FREE)
        input_write = inputs.write_port()
        input_read = inputs.read_port()
        input_count = Signal(range(self.input_buffer_depth + 1))
        m.d.comb += [input_write.addr.eq(input_count), input_write.data.eq(decoder.in_field)]
        return _InputBuffer(input_write, input_read, input_count)

    def _output_buffer(self, m: Module) -> _OutputBuffer:
        """Output buffer: `step[30:16] id[15:0]` per event the router sends to the host."""
        outputs = m.submodules.output_buffer = Memory(
            shape=protocol.OUTPUT_STEP_BITS + SOURCE_ID_BITS, depth=self.output_buffer_depth,
            init=[], attrs=COLLISION_FREE)
        output_write = outputs.write_port()
        output_read = outputs.read_port()
        output_count = Signal(range(self.output_buffer_depth + 1))
        output_overflow = Signal()
        output_word = Signal.like(output_read.data, reset_less=True)
        # READ_OUTPUT's entry, also the buffer's read address in every state (no state decode
        # in front of the block RAM).
        output_index = Signal.like(output_count)
        m.d.comb += output_read.addr.eq(output_index)
        return _OutputBuffer(output_write, output_read, output_count, output_overflow,
                             output_word, output_index)

    def _write_path(self, m: Module, decoder: _Decoder) -> _WritePath:
        """WRITE: gather a word's fields, then pulse ``program.enable`` with the whole word the
        next cycle (the states set it); the address counts up after each word."""
        word = Signal(self.write_fields * FIELD_BITS, reset_less=True)  # qualified by enable
        # Fields the host does not send for a narrower memory read as zero: masked on the way
        # out rather than cleared in `word`, whose flip-flops then need no reset input.
        sent_fields = Signal.like(word, reset_less=True)
        write_address = Signal(32)
        # One-hot: the field of `word` the next WRITE_DATA field fills (zero outside WRITE_DATA).
        # Each field's clock enable is then this flip-flop and `in_valid`, not a decode of the
        # FSM state and a field counter fanned out to all of `word`.
        field_select = Signal(self.write_fields)
        with m.If(decoder.in_valid):
            for index in range(self.write_fields):
                with m.If(field_select[index]):
                    m.d.sync += word.word_select(index, FIELD_BITS).eq(decoder.in_field)
        program = self.program
        m.d.comb += [program.unit.eq(decoder.unit), program.memory.eq(decoder.memory),
                     program.address.eq(write_address), program.data.eq(word & sent_fields)]
        m.d.sync += program.enable.eq(0)
        with m.If(program.enable):
            m.d.sync += write_address.eq(write_address + 1)
        return _WritePath(word, sent_fields, write_address, field_select)

    def _read_path(self, m: Module, decoder: _Decoder) -> _ReadPath:
        """READ_STATE: the bus address is READ_STATE's own register (it fans out to every
        core), and the answer is sent from the low field of ``read_word``, shifted down once
        sent."""
        read = self.read
        read_address = Signal(32)
        read_word = Signal(self.read_fields * FIELD_BITS, reset_less=True)
        m.d.comb += [read.unit.eq(decoder.unit), read.memory.eq(decoder.memory),
                     read.address.eq(read_address)]
        return _ReadPath(read_address, read_word)

    def _response(self, m: Module, decoder: _Decoder, output_buffer: _OutputBuffer,
                  read_path: _ReadPath, counter_readout: _CounterReadout) -> None:
        """The response field: an AND-OR of the sources, selected by the offering states'
        flip-flops."""
        step_flags = decoder.flags | Cat(Const(0, 1), output_buffer.overflow)
        assert protocol.FLAG_OUTPUT_OVERFLOW == 1 << 1   # bit 1 of step_flags
        answers = {
            # Every requested step is done by now: steps_done[15:0] is the header's
            # steps[15:0] (no counter of its own).
            "STEP_ANSWER": Cat(decoder.per_word, decoder.memory, step_flags,
                               Const(protocol.STEP, 8)),
            "OUTPUT_SEND": output_buffer.word,
            "OUTPUT_END": (protocol.END_MARKER
                           | Cat(output_buffer.count.as_unsigned(), Const(0, 16))
                           | (output_buffer.overflow << 30)),
            "READ_SEND": read_path.word[:FIELD_BITS],
            "COUNTERS_SEND": counter_readout.word,
        }
        assert set(answers) == OFFERING_STATES
        m.d.comb += decoder.out_field.eq(reduce(operator.or_, (
            Value.cast(answer) & decoder.state[name].replicate(FIELD_BITS)
            for name, answer in answers.items())))

    def _header_state(self, m: Module, decoder: _Decoder, output_buffer: _OutputBuffer,
                      counter_readout: _CounterReadout, write_path: _WritePath) -> None:
        """HEADER: load the command's registers from its header and start the command."""
        in_field, facts, goto = decoder.in_field, decoder.facts, decoder.goto
        with decoder.in_state("HEADER"):
            with m.If(decoder.in_valid):
                m.d.sync += [decoder.command_is_write.eq(facts.opcode_write),
                             decoder.unit.eq(in_field[16:24]), decoder.memory.eq(in_field[8:16]),
                             decoder.per_word.eq(in_field[:8]), decoder.count.eq(in_field[:24]),
                             decoder.count_is_one.eq(facts.low_24_one)]
                m.d.sync += write_path.sent_fields.eq(Cat(   # the first field is always sent
                    ((in_field[:8] > index) | (index == 0)).replicate(FIELD_BITS)
                    for index in range(self.write_fields)))
                with m.If(facts.opcode_write | facts.opcode_read_state):
                    goto("ADDRESS")
                with m.Elif(facts.opcode_input):
                    with m.If(~facts.low_24_zero):
                        goto("INPUT_DATA")
                with m.Elif(facts.opcode_step):
                    with m.If(facts.low_24_zero):
                        goto("STEP_ANSWER")
                    with m.Else():
                        m.d.sync += self.step_start.eq(1)
                        goto("STEP_WAIT")
                with m.Elif(facts.opcode_read_output):
                    m.d.sync += output_buffer.index.eq(0)
                    goto("OUTPUT_FETCH")
                with m.Elif(facts.opcode_read_counters):
                    m.d.sync += counter_readout.select.eq(1)
                    goto("COUNTERS_LOAD")
                with m.Else():
                    m.d.sync += decoder.flags.eq(decoder.flags | protocol.FLAG_UNKNOWN_OPCODE)

    def _address_and_count_states(self, m: Module, decoder: _Decoder, write_path: _WritePath,
                                  read_path: _ReadPath) -> None:
        """ADDRESS and COUNT, the fields WRITE and READ_STATE share; COUNT starts the first
        word (a WRITE's data, a READ_STATE's first read)."""
        with decoder.in_state("ADDRESS"):
            with m.If(decoder.in_valid):
                m.d.sync += [read_path.address.eq(decoder.in_field),
                             write_path.address.eq(decoder.in_field)]
                decoder.goto("COUNT")

        with decoder.in_state("COUNT"):
            with m.If(decoder.in_valid):
                m.d.sync += [decoder.count.eq(decoder.in_field),
                             decoder.count_is_one.eq(decoder.facts.one)]
                decoder.start_word()
                with m.If(decoder.facts.zero):
                    decoder.goto("HEADER")
                with m.Elif(decoder.command_is_write):
                    m.d.sync += write_path.field_select.eq(1)
                    decoder.goto("WRITE_DATA")
                with m.Else():
                    m.d.sync += self.read.enable.eq(1)
                    decoder.goto("READ_WAIT")

    def _write_state(self, m: Module, decoder: _Decoder, write_path: _WritePath) -> None:
        """WRITE_DATA: gather each word's fields, then write it, ``count`` words."""
        field_select = write_path.field_select
        with decoder.in_state("WRITE_DATA"):
            with m.If(decoder.in_valid):
                with m.If(decoder.last_field_of_word):
                    m.d.sync += [self.program.enable.eq(1), field_select.eq(1)]
                    decoder.count_down()
                    decoder.start_word()
                    with m.If(decoder.count_is_one):
                        m.d.sync += field_select.eq(0)
                        decoder.goto("HEADER")
                with m.Else():
                    m.d.sync += field_select.eq(field_select << 1)
                    decoder.next_field()

    def _input_state(self, m: Module, decoder: _Decoder, input_buffer: _InputBuffer) -> None:
        """INPUT_DATA: append ``count`` entries to the input buffer (overflow is flagged)."""
        with decoder.in_state("INPUT_DATA"):
            with m.If(decoder.in_valid):
                with m.If(input_buffer.count < self.input_buffer_depth):
                    m.d.comb += input_buffer.write.en.eq(1)
                    m.d.sync += input_buffer.count.eq(input_buffer.count + 1)
                with m.Else():
                    m.d.sync += decoder.flags.eq(decoder.flags | protocol.FLAG_INPUT_OVERFLOW)
                decoder.count_down()
                with m.If(decoder.count_is_one):
                    decoder.goto("HEADER")

    def _step_states(self, m: Module, decoder: _Decoder) -> None:
        """STEP_WAIT, STEP_ANSWER: run ``count`` timesteps one after the other, then answer."""
        with decoder.in_state("STEP_WAIT"):
            with m.If(self.step_done):
                m.d.sync += decoder.step_index.eq(decoder.step_index + 1)
                decoder.count_down()
                with m.If(decoder.count_is_one):
                    decoder.goto("STEP_ANSWER")
                with m.Else():
                    m.d.sync += self.step_start.eq(1)

        with decoder.in_state("STEP_ANSWER"):
            with m.If(decoder.out_ready):
                m.d.sync += decoder.flags.eq(0)
                decoder.goto("HEADER")

    def _read_output_states(self, m: Module, decoder: _Decoder,
                            output_buffer: _OutputBuffer) -> None:
        """OUTPUT_FETCH .. OUTPUT_END: send the output buffer's entries and the end marker,
        then empty the buffer."""
        index = output_buffer.index
        with decoder.in_state("OUTPUT_FETCH"):
            with m.If(index == output_buffer.count):
                decoder.goto("OUTPUT_END")
            with m.Else():
                decoder.goto("OUTPUT_LOAD")

        with decoder.in_state("OUTPUT_LOAD"):
            # The block RAM's output goes to a register before the response multiplexer.
            m.d.sync += output_buffer.word.eq(output_buffer.read.data)
            decoder.goto("OUTPUT_SEND")

        with decoder.in_state("OUTPUT_SEND"):
            with m.If(decoder.out_ready):
                m.d.sync += index.eq(index + 1)
                decoder.goto("OUTPUT_FETCH")

        with decoder.in_state("OUTPUT_END"):
            with m.If(decoder.out_ready):
                m.d.sync += [output_buffer.count.eq(0), output_buffer.overflow.eq(0),
                             decoder.step_index.eq(0)]
                decoder.goto("HEADER")

    def _read_state_states(self, m: Module, decoder: _Decoder, read_path: _ReadPath) -> None:
        """READ_WAIT, READ_SEND: read ``count`` words, each sent field by field."""
        read, read_word = self.read, read_path.word
        with decoder.in_state("READ_WAIT"):
            with m.If(read.valid):
                m.d.sync += read_word.eq(read.data)
                decoder.start_word()
                decoder.goto("READ_SEND")

        with decoder.in_state("READ_SEND"):
            with m.If(decoder.out_ready):
                with m.If(decoder.last_field_of_word):
                    m.d.sync += read_path.address.eq(read_path.address + 1)
                    decoder.count_down()
                    with m.If(decoder.count_is_one):
                        decoder.goto("HEADER")
                    with m.Else():
                        m.d.sync += read.enable.eq(1)
                        decoder.goto("READ_WAIT")
                with m.Else():
                    m.d.sync += read_word.eq(read_word >> FIELD_BITS)
                    decoder.next_field()

    def _read_counters_states(self, m: Module, decoder: _Decoder,
                              counter_readout: _CounterReadout) -> None:
        """COUNTERS_LOAD, COUNTERS_SEND: send the counters one after the other."""
        select = counter_readout.select
        with decoder.in_state("COUNTERS_LOAD"):
            # The counters come from across the die: registered before the response multiplexer.
            m.d.sync += counter_readout.word.eq(reduce(operator.or_, (
                counter & selected.replicate(32)
                for counter, selected in zip(self.counters, select))))
            decoder.goto("COUNTERS_SEND")

        with decoder.in_state("COUNTERS_SEND"):
            with m.If(decoder.out_ready):
                m.d.sync += select.eq(select << 1)
                with m.If(select[-1]):
                    decoder.goto("HEADER")
                with m.Else():
                    decoder.goto("COUNTERS_LOAD")

    def _capture_outputs(self, m: Module, decoder: _Decoder,
                         output_buffer: _OutputBuffer) -> None:
        """Output capture: always ready, so the router never waits for the host; events
        beyond the buffer's depth are dropped and flagged."""
        write, count = output_buffer.write, output_buffer.count
        m.d.comb += [self.output_events.ready.eq(1),
                     write.addr.eq(count),
                     write.data.eq(Cat(self.output_events.payload, decoder.step_index))]
        with m.If(self.output_events.valid):
            with m.If(count < self.output_buffer_depth):
                m.d.comb += write.en.eq(1)
                m.d.sync += count.eq(count + 1)
            with m.Else():
                m.d.sync += output_buffer.overflow.eq(1)

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
        # `fetch` is 0 whenever the player is idle, so the read address is that register alone
        # (no select by `input_play`, which comes from the sequencer's state across the die).
        m.d.comb += [input_read.addr.eq(fetch), input_read.en.eq(read)]
        with m.If(read):
            m.d.sync += fetch.eq(fetch + 1)
        m.d.sync += looked_up.eq(read | (looked_up & ~move))
        with m.If(move):
            m.d.sync += [head_valid.eq(1), head_id.eq(entry_id), remaining.eq(entry_repeat)]
        with m.Elif(head_done):
            m.d.sync += head_valid.eq(0)
        with m.Elif(events.valid & events.ready):
            m.d.sync += remaining.eq(remaining - 1)
        with m.If(playing & (fetch == input_count) & ~looked_up & (~head_valid | head_done)):
            m.d.sync += [playing.eq(0), input_count.eq(0), fetch.eq(0)]
        with m.If(start):
            m.d.sync += playing.eq(1)

    def _gather_fields(self, m: Module) -> stream.Interface:
        """Command words -> a stream of 32-bit fields (least significant word first), each with
        its ``FIELD_FACTS``: the decoder's next state then depends on a few flip-flops instead
        of 32-bit compares of the field.

        A field and its facts enter a :class:`StreamRegister` as its last word arrives (no
        added latency: that register is the field the decoder reads). ``command.ready`` is its
        skid entry being free, a flip-flop: the decoder's ``ready`` reaches that register's
        clock enables only, never the command link."""
        per_field = FIELD_BITS // self.host_width
        fields = m.submodules.command_fields = StreamRegister(
            data.StructLayout({"field": FIELD_BITS, "facts": FIELD_FACTS}),
            skid=self.registered_ready)
        earlier = Signal(FIELD_BITS - self.host_width, reset_less=True)  # the field's words so far
        position = Signal(range(per_field))
        command = self.command
        last_word = position == per_field - 1
        complete = Cat(earlier, command.payload)
        opcode = complete[24:]
        m.d.comb += [
            command.ready.eq(fields.i.ready),
            fields.i.valid.eq(command.valid & last_word),
            fields.i.payload.field.eq(complete),
            fields.i.payload.facts.eq(Cat(
                complete == 0, complete == 1, complete[:24] == 0, complete[:24] == 1,
                opcode == protocol.WRITE, opcode == protocol.READ_STATE,
                opcode == protocol.INPUT, opcode == protocol.STEP,
                opcode == protocol.READ_OUTPUT, opcode == protocol.READ_COUNTERS)),
        ]
        with m.If(command.valid & command.ready):
            with m.Switch(position):
                for index in range(per_field - 1):
                    with m.Case(index):
                        m.d.sync += earlier.word_select(index, self.host_width).eq(
                            command.payload)
            m.d.sync += position.eq(Mux(last_word, 0, position + 1))
        return fields.o

    def _split_fields(self, m: Module) -> stream.Interface:
        """A stream of 32-bit fields -> response words (least significant word first).

        The field being sent is the output register of a :class:`StreamRegister` that moves on
        with the field's last word, so the decoder's ``ready`` is that register's skid entry
        being free (a flip-flop), and ``response.ready`` reaches no further than its clock
        enables."""
        per_field = FIELD_BITS // self.host_width
        fields = m.submodules.response_fields = StreamRegister(FIELD_BITS,
                                                               skid=self.registered_ready)
        position = Signal(range(per_field))
        response = self.response
        last_word = position == per_field - 1
        m.d.comb += [response.valid.eq(fields.o.valid),
                     response.payload.eq(fields.o.payload.word_select(position, self.host_width)),
                     fields.o.ready.eq(response.ready & last_word)]
        with m.If(response.valid & response.ready):
            m.d.sync += position.eq(Mux(last_word, 0, position + 1))
        return fields.i
