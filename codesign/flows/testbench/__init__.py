"""Modules that run inside a cocotb simulation (the library never imports them; the flows name
them as cocotb test modules)."""
