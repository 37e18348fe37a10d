"""Search quality: hypervolume of NSGA-II (and TPE) against random search at equal trials.

    python bench/dse_search_quality.py [--network digits|braille] [--trials 60]
        [--seeds 0 1 2 3 4] [--budget luts=50k] [--samplers tpe tpe-unguided nsga2 random]

Makes the bundled digits example (or takes the Braille SRNN of the NIR paper, 03_rnn, from
../shared/nir-cases, on seeded inputs), then for each seed runs every sampler for the same number
of evaluated trials (analytic resource/cycle/energy models + golden-model fidelity: the levels
the search itself ranks with; no synthesis), and compares the hypervolume of the within-budget
points (objectives latency, energy, fidelity, normalised by the union of all runs of that seed,
reference point 1.1). The guided samplers start from the designs the analytic models rank best
(``--seed-designs``, as ``codesign dse`` does) and, as there, let the analytic models pick each
proposal's hardware (``dse/guided_sampler.py``; ``tpe-unguided`` is TPE without it); the random
baseline does neither.
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

BRAILLE = Path(__file__).resolve().parents[2] / "shared" / "nir-cases" / "NIR_paper" / "03_rnn" \
    / "braille_noDelay_bias_zero.nir"
#: Sampler-name suffix: the sampler without the models' hardware choice.
UNGUIDED = "-unguided"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=("digits", "braille"), default="digits")
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--seed-designs", type=int, default=12)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--budget", default="luts=50k")
    parser.add_argument("--samplers", nargs="+", default=["tpe", "tpe-unguided", "random"])
    parser.add_argument("--store", help="keep the studies here (a rerun reuses them)")
    args = parser.parse_args()
    budget = parse_budget(args.budget)
    metrics = [search.OBJECTIVES[name][0] for name in search.OBJECTIVES]
    bases = ("front", "all")
    ratios = {(basis, name): [] for basis in bases for name in args.samplers if name != "random"}
    with tempfile.TemporaryDirectory() as scratch:
        store = Path(args.store or scratch)
        store.mkdir(parents=True, exist_ok=True)
        if args.network == "digits":
            example = make_digits(Path(scratch) / "digits", measure_snn=False)
            model, inputs = str(example.nir_path), str(example.test_path)
        else:
            model, inputs = str(BRAILLE), None
        print(f"{args.network}, budget {args.budget}, {args.trials} trials per study; "
              "hypervolume normalised by the union's Pareto front (and, in brackets, by all "
              "points)")
        print("| seed | " + " | ".join(f"HV {name}" for name in args.samplers) + " |")
        print("|---|" + "---:|" * len(args.samplers))
        for seed in args.seeds:
            found = {}
            for sampler in args.samplers:
                settings = search.SearchSettings(
                    model=model, input=inputs, budget=budget,
                    family="ecp5", objectives=tuple(search.OBJECTIVES), trials=args.trials,
                    storage=f"sqlite:///{store}/{args.network}-{sampler}-{seed}.db",
                    study="quality", sampler=sampler.removesuffix(UNGUIDED), seed=seed,
                    synthesis="final", synthesis_timeout_s=None, timeout_s=None, samples=100,
                    seed_designs=args.seed_designs, model_guided=not sampler.endswith(UNGUIDED))
                started = time.monotonic()
                study, _ = search.run_search(settings, workers=1, resume=True)
                found[sampler] = [c for c in map(pareto.candidate_from_trial,
                                                 search.finished_trials(study))
                                  if pareto.feasible(c, budget)]
                print(f"  seed {seed} {sampler}: {len(found[sampler])} feasible of "
                      f"{args.trials} trials in {time.monotonic() - started:.0f} s",
                      file=sys.stderr, flush=True)
            volumes = {}
            for basis in bases:
                scaled, reference = pareto.normalised_losses(found, metrics, basis)
                volumes[basis] = {name: pareto.hypervolume(losses, reference)
                                  for name, losses in scaled.items()}
            print(f"| {seed} | " + " | ".join(f"{volumes['front'][name]:.4f} "
                                               f"({volumes['all'][name]:.4f})"
                                               for name in args.samplers) + " |", flush=True)
            for basis, name in ratios:
                ratios[basis, name].append(volumes[basis][name] / volumes[basis]["random"])
    for (basis, name), values in ratios.items():
        print(f"{name} / random hypervolume ratio ({basis} basis): mean {np.mean(values):.3f} "
              f"(per seed {', '.join(f'{v:.3f}' for v in values)}) at {args.trials} trials")
    return 0


if __name__ == "__main__":
    sys.exit(main())
