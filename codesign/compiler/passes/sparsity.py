"""``sparsity``: drop zero and pruned synapses before mapping.

The event-driven synapse engine spends one lane slot per stored synapse, so a synapse whose
integer weight is 0 only costs memory and cycles. Quantisation already rounds small weights to 0;
this pass removes those explicitly (scipy keeps explicit zeros in a csr matrix) and, with
``threshold`` > 0, also prunes every synapse with ``|weight| <= threshold`` (magnitude pruning
in integer weight units, applied to the quantised network so the golden model, the C back end
and the hardware all execute the same pruned program).

Row compression for the engine (lane banking into synapse words) is done per core by
``schedule``, with :mod:`codesign.arch.synapse_words`, once targets have core-local indices.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from codesign.compiler.layer_ir import QuantizedNetwork
from codesign.errors import CodesignError


@dataclass(frozen=True)
class Sparsity:
    """Prune synapses with ``|weight| <= threshold`` (0: only exact zeros)."""

    threshold: int = 0
    name: ClassVar[str] = "sparsity"

    def apply(self, network: QuantizedNetwork) -> QuantizedNetwork:
        if self.threshold < 0 or self.threshold != int(self.threshold):
            raise CodesignError(f"pruning threshold {self.threshold!r} is not allowed",
                                "use an integer >= 0 (weight units)")
        kept_total, dropped_total = 0, 0
        projections = []
        for projection in network.projections:
            weight = projection.weight.tocsr(copy=True)
            before = weight.nnz
            weight.data[np.abs(weight.data) <= self.threshold] = 0
            weight.eliminate_zeros()
            weight.sort_indices()
            kept_total += weight.nnz
            dropped_total += before - weight.nnz
            projections.append(replace(projection, weight=weight))
        metadata = dict(network.metadata)
        metadata["sparsity"] = {"threshold": int(self.threshold), "kept": kept_total,
                                "dropped": dropped_total}
        return replace(network, projections=projections, metadata=metadata)
