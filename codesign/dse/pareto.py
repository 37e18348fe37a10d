"""Pareto fronts, hypervolume, and confirmation of the front by real synthesis.

The search ranks designs with modelled resources (or synthesised ones with ``--synthesis
every``). Before anything is reported, :func:`confirm_front` synthesises the front's designs
(cached by content hash) in :func:`confirmation_order` (the best of each objective, the knee,
then by crowding distance), compiles them, and replaces the modelled numbers by the real ones
(resources and fmax by synthesis, cycles by the compiler's cycle model of the mapped program);
a design over budget by real synthesis leaves the front and the next candidates are confirmed,
until every design on the reported front is within budget by real synthesis or the synthesis
allowance is spent. Every model-front design left off is reported with the reason.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from codesign.dse.budget import Budget
from codesign.dse.evaluate import DesignPoint, EvaluationFailed, Evaluator, Metrics

#: Objective metric -> +1 to minimise, -1 to maximise.
SENSE = {"latency_us": 1.0, "energy_uj": 1.0, "fidelity": -1.0, "luts": 1.0}


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


def normalised_losses(candidates_by_study: dict[str, list[Candidate]], metrics: list[str],
                      basis: str = "front") -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Losses of every study scaled by a common range, and the reference point (1.1 in every
    objective), so hypervolumes of different studies compare.

    ``basis="front"`` (the default) scales by the range of the union's Pareto front: ideal 0,
    the front's nadir 1, so the hypervolume measures how much of the best known trade-off a
    study reached. ``basis="all"`` scales by the range of every point of every study; dominated
    outliers (a 500 us design, a 0.5-fidelity one) then stretch the box so far that any study
    holding a few good designs fills most of it, and the hypervolumes of all samplers come out
    within a few percent of each other."""
    union = np.concatenate([loss_matrix(c, metrics) for c in candidates_by_study.values()
                            if c] or [np.zeros((0, len(metrics)))])
    if basis == "front" and len(union):
        union = union[non_dominated(union)]
    low, high = (union.min(axis=0), union.max(axis=0)) if len(union) else \
        (np.zeros(len(metrics)), np.ones(len(metrics)))
    span = np.where(high > low, high - low, 1.0)
    scaled = {name: (loss_matrix(c, metrics) - low) / span if c else
              np.zeros((0, len(metrics))) for name, c in candidates_by_study.items()}
    return scaled, np.full(len(metrics), 1.1)


def hypervolume_curves(sequences: dict[str, list[Candidate | None]], metrics: list[str],
                       budget: Budget) -> dict[str, list[float]]:
    """Hypervolume (:func:`normalised_losses`, front basis) of the within-budget designs among
    each study's first ``k`` evaluated trials (None: a failed one), for every ``k``."""
    feasible_ones = {name: [c for c in sequence if c is not None and feasible(c, budget)]
                     for name, sequence in sequences.items()}
    scaled, reference = normalised_losses(feasible_ones, metrics)
    curves = {}
    for name, sequence in sequences.items():
        rows = iter(scaled[name])
        seen: list[np.ndarray] = []
        curve = []
        for candidate in sequence:
            if candidate is not None and feasible(candidate, budget):
                seen.append(next(rows))
            curve.append(hypervolume(np.array(seen), reference) if seen else 0.0)
        curves[name] = curve
    return curves


def feasible(candidate: Candidate, budget: Budget) -> bool:
    return budget.fits(candidate.values) if all(name in candidate.values
                                                for name in budget.limits()) else True


