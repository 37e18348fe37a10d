"""The hardware contract: what the compiler may know of the accelerator, in plain Python.

``config`` (the HWConfig knobs), ``layout`` (every derived width and word layout, once),
``synapse_words`` (synapse words and source-table entries) and ``protocol`` (the host
protocol). Nothing here imports Amaranth, the RTL or a tool flow (tests/test_layering.py), so
the compiler, the RTL and the tool flows all build on it. See docs/architecture.md.
"""
