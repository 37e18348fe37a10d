"""Runs compiler passes in order and can print the IR after any of them."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TextIO


class Pass(Protocol):
    """The uniform pass interface: a ``name`` and ``apply(ir) -> ir``."""

    name: str

    def apply(self, ir: Any) -> Any: ...


class PassManager:
    """Apply ``passes`` in order. ``dump_after`` names passes (or ``"all"``) whose output IR is
    printed, through its ``dump()`` method, to ``stream``."""

    def __init__(self, passes: Sequence[Pass], dump_after: Iterable[str] | str = (),
                 stream: TextIO = sys.stderr):
        self.passes = list(passes)
        names = [p.name for p in self.passes]
        self.dump_after = set(names) if dump_after == "all" else set(dump_after)
        unknown = self.dump_after - set(names)
        if unknown:
            from codesign.errors import CodesignError
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
