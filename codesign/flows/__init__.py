"""Tool flows around the RTL: Verilog generation, synthesis and timing (YoWASP yosys/nextpnr),
Verilator builds and cocotb runs, the RTL target of ``codesign run``, board bitstreams, the
board target (the host runtime at the other end of a board's serial link, and a simulated board
behind a pseudo-terminal), and the ``codesign hw`` command line. Flows may import the compiler
and the RTL; neither imports flows (a higher layer hands the compiler a runner instead). See
docs/architecture.md."""
