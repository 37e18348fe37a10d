"""The joint search space: HWConfig knobs x compiler knobs, sampled through an Optuna trial, and
the pruning statistics of the space.

Hardware knobs: cores, synapse_lanes, neurons_per_core, synapse_memory_depth and the crossbar
(tiles, rows, cols, cell_bits, adc_bits). Compiler knobs: weight_bits, state_bits, the partition
policy, the pruning threshold and, per layer, crossbar or digital engine. The other HWConfig knobs
keep their defaults (they set capacity limits the digits-size networks never reach) except
``source_table_depth``, which follows the neuron count it has to index. Cores stop at 4 and lanes
at 8: beyond that the accelerator outgrows a 50k-LUT budget and one synthesis of it takes many
minutes on the WebAssembly Yosys, which the 10-minute main command cannot afford.

Crossbar mapping: the golden model does not yet execute crossbar numerics (ADC saturation, cell
slicing) and the compiler cannot place a layer on a tile, so ``CROSSBAR_MAPPING_AVAILABLE`` is
False and the search keeps ``crossbar.tiles = 0`` with every layer on the digital engine. The
crossbar knobs are defined here so the search opens them as soon as the compiler supports them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.dse.evaluate import DesignPoint, Evaluator, Pruned
from codesign.dse.models.placement_estimate import PARTITION_POLICIES

CROSSBAR_MAPPING_AVAILABLE = False

CHOICES = {
    "cores": (1, 2, 4),
    "synapse_lanes": (1, 2, 4, 8),
    "neurons_per_core": (16, 32, 64, 128, 256, 512),
    "synapse_memory_depth": (256, 512, 1024, 2048, 4096, 8192),
    "crossbar.tiles": (0, 1, 2, 4),
    "crossbar.rows": (32, 64, 128),
    "crossbar.cols": (32, 64, 128),
    "crossbar.cell_bits": (1, 2, 4),
    "crossbar.adc_bits": (4, 6, 8, 10),
    "weight_bits": (3, 4, 5, 6, 8),
    "state_bits": (10, 12, 16, 20, 24),
    "partition": PARTITION_POLICIES,
    "prune_threshold": (0.0, 0.02, 0.05, 0.1, 0.2),
}


def _point(values: dict, layers: list[str]) -> DesignPoint:
    hardware = {
        "cores": values["cores"], "synapse_lanes": values["synapse_lanes"],
        "neurons_per_core": values["neurons_per_core"],
        "synapse_memory_depth": values["synapse_memory_depth"],
        "weight_bits": values["weight_bits"], "state_bits": values["state_bits"],
        "source_table_depth": max(64, values["neurons_per_core"] * 4),
        "crossbar": {"tiles": values.get("crossbar.tiles", 0)},
    }
    crossbar_layers: tuple[str, ...] = ()
    if hardware["crossbar"]["tiles"]:
        hardware["crossbar"].update({key.split(".")[1]: values[key] for key in
                                     ("crossbar.rows", "crossbar.cols", "crossbar.cell_bits",
                                      "crossbar.adc_bits")})
        crossbar_layers = tuple(layer for layer in layers if values.get(f"crossbar:{layer}"))
    return DesignPoint(hardware=hardware, weight_bits=values["weight_bits"],
                       state_bits=values["state_bits"], partition=values["partition"],
                       prune_threshold=values["prune_threshold"],
                       crossbar_layers=crossbar_layers)


def suggest(trial, layers: list[str]) -> DesignPoint:
    """Sample a design point through an Optuna ``trial`` (define-by-run: crossbar knobs only
    when there are tiles)."""
    values = {name: trial.suggest_categorical(name, CHOICES[name])
              for name in ("cores", "synapse_lanes", "neurons_per_core", "synapse_memory_depth",
                           "weight_bits", "state_bits", "partition", "prune_threshold")}
    if CROSSBAR_MAPPING_AVAILABLE:
        values["crossbar.tiles"] = trial.suggest_categorical("crossbar.tiles",
                                                             CHOICES["crossbar.tiles"])
        if values["crossbar.tiles"]:
            for name in ("crossbar.rows", "crossbar.cols", "crossbar.cell_bits",
                         "crossbar.adc_bits"):
                values[name] = trial.suggest_categorical(name, CHOICES[name])
            for layer in layers:
                values[f"crossbar:{layer}"] = trial.suggest_categorical(f"crossbar:{layer}",
                                                                        (False, True))
    return _point(values, layers)


def random_point(rng: np.random.Generator, layers: list[str]) -> DesignPoint:
    """A uniformly random point of the same space (for the pruning statistics)."""
    values = {name: choices[rng.integers(len(choices))] for name, choices in CHOICES.items()}
    values = {name: value.item() if hasattr(value, "item") else value
              for name, value in values.items()}
    if not CROSSBAR_MAPPING_AVAILABLE:
        values["crossbar.tiles"] = 0
    for layer in layers:
        values[f"crossbar:{layer}"] = bool(rng.integers(2))
    return _point(values, layers)


def largest_point(layers: list[str]) -> DesignPoint:
    """The point with the most capacity: most cores, neurons, synapse words and lanes, the
    strongest pruning (what can hold a network if anything in the space can)."""
    values = {name: max(choices) for name, choices in CHOICES.items()
              if name not in ("partition", "crossbar.tiles")}
    values.update({"partition": "spread", "crossbar.tiles": 0})
    return _point(values, layers)


def describe_capacity(point: DesignPoint) -> str:
    hardware = point.hardware
    return (f"{hardware['cores']} cores x {hardware['neurons_per_core']} neurons, "
            f"{hardware['synapse_memory_depth']} synapse words x {hardware['synapse_lanes']} "
            f"lanes, pruning <= {point.prune_threshold}")


def size(layers: list[str]) -> int:
    """Number of distinct points in the space as it is searched now."""
    names = ["cores", "synapse_lanes", "neurons_per_core", "synapse_memory_depth", "weight_bits",
             "state_bits", "partition", "prune_threshold"]
    count = int(np.prod([len(CHOICES[name]) for name in names]))
    if CROSSBAR_MAPPING_AVAILABLE:
        with_tiles = int(np.prod([len(CHOICES[name]) for name in
                                  ("crossbar.rows", "crossbar.cols", "crossbar.cell_bits",
                                   "crossbar.adc_bits")])) * 2 ** len(layers)
        count *= 1 + (len(CHOICES["crossbar.tiles"]) - 1) * with_tiles
    return count


@dataclass
class PruningStatistics:
    """How much of the space the pre-evaluation checks remove (from a uniform sample)."""

    space_size: int
    sampled: int
    invalid: int
    does_not_fit: int
    over_budget: int

    @property
    def pruned_fraction(self) -> float:
        return (self.invalid + self.does_not_fit + self.over_budget) / max(self.sampled, 1)

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
    layers = [p.name for p in evaluator.workload.network.populations]
    rng = np.random.default_rng(seed)
    invalid = does_not_fit = over_budget = 0
    for _ in range(samples):
        try:
            evaluator.analytic(random_point(rng, layers))
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
