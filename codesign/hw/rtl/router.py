"""Address-event router between the cores and the host.

Every spike travels as a 16-bit global *source id* (assigned by the compiler). The router takes
events from each core's ``spikes_out`` and from the host (phase 0 input events), looks the id up
in a small range table and multicasts it to the queue of every destination core and, for output
layers, to the host.

Pipeline (one event per cycle when nothing stalls)::

    inputs --round-robin--> [grant] --read port--> [intake] --low bytes--> [halves]
           --high bytes--> [match] --OR--> [deliver] --> queues

* **Arbitration** is registered: in each cycle a round-robin arbiter picks one port among the
  valid ones (the port after the last grant first) and registers it as a one-hot ``grant``;
  in the next cycle ``ready`` of that port is the grant itself and the intake loads the
  granted port's payload. The port just granted stays a candidate (its next event may follow
  at once, so a single streaming port still gets one grant per cycle); a grant whose port has
  no event by then is wasted, which costs nothing the port after it would have had. Neither the
  inputs' ``valid`` nor ``last_grant`` reaches the intake's flip-flops through the arbiter.
* **Range compare over two cycles** (``split_compare``, default): the *halves* stage registers,
  per table entry, the compares of the id's low byte with the low bytes of ``first_id`` and
  ``last_id``; the *match* stage compares the high bytes with those results as the carries
  into them, so each cycle has one 8-bit carry chain per bound (every compare is a ``>=``,
  which is a chain's carry-out alone). Without ``split_compare`` the match stage compares the
  16-bit id directly (no halves stage). The OR of the matching masks has a stage of its own.
* **Routing table**: ``table_entries`` entries ``(first_id, last_id, destination_mask)``; an event
  whose id lies in ``first_id..last_id`` (inclusive) goes to every destination in the mask, and
  the masks of all matching entries are OR-ed (overlapping ranges are allowed). Mask bit ``k``
  (``k < cores``) is core ``k``; bit ``cores`` is the host. An id no entry matches is dropped.
  Entry word layout, LSB first: ``first_id[16] last_id[16] mask[cores + 1]``. Unused entries
  reset to ``first_id = 0xFFFF > last_id = 0`` and never match.
* **Back-pressure at the arbiter only** (``stall_free``, default): a port is granted only if
  every queue held fewer than ``queue_depth`` entries in the previous cycle (a registered flag);
  every stage after the grant loads every cycle. Each queue has ``in_flight`` more entries than
  that, enough for every event granted since (see ``Router.in_flight``), so no stall signal
  fans out across the pipeline or the routing table, and a multicast is written into all its
  queues in one cycle (never lost or duplicated).
* ``idle`` is high when no input offers an event, the intake, halves, match and deliver stages
  are empty and every queue is empty: together with the cores' ``busy`` it forms the phase
  barrier. (A grant alone is no event: its port's ``valid`` already keeps ``idle`` low.)
"""

from __future__ import annotations

import operator
from functools import reduce

from amaranth.hdl import Cat, Const, Module, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from codesign.arch.protocol import SOURCE_ID_BITS
from codesign.hw.rtl.host_interface import ProgramWriteSignature

#: Bits of a routing-table entry before its destination mask: first_id and last_id
#: (``protocol.routing_entry`` is the word's one definition).
_RANGE_BITS = 2 * SOURCE_ID_BITS
#: Low bits of the id compared in the halves stage (``split_compare``).
_HALF_BITS = SOURCE_ID_BITS // 2
#: Copies of the intake's event id for the range comparators (see ``Router._intake_copies``);
#: a single copy (small parts) is the intake register itself.
INTAKE_COPIES = 4


