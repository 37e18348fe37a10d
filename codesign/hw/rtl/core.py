"""Hybrid core: neuron sweep + pipelined neuron unit (control part) and synapse engine
(dataflow part) around the core's block RAMs.

Fire (``fire`` pulse with ``segment``)::

    wait until the synapse engine is idle and the spike FIFO is empty (the engine takes no new
    events from then until the sweep ends)
    read the segment entry, then its profile (held on the profile memory's output for the sweep)
    for n in first..last, one neuron per cycle:
        read state[n], bias[n] and accumulator (bank timestep_slot, neuron n; cleared as it is read)
        -> NeuronUnit -> write state[n]; on a spike push base_id + (n - first) into the spike FIFO
    wait for the NeuronUnit to drain

The spike FIFO holds ``neurons_per_core`` ids, so a sweep never stalls even when the router
cannot take spikes (its queue to this core drains only once the sweep has ended and the engine
runs again). ``clear`` zeroes every accumulator bank and every neuron state. Memory map and word
layouts: :class:`codesign.arch.layout.CoreLayout` and docs/hardware.md (Microarchitecture).
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from codesign.arch.layout import CoreLayout, MemorySelect
from codesign.arch.protocol import SOURCE_ID_BITS
from codesign.hw.lib.split_memory import SplitMemory
from codesign.hw.rtl.host_interface import ProgramWriteSignature, ReadSignature, memory_write
from codesign.hw.rtl.layouts import COLLISION_FREE, struct_layout
from codesign.hw.rtl.neuron_unit import NeuronUnit
from codesign.hw.rtl.synapse_engine import SynapseEngine, crossbar_sum_layout


class Core(wiring.Component):
    """One hybrid core. Ports:

    * ``events_in`` (stream, 16-bit source ids from the router), ``spikes_out`` (stream, 16-bit
      source ids to the router),
    * ``program`` (``ProgramWriteSignature``: ``memory`` = :class:`MemorySelect`, ``address``,
      ``data`` = one word LSB-aligned, ``enable`` one cycle per word; ``unit`` is ignored),
    * ``read`` (``ReadSignature``: ``memory`` = STATE, ``address`` = neuron; answers the state
      word with ``valid`` a few cycles later, once no sweep is running; other memories answer 0),
    * ``timestep_slot`` (t mod delay_slots, stable while busy), ``fire`` (pulse) with
      ``segment``, ``clear`` (pulse), ``busy``,
    * ``crossbar_rows`` (stream of row numbers) and ``crossbar_sums`` (stream of
      ``(target, value, delay)`` partial sums) for a crossbar tile,
    * ``synaptic_events`` (the synapse engine's counter of accumulated synapses).
    """

    def __init__(self, layout: CoreLayout, write_data_bits: int | None = None,
                 read_data_bits: int | None = None):
        self.layout = layout
        self.write_data_bits = write_data_bits or layout.write_data_bits
        self.read_data_bits = read_data_bits or layout.words[MemorySelect.STATE].width
        self.engine = SynapseEngine(layout, self.write_data_bits)
        self.unit = NeuronUnit(state_bits=layout.state_bits,
                               accumulator_bits=layout.accumulator_bits,
                               tag_bits=0,  # results return in order: counted below
                               max_depth=layout.neuron_stage_depth, dsp_bits=layout.neuron_dsp_bits,
                               parameter_register=layout.timing_registers)
        super().__init__({
            "events_in": In(stream.Signature(SOURCE_ID_BITS)),
            "spikes_out": Out(stream.Signature(SOURCE_ID_BITS)),
            "program": In(ProgramWriteSignature(self.write_data_bits)),
            "read": In(ReadSignature(self.read_data_bits)),
            "timestep_slot": In(range(layout.delay_slots)),
            "fire": In(1),
            "segment": In(layout.segment_bits),
            "clear": In(1),
            "busy": Out(1),
            "crossbar_rows": Out(stream.Signature(layout.crossbar_row_bits)),
            "crossbar_sums": In(stream.Signature(crossbar_sum_layout(layout))),
            "synaptic_events": Out(32),
        })

    @classmethod
    def from_config(cls, config: Any, write_data_bits: int | None = None,
                    read_data_bits: int | None = None) -> "Core":
        return cls(CoreLayout.from_config(config), write_data_bits, read_data_bits)

    def elaborate(self, platform) -> Module:
        m = Module()
        layout = self.layout
        neurons = layout.neurons_per_core
        m.submodules.engine = engine = self.engine
        m.submodules.unit = unit = self.unit
        m.submodules.spikes = spikes = SyncFIFOBuffered(width=SOURCE_ID_BITS, depth=neurons)

        # -- memories and program loading ------------------------------------------------------
        # Collision free: program writes happen between sweeps, the state write-back never hits
        # the neuron being read, and reads without a read enable are repeated every cycle.
        # Without timing registers the profile memory's held output feeds the unit, and Yosys is
        # told to put the profile and segment memories in block RAM (it would build these small
        # memories from flip-flops, one logic cell per bit).
        small_attrs = COLLISION_FREE if layout.timing_registers else \
            {**COLLISION_FREE, "ram_style": "block"}
        memories = {}
        profiles = None
        if layout.timing_registers:
            # LUT RAM two column groups wide, each behind its own address and enable replicas.
            profiles = m.submodules.profiles = SplitMemory(
                layout.words[MemorySelect.PROFILES].width, layout.depth(MemorySelect.PROFILES),
                attrs=small_attrs)
        selects = (MemorySelect.PROFILES, MemorySelect.SEGMENTS, MemorySelect.BIAS,
                   MemorySelect.STATE)
        for select in selects:
            if select == MemorySelect.PROFILES and profiles is not None:
                continue
            small = select in (MemorySelect.PROFILES, MemorySelect.SEGMENTS)
            shape = struct_layout(layout.words[select])
            if select == MemorySelect.SEGMENTS:
                # Each segment entry is stored with `first > last` (an empty segment), computed
                # as it is written: the sweep then decides on a stored bit, not on a compare of
                # the memory's output.
                shape = data.StructLayout({"entry": shape, "empty": 1})
            memory = Memory(shape=shape, depth=layout.depth(select),
                            init=[], attrs=small_attrs if small else COLLISION_FREE)
            m.submodules[select.name.lower()] = memory
            memories[select] = memory
        program = self.program
        wiring.connect(m, wiring.flipped(program), engine.program)  # source table, synapses
        writes = {select: memory_write(m, program, select, select.name.lower(),
                                       layout.timing_registers) for select in selects}
        if profiles is not None:
            enable, address, word = writes[MemorySelect.PROFILES]
            m.d.comb += [profiles.write_enable.eq(enable), profiles.write_address.eq(address),
                         profiles.write_data.eq(word)]
        for select in (MemorySelect.PROFILES, MemorySelect.SEGMENTS, MemorySelect.BIAS):
            if select not in memories:
                continue
            port = memories[select].write_port()
            enable, address, word = writes[select]
            if select == MemorySelect.SEGMENTS:
                entry = struct_layout(layout.words[select])(word[:layout.words[select].width])
                word = Cat(entry.as_value(), entry.first > entry.last)
            m.d.comb += [port.en.eq(enable), port.addr.eq(address), port.data.eq(word)]
        state_write = memories[MemorySelect.STATE].write_port()
        state_read = memories[MemorySelect.STATE].read_port()
        segment_read = memories[MemorySelect.SEGMENTS].read_port()
        bias_read = memories[MemorySelect.BIAS].read_port()

        # -- events, crossbar ------------------------------------------------------------------
        # A register (loaded with its value of the next cycle in the FSM below): it gates the
        # engine's ready signals, the clock enables of the links in front of the core.
        engine_enable = Signal(init=1)
        # The core's own copy of the slot (it changes only while every core is idle): the
        # sequencer's register would otherwise fan out to every core's accumulator addressing.
        # Loading it only while idle also keeps synthesis from merging the cores' copies.
        slot = Signal.like(self.timestep_slot)
        with m.If(~self.busy):
            m.d.sync += slot.eq(self.timestep_slot)
        wiring.connect(m, wiring.flipped(self.events_in), engine.events)
        wiring.connect(m, engine.crossbar_rows, wiring.flipped(self.crossbar_rows))
        wiring.connect(m, wiring.flipped(self.crossbar_sums), engine.crossbar_sums)
        wiring.connect(m, spikes.r_stream, wiring.flipped(self.spikes_out))
        m.d.comb += [engine.enable.eq(engine_enable), engine.timestep_slot.eq(slot),
                     self.synaptic_events.eq(engine.synaptic_events)]

        # -- sweep -----------------------------------------------------------------------------
        fire_pending = Signal()
        segment_index = Signal.like(self.segment)
        clear_pending = Signal()
        neuron = Signal(layout.neuron_index_bits)
        in_flight = Signal(range(unit.latency + 3))
        # Reads issued in cycle c leave the block RAMs in c+1 and their registers in c+2.
        issued = [Signal(name=f"issued_{i}") for i in (1, 2)]
        issued_neuron = Signal.like(neuron)
        # Results leave the unit in issue order, so their neuron and spike id are counted here
        # rather than carried down the pipeline.
        result_neuron = Signal.like(neuron)
        result_id = Signal(SOURCE_ID_BITS)
        clear_neuron = Signal(range(neurons + 1))
        segment = segment_read.data.entry
        # The segment entry is held on its memory's output for the sweep; with timing registers
        # its last neuron is copied to a register (valid from the first SWEEP cycle on), which
        # keeps the block RAM's slow output off the sweep's end compare.
        last_neuron = Signal.like(segment.last)
        if layout.timing_registers:
            m.d.sync += last_neuron.eq(segment.last)
        else:
            m.d.comb += last_neuron.eq(segment.last)
        with m.If(self.fire):
            m.d.sync += [fire_pending.eq(1), segment_index.eq(self.segment)]
        with m.If(self.clear):
            m.d.sync += clear_pending.eq(1)

        # `issue` is high exactly in the SWEEP state. The engine is handed the next cycle's
        # `issue` and `neuron` and registers its own copies, one beside each lane's accumulator
        # block RAM: no flip-flop here drives the address of every lane.
        issue = Signal()
        issue_next = Signal()
        neuron_next = Signal.like(neuron)
        m.d.comb += [issue_next.eq(issue), neuron_next.eq(neuron)]
        m.d.sync += [issue.eq(issue_next), neuron.eq(neuron_next)]
        clearing = Signal()
        serve_read = Signal()
        read_pending = Signal()
        read_address = Signal(layout.neuron_index_bits)
        read_state = Signal()
        m.d.comb += [
            segment_read.addr.eq(segment_index),
            engine.sweep_neuron.eq(neuron_next),
            engine.sweep_slot.eq(slot),
            engine.sweep_read.eq(issue_next),
        ]
        m.d.sync += [issued[0].eq(issue), issued_neuron.eq(neuron), issued[1].eq(issued[0])]
        # The engine's `busy` a cycle late (it is an OR from all over the engine), counting what
        # the engine takes in that cycle too, so it never reads idle with work in flight. It
        # rises a cycle after `busy` falls: a fire comes only after the sequencer's barrier saw
        # the core idle, and the CLEAR state outlasts the engine's clear.
        engine_idle = Signal(init=1)
        m.d.sync += engine_idle.eq(~engine.busy & ~(engine.events.valid & engine.events.ready)
                                   & ~(engine.crossbar_sums.valid & engine.crossbar_sums.ready)
                                   & ~engine.clear)
        # The engine's clear strobe leaves a flip-flop: it resets the engine's clear counter,
        # whose flip-flops sit by the accumulator block RAMs, far from this FSM. A clear is not
        # counted (the sequencer quiesces), and the sweep's CLEAR state outlasts the extra cycle.
        engine_clear = Signal()
        m.d.sync += engine_clear.eq(0)
        m.d.comb += engine.clear.eq(engine_clear)
        # `spikes.level == 0` a cycle late: the level is a sum of the FIFO's counters, too slow
        # in front of the FSM. Spikes are written only while sweeping or draining, and the last
        # one two cycles before DRAIN ends, so the late flag never reads empty too early.
        spikes_empty = Signal()
        m.d.sync += spikes_empty.eq(spikes.level == 0)
        # The engine takes events in IDLE while no fire or clear is pending.
        keep_enabled = ~self.fire & ~fire_pending & ~self.clear & ~clear_pending
        m.d.sync += engine_enable.eq(0)

        # High exactly in IDLE, as a flip-flop of its own: the host read it gates steers the
        # state memory's address, which a decode of the state register would reach too late.
        idle = Signal(init=1)
        m.d.comb += serve_read.eq(idle & read_pending)

        def enter_idle():
            m.d.sync += [engine_enable.eq(keep_enabled), idle.eq(1)]
            m.next = "IDLE"

        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.sync += engine_enable.eq(keep_enabled)
                with m.If(fire_pending & engine_idle & spikes_empty):
                    m.d.comb += segment_read.en.eq(1)
                    m.d.sync += [fire_pending.eq(0), idle.eq(0)]
                    m.next = "SEGMENT"
                with m.Elif(clear_pending & engine_idle):
                    m.d.sync += engine_clear.eq(1)
                    m.d.sync += [clear_pending.eq(0), clear_neuron.eq(0), idle.eq(0)]
                    m.next = "CLEAR"
            with m.State("SEGMENT"):
                m.d.comb += neuron_next.eq(segment.first)
                m.d.sync += [result_neuron.eq(segment.first), result_id.eq(segment.base_id)]
                with m.If(segment_read.data.empty):
                    enter_idle()
                with m.Else():
                    m.d.comb += issue_next.eq(1)
                    m.next = "SWEEP"
            with m.State("SWEEP"):
                m.d.comb += neuron_next.eq(neuron + 1)
                with m.If(neuron == last_neuron):
                    m.d.comb += issue_next.eq(0)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                with m.If((in_flight == 0) & ~issued[0] & ~issued[1]):
                    enter_idle()
            with m.State("CLEAR"):
                m.d.comb += clearing.eq(1)
                with m.If(clear_neuron < neurons):
                    m.d.sync += clear_neuron.eq(clear_neuron + 1)
                with m.Elif(engine_idle):
                    enter_idle()

        # The profile is copied out of its memory so the unit's multipliers start at a register;
        # the copy is ready before the first neuron's registered inputs reach them. Without
        # timing registers the memory's output (read once per segment, then held) is used.
        # With timing registers the profile memory's address is a register too (replicas in the
        # SplitMemory, whose LUT RAM spreads over many slices far from the segment table): the
        # profile is then valid from the third cycle of the sweep, when the first neuron enters
        # the unit, whose own copy of it is loaded with that neuron's registered inputs.
        profile = Signal(struct_layout(layout.words[MemorySelect.PROFILES]))
        if profiles is not None:
            m.d.comb += profiles.read_address.eq(segment.profile)
            m.d.sync += profile.eq(profiles.read_data)
        else:
            profile_read = memories[MemorySelect.PROFILES].read_port()
            m.d.comb += [profile.eq(profile_read.data), profile_read.addr.eq(segment.profile),
                         profile_read.en.eq(fsm.ongoing("SEGMENT"))]

        # The unit takes the reads issued two cycles earlier, from registers. Without timing
        # registers the block RAMs are read a cycle later instead and feed the unit (whose inputs
        # are registers) directly: same cycle, one copy of the words fewer.
        served = [Signal(name=f"served_{i}") for i in (1, 2)]   # host read-back, see below
        state = Signal.like(state_read.data)
        bias = Signal.like(bias_read.data)
        if layout.timing_registers:
            m.d.comb += [state_read.addr.eq(Mux(serve_read, read_address, neuron)),
                         bias_read.addr.eq(neuron)]
            m.d.sync += [state.eq(state_read.data), bias.eq(bias_read.data)]
        else:
            m.d.comb += [state_read.addr.eq(Mux(served[0], read_address, issued_neuron)),
                         bias_read.addr.eq(issued_neuron),
                         state.eq(state_read.data), bias.eq(bias_read.data)]
        wide = unit.neuron
        m.d.comb += [
            unit.neuron_valid.eq(issued[1]),
            wide.synaptic_input.eq(engine.sweep_input),
            wide.voltage.eq(state.voltage),
            wide.current.eq(state.current),
            wide.adaptation.eq(state.adaptation),
            wide.bias.eq(bias.bias),
            unit.parameters.eq(profile),
        ]
        with m.If(issued[1] & ~unit.result_valid):
            m.d.sync += in_flight.eq(in_flight + 1)
        with m.Elif(~issued[1] & unit.result_valid):
            m.d.sync += in_flight.eq(in_flight - 1)

        # Results: state write-back (sweep), zeroing (clear) or program loading, one per cycle.
        # With timing registers the write port is fed from registers, a cycle later: the choice
        # between the three (decoded from the FSM) stays away from the block RAM's pins. The
        # state is read again no earlier than two cycles after the last write-back (DRAIN waits
        # for the unit to empty, then IDLE), so the late write is never missed.
        write_domain = m.d.sync if layout.timing_registers else m.d.comb
        if layout.timing_registers:
            write_enable = Signal(name="state_write_enable")
            write_address = Signal.like(state_write.addr, name="state_write_address",
                                        reset_less=True)
            write_data = Signal(state_write.data.shape(), name="state_write_data",
                                reset_less=True)
            m.d.comb += [state_write.en.eq(write_enable), state_write.addr.eq(write_address),
                         state_write.data.eq(write_data)]
        else:
            write_enable, write_address, write_data = (state_write.en, state_write.addr,
                                                       state_write.data)
        out = unit.result
        with m.If(unit.result_valid):
            m.d.sync += [result_neuron.eq(result_neuron + 1), result_id.eq(result_id + 1)]
            write_domain += [write_enable.eq(1), write_address.eq(result_neuron),
                             write_data.voltage.eq(out.voltage),
                             write_data.current.eq(out.current),
                             write_data.adaptation.eq(out.adaptation)]
        with m.Elif(clearing):
            write_domain += [write_enable.eq(clear_neuron < neurons),
                             write_address.eq(clear_neuron), write_data.eq(0)]
        with m.Else():
            enable, address, word = writes[MemorySelect.STATE]
            write_domain += [write_enable.eq(enable), write_address.eq(address),
                             write_data.eq(word)]
        m.d.comb += [
            spikes.w_stream.valid.eq(unit.result_valid & out.spike),
            spikes.w_stream.payload.eq(result_id),
        ]

        # Host read-back of the state, served between sweeps.
        with m.If(self.read.enable):
            m.d.sync += [read_pending.eq(1), read_address.eq(self.read.address),
                         read_state.eq(self.read.memory == MemorySelect.STATE)]
        with m.Elif(serve_read):
            m.d.sync += read_pending.eq(0)
        m.d.sync += [served[0].eq(serve_read & ~self.read.enable), served[1].eq(served[0])]
        m.d.comb += [self.read.valid.eq(served[1]),
                     self.read.data.eq(Mux(read_state, state.as_value(), 0))]

        m.d.comb += self.busy.eq(fire_pending | clear_pending | ~fsm.ongoing("IDLE")
                                 | engine.busy | ~spikes_empty)
        return m
