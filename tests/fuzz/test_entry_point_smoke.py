"""The real entry points (the installed ``codesign`` script and ``python -m codesign``) print a
rejection as one stderr line with exit status 2, and a warning as one line with exit 0: the
in-process fuzz test calls ``main(argv)``, this proves the process around it behaves the same."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nir
import numpy as np
import pytest

from fuzz_inputs import DT, chain_graph, spikes

SCRIPT = Path(sys.executable).with_name("codesign")


def _entry_points() -> list[list[str]]:
    points = [[sys.executable, "-m", "codesign"]]
    installed = SCRIPT if SCRIPT.exists() else shutil.which("codesign")
    if installed:
        points.append([str(installed)])
    return points


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("smoke")
    nir.write(folder / "model.nir", chain_graph())
    np.save(folder / "in.npy", spikes((4,)))
    data = (folder / "model.nir").read_bytes()
    (folder / "cut.nir").write_bytes(data[: len(data) // 3])
    (folder / "junk.npy").write_bytes(b"junk")
    (folder / "hw.yaml").write_text("cores: [1, 2\n")
    np.save(folder / "silence.npy", np.zeros((6, 4)))
    return folder


CASES = {
    "budget typo": ["dse", "{d}/model.nir", "--budget", "luts=50kk", "--dry-run", "-o",
                    "{d}/dse"],
    "truncated nir": ["info", "{d}/cut.nir"],
    "junk input": ["simulate", "{d}/model.nir", "--input", "{d}/junk.npy", "-o", "{d}/o.npz"],
    "invalid yaml": ["compile", "{d}/model.nir", "--hw", "{d}/hw.yaml", "-o", "{d}/out"],
}


@pytest.mark.parametrize("entry", _entry_points(), ids=lambda e: Path(e[-1]).name)
@pytest.mark.parametrize("case", sorted(CASES))
def test_rejection_is_one_line_and_exit_2(files, entry, case):
    argv = [part.format(d=files) for part in CASES[case]]
    result = subprocess.run(entry + argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("codesign: error: "), result.stderr
    assert "Traceback" not in result.stderr and not result.stdout.strip()


def test_warning_is_one_line_and_exit_0(files):
    argv = ["simulate", f"{files}/model.nir", "--input", f"{files}/silence.npy", "--dt",
            str(DT), "-o", f"{files}/o.npz"]
    result = subprocess.run(_entry_points()[-1] + argv, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines()
        if line.startswith("codesign: warning: ")] and "never spike" in result.stderr
    strict = subprocess.run(_entry_points()[-1] + argv + ["--strict"], capture_output=True,
                            text=True, timeout=120)
    assert strict.returncode == 2 and len(strict.stderr.strip().splitlines()) == 1
