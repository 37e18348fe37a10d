"""A stand-in for a component whose module is built separately: it has the component's signature
and instantiates the module by name (bottom-up synthesis: a core synthesised once, its netlist
reused by every core of every design that shares it)."""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In


class ModuleInstance(wiring.Component):
    """Instantiates module ``module`` with the ports ``to_verilog`` gives a component of
    ``signature`` (members flattened with ``__``, plus ``clk`` and ``rst``)."""

    def __init__(self, signature: wiring.Signature, module: str):
        self.module = module
        super().__init__(signature)

    def elaborate(self, platform) -> Module:
        m = Module()
        ports = {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
        for path, member, value in self.signature.flatten(self):
            name = "__".join(str(part) for part in path)
            ports[("i_" if member.flow == In else "o_") + name] = value
        m.submodules.instance = Instance(self.module, **ports)
        return m
