"""Phase sequencer: runs one timestep as the program's list of phases.

Timestep ``t`` (the ``timestep`` output while it runs)::

    quiesce   wait, uncounted, until nothing is busy (e.g. the cores' ``clear``)
    phase 0   play the host's buffered input events into the router, wait for the barrier
    for each entry of the phase table (``phase count`` entries):
        fire    pulse ``fire`` on the entry's cores with its segment index, wait for the barrier
        convert if the entry names crossbar tiles: pulse their ``convert``, wait for the barrier
    finish    once every core's state write-backs landed (``cores_settled``): latch the cycle
              count, ``timestep`` += 1, pulse ``done``

Each phase's entry is read from the phase table while the phase before it runs, so the barrier
fires the next phase in the cycle it is seen.

The barrier is: router idle, input player idle, no core and no tile busy. It is tested only
``SETTLE_CYCLES`` cycles after a pulse (and after ``start``), so a unit whose ``busy`` reaches
the sequencer two cycles after its start pulse is never missed: the top level registers every
unit's status, and ``fire``/``segment`` leave through a register (the phase entry comes from a
block RAM).

Program memories (unit ``SEQUENCER_UNIT`` of the host protocol):

* memory ``PHASE_TABLE``: one word per phase, LSB first ``fire_mask[cores]
  convert_mask[tiles] segment[segment_bits]`` (:func:`host_driver.phase_entry`);
* memory ``SEQUENCER_REGISTERS``: address 0 = phase count, 1 = timestep counter, 2 = timestep
  slot (``t mod delay_slots``, the accumulator bank of delay 0; write it with the counter),
  3 = clear (any write pulses ``clear``: the cores zero their accumulators and neuron states).

With ``registered_writes`` (the ``timing_registers`` knob) every write lands a cycle after the
bus carries it, from registered strobes (:func:`host_interface.register_writes`).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from codesign.arch import protocol
from codesign.hw.rtl.host_interface import ProgramWriteSignature, memory_write, register_writes
from codesign.hw.rtl.layouts import COLLISION_FREE

#: Cycles between a start pulse and the first barrier test.
SETTLE_CYCLES = 3


class Sequencer(wiring.Component):
    """Phase sequencer; see the module docstring."""

    def __init__(self, cores: int, tiles: int, segment_bits: int, phase_table_depth: int,
                 delay_slots: int, write_data_bits: int, registered_writes: bool = False):
        self.cores = cores
        self.registered_writes = registered_writes
        self.delay_slots = delay_slots
        self.tiles = tiles
        self.segment_bits = segment_bits
        self.phase_table_depth = phase_table_depth
        super().__init__({
            "program": In(ProgramWriteSignature(write_data_bits)),
            "start": In(1),
            "done": Out(1),
            "input_play": Out(1),
            "input_busy": In(1),
            "fire": Out(cores),
            "segment": Out(segment_bits),
            "convert": Out(tiles),
            "cores_busy": In(cores),
            "cores_settled": In(cores),
            "tiles_busy": In(tiles),
            "router_idle": In(1),
            "timestep": Out(32),
            "timestep_slot": Out(range(delay_slots)),
            "clear": Out(1),
            "last_step_cycles": Out(32),
            "total_cycles": Out(32),
        })

    @property
    def phase_entry_bits(self) -> int:
        return protocol.phase_entry_bits(self.cores, self.tiles, self.segment_bits)

    def elaborate(self, platform) -> Module:
        m = Module()
        # Written between timesteps; a read colliding with a write is re-read the next cycle.
        phases = m.submodules.phase_table = Memory(shape=self.phase_entry_bits,
                                                   depth=self.phase_table_depth, init=[],
                                                   attrs=COLLISION_FREE)
        phase_write = phases.write_port()
        phase_read = phases.read_port()
        phase_count = Signal(range(self.phase_table_depth + 1))
        phase = Signal(range(self.phase_table_depth + 1))

        enable, address, entry_word = memory_write(m, self.program, protocol.PHASE_TABLE,
                                                   "phase_table", self.registered_writes)
        m.d.comb += [phase_write.en.eq(enable & (address < self.phase_table_depth)),
                     phase_write.addr.eq(address), phase_write.data.eq(entry_word)]
        registers = [protocol.PHASE_COUNT_REGISTER, protocol.TIMESTEP_REGISTER,
                     protocol.TIMESTEP_SLOT_REGISTER, protocol.CLEAR_REGISTER]
        strobes, data = register_writes(m, self.program, protocol.SEQUENCER_REGISTERS, registers,
                                        "sequencer_registers", self.registered_writes)
        for strobe, target in zip(strobes, [phase_count, self.timestep, self.timestep_slot]):
            with m.If(strobe):
                m.d.sync += target.eq(data)
        m.d.comb += self.clear.eq(strobes[-1])

        entry = phase_read.data
        fire_mask = entry[:self.cores]
        convert_mask = Signal(self.tiles)
        segment_start = self.cores + self.tiles

        settle = Signal(range(SETTLE_CYCLES + 1))
        fire = Signal.like(self.fire)
        segment = Signal.like(self.segment)
        m.d.sync += fire.eq(0)
        m.d.comb += [self.fire.eq(fire), self.segment.eq(segment)]
        barrier = Signal()
        m.d.comb += barrier.eq(self.router_idle & ~self.input_busy & ~self.cores_busy.any()
                               & (~self.tiles_busy.any() if self.tiles else 1))
        settled_barrier = (settle == 0) & barrier
        with m.If(settle != 0):
            m.d.sync += settle.eq(settle - 1)

        # The timestep's length if it finished in this cycle (one adder to each counter).
        cycles = Signal(32)
        # `phase` is the next phase to fire: its entry is read while the phase before it runs,
        # so the barrier fires it directly.
        m.d.comb += phase_read.addr.eq(phase)
        no_phase_left = phase >= phase_count
        # The timestep ends once every core's last state write-backs have landed too.
        settled = self.cores_settled.all()

        # High exactly in FINISH, as a flip-flop of its own: `done` goes to the host interface,
        # far away, from a register rather than from a decode of the state.
        finishing = Signal()
        m.d.sync += finishing.eq(0)
        m.d.comb += self.done.eq(finishing)

        def finish():
            with m.If(settled):
                m.d.sync += finishing.eq(1)
                m.next = "FINISH"

        def fire_next():
            # The cores latch `segment` with the `fire` pulse, one cycle later (registered).
            m.d.sync += [fire.eq(fire_mask), segment.eq(entry[segment_start:]),
                         settle.eq(SETTLE_CYCLES), phase.eq(phase + 1)]
            if self.tiles:
                m.d.sync += convert_mask.eq(entry[self.cores:segment_start])
            m.next = "FIRE_WAIT"

        def next_phase():
            with m.If(no_phase_left):
                finish()
            with m.Else():
                fire_next()

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += settle.eq(SETTLE_CYCLES)
                    m.next = "QUIESCE"
            with m.State("QUIESCE"):
                # Work left from before the step (a core's `clear`, written just before) is not
                # the step's: wait for it uncounted. The count restarts in every QUIESCE cycle,
                # so it depends on the state alone, not on the barrier's wide AND.
                m.d.sync += cycles.eq(2)
                with m.If(settled_barrier):
                    m.next = "INPUT"
            with m.State("INPUT"):
                m.d.comb += self.input_play.eq(1)
                m.d.sync += [settle.eq(SETTLE_CYCLES), phase.eq(0)]
                m.next = "INPUT_WAIT"
            with m.State("INPUT_WAIT"):
                with m.If(settled_barrier):
                    next_phase()
            with m.State("FIRE_WAIT"):
                with m.If(settled_barrier):
                    with m.If(convert_mask.any()):
                        m.next = "CONVERT"
                    with m.Else():
                        next_phase()
            with m.State("CONVERT"):
                m.d.comb += self.convert.eq(convert_mask)
                m.d.sync += settle.eq(SETTLE_CYCLES)
                m.next = "CONVERT_WAIT"
            with m.State("CONVERT_WAIT"):
                with m.If(settled_barrier):
                    next_phase()
            with m.State("FINISH"):
                # A timestep lasts from the `start` cycle to the `done` cycle, both included.
                m.d.sync += [self.last_step_cycles.eq(cycles),
                             self.total_cycles.eq(self.total_cycles + cycles),
                             self.timestep.eq(self.timestep + 1),
                             self.timestep_slot.eq(Mux(self.timestep_slot == self.delay_slots - 1,
                                                       0, self.timestep_slot + 1))]
                m.next = "IDLE"
        with m.If(~fsm.ongoing("IDLE") & ~fsm.ongoing("QUIESCE")):
            m.d.sync += cycles.eq(cycles + 1)
        return m
