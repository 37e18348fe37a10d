"""The board wrapper: the accelerator (or any component with ``command`` / ``response`` host
streams) behind a UART bridge, on a board's clock and UART pins (the flow that builds it into a
bitstream is :mod:`codesign.flows.bitstream`)."""

from __future__ import annotations

from amaranth import Module
from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out

from codesign.hw.board.uart_bridge import UARTBridge

__all__ = ["BoardCore", "BoardTop"]


class BoardCore(wiring.Component):
    """UART pins in and out; the bridge feeds the host design's ``command`` / ``response``."""

    def __init__(self, host: wiring.Component, divisor: int, host_width: int):
        self.host = host
        self.bridge = UARTBridge(divisor, host_width)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.bridge = bridge = self.bridge
        m.submodules.host = host = self.host
        wiring.connect(m, bridge.commands, host.command)
        wiring.connect(m, host.response, bridge.responses)
        m.d.comb += [bridge.rx.eq(self.rx), self.tx.eq(bridge.tx)]
        return m


class BoardTop(Elaboratable):
    """Platform-level wrapper: the board's UART pins around a :class:`BoardCore`; with
    ``reset=False`` the ``sync`` domain is the board clock without a reset (instead of the
    platform's, whose power-on reset on iCE40 only covers block RAM reading zeros for ~3 us after
    configuration: no block RAM word is used before the host's first command, ~87 us later)."""

    def __init__(self, core: BoardCore, reset: bool = True):
        self.core = core
        self.reset = reset

    def elaborate(self, platform) -> Module:
        m = Module()
        if not self.reset:
            m.domains.sync = ClockDomain("sync", reset_less=True)
            clock = platform.request(platform.default_clk, dir="-")
            m.submodules.clock_buffer = clock_buffer = io.Buffer("i", clock)
            m.d.comb += ClockSignal("sync").eq(clock_buffer.i)
        m.submodules.core = self.core
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buffer = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buffer = tx = io.Buffer("o", uart.tx)
        m.d.comb += [self.core.rx.eq(rx.i), tx.o.eq(self.core.tx)]
        return m
