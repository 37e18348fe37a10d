"""Fit the DSE's analytic resource model against real yosys on a corpus of random HWConfigs.

    python bench/fit_resource_model.py [--family ecp5] [--count 32] [--seed 1] [--jobs 2]

Draws ``--count`` seeded random configurations from the DSE's search space, synthesises each
accelerator with the family's Yosys flow (cached by content hash), fits the LUT/FF/DSP (and, where
not counted, BRAM) coefficients, writes them to ``codesign/dse/models/resource_coefficients.json`` and the
corpus to ``bench/results/resource_corpus_<family>.json``, and prints the model's error:
in-sample and leave-one-out (each configuration predicted by a model fitted without it), and
whether the counted BRAM is exact.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from codesign.arch.config import HWConfig
from codesign.dse.models import resource_model
from codesign.dse.space import CHOICES

RESULTS = Path(__file__).resolve().parent / "results"
#: Draw probabilities of CHOICES["cores"] (1, 2, 4, 8, 16): every size is in the corpus, the
#: 8- and 16-core designs (minutes of Yosys each) less often.
CORE_WEIGHTS = (0.3, 0.25, 0.2, 0.15, 0.1)


def random_configs(count: int, seed: int) -> list[HWConfig]:
    """``count`` seeded random valid configurations of the DSE's hardware space (crossbar
    tiles included; cores drawn by ``CORE_WEIGHTS``)."""
    from codesign.errors import CodesignError

    rng = np.random.default_rng(seed)
    pick = lambda name: int(CHOICES[name][rng.integers(len(CHOICES[name]))])
    configs = []
    while len(configs) < count:
        neurons = pick("neurons_per_core")
        tiles = pick("crossbar_tiles")
        cores = int(rng.choice(CHOICES["cores"], p=CORE_WEIGHTS))
        data = {"cores": cores, "synapse_lanes": pick("synapse_lanes"),
                "neurons_per_core": neurons,
                "synapse_memory_depth": pick("synapse_memory_depth"),
                "weight_bits": pick("weight_bits"), "state_bits": pick("state_bits"),
                "source_table_depth": max(64, neurons * 4),
                "crossbar": {"tiles": tiles, "rows": pick("crossbar_rows"),
                             "cols": pick("crossbar_cols"),
                             "cell_bits": pick("crossbar_cell_bits"),
                             "adc_bits": pick("crossbar_adc_bits")} if tiles else {"tiles": 0}}
        try:
            configs.append(HWConfig.from_dict(data))
        except CodesignError:
            continue                  # lanes above neurons, a cell wider than the weight, ...
    return configs


def _synthesise(arguments: tuple[dict, str]) -> dict:
    from codesign.flows.synthesis import synthesize
    from codesign.hw.rtl.top import Accelerator

    data, family = arguments
    result = synthesize(Accelerator(HWConfig.from_dict(data)), family, pnr=False)
    return {**result.resources(), "seconds": result.seconds, "cached": result.cached}


def relative_errors(model: resource_model.ResourceModel, configs: list[HWConfig],
                    measured: list[dict], resource: str) -> np.ndarray:
    predicted = np.array([model.estimate(c)[resource] for c in configs])
    actual = np.array([m[resource] for m in measured], dtype=float)
    return np.abs(predicted - actual) / np.maximum(actual, 1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="ecp5", choices=("ecp5", "ice40", "xc7"))
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--reverse", action="store_true",
                        help="synthesise the largest first into a second corpus file (a second "
                             "process next to a forward one)")
    parser.add_argument("--fit-only", action="store_true",
                        help="fit on the corpus already measured, synthesise nothing")
    args = parser.parse_args()

    # smallest designs first, so an interrupted run still leaves a usable corpus
    configs = sorted(random_configs(args.count, args.seed),
                     key=lambda c: c.cores * (c.synapse_lanes + 4) * c.state_bits
                     + c.crossbar.tiles * c.crossbar.cols)
    RESULTS.mkdir(exist_ok=True)
    corpus_path = RESULTS / f"resource_corpus_{args.family}{'_reverse' if args.reverse else ''}.json"
    done = {}
    # Only this hardware's corpus and its reverse twin: the files kept from earlier hardware
    # (resource_corpus_<commit>_<family>.json) measured other netlists.
    for path in (RESULTS / f"resource_corpus_{args.family}.json",
                 RESULTS / f"resource_corpus_{args.family}_reverse.json"):
        if not path.is_file():
            continue
        # keyed by the normalised config, so knobs added since (at their defaults) still match
        done.update({json.dumps(HWConfig.from_dict(entry["config"]).to_dict(), sort_keys=True):
                     entry["measured"] for entry in json.loads(path.read_text())})
    todo = [c for c in configs if json.dumps(c.to_dict(), sort_keys=True) not in done]
    if args.reverse:
        todo.reverse()
    if not args.fit_only:
        with ProcessPoolExecutor(args.jobs) as pool:
            for index, (config, result) in enumerate(zip(todo, pool.map(
                    _synthesise, [(c.to_dict(), args.family) for c in todo]))):
                done[json.dumps(config.to_dict(), sort_keys=True)] = result
                corpus_path.write_text(json.dumps(
                    [{"config": json.loads(key), "measured": value}
                     for key, value in done.items()], indent=1))
                print(f"[{index + 1}/{len(todo)}] {result}", file=sys.stderr, flush=True)
    configs = [c for c in configs if json.dumps(c.to_dict(), sort_keys=True) in done]
    measured = [done[json.dumps(c.to_dict(), sort_keys=True)] for c in configs]

    model = resource_model.fit(args.family, configs, measured)
    path = resource_model.COEFFICIENTS_FILE
    stored = json.loads(path.read_text()) if path.is_file() else {}
    stored[args.family] = model.coefficients
    path.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")

    seconds = sum(m.get("seconds", 0.0) for m in measured)
    print(f"\nresource model for {args.family}: {len(configs)} random HWConfigs (Yosys time "
          f"{seconds:.0f} s in total, {seconds / max(len(configs), 1):.0f} s per design)")
    print("| resource | median error (in-sample) | median error (leave-one-out) | max (LOO) |")
    print("|---|---|---|---|")
    for resource in ("luts", "ffs", "bram", "dsp"):
        in_sample = relative_errors(model, configs, measured, resource)
        leave_one_out = []
        for index in range(len(configs)):
            rest = [i for i in range(len(configs)) if i != index]
            held_out = resource_model.fit(args.family, [configs[i] for i in rest],
                                          [measured[i] for i in rest])
            leave_one_out.append(relative_errors(held_out, [configs[index]],
                                                 [measured[index]], resource)[0])
        leave_one_out = np.array(leave_one_out)
        print(f"| {resource} | {100 * np.median(in_sample):.1f}% | "
              f"{100 * np.median(leave_one_out):.1f}% | {100 * leave_one_out.max():.1f}% |")
    if args.family in resource_model.COUNTED_BRAM_FAMILIES:
        exact = sum(model.estimate(c)["bram"] == m["bram"] for c, m in zip(configs, measured))
        print(f"BRAM counted from the memories: exact on {exact}/{len(configs)} configurations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
