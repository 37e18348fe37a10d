"""The DSE as a library call: :func:`run` searches, confirms the Pareto front by real synthesis,
checks it on the RTL and writes the report (what ``codesign dse`` does; ``dse/cli.py`` only turns
its arguments into :class:`~codesign.dse.search.SearchSettings` and :class:`FlowSettings` and
prints the result).

Progress lines go to ``log`` (one line each; the command line prints them); with
``FlowSettings.progress_bar`` a progress bar runs on stderr during the search.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna

from codesign.compiler.analysis.sizing import fitting_config
from codesign.dse import pareto, report, search, space
from codesign.dse.evaluate import DesignPoint, EvaluationFailed, Evaluator, Pruned
from codesign.dse.workload import load_workload
from codesign.errors import CodesignError
from codesign.outputs import check_folder


@dataclass(frozen=True)
class FlowSettings:
    """What a run does around the search: ``out`` is its folder; ``workers`` local worker
    processes; ``resume`` continues the study in ``out``; ``pruning_samples`` uniform samples
    measure the pruning; ``search_only`` stops after the search (a distributed worker);
    ``baseline`` runs the random search the hypervolume is compared with; ``max_synthesis``
    syntheses (``synthesis_jobs`` at a time) confirm the front; ``rtl_samples`` sample inputs
    run on each front design's RTL (0 skips); ``progress_bar`` shows the search's progress on
    stderr; ``dry_run`` stops after the model, inputs, budget and ``out`` have been checked;
    the chosen design is the front's best by ``prefer`` (latency, energy, fidelity or luts)
    among those with at least ``min_accuracy`` / ``min_fidelity``."""

    out: Path
    workers: int = 1
    resume: bool = False
    pruning_samples: int = 300
    search_only: bool = False
    baseline: bool = True
    max_synthesis: int = 8
    synthesis_jobs: int = 1
    rtl_samples: int = 10
    progress_bar: bool = False
    dry_run: bool = False
    prefer: str = "latency"
    min_accuracy: float | None = None
    min_fidelity: float | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise CodesignError(f"--workers {self.workers} is out of range", "use at least 1")
        if self.synthesis_jobs < 1:
            raise CodesignError(f"--synthesis-jobs {self.synthesis_jobs} is out of range",
                                "use at least 1")
        for option, value, least in (("--max-synthesis", self.max_synthesis, 1),
                                     ("--rtl-samples", self.rtl_samples, 0),
                                     ("--pruning-samples", self.pruning_samples, 1)):
            if value < least:
                raise CodesignError(f"{option} {value} is out of range", f"use at least {least}")
        for name, value in (("accuracy", self.min_accuracy), ("fidelity", self.min_fidelity)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise CodesignError(f"--min-{name} {value} is out of range",
                                    f"give the {name} as a fraction in 0..1, e.g. 0.95")


@dataclass
class DseResult:
    """What a run found: the ``front`` (every design confirmed by real synthesis) and the
    ``chosen`` design (both empty after ``search_only``), the study's trial ``counts``, the
    trials this run evaluated, the hypervolume comparison, the report's notes, the files
    written and the wall time."""

    front: list[pareto.Candidate]
    chosen: pareto.Candidate | None
    counts: dict[str, int]
    evaluated_here: int
    hypervolumes: str = ""
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    skipped: list[tuple[pareto.Candidate, str]] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)


def default_storage(out: Path) -> str:
    """The study's storage when none is given: SQLite in ``out``."""
    return f"sqlite:///{(Path(out) / 'study.db').resolve()}"


