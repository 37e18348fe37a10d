"""The search: Optuna multi-objective (NSGA-II or TPE, or random as the baseline) with the budget
as constraints, on persistent storage, with local worker processes. A new study's first trials
are the designs the analytic models rank best (``seed_designs``, :mod:`codesign.dse.seeding`);
after them the analytic models pick the hardware of each proposal (``model_guided``,
:mod:`codesign.dse.guided_sampler`). Neither applies to the random baseline.

Storage and resilience (DESIGN contract 7):

* default ``sqlite:///OUT/study.db``; every finished trial is committed by ``study.tell`` before
  the next one starts, so a ``kill -9`` loses at most the trials that were running. ``--resume``
  marks those as failed ("interrupted") and continues until the study holds ``--trials``
  evaluated (complete or failed) trials;
* ``--storage postgresql://...`` shares one study between any number of ``codesign dse``
  processes on any machines (Optuna's distributed mode); each stops when the study holds
  ``--trials`` evaluated trials;
* a point rejected before evaluation is told as PRUNED (it does not count towards ``--trials``);
  a failing or timed-out evaluation is told as FAIL with its reason in the user attribute
  ``fail_reason``, and the search goes on.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import optuna

from codesign.dse import space
from codesign.dse.budget import Budget
from codesign.dse.evaluate import DesignPoint, EvaluationFailed, Evaluator, Pruned
from codesign.dse.workload import load_workload
from codesign.errors import CodesignError

#: Objective name -> (metric, direction).
OBJECTIVES = {"latency": ("latency_us", "minimize"), "energy": ("energy_uj", "minimize"),
              "fidelity": ("fidelity", "maximize")}
SAMPLERS = ("nsga2", "tpe", "random")
#: Multivariate TPE from the model-ranked seeds, its proposals' hardware picked by the models:
#: 1.35x (digits) and 1.28x (Braille) the random baseline's hypervolume at 60 trials, mean of
#: 5 seeds; NSGA-II did worse (bench/dse_search_quality.py, BENCHMARKS.md).
DEFAULT_SAMPLER = "tpe"
#: Give up proposing when this many consecutive proposals were pruned.
MAX_CONSECUTIVE_PRUNED = 1000
STORAGE_ATTEMPTS = 4
EVALUATED_STATES = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)


@dataclass
class SearchSettings:
    """Everything a worker needs to rebuild the evaluator and join the study."""

    model: str
    input: str | None
    budget: Budget
    family: str
    objectives: tuple[str, ...]
    trials: int
    storage: str
    study: str
    sampler: str
    seed: int
    synthesis: str               # "every": real synthesis inside every trial; "final": only
    synthesis_timeout_s: float | None   # for the Pareto candidates after the search
    timeout_s: float | None
    samples: int
    seed_designs: int = 12       # model-ranked designs enqueued first (not for random)
    model_guided: bool = True    # the analytic models pick each proposal's hardware (not for
                                 # random; dse/guided_sampler.py)

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise CodesignError(f"--trials {self.trials} is out of range", "use at least 1 trial")
        if self.samples < 1:
            raise CodesignError(f"--samples {self.samples} is out of range",
                                "use at least 1 sample")
        for option, seconds in (("--timeout-s", self.timeout_s),
                                ("--synthesis-timeout-s", self.synthesis_timeout_s)):
            if seconds is not None and not seconds > 0:
                raise CodesignError(f"{option} {seconds} is out of range",
                                    "use a positive number of seconds")


def parse_objectives(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in OBJECTIVES]
    if not names or unknown:
        raise CodesignError(f"unknown objective '{unknown[0] if unknown else text}'",
                            f"use a comma-separated subset of {', '.join(OBJECTIVES)}")
    if len(set(names)) != len(names):
        raise CodesignError("an objective is given twice", "list each objective once")
    return names


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """The budget enters as constraints set on each trial (``Trial.set_constraint``)."""
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=12)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10, multivariate=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise CodesignError(f"unknown sampler '{name}'", f"use one of {', '.join(SAMPLERS)}")


def storage_for(url: str) -> optuna.storages.BaseStorage:
    """An RDB storage; SQLite waits for its lock instead of failing under several workers.
    ``postgresql://`` without a driver uses psycopg2 (a dependency; SQLAlchemy 2.1 would pick
    psycopg 3)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else \
        {"pool_pre_ping": True}
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine)
            break
        except Exception as error:  # SQLAlchemy/driver errors: bad URL, server down, ...
            # workers starting together race to create Optuna's tables: the loser retries
            if attempt == STORAGE_ATTEMPTS - 1:
                raise CodesignError(f"cannot open study storage {url.split('@')[-1]}: "
                                    f"{str(error).splitlines()[0]}",
                                    "check --storage (e.g. postgresql://user:pass@host/db) and "
                                    "that the server is running") from None
            time.sleep(1.0 + attempt)
    if url.startswith("sqlite"):
        # WAL with synchronous=NORMAL: a commit survives a killed process (kill -9), only a
        # power cut can lose the last ones; without it every Optuna call waits for an fsync.
        from sqlalchemy import event

        def pragmas(connection, _record) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        event.listen(storage.engine, "connect", pragmas)
        storage.engine.dispose()
    return storage


