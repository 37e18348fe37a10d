"""Tool flows around the RTL: Verilog generation, synthesis and timing (YoWASP yosys/nextpnr),
Verilator builds and cocotb runs, the RTL target of ``codesign run``, board bitstreams, and the
``codesign hw`` command line. Flows may import the compiler and the RTL; neither imports flows
(a higher layer hands the compiler a runner instead). See docs/architecture.md."""
