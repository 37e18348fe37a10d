"""A timed-out synthesis is a failed trial with its reason and the study completes; an
infeasible budget ends in one line naming the smallest design, and a network no design of the
search space can hold in one line naming the limits, both with exit status 2."""

import os
import re
import subprocess
import sys

import nir
import numpy as np
import optuna
import pytest

from dse_helpers import dse_command, run_dse


@pytest.mark.slow
def test_synthesis_timeout_is_a_failed_trial(digits, tmp_path):
    model, inputs = digits
    out = tmp_path / "out"
    # an empty cache so that every synthesis really runs (and hits the 1 s limit)
    environment = {**os.environ, "CODESIGN_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        dse_command(model, inputs, out, "--budget", "luts=50k", "--trials", "3",
                    "--synthesis", "every", "--synthesis-timeout-s", "1", "--search-only"),
        capture_output=True, text=True, timeout=900, env=environment)
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="dse", storage=f"sqlite:///{out / 'study.db'}")
    failed = study.get_trials(states=(optuna.trial.TrialState.FAIL,))
    assert len(failed) == 3
    for trial in failed:
        assert re.search(r"did not finish within [0-9.]+ s", trial.user_attrs["fail_reason"])
        assert trial.user_attrs["hardware"]["cores"] >= 1


@pytest.mark.slow
def test_infeasible_budget_names_the_smallest_design(digits, tmp_path):
    model, inputs = digits
    result = run_dse(*dse_command(model, inputs, tmp_path / "out", "--budget", "luts=500",
                                  "--trials", "5"))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no design meets the budget luts=500" in lines[0] and "smallest" in lines[0]
    luts = re.search(r"needs (\d+) LUTs", lines[0])
    assert luts is not None and int(luts.group(1)) > 500, lines[0]


def test_network_too_big_for_the_whole_search_space_is_one_line(tmp_path):
    """10,000 neurons in one layer: more than 16 cores x 512, the largest point of the space."""
    size = 10_000
    rng = np.random.default_rng(0)
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([4])}),
        "affine": nir.Affine(weight=rng.normal(0.0, 1.0, (size, 4)), bias=np.zeros(size)),
        "lif": nir.LIF(tau=np.full(size, 1e-2), r=np.ones(size), v_leak=np.zeros(size),
                       v_threshold=np.ones(size), v_reset=np.zeros(size)),
        "output": nir.Output(output_type={"output": np.array([size])}),
    }, edges=[("input", "affine"), ("affine", "lif"), ("lif", "output")])
    model = tmp_path / "wide.nir"
    nir.write(model, graph)
    out = tmp_path / "out"
    result = run_dse(sys.executable, "-m", "codesign", "dse", str(model), "--budget", "luts=50k",
                     "--quiet", "--no-baseline", "--pruning-samples", "20", "-o", str(out),
                     timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no design of the DSE's search space can hold" in lines[0]
    assert "10000 neurons > cores x neurons_per_core = 16 x 512" in lines[0]
    # twice the neurons per core hold them, but the largest point's synapse memories alone (16
    # cores x 8,192 words x 16 lanes x >= 17 bits) exceed the ECP5-85k's 208 x 18 kbit of block
    # RAM, and its logic the 50k LUTs
    cost = re.search(r"with neurons_per_core: 1024 it would hold it, at about (\d+) luts, \d+ "
                     r"ffs, (\d+) bram, \d+ dsp by the resource model: over the budget "
                     r"luts<=50000, ffs<=83640, bram<=208", lines[0])
    assert cost is not None and int(cost.group(2)) > 208 and int(cost.group(1)) > 50_000, lines[0]
    assert "codesign compile" in lines[0]


@pytest.mark.parametrize("options, message", [
    (("--min-accuracy", "97"), "--min-accuracy 97.0 is out of range; give the accuracy as a "
                               "fraction in 0..1"),
    (("--min-fidelity", "-1"), "--min-fidelity -1.0 is out of range"),
])
def test_minimums_out_of_range_are_one_line(digits, tmp_path, options, message):
    model, inputs = digits
    result = run_dse(*dse_command(model, inputs, tmp_path / "out", "--budget", "luts=50k",
                                  *options), timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_min_accuracy_without_labels_is_one_line(digits, tmp_path):
    model, _ = digits
    result = run_dse(sys.executable, "-m", "codesign", "dse", str(model), "--budget", "luts=50k",
                     "--min-accuracy", "0.9", "--quiet", "-o", str(tmp_path / "out"),
                     timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--min-accuracy needs labelled inputs" in lines[0], result.stderr