def open_study(settings: SearchSettings, create: bool, resume: bool,
               worker_index: int = 0, evaluator: Evaluator | None = None) -> optuna.Study:
    """Create (first process) or load the study; worker ``i`` samples with seed ``seed + i``.
    A worker passes its ``evaluator``: with ``model_guided`` its sampler's proposals get the
    hardware the analytic models choose (:mod:`codesign.dse.guided_sampler`)."""
    storage = storage_for(settings.storage)
    directions = [OBJECTIVES[name][1] for name in settings.objectives]
    sampler = make_sampler(settings.sampler, settings.seed + worker_index)
    if evaluator is not None and settings.model_guided and settings.sampler != "random":
        from codesign.dse.guided_sampler import ModelGuidedSampler

        sampler = ModelGuidedSampler(sampler, evaluator, settings.seed + worker_index)
    existing = {summary.study_name for summary in optuna.get_all_study_summaries(storage)}
    if create and settings.study in existing and not resume and \
            settings.storage.startswith("sqlite"):
        raise CodesignError(f"study '{settings.study}' already exists in {settings.storage}",
                            "pass --resume to continue it, or use a new -o directory / --study")
    study = optuna.create_study(storage=storage, study_name=settings.study,
                                directions=directions, sampler=sampler, load_if_exists=True)
    if list(study.directions) != [optuna.study.StudyDirection.MINIMIZE if d == "minimize" else
                                  optuna.study.StudyDirection.MAXIMIZE for d in directions]:
        raise CodesignError(f"study '{settings.study}' was created with other objectives",
                            "resume with the same --objectives or start a new study")
    return study


def fail_interrupted(study: optuna.Study) -> int:
    """Mark trials left RUNNING by a killed run as FAIL ("interrupted"); returns how many."""
    storage = study._storage
    count = 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_user_attr(trial._trial_id, "fail_reason",
                                    "interrupted: the run was killed while evaluating")
        storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        count += 1
    return count


def evaluated_count(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=EVALUATED_STATES))


def _record(trial: optuna.trial.Trial, point: DesignPoint, metrics) -> None:
    trial.set_user_attr("hardware", point.hardware)
    trial.set_user_attr("compiler", point.compiler_options())
    trial.set_user_attr("metrics", metrics.values)
    trial.set_user_attr("sources", metrics.sources)
    trial.set_user_attr("worker", os.getpid())


