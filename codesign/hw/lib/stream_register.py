"""Register slice for an ``amaranth.lib.stream``: cuts every combinational path through a stream
boundary between two components, at one cycle of latency and full throughput.

A 2-entry skid buffer: ``o.valid`` and ``o.payload`` are registers, and ``i.ready`` is a
register too ("the skid entry is free"), so neither the producer's ``valid``/``payload`` nor the
consumer's ``ready`` reaches the other side in the same cycle. When the output stalls, the one
item accepted in that cycle waits in the skid entry; ``i.ready`` falls the cycle after.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, ShapeLike, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class StreamRegister(wiring.Component):
    """``i`` (In stream) -> ``o`` (Out stream) of the same payload shape, one cycle later.

    ``skid=False`` leaves the skid entry out: ``i.ready`` then follows ``o.ready`` in the same
    cycle (half the flip-flops, still one item per cycle).

    ``occupied`` is high while an item is held (an item inside is in neither endpoint's own
    state, so a phase barrier must include it).
    """

    def __init__(self, payload_shape: ShapeLike, skid: bool = True):
        self.payload_shape = payload_shape
        self.skid = skid
        super().__init__({
            "i": In(stream.Signature(payload_shape)),
            "o": Out(stream.Signature(payload_shape)),
            "occupied": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        width = Shape.cast(self.payload_shape).width
        if not self.skid:
            return self._plain(m, width)
        skid_valid = Signal()
        # Payloads are qualified by the valid bits: no reset (no LSR net on their flip-flops).
        skid = Signal(width, reset_less=True)
        payload = Signal(width, reset_less=True)
        incoming = Value.cast(self.i.payload)
        m.d.comb += [self.i.ready.eq(~skid_valid), self.occupied.eq(self.o.valid),
                     self.o.payload.eq(payload)]
        with m.If(~self.o.valid | self.o.ready):
            # The output register moves on: the skid entry first (the input is not taken
            # while it is full), else whatever the input offers.
            m.d.sync += [self.o.valid.eq(skid_valid | self.i.valid),
                         payload.eq(Mux(skid_valid, skid, incoming)),
                         skid_valid.eq(0)]
        with m.Elif(self.i.valid & ~skid_valid):
            m.d.sync += skid_valid.eq(1)
        # The skid entry's data follow the input while it is free (qualified by `skid_valid`),
        # so their clock enable is that one flip-flop, not the consumer's `ready`.
        with m.If(~skid_valid):
            m.d.sync += skid.eq(incoming)
        return m

    def _plain(self, m: Module, width: int) -> Module:
        """Without the skid entry (small parts, where logic cells are scarcer than time):
        ``i.ready`` is ``~o.valid | o.ready``, combinational from the consumer."""
        payload = Signal(width, reset_less=True)
        m.d.comb += [self.i.ready.eq(~self.o.valid | self.o.ready),
                     self.occupied.eq(self.o.valid), self.o.payload.eq(payload)]
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), payload.eq(self.i.payload)]
        return m
