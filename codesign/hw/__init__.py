"""The accelerator: Amaranth components built from an :class:`HWConfig`, and their flows
(Verilog, synthesis, Verilator, boards). See docs/hardware.md."""

from codesign.hw.config import CrossbarConfig, HWConfig, load_config

__all__ = ["CrossbarConfig", "HWConfig", "load_config"]
