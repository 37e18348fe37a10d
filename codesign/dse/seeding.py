"""Seeds of the search: the designs the analytic models rank best (no golden model, no
synthesis), enqueued as the study's first trials so the sampler starts from them.

A seeded sweep draws hardware, partition and crossbar knobs uniformly (every other point with
cores, lanes and tiles from the smaller half of their choices) at one of three compiler
precisions (``PRECISIONS``: the golden model is not run, so fidelity is not ranked here), keeps
the points the resource model puts within budget, and takes, from their (latency, energy, LUT) Pareto front, the fastest, the most frugal, the
smallest, then the rest by crowding distance, each at full precision and at two cheaper ones
(``PRECISIONS``). A sweep point costs about a millisecond (the block
RAM count, which elaborates the design, is left to the trials).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from codesign.dse import pareto, space
from codesign.dse.evaluate import DesignPoint, Evaluator, Pruned

#: Points of the analytic sweep.
SWEEP_POINTS = 1500
#: Compiler precision of every seed (fidelity close to the float reference on the bundled
#: example; the search explores lower precision from there).
HIGH_FIDELITY = {"weight_bits": 8, "state_bits": 16, "prune_threshold": 0.0}
SWEEP_METRICS = ["latency_us", "energy_uj", "luts"]
#: Knobs every other sweep point draws from the smaller half of their choices.
COMPACT = ("cores", "synapse_lanes", "crossbar_tiles")
#: Compiler precision the seeds are tried at: full, then two cheaper levels (narrower words and
#: fewer synapses: less energy, some fidelity lost); fidelity is left to the trials.
PRECISIONS = (HIGH_FIDELITY, {"weight_bits": 5, "state_bits": 12, "prune_threshold": 0.05},
              {"weight_bits": 4, "state_bits": 10, "prune_threshold": 0.1})


def model_seeds(evaluator: Evaluator, count: int, seed: int) -> list[DesignPoint]:
    """Up to ``count`` distinct design points the analytic models rank best."""
    rng = np.random.default_rng(seed)
    layers = evaluator.crossbar_layers
    found: dict[str, pareto.Candidate] = {}
    for index in range(SWEEP_POINTS):
        fixed = dict(PRECISIONS[rng.integers(len(PRECISIONS))])
        if index % 2:   # every other point compact, so a tight budget still gets seeds
            fixed.update({name: space.CHOICES[name][rng.integers(len(space.CHOICES[name]) // 2
                                                                 + 1)]
                          for name in COMPACT})
        point = space.random_point(rng, layers, fixed)
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
    seeds: list[DesignPoint] = []
    for precision in PRECISIONS:   # the best hardware at full precision first, then cheaper
        for candidate in ordered[:max(1, -(-count // len(PRECISIONS)))]:
            point = replace(candidate.point, **precision,
                            hardware={**candidate.point.hardware,
                                      "weight_bits": precision["weight_bits"],
                                      "state_bits": precision["state_bits"]})
            try:
                metrics = evaluator.analytic(point, count_bram=False)
            except Pruned:
                continue
            if evaluator.budget.only(metrics.values).fits(metrics.values) and point not in seeds:
                seeds.append(point)
    return seeds[:count]
