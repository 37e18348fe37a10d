"""Address-event router between the cores and the host.

Every spike travels as a 16-bit global *source id* (assigned by the compiler). The router takes
events from each core's ``spikes_out`` and from the host (phase 0 input events), looks the id up
in a small range table and multicasts it to the queue of every destination core and, for output
layers, to the host.

Pipeline (one event per cycle when nothing stalls)::

    inputs --round-robin--> [intake, 2 deep] --compare--> [match] --OR--> [deliver] --> queues

The range comparisons (one per table entry) and the OR of the matching masks run in separate
cycles: the ``match`` stage registers one hit bit per entry, so neither the comparators nor the
wide OR share a clock cycle with the intake queue's read or the queues' write.

* **Routing table**: ``table_entries`` entries ``(first_id, last_id, destination_mask)``; an event
  whose id lies in ``first_id..last_id`` (inclusive) goes to every destination in the mask, and
  the masks of all matching entries are OR-ed (overlapping ranges are allowed). Mask bit ``k``
  (``k < cores``) is core ``k``; bit ``cores`` is the host. An id no entry matches is dropped.
  Entry word layout, LSB first: ``first_id[16] last_id[16] mask[cores + 1]``. Unused entries
  reset to ``first_id = 0xFFFF > last_id = 0`` and never match.
* **Back-pressure at the intake only**: an event enters the match stage only if every queue held
  fewer than ``queue_depth`` entries in the previous cycle (a registered flag). Each queue has
  ``IN_FLIGHT`` more entries than that, enough for every event already past the intake, so the
  match and deliver stages never stall: no stall signal fans out across the pipeline or the
  routing table, and a multicast is written into all its queues in one cycle (never lost or
  duplicated). While the intake is held, no input is granted once its two entries are full.
* ``idle`` is high when no input offers an event, the intake, match and deliver stages are empty and
  every queue is empty: together with the cores' ``busy`` it forms the phase barrier.
"""

from __future__ import annotations

import operator
from functools import reduce

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from codesign.hw.host_interface import SOURCE_ID_BITS, ProgramWriteSignature

#: Width of one routing-table entry beyond its destination mask: first_id and last_id.
_RANGE_BITS = 2 * SOURCE_ID_BITS
#: Copies of the intake's event id for the range comparators (see ``elaborate``); a single
#: copy (small parts) is the intake register itself.
INTAKE_COPIES = 4
#: Queue entries beyond ``queue_depth``: events past the intake when it last saw room (the one
#: entering the match stage, the match and deliver stages, and one for the flag's register).
IN_FLIGHT = 3


def routing_entry_bits(cores: int) -> int:
    """Width of one routing-table entry word for ``cores`` cores."""
    return _RANGE_BITS + cores + 1


