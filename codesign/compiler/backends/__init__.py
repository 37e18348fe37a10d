"""Code generators: the C11 target (``c_backend`` generates it, ``c_expression`` builds its
expressions, ``c_runner`` compiles and runs it; docs/c-backend.md). The golden model
(``compiler/golden.py``) executes the fixed-point network itself; the RTL target is a tool flow
(``codesign.flows.rtl_target``)."""
