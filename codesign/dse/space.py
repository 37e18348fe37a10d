"""The joint search space: HWConfig knobs x compiler knobs, sampled through an Optuna trial, and
the pruning statistics of the space.

Hardware knobs: cores (up to 16: sixteen small cores fill about half an ECP5-85k), synapse lanes
(up to 16, the hardware's limit), neurons per core, synapse memory depth, and the crossbar tiles
with their rows, columns, ``cell_bits`` and ``adc_bits``. Compiler knobs: weight and state bits,
the partition policy, the pruning threshold and, per layer that tiles can hold (a projection from
a spiking population), whether it goes to crossbar tiles or stays on the digital engine
(``crossbar:<target>``). The other HWConfig knobs keep their defaults except
``source_table_depth``, which follows the neuron count it has to index.

Points the space cannot build are pruned before evaluation (``Evaluator.analytic``): invalid
hardware (lanes above neurons, a cell wider than the weight), tiles no layer uses, a layer on
tiles the design has none of, and everything the resource model puts far over the budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.compiler.program import PARTITION_POLICIES
from codesign.dse.evaluate import DesignPoint, Evaluator, Pruned

CHOICES = {
    "cores": (1, 2, 4, 8, 16),
    "synapse_lanes": (1, 2, 4, 8, 16),
    "neurons_per_core": (16, 32, 64, 128, 256, 512),
    "synapse_memory_depth": (256, 512, 1024, 2048, 4096, 8192),
    "weight_bits": (3, 4, 5, 6, 8),
    "state_bits": (10, 12, 16, 20, 24),
    "partition": PARTITION_POLICIES,
    "prune_threshold": (0.0, 0.02, 0.05, 0.1, 0.2),
    "crossbar_tiles": (0, 1, 2, 4, 8),
    "crossbar_rows": (32, 64, 128),
    "crossbar_cols": (32, 64, 128),
    "crossbar_cell_bits": (1, 2, 4),
    "crossbar_adc_bits": (4, 6, 8),
}
#: The per-layer choice: ``crossbar:<target population>`` -> on tiles or not.
LAYER_PREFIX = "crossbar:"
LAYER_CHOICES = (False, True)


def choices(layers: tuple[str, ...]) -> dict[str, tuple]:
    """Every knob of the space for a network with crossbar-capable ``layers``."""
    return {**CHOICES, **{LAYER_PREFIX + layer: LAYER_CHOICES for layer in layers}}


def point_from(values: dict) -> DesignPoint:
    """The design point of one assignment of :func:`choices` (an Optuna trial's params)."""
    tiles = values["crossbar_tiles"]
    hardware = {
        "cores": values["cores"], "synapse_lanes": values["synapse_lanes"],
        "neurons_per_core": values["neurons_per_core"],
        "synapse_memory_depth": values["synapse_memory_depth"],
        "weight_bits": values["weight_bits"], "state_bits": values["state_bits"],
        "source_table_depth": max(64, values["neurons_per_core"] * 4),
        "crossbar": {"tiles": tiles, "rows": values["crossbar_rows"],
                     "cols": values["crossbar_cols"],
                     "cell_bits": values["crossbar_cell_bits"],
                     "adc_bits": values["crossbar_adc_bits"]} if tiles else {"tiles": 0},
    }
    layers = tuple(sorted(name[len(LAYER_PREFIX):] for name, value in values.items()
                          if name.startswith(LAYER_PREFIX) and value)) if tiles else ()
    return DesignPoint(hardware=hardware, weight_bits=values["weight_bits"],
                       state_bits=values["state_bits"], partition=values["partition"],
                       prune_threshold=values["prune_threshold"], crossbar_layers=layers)


def params_of(point: DesignPoint, layers: tuple[str, ...]) -> dict:
    """The assignment of :func:`choices` that gives ``point`` (to enqueue it as a trial)."""
    hardware, crossbar = point.hardware, point.hardware["crossbar"]
    defaults = {"rows": 64, "cols": 64, "cell_bits": 2, "adc_bits": 6}
    params = {name: hardware[name] for name in ("cores", "synapse_lanes", "neurons_per_core",
                                                "synapse_memory_depth")}
    params.update({"weight_bits": point.weight_bits, "state_bits": point.state_bits,
                   "partition": point.partition, "prune_threshold": point.prune_threshold,
                   "crossbar_tiles": crossbar["tiles"]})
    params.update({f"crossbar_{name}": crossbar.get(name, default)
                   for name, default in defaults.items()})
    params.update({LAYER_PREFIX + layer: layer in point.crossbar_layers for layer in layers})
    return params


def suggest(trial, layers: tuple[str, ...]) -> DesignPoint:
    """Sample a design point through an Optuna ``trial``."""
    return point_from({name: trial.suggest_categorical(name, options)
                       for name, options in choices(layers).items()})


def random_point(rng: np.random.Generator, layers: tuple[str, ...] = (),
                 fixed: dict | None = None) -> DesignPoint:
    """A uniformly random point of the same space (``fixed`` knobs excepted)."""
    values = {name: options[rng.integers(len(options))]
              for name, options in choices(layers).items()}
    values.update(fixed or {})
    return point_from({name: value.item() if hasattr(value, "item") else value
                       for name, value in values.items()})


def largest_point() -> DesignPoint:
    """The point with the most capacity: most cores, neurons, synapse words and lanes, the
    strongest pruning, every layer digital (what can hold a network if anything in the space
    can)."""
    values = {name: max(options) for name, options in CHOICES.items() if name != "partition"}
    return point_from({**values, "partition": "spread", "crossbar_tiles": 0})


def describe_capacity(point: DesignPoint) -> str:
    hardware = point.hardware
    return (f"{hardware['cores']} cores x {hardware['neurons_per_core']} neurons, "
            f"{hardware['synapse_memory_depth']} synapse words x {hardware['synapse_lanes']} "
            f"lanes, pruning <= {point.prune_threshold}")


def size(layers: tuple[str, ...] = ()) -> int:
    """Number of distinct points in the space."""
    return int(np.prod([len(options) for options in choices(layers).values()]))


@dataclass
class PruningStatistics:
    """How much of the space the pre-evaluation checks remove (from a uniform sample)."""

    space_size: int
    sampled: int
    invalid: int
    does_not_fit: int
    over_budget: int

    def summary(self) -> str:
        share = lambda count: f"{100 * count / max(self.sampled, 1):.1f}%"
        return (f"search space: {self.space_size:,} points; pruning before evaluation removes "
                f"{share(self.invalid + self.does_not_fit + self.over_budget)} (of "
                f"{self.sampled:,} uniform samples: {share(self.invalid)} invalid hardware, "
                f"{share(self.does_not_fit)} cannot hold the network, {share(self.over_budget)} "
                f"far over budget by the resource model)")


def pruning_statistics(evaluator: Evaluator, samples: int = 2000, seed: int = 0
                       ) -> PruningStatistics:
    """Sample the space uniformly and count what the analytic checks prune, and why (block
    RAM not counted: it elaborates each design; the trials count it)."""
    rng = np.random.default_rng(seed)
    layers = evaluator.crossbar_layers
    invalid = does_not_fit = over_budget = 0
    for _ in range(samples):
        try:
            evaluator.analytic(random_point(rng, layers), count_bram=False)
        except Pruned as reason:
            text = str(reason)
            if text.startswith("invalid"):
                invalid += 1
            elif text.startswith("does not hold"):
                does_not_fit += 1
            else:
                over_budget += 1
    return PruningStatistics(space_size=size(layers), sampled=samples, invalid=invalid,
                             does_not_fit=does_not_fit, over_budget=over_budget)
