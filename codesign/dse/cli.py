"""``codesign dse MODEL.nir --budget luts=50k ... -o OUT/``: co-tune hardware and compiler.

Parses the arguments into settings, runs :func:`codesign.dse.flow.run` and prints its result.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from codesign.dse import flow, pareto, search
from codesign.dse.budget import parse_budget, within_device
from codesign.dse.workload import DEFAULT_SAMPLES

FAMILIES = ("ecp5", "ice40", "xc7")


def settings_from(args: argparse.Namespace) -> tuple[search.SearchSettings, flow.FlowSettings,
                                                     str]:
    """The run's settings, and the note on what the device's capacity adds to the budget."""
    out = Path(args.output)
    budget, device_note = within_device(parse_budget(args.budget), args.family)
    settings = search.SearchSettings(
        model=str(args.model), input=str(args.input) if args.input else None,
        budget=budget, family=args.family,
        objectives=search.parse_objectives(args.objectives), trials=args.trials,
        storage=args.storage or flow.default_storage(out),
        study=args.study, sampler=args.sampler, seed=args.seed, synthesis=args.synthesis,
        synthesis_timeout_s=args.synthesis_timeout_s, timeout_s=args.timeout_s,
        samples=args.samples, seed_designs=args.seed_designs)
    run = flow.FlowSettings(out=out, workers=args.workers, resume=args.resume,
                            pruning_samples=args.pruning_samples, search_only=args.search_only,
                            baseline=args.baseline, max_synthesis=args.max_synthesis,
                            synthesis_jobs=args.synthesis_jobs, rtl_samples=args.rtl_samples,
                            progress_bar=not args.quiet, dry_run=args.dry_run,
                            prefer=args.prefer, min_accuracy=args.min_accuracy,
                            min_fidelity=args.min_fidelity)
    return settings, run, device_note


def summary_lines(result: flow.DseResult, out: Path, prefer: str = "latency",
                  minimums: dict[str, float | None] | None = None) -> list[str]:
    """What the command prints after the run: the chosen design, the hypervolumes, the files."""
    chosen = result.chosen
    minimums = minimums or {}
    accuracy = chosen.values.get("accuracy")
    lines = [f"front: {len(result.front)} designs confirmed by real synthesis; "
             f"{len(result.skipped)} model-front designs left off (reasons above and in "
             "report.html)",
             f"chosen design (--prefer {prefer}: best {prefer} on the front"
             + "".join(f", {name} >= {value}" for name, value in minimums.items()
                       if value is not None)
             + f"): trial {chosen.number}, "
             + (f"accuracy {accuracy:.2%}, " if accuracy is not None else "")
             + f"fidelity {chosen.values['fidelity']:.4f}, latency "
             f"{chosen.values['latency_us']:.1f} us at {chosen.values['fmax_mhz']:.1f} MHz, "
             f"{int(chosen.values['luts'])} LUTs (real synthesis)"]
    if result.hypervolumes:
        lines.append(result.hypervolumes)
    lines.append(f"wrote {out}/pareto.csv, best.yaml, best/, report.html "
                 f"({result.seconds:.0f} s: " + ", ".join(
                     f"{name} {seconds:.0f} s" for name, seconds in result.phases.items())
                 + ")")
    return lines


def run_dse(args: argparse.Namespace) -> int:
    from codesign.cli import flush_warnings

    settings, run, device_note = settings_from(args)
    if device_note:
        print(f"budget {args.budget}: {device_note}")

    def log(line: str) -> None:
        flush_warnings()   # the input's warnings, before the long search
        print(line, flush=True)

    result = flow.run(settings, run, log=log)
    if run.dry_run:
        print(f"dry run: {args.model}, its inputs, the budget {settings.budget} and "
              f"{run.out} are valid; nothing was run or written")
        return 0
    if result.chosen is not None:
        for line in summary_lines(result, run.out, run.prefer,
                                  {"accuracy": run.min_accuracy, "fidelity": run.min_fidelity}):
            print(line)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dse`` to the ``codesign`` command line (handler in ``handler``)."""
    parser = subparsers.add_parser(
        "dse", help="co-tune hardware and compiler under an FPGA budget (Pareto front)")
    parser.add_argument("model", help="the network, a .nir file")
    parser.add_argument("--budget", required=True,
                        help="resource limits, e.g. luts=50k,ffs=80k,bram=64,dsp=28")
    parser.add_argument("--family", choices=FAMILIES, default="ecp5", help="FPGA family")
    parser.add_argument("--trials", type=int, default=60,
                        help="evaluated trials in the study (default 60)")
    parser.add_argument("--timeout-s", type=float, default=None,
                        help="stop proposing new trials after this many seconds")
    parser.add_argument("--objectives", default="latency,energy,fidelity",
                        help="comma-separated subset of latency, energy, fidelity")
    parser.add_argument("--input", help="sample inputs .npz (x [N, T, ...], optional labels y)")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                        help=f"samples of --input used for fidelity (default {DEFAULT_SAMPLES})")
    parser.add_argument("--storage", help="Optuna storage URL (default sqlite:///OUT/study.db); "
                        "postgresql://... shares the study between machines")
    parser.add_argument("--study", default="dse", help="study name (default dse)")
    parser.add_argument("--workers", type=int, default=1, help="local worker processes")
    parser.add_argument("--resume", action="store_true", help="continue the study in OUT")
    parser.add_argument("--sampler", choices=search.SAMPLERS, default=search.DEFAULT_SAMPLER,
                        help=f"default {search.DEFAULT_SAMPLER}")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the random-search baseline (same trial count) and its "
                             "hypervolume")
    parser.add_argument("--synthesis", choices=("final", "every"), default="final",
                        help="real synthesis for the Pareto candidates only (default) or inside "
                             "every trial the model puts within budget")
    parser.add_argument("--synthesis-timeout-s", type=float, default=1800.0,
                        help="time limit of one synthesis + place and route (default 1800)")
    parser.add_argument("--max-synthesis", type=int, default=6,
                        help="most syntheses spent confirming the Pareto front (default 6)")
    parser.add_argument("--synthesis-jobs", type=int, default=os.cpu_count() or 1,
                        help="syntheses run at the same time while confirming the front "
                             "(default: the number of cores)")
    parser.add_argument("--rtl-samples", type=int, default=10,
                        help="sample inputs each front design runs on its Verilator-built RTL "
                             "(measured cycles, bit-exact check); 0 skips (default 10)")
    parser.add_argument("--search-only", action="store_true",
                        help="only evaluate trials into the study (a distributed worker); a run "
                             "without it confirms the front and writes the report")
    parser.add_argument("--prefer", choices=tuple(pareto.PREFERENCES), default="latency",
                        help="what the chosen design is best at among the confirmed front "
                             "(default latency)")
    parser.add_argument("--min-accuracy", type=float, default=None,
                        help="the chosen design needs at least this accuracy (0..1; needs "
                             "labels in --input)")
    parser.add_argument("--min-fidelity", type=float, default=None,
                        help="the chosen design needs at least this fidelity (0..1)")
    parser.add_argument("--seed-designs", type=int, default=12,
                        help="designs the analytic models rank best, evaluated as the first "
                             "trials (default 12; 0: the sampler starts alone)")
    parser.add_argument("--pruning-samples", type=int, default=300,
                        help="uniform samples that measure how much pruning removes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the model, --input, the budget and -o, then stop (nothing "
                             "is searched or written)")
    parser.add_argument("-o", "--output", required=True, help="output directory")
    parser.set_defaults(handler=run_dse)