def run(settings: search.SearchSettings, flow: FlowSettings,
        log: Callable[[str], None] = print) -> DseResult:
    """The whole DSE: search, front confirmed by real synthesis, RTL check, report. Every
    input is checked before ``flow.out`` is touched, so a rejected run leaves it as it was."""
    out = check_folder(flow.out)
    metrics = [search.OBJECTIVES[name][0] for name in settings.objectives]
    started = time.monotonic()
    workload = load_workload(settings.model, settings.input, samples=settings.samples,
                             seed=settings.seed)
    if flow.min_accuracy is not None and workload.labels is None:
        raise CodesignError("--min-accuracy needs labelled inputs",
                            "pass --input IN.npz with labels y, or use --min-fidelity")
    evaluator = Evaluator(workload, settings.budget, settings.family,
                          settings.synthesis_timeout_s)
    if evaluator.model is None:
        raise CodesignError(f"no fitted resource model for family {settings.family}",
                            "run bench/fit_resource_model.py --family "
                            f"{settings.family} or use --family ecp5")
    if flow.dry_run:
        return DseResult(front=[], chosen=None, counts={}, evaluated_here=0,
                         seconds=time.monotonic() - started)
    out.mkdir(parents=True, exist_ok=True)
    statistics = space.pruning_statistics(evaluator, samples=flow.pruning_samples,
                                          seed=settings.seed)
    log(statistics.summary())
    _check_space_holds_network(evaluator, settings.model)
    progress = report.ProgressBar(settings.trials, metrics, settings.budget,
                                  enabled=flow.progress_bar)
    study, pids = search.run_search(settings, flow.workers, flow.resume, progress)
    progress(study)
    progress.close()
    counts = search.study_summary(study)
    log(f"study '{settings.study}': {counts['complete']} complete, {counts['fail']} failed, "
        f"{counts['pruned']} pruned before evaluation, {counts['running']} still running")
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))[-3:]:
        log(f"  failed trial {trial.number}: {trial.user_attrs.get('fail_reason', '?')}")
    mine = sum(t.user_attrs.get("worker") in pids for t in study.get_trials(deepcopy=False)
               if t.state in search.EVALUATED_STATES)
    log(f"evaluated by this run: {mine}")
    if flow.search_only:
        return DseResult(front=[], chosen=None, counts=counts, evaluated_here=mine,
                         seconds=time.monotonic() - started)

    candidates = [pareto.candidate_from_trial(t) for t in search.finished_trials(study)]
    facts = [statistics.summary(),
             f"budget {settings.budget} on {settings.family}; objectives "
             f"{', '.join(settings.objectives)}; sampler {settings.sampler}"
             + (" with the analytic models choosing each proposal's hardware"
                if settings.model_guided and settings.sampler != "random" else "") + "; "
             f"{counts['complete']} complete, {counts['fail']} failed, {counts['pruned']} pruned "
             "trials"]
    hypervolumes = _hypervolumes(settings, flow, candidates, metrics, facts)

    phases = {"search": time.monotonic() - started}
    log(f"confirming the Pareto front by real synthesis ({settings.family}, at most "
        f"{flow.max_synthesis} syntheses, {flow.synthesis_jobs} at a time, cached by content; "
        f"the best of each objective first, then the knee, then by crowding distance):")
    confirmation = pareto.confirm_front(
        candidates, evaluator, settings.budget, metrics, max_synthesis=flow.max_synthesis,
        jobs=flow.synthesis_jobs, on_synthesis=lambda candidate: log(_confirmed(candidate)),
        prefer=pareto.PREFERENCES[flow.prefer],
        on_start=lambda candidate: log(_starting(candidate)))
    front = confirmation.front
    phases["synthesis"] = time.monotonic() - started - sum(phases.values())
    if not front:
        front = [_infeasible(study, evaluator, settings)]
        log(f"  trial {front[0].number}, the smallest design found, is within budget by real "
            "synthesis: it is the front")
    rtl_notes = [_check_on_rtl(evaluator, candidate, flow.rtl_samples, log)
                 for candidate in front]
    phases["rtl"] = time.monotonic() - started - sum(phases.values())
    report.write_csv(out / "pareto.csv", front)
    chosen = pareto.choose(front, flow.prefer, flow.min_accuracy, flow.min_fidelity)
    if chosen is None:
        raise CodesignError(
            f"no confirmed design meets {_minimums(flow)} (best on the front: accuracy "
            f"{max(c.values.get('accuracy', 0.0) for c in front):.2%}, fidelity "
            f"{max(c.values['fidelity'] for c in front):.4f}); the front is in "
            f"{out / 'pareto.csv'}",
            "lower --min-accuracy / --min-fidelity, or raise the budget or --trials")
    for candidate in front:
        candidate.placement_report = evaluator.analytic(candidate.point).placement_report
    skipped = [f"trial {candidate.number} ({_modelled(candidate)}): {reason}"
               for candidate, reason in confirmation.skipped]
    if skipped:
        log("model-front designs not on the confirmed front:\n  " + "\n  ".join(skipped))
    log(report.pareto_table(front, chosen))
    notes = report.write_best(out, chosen, settings.family, evaluator.compile(chosen.point))
    notes.append("the search ranks with the cheap cycle estimate (dse/models/cycle_estimate.py); "
                 "the reported front's cycles come from the compiler's cycle model of each "
                 "compiled program, then from each front design's RTL: " + "; ".join(rtl_notes))
    others = [c for c in candidates if c not in front]
    phases["report"] = time.monotonic() - started - sum(phases.values())
    facts.append("time: " + ", ".join(f"{name} {seconds:.0f} s"
                                      for name, seconds in phases.items()))
    report.write_html(out, front, others, chosen, metrics, settings.budget, facts, notes,
                      evaluator.model.breakdown(chosen.point.config()), skipped,
                      _hypervolume_curves(study, settings, metrics))
    return DseResult(front=front, chosen=chosen, counts=counts, evaluated_here=mine,
                     hypervolumes=hypervolumes, notes=notes,
                     files=[out / name for name in ("pareto.csv", "best.yaml", "best",
                                                    "report.html")],
                     seconds=time.monotonic() - started,
                     skipped=confirmation.skipped, phases=phases)


def _minimums(flow: FlowSettings) -> str:
    wanted = ([f"--min-accuracy {flow.min_accuracy}"] if flow.min_accuracy is not None else []) \
        + ([f"--min-fidelity {flow.min_fidelity}"] if flow.min_fidelity is not None else [])
    return " and ".join(wanted)


