"""A small, wide memory split by columns into LUT RAMs whose inputs are register replicas.

A 184-bit profile memory in LUT RAM is ~50 ``TRELLIS_DPR16X4`` cells spread over many slices;
one address or write-enable register cannot sit near all of them (on the default chip such nets
missed 10 ns by up to 2 ns). Here the memory is two column groups, each with its own
write-address, read-address and write-enable replica (:func:`codesign.hw.lib.replicas.replica`), so
each of those registers drives half of the cells.

Timing: a write lands a cycle after its inputs; ``read_data`` is the word at the
``read_address`` of two cycles before (a registered address, then a synchronous read).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from codesign.hw.lib.replicas import replica

#: Address replicas stored plain (an inverted copy would put a LUT in front of the RAM's pins).
_ADDRESS_COPIES = (0, 1)
#: Write-enable replicas whose initial value reads as 0 (copy 3 is inverted and starts at ones),
#: so no write happens in the cycle after reset.
_ENABLE_COPIES = (0, 3)


class SplitMemory(wiring.Component):
    """``depth`` words of ``width`` bits in two column groups (memory attributes ``attrs``)."""

    def __init__(self, width: int, depth: int, attrs: dict | None = None):
        self.width, self.depth = width, depth
        self.attrs = attrs or {}
        super().__init__({
            "write_enable": In(1),
            "write_address": In(range(depth)),
            "write_data": In(width),
            "read_address": In(range(depth)),
            "read_data": Out(width),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        columns = -(-self.width // len(_ADDRESS_COPIES))
        data = Signal(self.width, name="write_data_register", reset_less=True)
        m.d.sync += data.eq(self.write_data)
        outputs = []
        for part, (address_copy, enable_copy) in enumerate(zip(_ADDRESS_COPIES, _ENABLE_COPIES)):
            low, high = part * columns, min((part + 1) * columns, self.width)
            memory = m.submodules[f"part_{part}"] = Memory(shape=high - low, depth=self.depth,
                                                          init=[], attrs=self.attrs)
            write, read = memory.write_port(), memory.read_port()
            m.d.comb += [
                write.en.eq(replica(m, self.write_enable, enable_copy, f"write_enable_{part}",
                                    reset_less=False)),
                write.addr.eq(replica(m, self.write_address, address_copy,
                                      f"write_address_{part}")),
                write.data.eq(data[low:high]),
                read.addr.eq(replica(m, self.read_address, address_copy, f"read_address_{part}")),
                read.en.eq(1),
            ]
            outputs.append(read.data)
        m.d.comb += self.read_data.eq(Cat(*outputs))
        return m