def run_worker(settings: SearchSettings, progress: Callable[[optuna.Study], None] | None = None,
               parent: int | None = None, worker_index: int = 0) -> int:
    """Ask/evaluate/tell until the study holds ``settings.trials`` evaluated trials (or the
    deadline, or the parent process died). Returns the number of trials this worker evaluated."""
    started = time.monotonic()
    workload = load_workload(settings.model, settings.input, samples=settings.samples,
                             seed=settings.seed)
    evaluator = Evaluator(workload, settings.budget, settings.family,
                          settings.synthesis_timeout_s)
    study = open_study(settings, create=False, resume=True, worker_index=worker_index,
                       evaluator=evaluator)
    evaluated = pruned_in_a_row = 0
    while True:
        if settings.timeout_s is not None and time.monotonic() - started > settings.timeout_s:
            break
        if parent is not None and os.getppid() != parent:
            break  # the main process was killed: stop, like it did
        running = len(study.get_trials(deepcopy=False,
                                       states=(optuna.trial.TrialState.RUNNING,)))
        if evaluated_count(study) + running >= settings.trials:
            break
        if pruned_in_a_row >= MAX_CONSECUTIVE_PRUNED:
            break
        trial = study.ask()
        point = space.suggest(trial, evaluator.crossbar_layers)
        try:
            metrics = evaluator.evaluate(point, synthesis=settings.synthesis == "every")
        except Pruned as reason:
            trial.set_user_attr("prune_reason", str(reason))
            if reason.usage is not None:
                trial.set_user_attr("hardware", point.hardware)
                trial.set_user_attr("compiler", point.compiler_options())
                trial.set_user_attr("metrics", reason.usage)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            pruned_in_a_row += 1
            continue
        except EvaluationFailed as reason:
            trial.set_user_attr("hardware", point.hardware)
            trial.set_user_attr("compiler", point.compiler_options())
            trial.set_user_attr("fail_reason", str(reason))
            trial.set_user_attr("worker", os.getpid())
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            evaluated += 1
            pruned_in_a_row = 0
            if progress:
                progress(study)
            continue
        pruned_in_a_row = 0
        _record(trial, point, metrics)
        violations = settings.budget.violations(metrics.values) if all(
            name in metrics.values for name in settings.budget.limits()) else {}
        for name, excess in violations.items():
            trial.set_constraint(name, excess / max(settings.budget.limits()[name], 1))
        study.tell(trial, [metrics.values[OBJECTIVES[name][0]] for name in settings.objectives])
        evaluated += 1
        if progress:
            progress(study)
    return evaluated


def _worker_main(settings: SearchSettings, parent: int, worker_index: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        run_worker(settings, parent=parent, worker_index=worker_index)
    except CodesignError as error:
        print(f"codesign: worker {os.getpid()}: {error.one_line()}", file=sys.stderr)
        sys.exit(2)


def run_search(settings: SearchSettings, workers: int, resume: bool,
               progress: Callable[[optuna.Study], None] | None = None
               ) -> tuple[optuna.Study, list[int]]:
    """Create or resume the study and run ``workers`` worker processes (in-process for one).
    Returns the study and the process ids that evaluated for this run."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(settings, create=True, resume=resume)
    if resume and settings.storage.startswith("sqlite"):
        fail_interrupted(study)
    if settings.seed_designs and settings.sampler != "random" and not study.get_trials(
            deepcopy=False):
        enqueue_model_seeds(study, settings)
    if workers <= 1:
        run_worker(settings, progress=progress)
        return study, [os.getpid()]
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker_main, args=(settings, os.getpid(), index),
                                 daemon=True) for index in range(workers)]
    for process in processes:
        process.start()
    while any(process.is_alive() for process in processes):
        time.sleep(0.5)
        if progress:
            progress(study)
    for process in processes:
        process.join()
    failed = [process.exitcode for process in processes if process.exitcode != 0]
    if failed:
        raise CodesignError(f"{len(failed)} of {workers} worker processes failed (exit status "
                            f"{failed[0]})", "see the worker's message above")
    return study, [process.pid for process in processes]


def enqueue_model_seeds(study: optuna.Study, settings: SearchSettings) -> int:
    """Enqueue the designs the analytic models rank best as the study's first trials
    (:mod:`codesign.dse.seeding`); returns how many."""
    from codesign.dse.seeding import model_seeds

    workload = load_workload(settings.model, settings.input, samples=settings.samples,
                             seed=settings.seed)
    evaluator = Evaluator(workload, settings.budget, settings.family)
    points = model_seeds(evaluator, min(settings.seed_designs, settings.trials), settings.seed)
    for point in points:
        study.enqueue_trial(space.params_of(point, evaluator.crossbar_layers),
                            user_attrs={"seeded": "analytic models"}, skip_if_exists=True)
    return len(points)


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def study_summary(study: optuna.Study) -> dict[str, Any]:
    states = [trial.state for trial in study.get_trials(deepcopy=False)]
    return {state.name.lower(): states.count(state) for state in optuna.trial.TrialState}