def _modelled(candidate: pareto.Candidate) -> str:
    values = candidate.values
    how = "synthesis" if candidate.confirmed else "model"
    return (f"{candidate.point.hardware['cores']} cores x {candidate.point.hardware['synapse_lanes']}"
            f" lanes, {values['latency_us']:.1f} us, {values.get('luts', 0):.0f} LUT by {how}")


def _hypervolume_curves(study, settings: search.SearchSettings, metrics: list[str]
                        ) -> dict[str, list[float]]:
    """Hypervolume after each evaluated trial, for the sampler's study and the random
    baseline's (when it ran), normalised together."""
    studies = {settings.sampler: study}
    if settings.sampler != "random":
        try:
            studies["random"] = optuna.load_study(study_name=f"{settings.study}-random",
                                                  storage=search.storage_for(settings.storage))
        except KeyError:
            pass
    sequences = {name: [pareto.candidate_from_trial(t) if t.state ==
                        optuna.trial.TrialState.COMPLETE else None
                        for t in s.get_trials(deepcopy=False) if t.state in
                        search.EVALUATED_STATES]
                 for name, s in studies.items()}
    return pareto.hypervolume_curves(sequences, metrics, settings.budget)


def describe(candidate: pareto.Candidate) -> str:
    """A design's hardware and cost, in one phrase."""
    hardware, values = candidate.point.hardware, candidate.values
    units = {"luts": "LUTs", "ffs": "FFs", "bram": "BRAM", "dsp": "DSP"}
    cost = ", ".join(f"{int(values[name])} {unit}" for name, unit in units.items()
                     if name in values)
    how = "real synthesis" if candidate.sources.get("luts") == "synthesis" else "resource model"
    return (f"trial {candidate.number}: {hardware['cores']} core(s) x "
            f"{hardware['neurons_per_core']} neurons, {hardware['synapse_lanes']} lane(s), "
            f"{hardware['synapse_memory_depth']} synapse words, "
            f"{candidate.point.weight_bits}-bit weights) needs {cost} by {how}")


def _check_space_holds_network(evaluator: Evaluator, model: str) -> None:
    """Every sampled point was too small: if even the largest point is, no search can help."""
    largest = space.largest_point()
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


def _check_on_rtl(evaluator: Evaluator, candidate: pareto.Candidate, samples: int,
                  log: Callable[[str], None]) -> str:
    """Measure a front design's cycles on its RTL (bit-exact outputs checked); one line."""
    if samples <= 0:
        return f"trial {candidate.number}: skipped (--rtl-samples 0)"
    log(f"running trial {candidate.number} on its RTL under Verilator ({samples} samples; the "
        "build is cached):")
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
    log(f"  {line}")
    return line


def _starting(candidate: pareto.Candidate) -> str:
    """The line printed as a front design's synthesis starts (it can take many minutes)."""
    hardware = candidate.point.hardware
    return (f"  trial {candidate.number}: synthesising {hardware['cores']} core(s) x "
            f"{hardware['neurons_per_core']} neurons, {hardware['synapse_lanes']} lane(s), "
            f"~{int(candidate.values.get('luts', 0)):,} LUTs by the resource model ...")


def _confirmed(candidate: pareto.Candidate) -> str:
    """One line per front design that real synthesis checked."""
    verdict = f"dropped: {candidate.failure}" if candidate.failure else "within budget"
    cost = ""
    if candidate.sources.get("luts") == "synthesis":
        values = candidate.values
        cost = (f"{int(values['luts'])} LUTs, {int(values['ffs'])} FFs, {int(values['bram'])} "
                f"BRAM, {int(values['dsp'])} DSP, {values['fmax_mhz']:.1f} MHz; ")
    return f"  trial {candidate.number}: {cost}{verdict}"


def _hypervolumes(settings: search.SearchSettings, flow: FlowSettings,
                  candidates: list[pareto.Candidate], metrics: list[str],
                  facts: list[str]) -> str:
    """Run the random baseline (same trial count, model fidelity) and compare hypervolumes."""
    by_study = {settings.sampler: [c for c in candidates if pareto.feasible(c, settings.budget)]}
    if settings.sampler != "random" and flow.baseline:
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


def _infeasible(study, evaluator: Evaluator, settings: search.SearchSettings
                ) -> pareto.Candidate:
    """No confirmed design meets the budget: synthesise the smallest one found and return it if
    real synthesis puts it within budget (the designs the front confirmation tried were all
    over); else name it and exit 2."""
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
        if "fidelity" in smallest.values and settings.budget.fits(smallest.values):
            confirmed = evaluator.program_cycles(smallest.point, confirmed)
            smallest.values, smallest.sources = confirmed.values, confirmed.sources
            smallest.confirmed = True
            return smallest
    except EvaluationFailed:  # keep the modelled cost if synthesis or compiling it fails
        pass
    raise CodesignError(f"no design meets the budget {settings.budget}; the smallest found ("
                        + describe(smallest),
                        "raise the budget to at least that, or use a smaller network")
