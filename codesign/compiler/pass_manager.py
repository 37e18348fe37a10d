"""The pass interface, and the manager that runs passes in order and can print the IR after any
of them.

How to write a pass (after xDSL's ``ModulePass`` and QONNX's ``Transformation``):

* One pass per module in ``codesign/compiler/passes/``, one class per pass, registered in
  ``PASSES`` (``passes/__init__.py``) under its ``name``, which is also the name ``--dump-ir``
  takes and the module's name.
* The class is a ``@dataclass(frozen=True)`` whose fields are the pass's options, checked in
  ``__post_init__`` (raise :class:`~codesign.errors.CodesignError` with the cause and the fix);
  ``name: ClassVar[str]`` is not a field.
* ``apply(ir: In) -> Out`` takes one IR and returns the next one: ``ir.Graph``,
  ``layer_ir.LayerNetwork``, ``layer_ir.QuantizedNetwork``, ``program.Partitioned`` or
  ``program.MappedProgram``. It never mutates its input (build the output with
  ``dataclasses.replace`` or new objects), so a pipeline can be re-run and an IR dumped after
  any pass stays true.
* A user error (an option out of range, a network the pass cannot take) raises
  ``CodesignError``; a network that does not fit the hardware raises
  :class:`~codesign.errors.DoesNotFit` with the knob values that would lift the limit.
* The IR a pass returns has a ``dump() -> str`` method (what ``--dump-ir`` prints).
* Tests of the pass go in ``tests/`` beside the other compiler tests, on IR built in code.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Protocol, TextIO, TypeVar

from codesign.errors import CodesignError

In = TypeVar("In", contravariant=True)
Out = TypeVar("Out", covariant=True)


class Pass(Protocol[In, Out]):
    """A compiler pass from IR ``In`` to IR ``Out`` (see the module docstring)."""

    name: ClassVar[str]

    def apply(self, ir: In) -> Out: ...


class PassManager:
    """Apply ``passes`` in order. ``dump_after`` names passes (or ``"all"``) whose output IR is
    printed, through its ``dump()`` method, to ``stream``."""

    def __init__(self, passes: Sequence[Pass[Any, Any]], dump_after: Iterable[str] | str = (),
                 stream: TextIO = sys.stderr):
        self.passes = list(passes)
        names = [p.name for p in self.passes]
        self.dump_after = set(names) if dump_after == "all" else set(dump_after)
        unknown = self.dump_after - set(names)
        if unknown:
            raise CodesignError(f"cannot dump after unknown pass '{sorted(unknown)[0]}'",
                                f"choose from {', '.join(names)} or 'all'")
        self.stream = stream

    def run(self, ir: Any) -> Any:
        for compiler_pass in self.passes:
            ir = compiler_pass.apply(ir)
            if compiler_pass.name in self.dump_after:
                print(f"// IR after {compiler_pass.name}", file=self.stream)
                print(ir.dump(), file=self.stream)
        return ir
