"""The board wrapper: the accelerator (or any component with ``command`` / ``response`` host
streams) behind the flow-controlled serial link (:class:`~codesign.hw.board.uart_bridge.UARTBridge`,
docs/board.md), on a board's clock and UART pins (the flow that builds it into a bitstream is
:mod:`codesign.flows.bitstream`)."""

from __future__ import annotations

from fractions import Fraction

from amaranth import Module, Signal
from amaranth.hdl import ClockDomain, ClockSignal, DomainRenamer, Elaboratable, ResetSignal
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out

from codesign.arch import link
from codesign.hw.board.uart_bridge import UARTBridge

__all__ = ["BoardCore", "BoardTop"]


class BoardCore(wiring.Component):
    """UART pins in and out; the bridge feeds the host design's ``command`` / ``response``.

    With ``identity.resets_accelerator`` the host design runs in its own clock domain whose
    reset is the board's reset or the link's RESET frame (registered, as a reset synchroniser
    would give it); otherwise it stays in ``sync``. ``busy``: the link has bytes in flight or
    the host design a timestep running (for an LED, and for a simulation to know it may wait).
    """

    def __init__(self, host: wiring.Component, cycles_per_bit: float | Fraction,
                 host_width: int, identity: link.Identity, spram: bool = False):
        self.host = host
        self.identity = identity
        self.bridge = UARTBridge(cycles_per_bit, host_width, identity, spram=spram)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.bridge = bridge = self.bridge
        host = self.host
        if self.identity.resets_accelerator:
            m.domains.accelerator = domain = ClockDomain("accelerator", local=True)
            reset = Signal(init=1, reset_less=True)
            # ECP5 platforms make ``sync`` reset-less (their global set/reset does it), so the
            # board's own reset may be absent; ``reset`` starts at 1 after configuration anyway.
            m.d.sync += reset.eq(ResetSignal(allow_reset_less=True) | bridge.reset)
            m.d.comb += [domain.clk.eq(ClockSignal()), domain.rst.eq(reset)]
            m.submodules.host = DomainRenamer("accelerator")(host)
        else:
            m.submodules.host = host
        wiring.connect(m, bridge.commands, host.command)
        wiring.connect(m, host.response, bridge.responses)
        running = getattr(host, "running", 0)
        m.d.comb += [bridge.rx.eq(self.rx), self.tx.eq(bridge.tx),
                     self.busy.eq(bridge.busy | running)]
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