class Router(wiring.Component):
    """Multicast address-event router with round-robin arbitration and back-pressure.

    Ports: ``core_events_in[k]`` / ``host_events_in`` (sources), ``core_events_out[k]`` /
    ``host_events_out`` (destinations), ``table_write`` (program loading, ``address`` = entry
    index, ``data`` = entry word), ``idle`` and ``deliveries`` (events written into core queues,
    counting each multicast copy; wraps at 2^32). ``stall_free=False`` (small parts at low
    clocks) keeps the queues at ``queue_depth`` entries and stalls the whole pipeline while the
    deliver stage waits for room instead.
    ``write_register`` (default) stores a table write two cycles later: the address check and
    the low address bits are registered, then the one-hot entry select; without it the write
    goes straight from the bus into the entry.
    ``split_compare`` (default) spreads the range compare over two cycles (halves stage).
    ``intake_copies`` (1-4) copies of the intake's event id feed the range comparators.
    """

    def __init__(self, cores: int, queue_depth: int, table_entries: int, write_data_bits: int,
                 stall_free: bool = True, write_register: bool = True,
                 split_compare: bool = True, intake_copies: int = INTAKE_COPIES):
        assert 1 <= intake_copies <= 4, "four distinct flip-flops per bit at most"
        self.cores = cores
        self.intake_copies = intake_copies
        self.write_register = write_register
        self.split_compare = split_compare
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

    @property
    def latency(self) -> int:
        """Cycles from a grant decision to the queue write: grant, intake, [halves], match,
        deliver."""
        return 5 if self.split_compare else 4

    @property
    def in_flight(self) -> int:
        """Queue entries beyond ``queue_depth`` (``stall_free``): the room flag saw the levels
        of the cycle before the grant decision, so the writes of that cycle, of the decision's
        and of the ``latency`` cycles after it are not in it (``latency + 2`` writes, one of
        them within ``queue_depth``)."""
        return self.latency + 1

    def elaborate(self, platform) -> Module:
        m = Module()
        ports = [*self.core_events_in, self.host_events_in]
        destinations = [*self.core_events_out, self.host_events_out]
        port_count = len(ports)
        copies, inverted = self._intake_copies()
        intake_id = copies[0]
        # Table entry k is compared with the copy of its group (see ``_intake_copies``).
        compared = [(copies[index // self._copy_group], inverted[index // self._copy_group])
                    for index in range(self.table_entries)]
        firsts, lasts, masks = self._routing_table(m, compared, len(destinations))

        grant = Signal(port_count)
        intake_valid = Signal()
        match_valid = Signal()
        match_id = Signal(SOURCE_ID_BITS)
        hits = Signal(self.table_entries)
        deliver_valid = Signal()
        deliver_id = Signal(SOURCE_ID_BITS)
        deliver_mask = Signal(len(destinations))

        queues = self._queues(m, destinations, deliver_id)
        deliver, flow, may_grant = self._back_pressure(m, queues, deliver_valid, deliver_mask)
        for index, queue in enumerate(queues):
            m.d.comb += queue.w_en.eq(deliver & deliver_mask[index])
        with m.If(deliver):
            m.d.sync += self.deliveries.eq(
                self.deliveries + sum(deliver_mask[index] for index in range(self.cores)))

        valids = Cat(port.valid for port in ports)
        choices, last_grant = self._arbiter(m, valids)
        for port, ready in zip(ports, grant):
            m.d.comb += port.ready.eq(ready & flow)

        # The granted port's payload: an AND-OR selected by the registered one-hot grant.
        granted_id = reduce(operator.or_, [port.payload & chosen.replicate(SOURCE_ID_BITS)
                                           for port, chosen in zip(ports, grant)])

        stage_valids = [intake_valid, match_valid, deliver_valid]
        with m.If(flow):
            m.d.sync += grant.eq(choices & may_grant.replicate(port_count))
            with m.If(choices.any() & may_grant):
                m.d.sync += last_grant.eq(choices)
            m.d.sync += intake_valid.eq((grant & valids).any())
            m.d.sync += [copy.eq(~granted_id if invert else granted_id)
                         for copy, invert in zip(copies, inverted)]
            if self.split_compare:
                halves_valid, halves_id, matches = self._halves_stage(
                    m, intake_valid, intake_id, copies, compared, firsts, lasts)
                stage_valids.append(halves_valid)
                m.d.sync += [match_valid.eq(halves_valid), match_id.eq(halves_id),
                             hits.eq(matches)]
            else:
                m.d.sync += [match_valid.eq(intake_valid), match_id.eq(intake_id),
                             hits.eq(Cat(_at_or_above(value, first, invert)
                                         & _at_or_above(last, value, invert)
                                         for (value, invert), first, last
                                         in zip(compared, firsts, lasts)))]
            m.d.sync += [deliver_valid.eq(match_valid), deliver_id.eq(match_id),
                         deliver_mask.eq(reduce(operator.or_, [
                             mask & hits[index].replicate(len(destinations))
                             for index, mask in enumerate(masks)]))]

        m.d.comb += self.idle.eq(~Cat(stage_valids).any()
                                 & ~Cat(queue.r_rdy for queue in queues).any()
                                 & ~valids.any())
        return m

    @property
    def _copy_group(self) -> int:
        """Table entries per copy of the intake id (the last group may be smaller)."""
        return -(-self.table_entries // self.intake_copies)

    def _intake_copies(self) -> tuple[list[Signal], list[bool]]:
        """The copies of the intake id and whether each is stored inverted.

        The comparators read copies of the intake id, each feeding a group of table entries:
        one register driving every comparator spread over the die (13 ns of routing on one bit
        of the default chip). Yosys merges flip-flops with equal inputs and initial value, bit
        by bit, so the copies differ in both: copy k stores the id inverted if k is odd and
        starts at all ones if k & 2 (four distinct flip-flops per bit)."""
        copies = [Signal(SOURCE_ID_BITS, reset_less=True, name=f"intake_id_copy_{copy}",
                         init=(1 << SOURCE_ID_BITS) - 1 if copy & 2 else 0)
                  for copy in range(self.intake_copies)]
        inverted = [bool(copy & 1) for copy in range(self.intake_copies)]
        return copies, inverted

    def _routing_table(self, m: Module, compared: list[tuple[Signal, bool]],
                       mask_bits: int) -> tuple[list[Signal], list[Signal], list[Signal]]:
        """The routing table in flip-flops and its writes from ``table_write``; returns each
        entry's ``first_id``, ``last_id`` and destination mask.

        Every entry is compared in parallel, once per event. An entry read through an inverted
        copy (``compared``) stores its bounds inverted too, so no inverter sits between a copy
        and the comparators' carry chains (the compares swap direction)."""
        entries = range(self.table_entries)
        ones = (1 << SOURCE_ID_BITS) - 1
        firsts = [Signal(SOURCE_ID_BITS, init=0 if invert else ones, name=f"first_{i}")
                  for i, (_, invert) in zip(entries, compared)]
        lasts = [Signal(SOURCE_ID_BITS, init=ones if invert else 0, name=f"last_{i}")
                 for i, (_, invert) in zip(entries, compared)]
        masks = [Signal(mask_bits, name=f"mask_{i}") for i in entries]
        write = self.table_write
        entry_bits = _RANGE_BITS + mask_bits
        if self.write_register:
            # The address decode takes two registered steps: the wide "address within the
            # table" compare first, then the one-hot select from the registered low bits.
            write_valid = Signal()
            write_index = Signal(range(self.table_entries))
            staged = Signal(entry_bits, reset_less=True)
            m.d.sync += [write_valid.eq(write.enable & (write.address < self.table_entries)),
                         write_index.eq(write.address[:len(write_index)]),
                         staged.eq(write.data[:entry_bits])]
            selected = Signal(self.table_entries)
            data = Signal(entry_bits, reset_less=True)
            m.d.sync += [selected.eq(Cat(write_valid & (write_index == index)
                                         for index in entries)),
                         data.eq(staged)]
            selects = list(selected)
        else:
            selects = [write.enable & (write.address == index) for index in entries]
            data = write.data
        for index, (select, (_, invert)) in enumerate(zip(selects, compared)):
            first, last = data[:SOURCE_ID_BITS], data[SOURCE_ID_BITS:_RANGE_BITS]
            with m.If(select):
                m.d.sync += [
                    firsts[index].eq(~first if invert else first),
                    lasts[index].eq(~last if invert else last),
                    masks[index].eq(data[_RANGE_BITS:entry_bits]),
                ]
        return firsts, lasts, masks

    def _queues(self, m: Module, destinations: list[stream.Interface],
                deliver_id: Signal) -> list[SyncFIFO]:
        """One queue per destination, written with ``deliver_id``, read by the destination."""
        queues = []
        for index, destination in enumerate(destinations):
            queue = SyncFIFO(width=SOURCE_ID_BITS,
                             depth=self.queue_depth + (self.in_flight if self.stall_free else 0))
            m.submodules[f"queue_{index}"] = queue
            queues.append(queue)
            m.d.comb += [
                destination.payload.eq(queue.r_data),
                destination.valid.eq(queue.r_rdy),
                queue.r_en.eq(destination.ready),
                queue.w_data.eq(deliver_id),
            ]
        return queues

    def _back_pressure(self, m: Module, queues: list[SyncFIFO], deliver_valid: Signal,
                       deliver_mask: Signal) -> tuple[Signal, Value, Value]:
        """``(deliver, flow, may_grant)``: the deliver stage writes its queues; every stage
        from the grant to the deliver stage moves on (``flow``); a port may be granted."""
        deliver = Signal()
        if self.stall_free:
            # Ports are granted only with room in every queue (last cycle's levels); the
            # stages after the grant load every cycle and always deliver.
            room = Signal()
            m.d.sync += room.eq(Cat(queue.level < self.queue_depth for queue in queues).all())
            m.d.comb += deliver.eq(deliver_valid)
            return deliver, Const(1), room
        # Small parts (``stall_free=False``): no spare queue entries. The deliver stage waits
        # until every queue it targets had at most depth - 2 entries last cycle (so a queue
        # holds at most depth - 1), and the whole pipeline waits with it.
        has_room = Signal(len(queues))
        m.d.sync += has_room.eq(Cat(queue.level < self.queue_depth - 1 for queue in queues))
        m.d.comb += deliver.eq(deliver_valid & Cat(
            has_room[index] | ~deliver_mask[index] for index in range(len(queues))).all())
        flow = Signal()
        m.d.comb += flow.eq(~deliver_valid | deliver)
        return deliver, flow, Const(1)

    def _arbiter(self, m: Module, valids: Value) -> tuple[Signal, Signal]:
        """Round-robin arbiter: ``(choices, last_grant)``, the port to grant (one-hot, none if
        no port is valid) and the last granted port, which the grant stage updates.

        The port after the last granted one has the highest priority. ``last_grant`` is
        one-hot, so port k wins if it is valid and, for the last grant p, no port between p and
        k is."""
        port_count = len(valids)
        last_grant = Signal(port_count, init=1 << (port_count - 1))
        choices = Signal(port_count)
        for port in range(port_count):
            after_last = []
            for previous in range(port_count):
                between = [(previous + offset) % port_count
                           for offset in range(1, (port - previous) % port_count or port_count)]
                after_last.append(last_grant[previous]
                                  & ~Cat(valids[other] for other in between).any())
            m.d.comb += choices[port].eq(valids[port] & reduce(operator.or_, after_last))
        return choices, last_grant

    def _halves_stage(self, m: Module, intake_valid: Signal, intake_id: Signal,
                      copies: list[Signal], compared: list[tuple[Signal, bool]],
                      firsts: list[Signal], lasts: list[Signal]) -> tuple[Signal, Signal, Value]:
        """The halves stage (``split_compare``), in the pipeline's ``flow`` block: its
        ``(valid, id)`` and the match stage's entry hits, computed from its registers.

        The halves stage registers the low bytes' compares (the carries into the high bytes')
        and each copy's high byte; the match stage compares the high bytes with those carries:
        two 8-bit carry chains per cycle instead of two 16-bit ones."""
        halves_valid = Signal()
        halves_id = Signal(SOURCE_ID_BITS)
        low_from_first = Signal(self.table_entries)
        low_to_last = Signal(self.table_entries)
        # Two copies of each intake copy's high byte (distinct initial values, so Yosys keeps
        # both), each feeding half of its entries' match compares.
        highs = [[Signal(SOURCE_ID_BITS - _HALF_BITS, reset_less=True,
                         init=(1 << SOURCE_ID_BITS - _HALF_BITS) - 1 if half else 0,
                         name=f"high_copy_{copy}_{half}") for half in range(2)]
                 for copy in range(len(copies))]
        group = self._copy_group
        compared_high = [highs[index // group][index % group * 2 // group]
                         for index in range(self.table_entries)]
        m.d.sync += [
            halves_valid.eq(intake_valid), halves_id.eq(intake_id),
            *(high.eq(copy[_HALF_BITS:]) for pair, copy in zip(highs, copies) for high in pair),
            low_from_first.eq(Cat(_at_or_above(value[:_HALF_BITS], first[:_HALF_BITS], invert)
                                  for (value, invert), first in zip(compared, firsts))),
            low_to_last.eq(Cat(_at_or_above(last[:_HALF_BITS], value[:_HALF_BITS], invert)
                               for (value, invert), last in zip(compared, lasts))),
        ]
        hits = Cat(
            _above_or_tie(high, first[_HALF_BITS:], low_from_first[index], invert)
            & _above_or_tie(last[_HALF_BITS:], high, low_to_last[index], invert)
            for index, (high, (_, invert), first, last)
            in enumerate(zip(compared_high, compared, firsts, lasts)))
        return halves_valid, halves_id, hits


def _at_or_above(value, bound, inverted: bool):
    """``value >= bound`` in id order, of two operands stored inverted if ``inverted``. Always
    a ``>=``: Yosys maps it to a carry chain's carry-out alone, where ``<=`` and ``>`` add a
    zero test of the difference (a LUT tree after the chain)."""
    return bound >= value if inverted else value >= bound


def _above_or_tie(upper, lower, tie, inverted: bool):
    """``upper > lower``, or ``upper == lower`` and ``tie``, in id order, of two operands stored
    inverted if ``inverted``: one compare whose carry-in is ``tie``."""
    if inverted:
        upper, lower = lower, upper
    return Cat(tie, upper) >= Cat(Const(1, 1), lower)
