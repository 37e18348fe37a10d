"""A timed-out synthesis is a failed trial with its reason and the study completes; an
infeasible budget ends in one line naming the smallest design, with exit status 2."""

import os
import re
import subprocess

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
