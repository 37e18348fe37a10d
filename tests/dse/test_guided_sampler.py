"""The model-guided sampler: the analytic models pick a proposal's hardware, never its numerics,
and the study records the hardware that was evaluated."""

import optuna
import pytest

from codesign.dse import space
from codesign.dse.budget import parse_budget, within_device
from codesign.dse.evaluate import Evaluator
from codesign.dse.guided_sampler import HARDWARE_KNOBS, ModelGuidedSampler
from codesign.dse.search import SearchSettings, finished_trials, run_search
from codesign.dse.workload import load_workload
from dse_helpers import design_params

NUMERICS = ("weight_bits", "state_bits", "prune_threshold")


@pytest.fixture(scope="module")
def workload(digits):
    model, inputs = digits
    return load_workload(model, inputs, samples=40, seed=0)


def _evaluator(workload, budget: str) -> Evaluator:
    limits, _ = within_device(parse_budget(budget), "ecp5")
    return Evaluator(workload, limits, "ecp5")


def _proposal(**changes) -> dict:
    """A slow, oversized proposal: one lane on 16 cores of 512 neurons."""
    return design_params(**{"cores": 16, "synapse_lanes": 1, "neurons_per_core": 512,
                            "synapse_memory_depth": 8192, "weight_bits": 5, "state_bits": 12,
                            "partition": "pack", "prune_threshold": 0.05, **changes})


def _modelled(evaluator: Evaluator, params: dict) -> dict:
    return evaluator.analytic(space.point_from(params), count_bram=False).values


@pytest.mark.parametrize("trial_number", range(6))
def test_refined_hardware_is_within_budget_keeps_the_numerics_and_is_not_dominated_by_the_proposal(
        workload, trial_number):
    evaluator = _evaluator(workload, "luts=50k")
    sampler = ModelGuidedSampler(optuna.samplers.RandomSampler(seed=0), evaluator, seed=0)
    proposal = _proposal()
    refined = sampler.refine(proposal, trial_number)
    assert {name: refined[name] for name in NUMERICS} == {name: proposal[name]
                                                          for name in NUMERICS}
    assert set(refined) == set(proposal)
    assert set(name for name in proposal if refined[name] != proposal[name]) <= set(
        HARDWARE_KNOBS)
    chosen = _modelled(evaluator, refined)
    assert chosen["luts"] <= 50_000
    before = _modelled(evaluator, proposal)
    dominated = (before["latency_us"] <= chosen["latency_us"]
                 and before["energy_uj"] <= chosen["energy_uj"]
                 and (before["latency_us"], before["energy_uj"]) != (chosen["latency_us"],
                                                                     chosen["energy_uj"]))
    assert not dominated


def test_the_drawn_weight_spreads_the_choice_along_the_front(workload):
    """Different trials get different front points: some faster, some more frugal."""
    evaluator = _evaluator(workload, "luts=50k")
    sampler = ModelGuidedSampler(optuna.samplers.RandomSampler(seed=0), evaluator, seed=3)
    chosen = [_modelled(evaluator, sampler.refine(_proposal(), number)) for number in range(12)]
    assert len({(round(v["latency_us"], 6), round(v["energy_uj"], 9)) for v in chosen}) >= 3


def test_crossbar_designs_and_budgets_nothing_fits_are_left_as_proposed(workload):
    evaluator = _evaluator(workload, "luts=50k")
    sampler = ModelGuidedSampler(optuna.samplers.RandomSampler(seed=0), evaluator, seed=0)
    crossbar = _proposal(**{"crossbar_tiles": 2, "crossbar:if2": True})
    assert sampler.refine(crossbar, 0) == crossbar
    tight = ModelGuidedSampler(optuna.samplers.RandomSampler(seed=0),
                               _evaluator(workload, "luts=100"), seed=0)
    assert tight.refine(_proposal(), 0) == _proposal()


def test_the_study_records_the_hardware_it_evaluated(digits, tmp_path):
    """The wrapped sampler sees the refined parameters as the trial's own, and the trial's
    recorded hardware is what was evaluated."""
    model, inputs = digits
    settings = SearchSettings(model=str(model), input=str(inputs),
                              budget=parse_budget("luts=50k"), family="ecp5",
                              objectives=("latency", "energy", "fidelity"), trials=16,
                              storage=f"sqlite:///{tmp_path}/study.db", study="guided",
                              sampler="tpe", seed=0, synthesis="final",
                              synthesis_timeout_s=None, timeout_s=None, samples=20,
                              seed_designs=4)
    study, _ = run_search(settings, workers=1, resume=False)
    trials = finished_trials(study)
    assert len(trials) >= 8
    for trial in trials:
        hardware = trial.user_attrs["hardware"]
        assert all(trial.params[name] == hardware[name] for name in HARDWARE_KNOBS
                   if name != "partition")
        assert trial.params["partition"] == trial.user_attrs["compiler"]["partition"]


def test_with_a_known_fidelity_the_choice_adds_to_the_studys_front(workload):
    """Once the proposal's compiler knobs were evaluated, the variant is chosen for what it adds
    to the study: a design already in the study adds nothing, so another one is chosen, and
    the study's design does not dominate it."""
    evaluator = _evaluator(workload, "luts=50k")
    sampler = ModelGuidedSampler(optuna.samplers.RandomSampler(seed=0), evaluator, seed=0)
    proposal = _proposal()
    values, rates = evaluator.fidelity(space.point_from(proposal))
    study = optuna.create_study(directions=["minimize", "minimize", "maximize"])
    first = sampler.refine(proposal, 0, study)       # empty study: every variant adds
    first_values = evaluator.analytic(space.point_from(first), rates, count_bram=False).values
    metrics = {**first_values, **values}
    study.add_trial(optuna.trial.create_trial(
        values=[metrics["latency_us"], metrics["energy_uj"], metrics["fidelity"]],
        user_attrs={"metrics": metrics}))
    second = sampler.refine(proposal, 0, study)
    assert {name: second[name] for name in HARDWARE_KNOBS} != {name: first[name]
                                                              for name in HARDWARE_KNOBS}
    chosen = evaluator.analytic(space.point_from(second), rates, count_bram=False).values
    assert chosen["luts"] <= 50_000
    assert chosen["latency_us"] < first_values["latency_us"] or \
        chosen["energy_uj"] < first_values["energy_uj"]
