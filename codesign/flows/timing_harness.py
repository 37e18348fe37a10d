"""A three-pin wrapper for measuring one component's fmax with place and route.

A datapath component alone has hundreds of port bits, more than any package has pins, and its
ports would be timed against I/O buffers. :class:`SerialHarness` feeds every input from one serial
shift chain and captures every output into another, so the top level has three pins and every
path of the component starts and ends at a flip-flop, as it does inside the accelerator.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class SerialHarness(wiring.Component):
    """``serial_in`` shifts into the inputs of ``inner``; ``capture`` loads its outputs into a
    chain that ``serial_out`` shifts out."""

    def __init__(self, inner: wiring.Component):
        self.inner = inner
        super().__init__({"serial_in": In(1), "capture": In(1), "serial_out": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.inner = inner = self.inner
        inputs, outputs = [], []
        for _, member, value in inner.signature.flatten(inner):
            (inputs if member.flow == In else outputs).append(Value.cast(value))
        inputs, outputs = Cat(*inputs), Cat(*outputs)
        input_chain = Signal(len(inputs))
        output_chain = Signal(len(outputs))
        m.d.sync += input_chain.eq(Cat(self.serial_in, input_chain[:-1]))
        m.d.comb += [inputs.eq(input_chain), self.serial_out.eq(output_chain[0])]
        with m.If(self.capture):
            m.d.sync += output_chain.eq(outputs)
        with m.Else():
            m.d.sync += output_chain.eq(output_chain[1:])
        return m
