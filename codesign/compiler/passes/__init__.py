"""Compiler passes, one per module, each a frozen dataclass with ``name`` and
``apply(ir) -> ir`` (how to write one: :mod:`codesign.compiler.pass_manager`).

``PASSES`` maps every pass's name to its class, in pipeline order; the pipelines
(:mod:`codesign.compiler.pipeline`) and ``--dump-ir`` are built from it.
"""

from codesign.compiler.passes.discretize import Discretize
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.passes.partition import Partition
from codesign.compiler.passes.quantize import Quantize
from codesign.compiler.passes.schedule import Schedule
from codesign.compiler.passes.sparsity import Sparsity

#: Every pass by name, in pipeline order: the front half (graph -> fixed-point network), then
#: the back half (fixed-point network -> mapped program).
PASSES = {p.name: p for p in (Discretize, Fuse, Quantize, Sparsity, Partition, Schedule)}

__all__ = ["PASSES", "Discretize", "Fuse", "Partition", "Quantize", "Schedule", "Sparsity"]
