"""``codesign dse MODEL.nir --budget luts=50k ... -o OUT/``: co-tune hardware and compiler."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import optuna

from codesign.compiler.analysis.sizing import fitting_config
from codesign.dse import pareto, report, search, space
from codesign.dse.budget import parse_budget, within_device
from codesign.dse.evaluate import DesignPoint, EvaluationFailed, Evaluator, Pruned
from codesign.dse.workload import DEFAULT_SAMPLES, load_workload
from codesign.errors import CodesignError

FAMILIES = ("ecp5", "ice40", "xc7")


def _settings(args: argparse.Namespace, out: Path) -> search.SearchSettings:
    if args.trials < 1:
        raise CodesignError(f"--trials {args.trials} is out of range", "use at least 1 trial")
    if args.workers < 1:
        raise CodesignError(f"--workers {args.workers} is out of range", "use at least 1")
    if args.synthesis_jobs < 1:
        raise CodesignError(f"--synthesis-jobs {args.synthesis_jobs} is out of range",
                            "use at least 1")
    budget, device_note = within_device(parse_budget(args.budget), args.family)
    if device_note:
        print(f"budget {args.budget}: {device_note}")
    return search.SearchSettings(
        model=str(args.model), input=str(args.input) if args.input else None,
        budget=budget, family=args.family,
        objectives=search.parse_objectives(args.objectives), trials=args.trials,
        storage=args.storage or f"sqlite:///{(out / 'study.db').resolve()}",
        study=args.study, sampler=args.sampler, seed=args.seed, synthesis=args.synthesis,
        synthesis_timeout_s=args.synthesis_timeout_s, timeout_s=args.timeout_s,
        samples=args.samples)


def _describe(candidate: pareto.Candidate) -> str:
    hardware, values = candidate.point.hardware, candidate.values
    units = {"luts": "LUTs", "ffs": "FFs", "bram": "BRAM", "dsp": "DSP"}
    cost = ", ".join(f"{int(values[name])} {unit}" for name, unit in units.items()
                     if name in values)
    how = "real synthesis" if candidate.sources.get("luts") == "synthesis" else "resource model"
    return (f"trial {candidate.number}: {hardware['cores']} core(s) x "
            f"{hardware['neurons_per_core']} neurons, {hardware['synapse_lanes']} lane(s), "
            f"{hardware['synapse_memory_depth']} synapse words, "
            f"{candidate.point.weight_bits}-bit weights) needs {cost} by {how}")


def run_dse(args: argparse.Namespace) -> int:
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    settings = _settings(args, out)
    metrics = [search.OBJECTIVES[name][0] for name in settings.objectives]
    started = time.monotonic()
    workload = load_workload(settings.model, settings.input, samples=settings.samples,
                             seed=settings.seed)
    evaluator = Evaluator(workload, settings.budget, settings.family,
                          settings.synthesis_timeout_s)
    if evaluator.model is None:
        raise CodesignError(f"no fitted resource model for family {settings.family}",
                            "run bench/fit_resource_model.py --family "
                            f"{settings.family} or use --family ecp5")
    statistics = space.pruning_statistics(evaluator, samples=args.pruning_samples,
                                          seed=settings.seed)
    print(statistics.summary())
    if statistics.does_not_fit == statistics.sampled:
        _check_space_holds_network(evaluator, settings.model)
    progress = report.ProgressBar(settings.trials, metrics, settings.budget,
                                  enabled=not args.quiet)
    study, pids = search.run_search(settings, args.workers, args.resume, progress)
    progress(study)
    progress.close()
    counts = search.study_summary(study)
    print(f"study '{settings.study}': {counts['complete']} complete, {counts['fail']} failed, "
          f"{counts['pruned']} pruned before evaluation, {counts['running']} still running")
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))[-3:]:
        print(f"  failed trial {trial.number}: {trial.user_attrs.get('fail_reason', '?')}")
    mine = sum(t.user_attrs.get("worker") in pids for t in study.get_trials(deepcopy=False)
               if t.state in search.EVALUATED_STATES)
    print(f"evaluated by this run: {mine}")
    if args.search_only:
        return 0

    candidates = [pareto.candidate_from_trial(t) for t in search.finished_trials(study)]
    facts = [statistics.summary(),
             f"budget {settings.budget} on {settings.family}; objectives "
             f"{', '.join(settings.objectives)}; sampler {settings.sampler}; "
             f"{counts['complete']} complete, {counts['fail']} failed, {counts['pruned']} pruned "
             "trials"]
    hypervolumes = _hypervolumes(study, settings, args, candidates, metrics, facts)

    print(f"confirming the Pareto front by real synthesis ({settings.family}, at most "
          f"{args.max_synthesis} syntheses, {args.synthesis_jobs} at a time, cached by "
          "content):", flush=True)
    front = pareto.confirm_front(candidates, evaluator, settings.budget, metrics,
                                 max_synthesis=args.max_synthesis, jobs=args.synthesis_jobs,
                                 on_synthesis=_confirmed)
    if not front:
        _infeasible(study, evaluator, settings)
    rtl_notes = [_check_on_rtl(evaluator, candidate, args.rtl_samples) for candidate in front]
    chosen = pareto.choose(front, metrics)
    for candidate in front:
        candidate.placement_report = evaluator.analytic(candidate.point).placement_report
    print(report.pareto_table(front, chosen))
    report.write_csv(out / "pareto.csv", front)
    notes = report.write_best(out, chosen, settings.family, evaluator.compile(chosen.point))
    notes.append("the search ranks with the cheap cycle estimate (dse/models/cycle_estimate.py); the "
                 "reported front's cycles come from the compiler's cycle model of each compiled "
                 "program, then from each front design's RTL: " + "; ".join(rtl_notes))
    others = [c for c in candidates if c not in front]
    report.write_html(out, front, others, chosen, metrics, settings.budget, facts, notes,
                      evaluator.model.breakdown(chosen.point.config()))
    accuracy = chosen.values.get("accuracy")
    print(f"chosen design: trial {chosen.number}, "
          + (f"accuracy {accuracy:.2%}, " if accuracy is not None else "")
          + f"fidelity {chosen.values['fidelity']:.4f}, latency "
          f"{chosen.values['latency_us']:.1f} us at {chosen.values['fmax_mhz']:.1f} MHz, "
          f"{int(chosen.values['luts'])} LUTs (real synthesis)")
    if hypervolumes:
        print(hypervolumes)
    print(f"wrote {out}/pareto.csv, best.yaml, best/, report.html "
          f"({time.monotonic() - started:.0f} s)")
    return 0


def _check_space_holds_network(evaluator: Evaluator, model: str) -> None:
    """Every sampled point was too small: if even the largest point is, no search can help."""
    layers = [p.name for p in evaluator.workload.network.populations]
    largest = space.largest_point(layers)
    try:
        evaluator.analytic(largest)
    except Pruned as reason:
        if str(reason).startswith("does not hold"):
            raise CodesignError(
                f"no design of the DSE's search space can hold {model}: even the largest "
                f"({space.describe_capacity(largest)}) {reason}{_beyond_space(evaluator, largest)}",
                "compile it for a larger accelerator with `codesign compile MODEL.nir --hw "
                "CFG.yaml` (the search space is in codesign/dse/space.py), or for a smaller one "
                "with `--chunked` (a feed-forward network, layer by layer), or use a smaller "
                "network") from None


def _beyond_space(evaluator: Evaluator, largest: DesignPoint) -> str:
    """What the smallest change of ``largest`` that holds the network would cost, by the
    resource model, against the budget (which includes the device's capacity)."""
    network, options = evaluator.mapping_input(largest)
    try:
        config, changes = fitting_config(network, largest.config(), options)
    except CodesignError:
        return ""
    wanted = ", ".join(f"{knob}: {value}" for knob, value in changes.items())
    text = f"; with {wanted} it would hold it"
    if evaluator.model is None:
        return text
    usage = evaluator.model.estimate(config)
    over = {name: excess for name, excess in evaluator.budget.violations(usage).items()
            if excess > 0}
    costs = ", ".join(f"{usage[name]:.0f} {name}" for name in evaluator.budget.limits())
    verdict = ("over the budget " + ", ".join(f"{name}<={limit}" for name, limit in
                                              evaluator.budget.limits().items() if name in over)
               if over else f"within the budget {evaluator.budget}")
    return f"{text}, at about {costs} by the resource model: {verdict}"


def _check_on_rtl(evaluator: Evaluator, candidate: pareto.Candidate, samples: int) -> str:
    """Measure a front design's cycles on its RTL (bit-exact outputs checked); one line."""
    if samples <= 0:
        return f"trial {candidate.number}: skipped (--rtl-samples 0)"
    print(f"running trial {candidate.number} on its RTL under Verilator ({samples} samples; the "
          "build is cached):", flush=True)
    try:
        measured = evaluator.rtl_cycles(candidate.point, pareto.Metrics(dict(candidate.values),
                                                                        dict(candidate.sources)),
                                        samples)
    except EvaluationFailed as reason:
        line = f"trial {candidate.number}: RTL check failed: {reason}"
    else:
        candidate.values, candidate.sources = measured.values, measured.sources
        line = (f"trial {candidate.number}: outputs bit-exact with the golden model on {samples} "
                f"samples; {candidate.values['cycles_per_sample']:.0f} cycles per sample "
                f"measured, the cycle model's error on them "
                f"{100 * candidate.values['cycle_model_error']:+.2f}%")
    print(f"  {line}", flush=True)
    return line


def _confirmed(candidate: pareto.Candidate) -> None:
    """One line per front design that real synthesis checked."""
    verdict = f"dropped: {candidate.failure}" if candidate.failure else "within budget"
    cost = ""
    if candidate.sources.get("luts") == "synthesis":
        values = candidate.values
        cost = (f"{int(values['luts'])} LUTs, {int(values['ffs'])} FFs, {int(values['bram'])} "
                f"BRAM, {int(values['dsp'])} DSP, {values['fmax_mhz']:.1f} MHz; ")
    print(f"  trial {candidate.number}: {cost}{verdict}", flush=True)


def _hypervolumes(study, settings, args, candidates, metrics, facts) -> str:
    """Run the random baseline (same trial count, model fidelity) and compare hypervolumes."""
    by_study = {settings.sampler: [c for c in candidates if pareto.feasible(c, settings.budget)]}
    if settings.sampler != "random" and args.baseline:
        baseline = search.SearchSettings(**{**settings.__dict__, "sampler": "random",
                                            "study": f"{settings.study}-random",
                                            "synthesis": "final"})
        search.run_search(baseline, 1, resume=True)
        random_study = search.open_study(baseline, create=False, resume=True)
        by_study["random"] = [pareto.candidate_from_trial(t)
                              for t in search.finished_trials(random_study)
                              if pareto.feasible(pareto.candidate_from_trial(t), settings.budget)]
    scaled, reference = pareto.normalised_losses(by_study, metrics)
    volumes = {name: pareto.hypervolume(losses, reference) for name, losses in scaled.items()}
    text = "hypervolume (model-level objectives, normalised, within budget by model): " + \
        ", ".join(f"{name} {value:.4f}" for name, value in volumes.items())
    if "random" in volumes and volumes["random"] > 0 and len(volumes) == 2:
        text += f"; ratio {volumes[settings.sampler] / volumes['random']:.3f}"
    facts.append(text)
    return text


def _infeasible(study, evaluator: Evaluator, settings: search.SearchSettings) -> None:
    """No design meets the budget: name the smallest one found (by real synthesis) and exit 2."""
    candidates = [pareto.candidate_from_trial(t) for t in study.get_trials(deepcopy=False)
                  if "metrics" in t.user_attrs and "hardware" in t.user_attrs]
    smallest = pareto.smallest(candidates, settings.budget)
    if smallest is None:
        raise CodesignError(f"no design meets the budget {settings.budget}: no evaluated design "
                            "holds the network", "raise the budget")
    try:
        confirmed = evaluator.synthesize(smallest.point, pareto.Metrics(dict(smallest.values),
                                                                        dict(smallest.sources)))
        smallest.values.update(confirmed.values)
        smallest.sources.update(confirmed.sources)
    except EvaluationFailed:  # keep the modelled cost if synthesis of it fails
        pass
    raise CodesignError(f"no design meets the budget {settings.budget}; the smallest found ("
                        + _describe(smallest),
                        "raise the budget to at least that, or use a smaller network")


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
    parser.add_argument("--sampler", choices=search.SAMPLERS, default="nsga2")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the random-search baseline (same trial count) and its "
                             "hypervolume")
    parser.add_argument("--synthesis", choices=("final", "every"), default="final",
                        help="real synthesis for the Pareto candidates only (default) or inside "
                             "every trial the model puts within budget")
    parser.add_argument("--synthesis-timeout-s", type=float, default=1800.0,
                        help="time limit of one synthesis + place and route (default 1800)")
    parser.add_argument("--max-synthesis", type=int, default=8,
                        help="most syntheses spent confirming the Pareto front (default 8)")
    parser.add_argument("--synthesis-jobs", type=int, default=os.cpu_count() or 1,
                        help="syntheses run at the same time while confirming the front "
                             "(default: the number of cores)")
    parser.add_argument("--rtl-samples", type=int, default=10,
                        help="sample inputs each front design runs on its Verilator-built RTL "
                             "(measured cycles, bit-exact check); 0 skips (default 10)")
    parser.add_argument("--search-only", action="store_true",
                        help="only evaluate trials into the study (a distributed worker); a run "
                             "without it confirms the front and writes the report")
    parser.add_argument("--pruning-samples", type=int, default=300,
                        help="uniform samples that measure how much pruning removes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("-o", "--output", required=True, help="output directory")
    parser.set_defaults(handler=run_dse)