def crowding_distance(losses: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each row of a front (infinite at each objective's ends)."""
    count, objectives = losses.shape
    distance = np.zeros(count)
    for column in range(objectives):
        order = np.argsort(losses[:, column], kind="stable")
        span = losses[order[-1], column] - losses[order[0], column]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0 and count > 2:
            distance[order[1:-1]] += (losses[order[2:], column] - losses[order[:-2], column]) / span
    return distance


def knee(losses: np.ndarray) -> int:
    """The row closest to the ideal point in range-normalised objective space."""
    low, high = losses.min(axis=0), losses.max(axis=0)
    scaled = (losses - low) / np.where(high > low, high - low, 1.0)
    return int(np.argmin(np.linalg.norm(scaled, axis=1)))


def confirmation_order(front: list[Candidate], metrics: list[str],
                       prefer: str | None = None) -> list[Candidate]:
    """The order real synthesis confirms a front in: the preferred metric's best, the best of
    each objective, the knee, the knee of the designs with layers on crossbar tiles (so a
    front that holds both kinds shows both), then the rest by crowding distance (most isolated
    first)."""
    losses = loss_matrix(front, metrics)
    order: list[int] = []
    for metric in dict.fromkeys(([prefer] if prefer else []) + list(metrics)):
        sense = SENSE.get(metric, 1.0)
        best = min(range(len(front)), key=lambda i: (sense * front[i].values.get(metric, np.inf),
                                                     front[i].values.get("luts", np.inf)))
        order.append(best)
    if front:
        order.append(knee(losses))
    crossbar = [i for i, candidate in enumerate(front) if candidate.point.crossbar_layers]
    if crossbar:
        order.append(crossbar[knee(losses[crossbar])])
    distance = crowding_distance(losses) if front else np.zeros(0)
    order += sorted(range(len(front)), key=lambda i: (-distance[i], i))
    unique = list(dict.fromkeys(order))
    return [front[i] for i in unique]


@dataclass
class Confirmation:
    """The confirmed ``front`` and, for every design of the model's front that is not on it,
    why (``skipped``: ``(candidate, reason)``); ``syntheses`` run."""

    front: list[Candidate]
    skipped: list[tuple[Candidate, str]]
    syntheses: int


def confirm_front(candidates: list[Candidate], evaluator: Evaluator, budget: Budget,
                  metrics: list[str], max_synthesis: int = 24, jobs: int = 1,
                  on_synthesis: Callable[[Candidate], None] | None = None,
                  prefer: str | None = None,
                  on_start: Callable[[Candidate], None] | None = None) -> Confirmation:
    """The Pareto front of the candidates within budget, every one confirmed by real synthesis.

    Unconfirmed front designs are synthesised in :func:`confirmation_order`, up to ``jobs`` at
    a time (the tools are separate processes; a slot a finished synthesis frees takes the next
    design at once, so one slow design does not hold the others up); one over budget (or failing synthesis) is dropped
    and the front recomputed, so the next best takes its place. At most ``max_synthesis``
    syntheses run, more only while no design is confirmed within budget (one at a time, until
    one is, up to ``2 * max_synthesis``); then the result is the front of the confirmed designs
    (``on_start`` / ``on_synthesis``: called as each synthesis starts / ends). An
    unconfirmed design is never returned; every design of the model's front that is not
    returned is in ``skipped`` with the reason.
    """
    pool = [c for c in candidates if feasible(c, budget)]
    modelled_front = _front(pool, metrics)
    dropped: list[Candidate] = []
    synthesised = 0
    running: dict[Future, Candidate] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as executor:
        while True:
            # A freed slot takes the next unconfirmed design of the front as it stands now.
            busy = [id(c) for c in running.values()]
            front = _front(pool, metrics)
            pending = [c for c in (confirmation_order(front, metrics, prefer) if front else [])
                       if not c.confirmed and id(c) not in busy]
            allowance = max(0, max_synthesis - synthesised)
            if allowance <= 0 and not running and synthesised < 2 * max_synthesis and \
                    not any(c.confirmed for c in pool):
                # nothing within budget is confirmed yet: go on one at a time (up to twice the
                # allowance), so a budget the models find designs for returns one
                allowance = 1
            for candidate in pending[:min(max(1, jobs) - len(running), allowance)]:
                synthesised += 1
                if on_start:
                    on_start(candidate)
                running[executor.submit(_synthesize, candidate, evaluator)] = candidate
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                candidate = running.pop(future)
                _take_result(candidate, future.result(), evaluator, budget)
                if on_synthesis:
                    on_synthesis(candidate)
                if candidate.failure:
                    pool.remove(candidate)
                    dropped.append(candidate)
    confirmed = _front([c for c in pool if c.confirmed], metrics)
    skipped = []
    for candidate in {id(c): c for c in modelled_front + dropped}.values():
        if any(candidate is c for c in confirmed):
            continue
        if candidate.failure:
            reason = candidate.failure
        elif candidate.confirmed:
            reason = "dominated once real synthesis and the compiled program gave its numbers"
        elif any(_dominates(other, candidate, metrics) for other in confirmed):
            reason = "dominated by a confirmed design"
        else:
            reason = f"not synthesised: the allowance of {max_synthesis} syntheses was spent"
        skipped.append((candidate, reason))
    return Confirmation(front=confirmed, skipped=skipped, syntheses=synthesised)


def _take_result(candidate: Candidate, result: Metrics | EvaluationFailed, evaluator: Evaluator,
                 budget: Budget) -> None:
    """Record a synthesis outcome on ``candidate``: its real figures, or why it failed."""
    if isinstance(result, EvaluationFailed):
        candidate.failure = str(result)
        return
    try:
        result = evaluator.program_cycles(candidate.point, result)
    except EvaluationFailed as reason:
        candidate.failure = str(reason)
        return
    candidate.values = result.values
    candidate.sources = result.sources
    candidate.confirmed = True
    if not budget.fits(candidate.values):
        candidate.failure = "over budget by real synthesis"


def _front(pool: list[Candidate], metrics: list[str]) -> list[Candidate]:
    if not pool:
        return []
    return [c for c, keep in zip(pool, non_dominated(loss_matrix(pool, metrics))) if keep]


def _dominates(a: Candidate, b: Candidate, metrics: list[str]) -> bool:
    la, lb = loss_matrix([a], metrics)[0], loss_matrix([b], metrics)[0]
    return bool(np.all(la <= lb) and np.any(la < lb))


def _synthesize(candidate: Candidate, evaluator: Evaluator) -> Metrics | EvaluationFailed:
    try:
        return evaluator.synthesize(candidate.point, Metrics(dict(candidate.values),
                                                             dict(candidate.sources)))
    except EvaluationFailed as reason:
        return reason


def smallest(candidates: list[Candidate], budget: Budget) -> Candidate | None:
    """The candidate with the smallest worst-case budget ratio (for the infeasible message),
    over the limited resources each one has a figure for: a design the resource model pruned
    far over budget has no block-RAM count, since that needs an elaboration."""
    with_resources = [c for c in candidates if any(n in c.values for n in budget.limits())]
    return min(with_resources, key=lambda c: budget.only(c.values).worst_ratio(c.values),
               default=None)


#: ``--prefer`` -> the metric the chosen design wins on.
PREFERENCES = {"latency": "latency_us", "energy": "energy_uj", "fidelity": "fidelity",
               "luts": "luts"}


def choose(front: list[Candidate], prefer: str = "latency", min_accuracy: float | None = None,
           min_fidelity: float | None = None) -> Candidate | None:
    """The front's best design by ``prefer`` among those meeting ``min_accuracy`` and
    ``min_fidelity`` (None when none does); ties go to the smaller design."""
    metric = PREFERENCES[prefer]
    eligible = [c for c in front
                if (min_accuracy is None or c.values.get("accuracy", 0.0) >= min_accuracy)
                and (min_fidelity is None or c.values.get("fidelity", 0.0) >= min_fidelity)]
    sense = SENSE.get(metric, 1.0)
    return min(eligible, key=lambda c: (sense * c.values[metric], c.values.get("luts", 0.0)),
               default=None)
