"""The accelerator's RTL: Amaranth components built from an :class:`~codesign.arch.config.HWConfig`.

``rtl/`` holds the accelerator's components (top level, cores, router, sequencer, crossbar
tiles, host interface), ``lib/`` the generic building blocks they are made of, ``board/`` the
board wrapper and its UART bridge. The RTL imports only :mod:`codesign.arch` and
:mod:`codesign.arithmetic`; tool flows (Verilog, synthesis, Verilator, bitstreams) are in
:mod:`codesign.flows`. See docs/hardware.md and docs/architecture.md.
"""
