"""Two worker processes share one study on a real PostgreSQL server: no lost or duplicate trials.

The test starts its own PostgreSQL (Debian's ``postgresql`` package, installed with apt-get if
missing) on loopback in a temporary directory, as the ``postgres`` user, and stops it after.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import optuna
import pytest

from codesign.dse.search import storage_for

from dse_helpers import dse_command


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "postgresql"]
        if subprocess.run(install, env=environment, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=environment, capture_output=True)
            subprocess.run(install, env=environment, capture_output=True)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL is not installed and apt-get could not install it")
    return Path(found[-1]).parent


def _as_postgres(*command: str) -> list[str]:
    return list(command) if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture
def postgres_url():
    binaries = _postgres_bin()
    if os.geteuid() == 0:
        try:
            import pwd
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("no postgres system user to run the server as")
    root = Path(tempfile.mkdtemp(prefix="codesign-postgres-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run(_as_postgres(str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
                                "--auth=trust", "-E", "UTF8"), check=True, capture_output=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    subprocess.run(_as_postgres(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                                str(root / "server.log"), "-w", "start"), check=True,
                   capture_output=True)
    try:
        subprocess.run(_as_postgres(str(binaries / "createdb"), "-h", "127.0.0.1", "-p",
                                    str(port), "-U", "postgres", "dse"), check=True,
                       capture_output=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/dse"
    finally:
        subprocess.run(_as_postgres(str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast",
                                    "-w", "stop"), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_share_one_study(digits, tmp_path, postgres_url):
    model, inputs = digits
    trials = 30
    processes = [subprocess.Popen(
        dse_command(model, inputs, tmp_path / f"worker{index}", "--budget", "luts=50k",
                    "--storage", postgres_url, "--study", "shared", "--trials", str(trials),
                    "--search-only", "--seed", str(index)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for index in range(2)]
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr
    mine = [int(re.search(r"evaluated by this run: (\d+)", stdout).group(1))
            for stdout, _ in outputs]

    study = optuna.load_study(study_name="shared", storage=storage_for(postgres_url))
    every = study.get_trials(deepcopy=False)
    numbers = [t.number for t in every]
    assert len(numbers) == len(set(numbers)) == len({t._trial_id for t in every})
    evaluated = [t for t in every if t.state in (optuna.trial.TrialState.COMPLETE,
                                                 optuna.trial.TrialState.FAIL)]
    assert not [t for t in every if t.state == optuna.trial.TrialState.RUNNING]
    # each worker stops at the shared target; a race can add at most one trial per extra worker
    assert trials <= len(evaluated) <= trials + 1
    # nothing lost: every trial a worker evaluated is in the study, under its own pid
    workers = {process.pid for process in processes}
    by_worker = [sum(t.user_attrs.get("worker") == pid for t in evaluated)
                 for pid in (process.pid for process in processes)]
    assert by_worker == mine and sum(mine) == len(evaluated)
    assert all(count > 0 for count in mine), "both workers must take part"
    assert {t.user_attrs.get("worker") for t in evaluated} == workers