class Router(wiring.Component):
    """Multicast address-event router with round-robin arbitration and back-pressure.

    Ports: ``core_events_in[k]`` / ``host_events_in`` (sources), ``core_events_out[k]`` /
    ``host_events_out`` (destinations), ``table_write`` (program loading, ``address`` = entry
    index, ``data`` = entry word), ``idle`` and ``deliveries`` (events written into core queues,
    counting each multicast copy; wraps at 2^32). ``stall_free=False`` (small parts at low
    clocks) keeps the queues at ``queue_depth`` entries and stalls stage by stage instead.
    ``write_register`` (default) stores a table write one cycle later, through a registered
    entry select; without it the write goes straight from the bus into the entry.
    ``intake_copies`` (1-4) copies of the intake's event id feed the range comparators.
    """

    def __init__(self, cores: int, queue_depth: int, table_entries: int, write_data_bits: int,
                 stall_free: bool = True, write_register: bool = True,
                 intake_copies: int = INTAKE_COPIES):
        assert 1 <= intake_copies <= 4, "four distinct flip-flops per bit at most"
        self.cores = cores
        self.intake_copies = intake_copies
        self.write_register = write_register
        self.queue_depth = queue_depth
        self.stall_free = stall_free
        self.table_entries = table_entries
        super().__init__({
            "core_events_in": In(stream.Signature(SOURCE_ID_BITS)).array(cores),
            "host_events_in": In(stream.Signature(SOURCE_ID_BITS)),
            "core_events_out": Out(stream.Signature(SOURCE_ID_BITS)).array(cores),
            "host_events_out": Out(stream.Signature(SOURCE_ID_BITS)),
            "table_write": In(ProgramWriteSignature(write_data_bits)),
            "idle": Out(1),
            "deliveries": Out(32),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        ports = [*self.core_events_in, self.host_events_in]
        destinations = [*self.core_events_out, self.host_events_out]
        port_count = len(ports)

        # Routing table in flip-flops: every entry is compared in parallel, once per event.
        firsts = [Signal(SOURCE_ID_BITS, init=(1 << SOURCE_ID_BITS) - 1, name=f"first_{i}")
                  for i in range(self.table_entries)]
        lasts = [Signal(SOURCE_ID_BITS, name=f"last_{i}") for i in range(self.table_entries)]
        masks = [Signal(len(destinations), name=f"mask_{i}") for i in range(self.table_entries)]
        write = self.table_write
        selects = [write.enable & (write.address == index) for index in range(self.table_entries)]
        data = write.data
        if self.write_register:
            # The address decode is registered (a one-hot entry select) with the word: the wide
            # address compare and the fan-out to every entry get a cycle each.
            selected = Signal(self.table_entries)
            data = Signal(len(write.data), reset_less=True)
            m.d.sync += [selected.eq(Cat(selects)), data.eq(write.data)]
            selects = list(selected)
        for index, select in enumerate(selects):
            with m.If(select):
                m.d.sync += [
                    firsts[index].eq(data[:SOURCE_ID_BITS]),
                    lasts[index].eq(data[SOURCE_ID_BITS:_RANGE_BITS]),
                    masks[index].eq(data[_RANGE_BITS:]),
                ]

        # Intake: a 2-entry skid buffer. Its `ready` is a register (no skid entry), so the
        # inputs' `ready` never depends combinationally on the destination queues, it still
        # takes one event per cycle while the pipeline flows, and its head is a register that
        # feeds the comparators directly.
        intake_valid = Signal()
        intake_id = Signal(SOURCE_ID_BITS)
        skid_valid = Signal()
        skid_id = Signal(SOURCE_ID_BITS)
        granted = Signal()
        granted_id = Signal(SOURCE_ID_BITS)
        match_valid = Signal()
        match_id = Signal(SOURCE_ID_BITS)
        hits = Signal(self.table_entries)
        deliver_valid = Signal()
        deliver_id = Signal(SOURCE_ID_BITS)
        deliver_mask = Signal(len(destinations))

        queues = []
        for index, destination in enumerate(destinations):
            queue = SyncFIFO(width=SOURCE_ID_BITS,
                             depth=self.queue_depth + (IN_FLIGHT if self.stall_free else 0))
            m.submodules[f"queue_{index}"] = queue
            queues.append(queue)
            m.d.comb += [
                destination.payload.eq(queue.r_data),
                destination.valid.eq(queue.r_rdy),
                queue.r_en.eq(destination.ready),
                queue.w_data.eq(deliver_id),
            ]

        deliver = Signal()
        if self.stall_free:
            # The intake moves on only with room in every queue (last cycle's levels); the
            # match and deliver stages load every cycle and always deliver.
            room = Signal()
            m.d.sync += room.eq(Cat(queue.level < self.queue_depth for queue in queues).all())
            m.d.comb += deliver.eq(deliver_valid)
            deliver_free = match_free = Const(1)
            advance = intake_valid & room
        else:
            # Small parts (``stall_free=False``): no spare queue entries. The deliver stage
            # waits until every queue it targets had at most depth - 2 entries last cycle (so a
            # queue holds at most depth - 1), and each stage loads when it is empty or the next
            # one moves on.
            has_room = Signal(len(queues))
            m.d.sync += has_room.eq(Cat(queue.level < self.queue_depth - 1 for queue in queues))
            m.d.comb += deliver.eq(deliver_valid & Cat(
                has_room[index] | ~deliver_mask[index] for index in range(len(queues))).all())
            deliver_free = ~deliver_valid | deliver
            match_free = ~match_valid | deliver_free
            advance = intake_valid & match_free
        for index, queue in enumerate(queues):
            m.d.comb += queue.w_en.eq(deliver & deliver_mask[index])
        with m.If(deliver):
            m.d.sync += self.deliveries.eq(
                self.deliveries + sum(deliver_mask[index] for index in range(self.cores)))

        # The comparators read copies of the intake head, each feeding a group of table entries:
        # one register driving every comparator spread over the die (13 ns of routing on one
        # bit of the default chip). Yosys merges flip-flops with equal inputs and initial value,
        # bit by bit, so the copies differ in both: copy k stores the id inverted if k is odd
        # and starts at all ones if k & 2 (four distinct flip-flops per bit).
        copies = [Signal(SOURCE_ID_BITS, reset_less=True, name=f"intake_id_copy_{copy}",
                         init=(1 << SOURCE_ID_BITS) - 1 if copy & 2 else 0)
                  for copy in range(self.intake_copies)]
        inverted = [copy & 1 for copy in range(self.intake_copies)]
        views = [~copy if invert else copy for copy, invert in zip(copies, inverted)]
        group = -(-self.table_entries // self.intake_copies)
        compared = [views[index // group] for index in range(self.table_entries)]
        with m.If(match_free):
            m.d.sync += [match_valid.eq(advance), match_id.eq(intake_id),
                         hits.eq(Cat((value >= first) & (value <= last)
                                     for value, first, last in zip(compared, firsts, lasts)))]
        next_id = Signal(SOURCE_ID_BITS)
        load_id = Signal()
        with m.If(advance):
            with m.If(skid_valid):
                m.d.comb += [next_id.eq(skid_id), load_id.eq(1)]
                m.d.sync += skid_valid.eq(0)
            with m.Elif(granted):
                m.d.comb += [next_id.eq(granted_id), load_id.eq(1)]
            with m.Else():
                m.d.sync += intake_valid.eq(0)
        with m.Elif(granted):
            with m.If(intake_valid):
                m.d.sync += [skid_valid.eq(1), skid_id.eq(granted_id)]
            with m.Else():
                m.d.comb += [next_id.eq(granted_id), load_id.eq(1)]
                m.d.sync += intake_valid.eq(1)
        with m.If(load_id):
            m.d.sync += intake_id.eq(next_id)
            m.d.sync += [copy.eq(~next_id if invert else next_id)
                         for copy, invert in zip(copies, inverted)]
        with m.If(deliver_free):
            m.d.sync += [deliver_valid.eq(match_valid), deliver_id.eq(match_id),
                         deliver_mask.eq(reduce(operator.or_, [
                             mask & hits[index].replicate(len(destinations))
                             for index, mask in enumerate(masks)]))]

        # Round-robin arbiter: the port after the last granted one has the highest priority.
        last_grant = Signal(range(port_count), init=port_count - 1)
        with m.If(~skid_valid):
            with m.Switch(last_grant):
                for previous in range(port_count):
                    with m.Case(previous):
                        order = [(previous + offset) % port_count
                                 for offset in range(1, port_count + 1)]
                        for position, index in enumerate(order):
                            block = m.If if position == 0 else m.Elif
                            with block(ports[index].valid):
                                m.d.comb += [ports[index].ready.eq(1), granted.eq(1)]
                                m.d.comb += granted_id.eq(ports[index].payload)
                                m.d.sync += last_grant.eq(index)

        m.d.comb += self.idle.eq(~intake_valid & ~match_valid & ~deliver_valid
                                 & ~Cat(queue.r_rdy for queue in queues).any()
                                 & ~Cat(port.valid for port in ports).any())
        return m
