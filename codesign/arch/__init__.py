"""The hardware contract: what the compiler may know of the accelerator, in plain Python.

``config`` (the HWConfig knobs), ``layout`` (every derived width and word layout, once),
``synapse_words`` (synapse words and source-table entries), ``protocol`` (the host
protocol) and ``link`` (the serial link between a host and a board: frames, checksums, flow
control, the board's identity). Nothing here imports Amaranth, the RTL or a tool flow (tests/test_layering.py), so
the compiler, the RTL and the tool flows all build on it. See docs/architecture.md.
"""
