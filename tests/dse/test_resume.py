"""kill -9 in the middle of a study, then --resume: no completed trial lost, none duplicated."""

import signal
import subprocess
import time

import optuna
import pytest

from dse_helpers import dse_command, run_dse, trial_rows


def _completed(storage: str) -> dict[int, tuple]:
    study = optuna.load_study(study_name="dse", storage=storage)
    return {t.number: (tuple(t.values), tuple(sorted(t.params.items())))
            for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))}


@pytest.mark.slow
def test_kill_and_resume_keeps_every_completed_trial(digits, tmp_path):
    model, inputs = digits
    out = tmp_path / "out"
    database = out / "study.db"
    storage = f"sqlite:///{database}"
    process = subprocess.Popen(dse_command(model, inputs, out, "--budget", "luts=50k",
                                           "--trials", "100000", "--search-only"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            time.sleep(0.5)
            assert process.poll() is None, process.stderr.read()
            if database.exists() and sum(state == "COMPLETE" for *_, state in
                                         trial_rows(database)) >= 15:
                break
    finally:
        process.send_signal(signal.SIGKILL)  # kill -9 (a no-op if it already ended)
        process.wait()
    before = _completed(storage)
    assert len(before) >= 15

    target = len(before) + 10
    result = run_dse(*dse_command(model, inputs, out, "--budget", "luts=50k", "--trials",
                                  str(target), "--search-only", "--resume"))
    assert result.returncode == 0, result.stderr
    after = _completed(storage)
    # nothing completed before the kill is lost or changed
    assert {number: after.get(number) for number in before} == before
    rows = trial_rows(database)
    ids, numbers = [row[0] for row in rows], [row[1] for row in rows]
    assert len(set(ids)) == len(ids) and len(set(numbers)) == len(numbers)
    states = [state for *_, state in rows]
    assert "RUNNING" not in states
    # the study holds exactly the requested number of evaluated trials: nothing re-run twice
    assert states.count("COMPLETE") + states.count("FAIL") == target
    study = optuna.load_study(study_name="dse", storage=storage)
    for trial in study.get_trials(states=(optuna.trial.TrialState.FAIL,)):
        assert trial.user_attrs["fail_reason"].startswith("interrupted")


def test_existing_study_needs_resume(digits, tmp_path):
    model, inputs = digits
    out = tmp_path / "out"
    first = run_dse(*dse_command(model, inputs, out, "--budget", "luts=50k", "--trials", "3",
                                 "--search-only"))
    assert first.returncode == 0, first.stderr
    again = run_dse(*dse_command(model, inputs, out, "--budget", "luts=50k", "--trials", "3",
                                 "--search-only"))
    assert again.returncode == 2
    assert len(again.stderr.strip().splitlines()) == 1 and "--resume" in again.stderr
