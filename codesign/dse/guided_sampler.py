"""Model-guided sampling: the sampler proposes a design, the analytic models pick its hardware.

An all-digital design's fidelity depends on the compiler's precision and pruning alone (the key
of ``Evaluator.fidelity``'s cache), while its latency, energy and resources depend on the
hardware too and cost a millisecond to model. So for each proposal of the wrapped sampler,
:class:`ModelGuidedSampler` draws ``VARIANTS`` random settings of the hardware-only knobs
(``HARDWARE_KNOBS``), models the proposal and every variant (capacity, resources, cycles,
energy), keeps those within budget, and gives the trial

* where the proposal's fidelity is already known (its compiler knobs were evaluated before):
  the variant that adds the most (latency, energy) hypervolume to the study's designs of at
  least that fidelity, i.e. the most to the study's three-objective front;
* otherwise, or where no variant adds any: the one that minimises a weighted (augmented)
  Chebyshev distance in normalised (log latency, log energy), with a weight drawn per trial: a
  point of the variants' (latency, energy) front, a different part of it from trial to trial.
The golden model and synthesis, the costly levels, then only see hardware the models rank best
for the proposed precision. Designs with layers on crossbar tiles are left as proposed (their
fidelity depends on the tile geometry).

The wrapped sampler sees the refined parameters as the trial's own, so it learns from them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna

from codesign.dse import pareto, space
from codesign.dse.evaluate import Evaluator, Pruned

#: Knobs the refinement re-draws: they change latency, energy and resources, not the numerics.
HARDWARE_KNOBS = ("cores", "synapse_lanes", "neurons_per_core", "synapse_memory_depth",
                  "partition")
#: Random hardware settings modelled per proposal (about a millisecond each).
VARIANTS = 64


class ModelGuidedSampler(optuna.samplers.BaseSampler):
    """Wraps ``base``; see the module docstring."""

    def __init__(self, base: optuna.samplers.BaseSampler, evaluator: Evaluator, seed: int):
        self._base = base
        self._evaluator = evaluator
        self._seed = seed

    def infer_relative_search_space(self, study, trial):
        return self._base.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space) -> dict[str, Any]:
        params = self._base.sample_relative(study, trial, search_space)
        if set(space.choices(self._evaluator.crossbar_layers)) <= params.keys():
            params = self.refine(params, trial.number, study)
        return params

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._base.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial) -> None:
        self._base.before_trial(study, trial)

    def after_trial(self, study, trial, state, values) -> None:
        self._base.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._base.reseed_rng()

    def refine(self, params: dict[str, Any], trial_number: int,
               study: optuna.Study | None = None) -> dict[str, Any]:
        """``params`` with the hardware knobs the analytic models choose (unchanged for a
        crossbar design, or when no variant is within budget)."""
        if params["crossbar_tiles"] and space.point_from(params).crossbar_layers:
            return params
        rng = np.random.default_rng([self._seed, trial_number])
        digital = {**params, "crossbar_tiles": 0}
        candidates = [digital] + [
            {**digital, **{name: space.CHOICES[name][rng.integers(len(space.CHOICES[name]))]
                           for name in HARDWARE_KNOBS}} for _ in range(VARIANTS)]
        # the golden model's spike rates where it ran for these compiler knobs (as the trial's
        # own evaluation will use), else the workload's reference rates
        measured = self._evaluator.measured_fidelity(space.point_from(digital))
        rates = measured[1] if measured else None
        modelled = []
        for candidate in candidates:   # CHOICES hold Python values: nothing to convert
            try:
                values = self._evaluator.analytic(space.point_from(candidate), rates,
                                                  count_bram=False).values
            except Pruned:
                continue
            if self._evaluator.budget.only(values).fits(values):
                modelled.append((candidate, math.log(values["latency_us"]),
                                 math.log(max(values["energy_uj"], 1e-12))))
        if not modelled:
            return params
        if measured and study is not None:
            best = self._most_hypervolume(modelled, measured[0]["fidelity"], study)
            if best is not None:
                return best
        latency = np.array([entry[1] for entry in modelled])
        energy = np.array([entry[2] for entry in modelled])
        span = lambda values: (values - values.min()) / max(values.max() - values.min(), 1e-12)
        weight = rng.uniform()
        # augmented Chebyshev: the small sum term breaks ties towards the front itself
        distance = np.maximum(weight * span(latency), (1 - weight) * span(energy)) \
            + 1e-3 * (span(latency) + span(energy))
        return modelled[int(np.argmin(distance))][0]

    def _most_hypervolume(self, modelled: list, fidelity: float,
                          study: optuna.Study) -> dict[str, Any] | None:
        """The modelled variant adding the most (log latency, log energy) hypervolume to the
        study's within-budget designs of fidelity >= ``fidelity``; None if none adds any."""
        budget = self._evaluator.budget
        front = []
        for trial in study.get_trials(deepcopy=False,
                                      states=(optuna.trial.TrialState.COMPLETE,)):
            values = trial.user_attrs.get("metrics", {})
            if values.get("fidelity", -math.inf) >= fidelity and budget.only(values).fits(values):
                front.append((math.log(values["latency_us"]),
                              math.log(max(values["energy_uj"], 1e-12))))
        candidates = np.array([entry[1:] for entry in modelled])
        losses = np.array(front).reshape(-1, 2)
        everything = np.concatenate([losses, candidates])
        reference = everything.max(axis=0) + 0.1 * np.maximum(np.ptp(everything, axis=0), 1e-6)
        base = pareto.hypervolume(losses, reference) if len(losses) else 0.0
        gains = [pareto.hypervolume(np.concatenate([losses, row[None]]), reference) - base
                 for row in candidates]
        index = int(np.argmax(gains))
        return modelled[index][0] if gains[index] > 1e-12 else None
