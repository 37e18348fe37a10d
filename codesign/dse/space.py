"""The joint search space: HWConfig knobs x compiler knobs, sampled through an Optuna trial, and
the pruning statistics of the space.

Hardware knobs: cores, synapse_lanes, neurons_per_core and synapse_memory_depth. Compiler knobs:
weight_bits, state_bits, the partition policy and the pruning threshold. The other HWConfig
knobs keep their defaults (they set capacity limits the digits-size networks never reach)
except ``source_table_depth``, which follows the neuron count it has to index. Cores stop at 4
and lanes at 8: beyond that the accelerator outgrows a 50k-LUT budget and one synthesis of it
takes many minutes on the WebAssembly Yosys, which the 10-minute main command cannot afford.

Crossbar tiles are not searched yet: every design has ``crossbar.tiles = 0`` and maps every
layer to the digital engine. The compiler can place layers on tiles and the golden model
executes them (golden.py, tests/mapping/test_mapping.py), but the search's fidelity is measured
before mapping, on the quantised network alone, where tile arithmetic (ADC saturation, cell
slicing) does not appear yet; searching tiles needs fidelity measured after mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.compiler.program import PARTITION_POLICIES
from codesign.dse.evaluate import DesignPoint, Evaluator, Pruned

CHOICES = {
    "cores": (1, 2, 4),
    "synapse_lanes": (1, 2, 4, 8),
    "neurons_per_core": (16, 32, 64, 128, 256, 512),
    "synapse_memory_depth": (256, 512, 1024, 2048, 4096, 8192),
    "weight_bits": (3, 4, 5, 6, 8),
    "state_bits": (10, 12, 16, 20, 24),
    "partition": PARTITION_POLICIES,
    "prune_threshold": (0.0, 0.02, 0.05, 0.1, 0.2),
}


def _point(values: dict) -> DesignPoint:
    hardware = {
        "cores": values["cores"], "synapse_lanes": values["synapse_lanes"],
        "neurons_per_core": values["neurons_per_core"],
        "synapse_memory_depth": values["synapse_memory_depth"],
        "weight_bits": values["weight_bits"], "state_bits": values["state_bits"],
        "source_table_depth": max(64, values["neurons_per_core"] * 4),
        "crossbar": {"tiles": 0},
    }
    return DesignPoint(hardware=hardware, weight_bits=values["weight_bits"],
                       state_bits=values["state_bits"], partition=values["partition"],
                       prune_threshold=values["prune_threshold"])


def suggest(trial) -> DesignPoint:
    """Sample a design point through an Optuna ``trial``."""
    return _point({name: trial.suggest_categorical(name, choices)
                   for name, choices in CHOICES.items()})


def random_point(rng: np.random.Generator) -> DesignPoint:
    """A uniformly random point of the same space (for the pruning statistics)."""
    values = {name: choices[rng.integers(len(choices))] for name, choices in CHOICES.items()}
    return _point({name: value.item() if hasattr(value, "item") else value
                   for name, value in values.items()})


def largest_point() -> DesignPoint:
    """The point with the most capacity: most cores, neurons, synapse words and lanes, the
    strongest pruning (what can hold a network if anything in the space can)."""
    values = {name: max(choices) for name, choices in CHOICES.items() if name != "partition"}
    return _point({**values, "partition": "spread"})


def describe_capacity(point: DesignPoint) -> str:
    hardware = point.hardware
    return (f"{hardware['cores']} cores x {hardware['neurons_per_core']} neurons, "
            f"{hardware['synapse_memory_depth']} synapse words x {hardware['synapse_lanes']} "
            f"lanes, pruning <= {point.prune_threshold}")


def size() -> int:
    """Number of distinct points in the space."""
    return int(np.prod([len(choices) for choices in CHOICES.values()]))


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
    """Sample the space uniformly and count what the analytic checks prune, and why."""
    rng = np.random.default_rng(seed)
    invalid = does_not_fit = over_budget = 0
    for _ in range(samples):
        try:
            evaluator.analytic(random_point(rng))
        except Pruned as reason:
            text = str(reason)
            if text.startswith("invalid"):
                invalid += 1
            elif text.startswith("does not hold"):
                does_not_fit += 1
            else:
                over_budget += 1
    return PruningStatistics(space_size=size(), sampled=samples, invalid=invalid,
                             does_not_fit=does_not_fit, over_budget=over_budget)
