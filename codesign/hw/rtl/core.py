"""Hybrid core: neuron sweep + pipelined neuron units (control part) and synapse engine
(dataflow part) around the core's block RAMs.

Fire (``fire`` pulse with ``segment``)::

    wait until the NeuronUnits hold no neuron (the profile is static while neurons are in them)
    read the segment entry, then its profile (held on the profile memory's output for the sweep)
    for each group of neuron_lanes neurons g*k .. g*k+k-1 meeting first..last, one per cycle:
        for each neuron n = g*k + j of the group in first..last, in neuron lane j:
            read state[n], bias[n] and accumulator (bank timestep_slot, neuron n; the engine owes
            it a zero) -> NeuronUnit j; on a spike (``spike_latency``) push base_id + (n - first)
            into the spike FIFO; write state[n] (``latency``)
    wait until the last spike has left the NeuronUnits

``neuron_lanes`` (k) NeuronUnits update k neurons per cycle: neuron ``n`` is unit ``n % k``'s,
its state and bias are word ``n // k`` of that lane's memories (the host still addresses it as
``n``), and its accumulator is lane ``n % synapse_lanes``'s, so a group's k accumulators are in k
different engine lanes (``k <= synapse_lanes``) and are read in one cycle.

The synapse engine keeps accumulating events during the sweep (it reads the swept accumulators
through a port of their own), so the spikes of a sweep travel through the router and into the
engines while the sweep goes on: a phase costs its sweep plus the pipeline latency plus the
delivery of its last spikes, not the sum of sweep and delivery. The state write-back of the last
few neurons (``latency - spike_latency`` cycles) overlaps what follows the phase: the next sweep
and host read-backs wait for it (``settled``), nothing else reads the state. The spike FIFO holds
a whole sweep's spikes, so a sweep never stalls when the router cannot take them. ``clear``
zeroes every accumulator bank and every neuron state. Memory map and word layouts:
:class:`codesign.arch.layout.CoreLayout` and docs/hardware.md (Microarchitecture).
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
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


class _Nets:
    """The signals and memory ports the parts of :meth:`Core.elaborate` share, each under the
    name of the signal."""


class Core(wiring.Component):
    """One hybrid core. Ports:

    * ``events_in`` (stream, 16-bit source ids from the router), ``spikes_out`` (stream, 16-bit
      source ids to the router),
    * ``program`` (``ProgramWriteSignature``: ``memory`` = :class:`MemorySelect`, ``address``,
      ``data`` = one word LSB-aligned, ``enable`` one cycle per word; ``unit`` is ignored),
    * ``read`` (``ReadSignature``: ``memory`` = STATE, ``address`` = neuron; answers the state
      word with ``valid`` a few cycles later, once no sweep is running; other memories answer 0),
    * ``timestep_slot`` (t mod delay_slots, stable while busy), ``fire`` (pulse) with
      ``segment``, ``clear`` (pulse), ``busy`` (the phase barrier's view: a sweep, its spikes or
      the engine's work in flight), ``settled`` (no state write-back in flight either),
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
        self.units = [NeuronUnit(state_bits=layout.state_bits,
                                 accumulator_bits=layout.accumulator_bits,
                                 tag_bits=0,  # results return in order: counted below
                                 max_depth=layout.neuron_stage_depth,
                                 dsp_bits=layout.neuron_dsp_bits,
                                 parameter_register=layout.timing_registers,
                                 rest_flag=layout.skip_resting)
                      for _ in range(layout.neuron_lanes)]
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
            "settled": Out(1),
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
        lanes = layout.neuron_lanes
        m.submodules.engine = self.engine
        for lane, unit in enumerate(self.units):
            m.submodules["unit" if lanes == 1 else f"unit_{lane}"] = unit
        # The parts share their signals through `s`; the units run in lock-step, so where one
        # unit's timing is needed, unit 0 stands for all.
        s = _Nets()
        self._memories(m, s)
        self._events(m, s)
        self._sweep_control(m, s)
        self._resting(m, s)
        self._sweep_fsm(m, s)
        self._unit_inputs(m, s)
        self._write_back(m, s)
        self._outputs(m, s)
        return m

    def _memories(self, m: Module, s: _Nets) -> None:
        """The memories and their program loading."""
        layout = self.layout
        lanes = layout.neuron_lanes
        lane_bits = layout.neuron_lane_bits
        engine = self.engine
        # -- memories and program loading ------------------------------------------------------
        # Collision free: program writes happen between sweeps, the state write-back never hits
        # the neuron being read, and reads without a read enable are repeated every cycle.
        # Without timing registers the profile memory's held output feeds the units, and Yosys
        # is told to put the profile and segment memories in block RAM (it would build these
        # small memories from flip-flops, one logic cell per bit).
        small_attrs = COLLISION_FREE if layout.timing_registers else \
            {**COLLISION_FREE, "ram_style": "block"}
        s.profiles = None
        if layout.timing_registers:
            # LUT RAM two column groups wide, each behind its own address and enable replicas.
            s.profiles = m.submodules.profiles = SplitMemory(
                layout.words[MemorySelect.PROFILES].width, layout.depth(MemorySelect.PROFILES),
                attrs=small_attrs)
        else:
            s.profile_memory = m.submodules.profiles = Memory(
                shape=struct_layout(layout.words[MemorySelect.PROFILES]),
                depth=layout.depth(MemorySelect.PROFILES), init=[], attrs=small_attrs)
        # Each segment entry is stored with `first > last` (an empty segment), computed as it is
        # written: the sweep then decides on a stored bit, not on a compare of the memory's
        # output.
        segments = m.submodules.segments = Memory(
            shape=data.StructLayout({"entry": struct_layout(layout.words[MemorySelect.SEGMENTS]),
                                     "empty": 1}),
            depth=layout.depth(MemorySelect.SEGMENTS), init=[], attrs=small_attrs)
        # Bias and state: one memory per neuron lane, word n // lanes of lane n % lanes, in
        # block RAM (as LUT RAM, a few dozen words deep, every read bit needs a multiplexer).
        lane_memories = {select: [Memory(shape=struct_layout(layout.words[select]),
                                         depth=layout.neurons_per_lane, init=[],
                                         attrs={**COLLISION_FREE, "ram_style": "block"})
                                  for _ in range(lanes)]
                         for select in (MemorySelect.BIAS, MemorySelect.STATE)}
        for select, memories in lane_memories.items():
            for lane, memory in enumerate(memories):
                name = select.name.lower()
                m.submodules[name if lanes == 1 else f"{name}_{lane}"] = memory
        program = self.program
        wiring.connect(m, wiring.flipped(program), engine.program)  # source table, synapses
        selects = (MemorySelect.PROFILES, MemorySelect.SEGMENTS, MemorySelect.BIAS,
                   MemorySelect.STATE)
        writes = {select: memory_write(m, program, select, select.name.lower(),
                                       layout.timing_registers) for select in selects}
        enable, address, word = writes[MemorySelect.PROFILES]
        if s.profiles is not None:
            m.d.comb += [s.profiles.write_enable.eq(enable), s.profiles.write_address.eq(address),
                         s.profiles.write_data.eq(word)]
        else:
            port = s.profile_memory.write_port()
            m.d.comb += [port.en.eq(enable), port.addr.eq(address), port.data.eq(word)]
        enable, address, word = writes[MemorySelect.SEGMENTS]
        entry = struct_layout(layout.words[MemorySelect.SEGMENTS])(
            word[:layout.words[MemorySelect.SEGMENTS].width])
        port = segments.write_port()
        m.d.comb += [port.en.eq(enable), port.addr.eq(address),
                     port.data.eq(Cat(entry.as_value(), entry.first > entry.last))]

        def lane_write(select, lane):
            """The program write of ``select`` for neuron lane ``lane``: (enable, word, data)."""
            enable, address, word = writes[select]
            if lane_bits:
                return (enable & (address[:lane_bits] == lane), address[lane_bits:], word)
            return enable, address, word

        s.lane_write = lane_write

        for lane, memory in enumerate(lane_memories[MemorySelect.BIAS]):
            port = memory.write_port()
            enable, address, word = s.lane_write(MemorySelect.BIAS, lane)
            m.d.comb += [port.en.eq(enable), port.addr.eq(address), port.data.eq(word)]
        s.state_writes = [memory.write_port() for memory in lane_memories[MemorySelect.STATE]]
        s.state_reads = [memory.read_port() for memory in lane_memories[MemorySelect.STATE]]
        s.bias_reads = [memory.read_port() for memory in lane_memories[MemorySelect.BIAS]]
        s.segment_read = segments.read_port()


    def _events(self, m: Module, s: _Nets) -> None:
        """Events and crossbar traffic into the synapse engine."""
        engine = self.engine
        # -- events, crossbar ------------------------------------------------------------------
        # A register: it gates the engine's ready signals, the clock enables of the links in
        # front of the core. The engine takes events at all times but around a clear.
        s.engine_enable = Signal(init=1)
        # The core's own copy of the slot (it changes only while every core is idle): the
        # sequencer's register would otherwise fan out to every core's accumulator addressing.
        # Loading it only while idle also keeps synthesis from merging the cores' copies.
        s.slot = Signal.like(self.timestep_slot)
        with m.If(~self.busy):
            m.d.sync += s.slot.eq(self.timestep_slot)
        wiring.connect(m, wiring.flipped(self.events_in), engine.events)
        wiring.connect(m, engine.crossbar_rows, wiring.flipped(self.crossbar_rows))
        wiring.connect(m, wiring.flipped(self.crossbar_sums), engine.crossbar_sums)
        m.d.comb += [engine.enable.eq(s.engine_enable), engine.timestep_slot.eq(s.slot),
                     self.synaptic_events.eq(engine.synaptic_events)]

    def _sweep_control(self, m: Module, s: _Nets) -> None:
        """The sweep's registers and its handshakes with the engine and the host."""
        layout = self.layout
        lanes = layout.neuron_lanes
        engine = self.engine
        unit = self.units[0]
        # -- sweep -----------------------------------------------------------------------------
        s.fire_pending = Signal()
        s.segment_index = Signal.like(self.segment)
        s.clear_pending = Signal()
        # `group`: the first neuron of the group in the sweep (a multiple of `lanes`).
        s.group = Signal(layout.neuron_index_bits)
        # Groups in the units: until their states leave them, and until their spikes do.
        s.in_flight = Signal(range(unit.latency + 3))
        s.spikes_in_flight = Signal(range(unit.spike_latency + 3))
        # Reads issued in cycle c leave the block RAMs in c+1 and their registers in c+2; a
        # bit per neuron lane (the first and last groups of a segment may be partial).
        s.issued = [Signal(lanes, name=f"issued_{i}") for i in (1, 2)]
        s.issued_group = Signal.like(s.group)
        # Results and spikes leave the units in issue order, so their word and spike id are
        # counted here rather than carried down the pipeline.
        s.result_word = Signal(range(layout.neurons_per_lane))
        s.spike_id = Signal(SOURCE_ID_BITS)    # of the group's neuron lane 0
        s.clear_word = Signal(range(layout.neurons_per_lane + 1))
        s.segment = s.segment_read.data.entry
        # Groups after the current one in the sweep, and the lanes of the first and last group
        # that lie in the segment (a register each: the segment memory's slow output stays off
        # the sweep's logic).
        s.groups_left = Signal(range(layout.neurons_per_lane))
        s.ones = (1 << lanes) - 1
        s.head_lanes = Signal(lanes)
        s.tail_lanes = Signal(lanes)
        with m.If(self.fire):
            m.d.sync += [s.fire_pending.eq(1), s.segment_index.eq(self.segment)]
        with m.If(self.clear):
            m.d.sync += s.clear_pending.eq(1)

        # `issue` (a lane mask) is non-zero exactly in the SWEEP state. The engine is handed the
        # next cycle's `issue` and `group` and registers its own copies, one beside each lane's
        # accumulator block RAM: no flip-flop here drives the address of every lane.
        issue = Signal(lanes)
        s.issue_next = Signal(lanes)
        s.group_next = Signal.like(s.group)
        m.d.comb += [s.issue_next.eq(0), s.group_next.eq(s.group)]
        m.d.sync += [issue.eq(s.issue_next), s.group.eq(s.group_next)]
        s.clearing = Signal()
        s.serve_read = Signal()
        s.read_pending = Signal()
        s.read_address = Signal(layout.neuron_index_bits)
        s.read_state = Signal()
        m.d.comb += [
            s.segment_read.addr.eq(s.segment_index),
            engine.sweep_neuron.eq(s.group_next),
            engine.sweep_slot.eq(s.slot),
            engine.sweep_read.eq(s.issue_next),
        ]
        m.d.sync += [s.issued[0].eq(issue), s.issued_group.eq(s.group), s.issued[1].eq(s.issued[0])]
        # The engine's `busy` a cycle late (it is an OR from all over the engine), counting what
        # the engine takes in that cycle too, so it never reads idle with work in flight; only
        # a clear waits for it (the CLEAR state outlasts the engine's clear).
        s.engine_idle = Signal(init=1)
        m.d.sync += s.engine_idle.eq(~engine.busy & ~(engine.events.valid & engine.events.ready)
                                   & ~(engine.crossbar_sums.valid & engine.crossbar_sums.ready)
                                   & ~engine.clear)
        # The engine's clear strobe leaves a flip-flop: it resets the engine's clear counter,
        # whose flip-flops sit by the accumulator block RAMs, far from this FSM. A clear is not
        # counted (the sequencer quiesces), and the sweep's CLEAR state outlasts the extra cycle.
        s.engine_clear = Signal()
        m.d.sync += s.engine_clear.eq(0)
        m.d.comb += engine.clear.eq(s.engine_clear)
        s.spikes_empty = self._spike_output(m, lanes)
        # The engine takes no events from a clear pulse until the clear is done.
        s.clearing_state = Signal()
        # Without sweep overlap it also pauses from a fire pulse until the sweep has ended.
        paused = Signal()
        m.d.sync += s.engine_enable.eq(~self.clear & ~s.clear_pending & ~s.clearing_state & ~paused)

        # The units hold no neuron and the last state write has landed (with timing registers
        # the write port is fed from registers, a cycle after the result): a new profile may be
        # read, and the state memory read back.
        s.write_pending = Signal()
        unit_empty = (s.in_flight == 0) & ~s.write_pending

        # High exactly in IDLE, as a flip-flop of its own: the host read it gates steers the
        # state memory's address, which a decode of the state register would reach too late.
        s.idle = Signal(init=1)
        if not layout.sweep_overlap:
            m.d.comb += paused.eq(self.fire | s.fire_pending | ~s.idle)
        s.unit_settled = Signal()   # `unit_empty`, registered (it gates the read address)
        m.d.sync += s.unit_settled.eq(unit_empty)
        m.d.comb += s.serve_read.eq(s.idle & s.read_pending & s.unit_settled)

    def _resting(self, m: Module, s: _Nets) -> None:
        """Which segments are at rest, and whether a fire may skip its sweep."""
        layout = self.layout
        engine = self.engine
        # -- segments at rest ------------------------------------------------------------------
        # `resting[s]`: every neuron of segment s was at rest in its last sweep (the units'
        # `rest`: input 0, state unchanged, no spike); `touched[b]`: something was added into
        # accumulator bank b since the timestep that last swept it. A fire of a resting
        # segment on an untouched bank is skipped: every neuron would compute its state again.
        # Any program write to the core and a clear forget the resting segments.
        resting = Signal(layout.segments)
        touched = Signal(layout.delay_slots)
        s.swept_segment = Signal.like(s.segment_index)
        s.all_rest = Signal()         # the AND of the running sweep's rest flags
        s.rest_pending = Signal()     # a sweep's flag is still to be stored
        s.skip = Const(0)
        if layout.skip_resting:
            s.skip = resting.bit_select(s.segment_index, 1) & ~touched.bit_select(s.slot, 1)
            slot_advances = ~self.busy & (s.slot != self.timestep_slot)
            with m.If(self.clear):
                m.d.sync += touched.eq(0)
            with m.Elif(slot_advances):   # the bank of the timestep just ended is consumed
                m.d.sync += touched.eq((touched & ~(Const(1, len(touched)) << s.slot))
                                       | engine.added_banks)
            with m.Else():
                m.d.sync += touched.eq(touched | engine.added_banks)
            with m.If(Cat(u.result_valid for u in self.units).any()):
                m.d.sync += s.all_rest.eq(s.all_rest & Cat(~u.result_valid | u.result.rest
                                                       for u in self.units).all())
            with m.If(s.rest_pending & s.idle & s.unit_settled):
                m.d.sync += [resting.bit_select(s.swept_segment, 1).eq(s.all_rest),
                             s.rest_pending.eq(0)]
            with m.If(self.program.enable | self.clear):
                m.d.sync += resting.eq(0)

    def _sweep_fsm(self, m: Module, s: _Nets) -> None:
        """The sweep's state machine: segment read, groups, drain, clear."""
        layout = self.layout
        lanes = layout.neuron_lanes
        lane_bits = layout.neuron_lane_bits
        def enter_idle():
            m.d.sync += s.idle.eq(1)
            m.next = "IDLE"

        first_group, last_group = s.segment.first[lane_bits:], s.segment.last[lane_bits:]
        with m.FSM() as s.fsm:
            with m.State("IDLE"):
                # Without sweep overlap a sweep starts on an idle engine with no spike left.
                sweep_may_start = s.unit_settled & ~s.rest_pending if layout.skip_resting \
                    else s.unit_settled
                if not layout.sweep_overlap:
                    sweep_may_start &= s.engine_idle & s.spikes_empty
                with m.If(s.fire_pending & sweep_may_start & s.skip):
                    m.d.sync += s.fire_pending.eq(0)
                with m.Elif(s.fire_pending & sweep_may_start):
                    m.d.comb += s.segment_read.en.eq(1)
                    m.d.sync += [s.fire_pending.eq(0), s.idle.eq(0),
                                 s.swept_segment.eq(s.segment_index),
                                 s.all_rest.eq(1), s.rest_pending.eq(1)]
                    m.next = "SEGMENT"
                with m.Elif(s.clear_pending & s.engine_idle & s.unit_settled):
                    m.d.sync += s.engine_clear.eq(1)
                    m.d.sync += [s.clear_pending.eq(0), s.clear_word.eq(0), s.idle.eq(0),
                                 s.clearing_state.eq(1)]
                    m.next = "CLEAR"
            with m.State("SEGMENT"):
                start = s.segment.first & ~(lanes - 1)
                # The lanes of the first and last group that lie in first..last.
                head = Cat(Const(j) >= s.segment.first[:lane_bits] for j in range(lanes)) \
                    if lane_bits else Const(1)
                tail = Cat(Const(j) <= s.segment.last[:lane_bits] for j in range(lanes)) \
                    if lane_bits else Const(1)
                m.d.comb += s.group_next.eq(start)
                m.d.sync += [s.result_word.eq(s.segment.first[lane_bits:]),
                             s.spike_id.eq(s.segment.base_id - s.segment.first[:lane_bits]
                                         if lane_bits else s.segment.base_id),
                             s.groups_left.eq(last_group - first_group), s.tail_lanes.eq(tail)]
                with m.If(s.segment_read.data.empty):
                    enter_idle()
                with m.Else():
                    m.d.comb += s.issue_next.eq(Mux(first_group == last_group, head & tail, head))
                    m.d.sync += s.head_lanes.eq(head)
                    m.next = "SWEEP"
            with m.State("SWEEP"):
                m.d.comb += s.group_next.eq(s.group + lanes)
                m.d.sync += s.groups_left.eq(s.groups_left - 1)
                with m.If(s.groups_left == 0):
                    m.next = "DRAIN"
                with m.Else():
                    m.d.comb += s.issue_next.eq(Mux(s.groups_left == 1, s.tail_lanes, s.ones))
            with m.State("DRAIN"):
                with m.If((s.spikes_in_flight == 0) & ~s.issued[0].any() & ~s.issued[1].any()):
                    enter_idle()
            with m.State("CLEAR"):
                m.d.comb += s.clearing.eq(1)
                with m.If(s.clear_word < layout.neurons_per_lane):
                    m.d.sync += s.clear_word.eq(s.clear_word + 1)
                with m.Elif(s.engine_idle):
                    m.d.sync += s.clearing_state.eq(0)
                    enter_idle()

    def _unit_inputs(self, m: Module, s: _Nets) -> None:
        """The profile and the neurons' registered reads into the units."""
        layout = self.layout
        lane_bits = layout.neuron_lane_bits
        engine = self.engine
        # The profile is copied out of its memory so the units' multipliers start at a register;
        # the copy is ready before the first neuron's registered inputs reach them. Without
        # timing registers the memory's output (read once per segment, then held) is used.
        # With timing registers the profile memory's address is a register too (replicas in the
        # SplitMemory, whose LUT RAM spreads over many slices far from the segment table): the
        # profile is then valid from the third cycle of the sweep, when the first neuron enters
        # the units, whose own copies of it are loaded with that neuron's registered inputs.
        profile = Signal(struct_layout(layout.words[MemorySelect.PROFILES]))
        if s.profiles is not None:
            m.d.comb += s.profiles.read_address.eq(s.segment.profile)
            m.d.sync += profile.eq(s.profiles.read_data)
        else:
            profile_read = s.profile_memory.read_port()
            m.d.comb += [profile.eq(profile_read.data), profile_read.addr.eq(s.segment.profile),
                         profile_read.en.eq(s.fsm.ongoing("SEGMENT"))]

        # The units take the reads issued two cycles earlier, from registers. Without timing
        # registers the block RAMs are read a cycle later instead and feed the units (whose
        # inputs are registers) directly: same cycle, one copy of the words fewer.
        s.served = [Signal(name=f"served_{i}") for i in (1, 2)]   # host read-back, see below
        read_word = s.read_address[lane_bits:]
        s.states, biases = [], []
        for lane, (state_read, bias_read) in enumerate(zip(s.state_reads, s.bias_reads)):
            state = Signal.like(state_read.data, name=f"state_{lane}")
            bias = Signal.like(bias_read.data, name=f"bias_{lane}")
            if layout.timing_registers:
                m.d.comb += [state_read.addr.eq(Mux(s.serve_read, read_word, s.group[lane_bits:])),
                             bias_read.addr.eq(s.group[lane_bits:])]
                m.d.sync += [state.eq(state_read.data), bias.eq(bias_read.data)]
            else:
                m.d.comb += [state_read.addr.eq(Mux(s.served[0], read_word,
                                                    s.issued_group[lane_bits:])),
                             bias_read.addr.eq(s.issued_group[lane_bits:]),
                             state.eq(state_read.data), bias.eq(bias_read.data)]
            s.states.append(state)
            biases.append(bias)
            wide = self.units[lane].neuron
            m.d.comb += [
                self.units[lane].neuron_valid.eq(s.issued[1][lane]),
                wide.synaptic_input.eq(engine.sweep_input[lane]),
                wide.voltage.eq(state.voltage),
                wide.current.eq(state.current),
                wide.adaptation.eq(state.adaptation),
                wide.bias.eq(bias.bias),
                self.units[lane].parameters.eq(profile),
            ]
        s.results_leave = Cat(u.result_valid for u in self.units).any()
        s.spikes_leave = Cat(u.spike_valid for u in self.units).any()
        for count, leaving in ((s.in_flight, s.results_leave),
                               (s.spikes_in_flight, s.spikes_leave)):
            with m.If(s.issued[1].any() & ~leaving):
                m.d.sync += count.eq(count + 1)
            with m.Elif(~s.issued[1].any() & leaving):
                m.d.sync += count.eq(count - 1)

    def _write_back(self, m: Module, s: _Nets) -> None:
        """The state memories' write ports: write-back, clear, program loading."""
        layout = self.layout
        # Results: state write-back (sweep), zeroing (clear) or program loading, one word per
        # lane and cycle. With timing registers the write ports are fed from registers, a cycle
        # later: the choice between the three (decoded from the FSM) stays away from the block
        # RAMs' pins. The state is read again only once `unit_empty` held a cycle (the last
        # write-back landed).
        if layout.timing_registers:
            m.d.sync += s.write_pending.eq(s.results_leave)
        with m.If(s.results_leave):
            m.d.sync += s.result_word.eq(s.result_word + 1)
        for lane, (state_write, unit) in enumerate(zip(s.state_writes, self.units)):
            if layout.timing_registers:
                write_enable = Signal(name=f"state_write_enable_{lane}")
                write_address = Signal.like(state_write.addr, reset_less=True,
                                            name=f"state_write_address_{lane}")
                write_data = Signal(state_write.data.shape(), reset_less=True,
                                    name=f"state_write_data_{lane}")
                m.d.comb += [state_write.en.eq(write_enable),
                             state_write.addr.eq(write_address),
                             state_write.data.eq(write_data)]
                write_domain = m.d.sync
            else:
                write_enable, write_address, write_data = (state_write.en, state_write.addr,
                                                           state_write.data)
                write_domain = m.d.comb
            out = unit.result
            with m.If(s.results_leave):
                write_domain += [write_enable.eq(unit.result_valid),
                                 write_address.eq(s.result_word),
                                 write_data.voltage.eq(out.voltage),
                                 write_data.current.eq(out.current),
                                 write_data.adaptation.eq(out.adaptation)]
            with m.Elif(s.clearing):
                write_domain += [write_enable.eq(s.clear_word < layout.neurons_per_lane),
                                 write_address.eq(s.clear_word), write_data.eq(0)]
            with m.Else():
                enable, address, word = s.lane_write(MemorySelect.STATE, lane)
                write_domain += [write_enable.eq(enable), write_address.eq(address),
                                 write_data.eq(word)]

    def _outputs(self, m: Module, s: _Nets) -> None:
        """Spikes into the FIFO, the host's state read-back, busy and settled."""
        layout = self.layout
        lanes = layout.neuron_lanes
        lane_bits = layout.neuron_lane_bits
        engine = self.engine
        # Spikes: one FIFO entry per group with a spike, the id of its lane 0 and a lane mask.
        with m.If(s.spikes_leave):
            m.d.sync += s.spike_id.eq(s.spike_id + lanes)
        fired = Cat(u.spike_valid & u.spike for u in self.units)
        m.d.comb += [
            self._spikes.w_stream.valid.eq(fired.any()),
            self._spikes.w_stream.payload.eq(Cat(s.spike_id, fired) if lanes > 1 else s.spike_id),
        ]

        # Host read-back of the state, served between sweeps.
        with m.If(self.read.enable):
            m.d.sync += [s.read_pending.eq(1), s.read_address.eq(self.read.address),
                         s.read_state.eq(self.read.memory == MemorySelect.STATE)]
        with m.Elif(s.serve_read):
            m.d.sync += s.read_pending.eq(0)
        m.d.sync += [s.served[0].eq(s.serve_read & ~self.read.enable), s.served[1].eq(s.served[0])]
        answer = s.states[0].as_value()
        if lane_bits:   # the read word's lane travels with the read
            answer_lane = [Signal(lane_bits, name=f"answer_lane_{i}") for i in (1, 2)]
            m.d.sync += [answer_lane[0].eq(s.read_address[:lane_bits]),
                         answer_lane[1].eq(answer_lane[0])]
            answer = Array(state.as_value() for state in s.states)[answer_lane[1]]
        m.d.comb += [self.read.valid.eq(s.served[1]),
                     self.read.data.eq(Mux(s.read_state, answer, 0))]

        m.d.comb += [
            self.busy.eq(s.fire_pending | s.clear_pending | ~s.fsm.ongoing("IDLE") | engine.busy
                         | ~s.spikes_empty),
            self.settled.eq(s.unit_settled),
        ]

    def _spike_output(self, m: Module, lanes: int) -> Signal:
        """The spike FIFO (``self._spikes``) and, with several neuron lanes, the serialiser that
        sends each entry's spikes one per cycle, lowest lane first. Returns the registered
        "nothing left to send" flag.

        The FIFO's level is a sum of its counters, too slow in front of the FSM, so the flag is
        a cycle late. Spikes are written only while sweeping or draining, and the last one two
        cycles before DRAIN ends, so the late flag never reads empty too early."""
        layout = self.layout
        width = SOURCE_ID_BITS + (lanes if lanes > 1 else 0)
        spikes = self._spikes = m.submodules.spikes = SyncFIFOBuffered(
            width=width, depth=max(2, layout.neurons_per_lane))
        spikes_empty = Signal()
        if lanes == 1:
            wiring.connect(m, spikes.r_stream, wiring.flipped(self.spikes_out))
            m.d.sync += spikes_empty.eq(spikes.level == 0)
            return spikes_empty
        head_valid = Signal()
        head_id = Signal(SOURCE_ID_BITS, reset_less=True)
        head_mask = Signal(lanes, reset_less=True)
        lowest = Signal(range(lanes))
        for lane in reversed(range(lanes)):
            with m.If(head_mask[lane]):
                m.d.comb += lowest.eq(lane)
        rest = head_mask & (head_mask - 1)            # the mask without its lowest lane
        last = rest == 0
        sent = self.spikes_out.valid & self.spikes_out.ready
        take = spikes.r_stream.valid & (~head_valid | (sent & last))
        m.d.comb += [self.spikes_out.valid.eq(head_valid),
                     self.spikes_out.payload.eq(head_id + lowest),
                     spikes.r_stream.ready.eq(~head_valid | (sent & last))]
        with m.If(take):
            m.d.sync += [head_valid.eq(1), head_id.eq(spikes.r_stream.payload[:SOURCE_ID_BITS]),
                         head_mask.eq(spikes.r_stream.payload[SOURCE_ID_BITS:])]
        with m.Elif(sent):
            m.d.sync += head_mask.eq(rest)
            with m.If(last):
                m.d.sync += head_valid.eq(0)
        m.d.sync += spikes_empty.eq((spikes.level == 0) & ~head_valid)
        return spikes_empty
