"""Search quality: hypervolume of NSGA-II (and TPE) against random search at equal trials.

    python bench/dse_search_quality.py [--trials 60] [--seeds 0 1 2] [--budget luts=50k]

Makes the bundled digits example, then for each seed runs every sampler for the same number of
evaluated trials (analytic resource/cycle/energy models + golden-model fidelity: the levels the
search itself ranks with), and compares the hypervolume of the within-budget points (objectives
latency, energy, fidelity, normalised by the union of all runs of that seed, reference point 1.1).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from codesign.dse import pareto, search
from codesign.dse.budget import parse_budget
from codesign.examples.digits import make_digits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", default="luts=50k")
    parser.add_argument("--samplers", nargs="+", default=["nsga2", "tpe", "random"])
    args = parser.parse_args()
    budget = parse_budget(args.budget)
    metrics = [search.OBJECTIVES[name][0] for name in search.OBJECTIVES]
    ratios: dict[str, list[float]] = {name: [] for name in args.samplers if name != "random"}
    with tempfile.TemporaryDirectory() as scratch:
        example = make_digits(Path(scratch) / "digits", measure_snn=False)
        print("| seed | " + " | ".join(f"HV {name}" for name in args.samplers) + " |")
        print("|---|" + "---|" * len(args.samplers))
        for seed in args.seeds:
            found = {}
            for sampler in args.samplers:
                settings = search.SearchSettings(
                    model=str(example.nir_path), input=str(example.test_path), budget=budget,
                    family="ecp5", objectives=tuple(search.OBJECTIVES), trials=args.trials,
                    storage=f"sqlite:///{scratch}/study-{sampler}-{seed}.db", study="quality",
                    sampler=sampler, seed=seed, synthesis="final", synthesis_timeout_s=None,
                    timeout_s=None, samples=100)
                started = time.monotonic()
                study, _ = search.run_search(settings, workers=1, resume=False)
                found[sampler] = [c for c in map(pareto.candidate_from_trial,
                                                 search.finished_trials(study))
                                  if pareto.feasible(c, budget)]
                print(f"  seed {seed} {sampler}: {len(found[sampler])} feasible of "
                      f"{args.trials} trials in {time.monotonic() - started:.0f} s",
                      file=sys.stderr)
            scaled, reference = pareto.normalised_losses(found, metrics)
            volumes = {name: pareto.hypervolume(losses, reference)
                       for name, losses in scaled.items()}
            print(f"| {seed} | " + " | ".join(f"{volumes[name]:.4f}" for name in args.samplers)
                  + " |")
            for name in ratios:
                ratios[name].append(volumes[name] / volumes["random"])
    for name, values in ratios.items():
        print(f"{name} / random hypervolume ratio: mean {np.mean(values):.3f} "
              f"(per seed {', '.join(f'{v:.3f}' for v in values)}) at {args.trials} trials")
    return 0


if __name__ == "__main__":
    sys.exit(main())
