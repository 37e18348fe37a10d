"""Seeds of the search: the designs the analytic models rank best (no golden model, no
synthesis), enqueued as the study's first trials so the sampler starts from them.

A seeded sweep draws hardware, partition and crossbar knobs uniformly with the compiler's
precision knobs at high-fidelity values (``HIGH_FIDELITY``: the golden model is not run, so
fidelity is not ranked here), keeps the points the resource model puts within budget, and
returns, from their (latency, energy, LUT) Pareto front, the fastest, the most frugal, the
smallest, then the rest by crowding distance. A sweep point costs about a millisecond (the block
RAM count, which elaborates the design, is left to the trials).
"""

from __future__ import annotations

import numpy as np

from codesign.dse import pareto, space
from codesign.dse.evaluate import DesignPoint, Evaluator, Pruned

#: Points of the analytic sweep.
SWEEP_POINTS = 1500
#: Compiler precision of every seed (fidelity close to the float reference on the bundled
#: example; the search explores lower precision from there).
HIGH_FIDELITY = {"weight_bits": 8, "state_bits": 16, "prune_threshold": 0.0}
SWEEP_METRICS = ["latency_us", "energy_uj", "luts"]


def model_seeds(evaluator: Evaluator, count: int, seed: int) -> list[DesignPoint]:
    """Up to ``count`` distinct design points the analytic models rank best."""
    rng = np.random.default_rng(seed)
    layers = evaluator.crossbar_layers
    found: dict[str, pareto.Candidate] = {}
    for _ in range(SWEEP_POINTS):
        point = space.random_point(rng, layers, HIGH_FIDELITY)
        try:
            metrics = evaluator.analytic(point, count_bram=False)
        except Pruned:
            continue
        if not evaluator.budget.only(metrics.values).fits(metrics.values):
            continue
        key = repr(sorted(space.params_of(point, layers).items()))
        found[key] = pareto.Candidate(number=len(found), point=point, values=metrics.values,
                                      sources={})
    candidates = list(found.values())
    if not candidates:
        return []
    front = [c for c, keep in zip(candidates, pareto.non_dominated(
        pareto.loss_matrix(candidates, SWEEP_METRICS))) if keep]
    ordered = pareto.confirmation_order(front, SWEEP_METRICS)
    return [candidate.point for candidate in ordered[:count]]
