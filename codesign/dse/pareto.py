"""Pareto fronts, hypervolume, and confirmation of the front by real synthesis.

The search ranks designs with modelled resources (or synthesised ones with ``--synthesis
every``). Before anything is reported, :func:`confirm_front` synthesises the front's designs
(cached by content hash), compiles them, and replaces the modelled numbers by the real ones
(resources and fmax by synthesis, cycles by the compiler's cycle model of the mapped program);
a design over budget by real synthesis leaves the front and the next candidates are confirmed,
until every design on the reported front is within budget by real synthesis.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from codesign.dse.budget import Budget
from codesign.dse.evaluate import DesignPoint, EvaluationFailed, Evaluator, Metrics

#: Objective metric -> +1 to minimise, -1 to maximise.
SENSE = {"latency_us": 1.0, "energy_uj": 1.0, "fidelity": -1.0}


@dataclass
class Candidate:
    """A completed trial's design and metrics; ``confirmed`` once real synthesis agreed."""

    number: int
    point: DesignPoint
    values: dict[str, float]
    sources: dict[str, str]
    confirmed: bool = False
    failure: str | None = None
    placement_report: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def candidate_from_trial(trial) -> Candidate:
    compiler = trial.user_attrs["compiler"]
    point = DesignPoint(hardware=trial.user_attrs["hardware"],
                        weight_bits=compiler["weight_bits"], state_bits=compiler["state_bits"],
                        partition=compiler["partition"],
                        prune_threshold=compiler["prune_threshold"],
                        crossbar_layers=tuple(compiler["crossbar_layers"]))
    sources = trial.user_attrs.get("sources", {})
    return Candidate(number=trial.number, point=point, values=dict(trial.user_attrs["metrics"]),
                     sources=dict(sources),
                     confirmed=sources.get("luts") == "synthesis")


def loss_matrix(candidates: list[Candidate], metrics: list[str]) -> np.ndarray:
    return np.array([[SENSE[m] * c.values[m] for m in metrics] for c in candidates],
                    dtype=np.float64).reshape(len(candidates), len(metrics))


def non_dominated(losses: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows no other row dominates (all <=, one <); duplicates kept once."""
    count = len(losses)
    keep = np.ones(count, dtype=bool)
    for index in range(count):
        others = np.delete(np.arange(count), index)
        dominated = np.all(losses[others] <= losses[index], axis=1) & \
            np.any(losses[others] < losses[index], axis=1)
        earlier_twin = np.all(losses[:index] == losses[index], axis=1)
        keep[index] = not dominated.any() and not earlier_twin.any()
    return keep


def hypervolume(losses: np.ndarray, reference: np.ndarray) -> float:
    """Hypervolume dominated by ``losses`` (minimised) up to ``reference``."""
    from optuna._hypervolume import compute_hypervolume

    inside = losses[np.all(losses < reference, axis=1)]
    if len(inside) == 0:
        return 0.0
    return float(compute_hypervolume(inside, reference))


def normalised_losses(candidates_by_study: dict[str, list[Candidate]], metrics: list[str]
                      ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Losses of every study scaled to [0, 1] by the union's range, and the reference point
    (1.1 in every objective), so hypervolumes of different studies compare."""
    union = np.concatenate([loss_matrix(c, metrics) for c in candidates_by_study.values()
                            if c] or [np.zeros((0, len(metrics)))])
    low, high = (union.min(axis=0), union.max(axis=0)) if len(union) else \
        (np.zeros(len(metrics)), np.ones(len(metrics)))
    span = np.where(high > low, high - low, 1.0)
    scaled = {name: (loss_matrix(c, metrics) - low) / span if c else
              np.zeros((0, len(metrics))) for name, c in candidates_by_study.items()}
    return scaled, np.full(len(metrics), 1.1)


def feasible(candidate: Candidate, budget: Budget) -> bool:
    return budget.fits(candidate.values) if all(name in candidate.values
                                                for name in budget.limits()) else True


def confirm_front(candidates: list[Candidate], evaluator: Evaluator, budget: Budget,
                  metrics: list[str], max_synthesis: int = 24, jobs: int = 1,
                  on_synthesis: Callable[[Candidate], None] | None = None) -> list[Candidate]:
    """The Pareto front of the candidates within budget, every one confirmed by real synthesis.

    Unconfirmed front designs are synthesised smallest (modelled LUTs) first, up to ``jobs`` at a
    time (the tools are separate processes); one over budget (or failing synthesis) is dropped
    and the front recomputed. At most ``max_synthesis`` syntheses run; when they are spent, the
    result is the front of the confirmed designs. An unconfirmed design is never returned.
    """
    pool = [c for c in candidates if feasible(c, budget)]
    synthesised = 0
    while pool:
        front = [c for c, keep in zip(pool, non_dominated(loss_matrix(pool, metrics))) if keep]
        # smallest first: the cheapest to synthesise and the likeliest to fit
        pending = sorted((c for c in front if not c.confirmed),
                         key=lambda c: c.values.get("luts", float("inf")))
        if not pending:
            return front
        if synthesised >= max_synthesis:  # the front of what real synthesis confirmed
            confirmed = [c for c in pool if c.confirmed]
            return [c for c, keep in zip(confirmed,
                                         non_dominated(loss_matrix(confirmed, metrics))) if keep]
        batch = pending[:min(jobs, max_synthesis - synthesised)]
        synthesised += len(batch)
        with ThreadPoolExecutor(max_workers=len(batch)) as executor:
            results = list(executor.map(lambda c: _synthesize(c, evaluator), batch))
        for candidate, result in zip(batch, results):
            if isinstance(result, EvaluationFailed):
                candidate.failure = str(result)
            else:
                try:
                    result = evaluator.program_cycles(candidate.point, result)
                except EvaluationFailed as reason:
                    candidate.failure = str(reason)
                else:
                    candidate.values = result.values
                    candidate.sources = result.sources
                    candidate.confirmed = True
                    if not budget.fits(candidate.values):
                        candidate.failure = "over budget by real synthesis"
            if on_synthesis:
                on_synthesis(candidate)
            if candidate.failure:
                pool.remove(candidate)
    return []


def _synthesize(candidate: Candidate, evaluator: Evaluator) -> Metrics | EvaluationFailed:
    try:
        return evaluator.synthesize(candidate.point, Metrics(dict(candidate.values),
                                                             dict(candidate.sources)))
    except EvaluationFailed as reason:
        return reason


def smallest(candidates: list[Candidate], budget: Budget) -> Candidate | None:
    """The candidate with the smallest worst-case budget ratio (for the infeasible message)."""
    with_resources = [c for c in candidates if all(n in c.values for n in budget.limits())]
    return min(with_resources, key=lambda c: budget.worst_ratio(c.values), default=None)


def choose(front: list[Candidate], metrics: list[str]) -> Candidate:
    """The front's design closest to the ideal point in range-normalised objective space."""
    losses = loss_matrix(front, metrics)
    low, high = losses.min(axis=0), losses.max(axis=0)
    scaled = (losses - low) / np.where(high > low, high - low, 1.0)
    return front[int(np.argmin(np.linalg.norm(scaled, axis=1)))]
