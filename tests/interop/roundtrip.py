"""The main-venv half of the framework round trips (docs/interop.md): the spike-coded digits the
framework scripts learn from, running a script in its framework's venv, ``codesign simulate``
through the real command line, and comparing spike trains layer by layer."""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import subprocess
import sys

import nir
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
FRAMEWORKS = Path(__file__).resolve().parent / "frameworks"
#: Set by ``make test``: a missing framework venv fails instead of skipping.
REQUIRED = "CODESIGN_INTEROP_REQUIRED"
#: A compared layer must spike at least this often per neuron and step, so an identical
#: comparison is not two silent networks agreeing.
MIN_RATE = 0.01
TIMESTEPS = 20


def framework_python(env: str) -> Path:
    """The interpreter of ``.venv-ENV`` (made by ``make interop``), or skip/fail saying so."""
    stamp = REPO / f".venv-{env}" / ".installed"
    if not stamp.is_file():
        reason = (f"framework venv .venv-{env} not built: run `make interop` "
                  f"(`make test` builds it and runs these tests)")
        if os.environ.get(REQUIRED):
            pytest.fail(f"{reason}; {REQUIRED} is set, so the round trips must run")
        pytest.skip(reason)
    return REPO / f".venv-{env}" / "bin" / "python"


def write_digits(path: Path) -> Path:
    """scikit-learn's digits, 80/20 split, rate coded over ``TIMESTEPS`` steps (seeded)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from codesign.examples.digits import rate_code

    digits = load_digits()
    train_x, test_x, train_y, test_y = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.2, random_state=0, stratify=digits.target)
    np.savez(path, train_x=rate_code(train_x, TIMESTEPS, seed=1), train_y=train_y,
             test_x=rate_code(test_x, TIMESTEPS, seed=2), test_y=test_y)
    return path


def export(env: str, script: str, digits: Path, directory: Path) -> Path:
    """Run ``frameworks/SCRIPT DIGITS DIRECTORY`` in the framework's venv; returns DIRECTORY."""
    python = framework_python(env)
    result = subprocess.run([str(python), str(FRAMEWORKS / script), str(digits), str(directory)],
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.fail(f"{script} failed in .venv-{env}:\n{result.stderr[-3000:]}")
    return directory


def simulate(model: Path, inputs: Path, output: Path, *options: str) -> dict[str, np.ndarray]:
    """``codesign simulate MODEL --input INPUTS --record -o OUTPUT OPTIONS`` (the real CLI)."""
    command = [sys.executable, "-m", "codesign", "simulate", str(model), "--input", str(inputs),
               "--record", "-o", str(output), *options]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command[2:])}:\n{result.stdout}{result.stderr}"
    with np.load(output) as arrays:
        return {key: arrays[key] for key in arrays.files}


@dataclass
class Case:
    """One exported model: its NIR file, the inputs and the framework's spikes per node."""

    directory: Path
    name: str

    @property
    def nir_path(self) -> Path:
        return self.directory / f"{self.name}.nir"

    @property
    def input_path(self) -> Path:
        return self.directory / f"{self.name}.input.npz"

    def framework_spikes(self) -> dict[str, np.ndarray]:
        with np.load(self.directory / f"{self.name}.spikes.npz") as arrays:
            return {key: arrays[key] for key in arrays.files}

    def output_node(self) -> str:
        """The neuron node that feeds the graph's Output."""
        graph = nir.read(str(self.nir_path))
        output = next(name for name, node in graph.nodes.items() if isinstance(node, nir.Output))
        return next(source for source, target in graph.edges if target == output)

    def labels(self) -> np.ndarray:
        with np.load(self.input_path) as arrays:
            return arrays["y"]

    def simulate(self, *options: str, tag: str = "float", nir_path: Path | None = None
                 ) -> dict[str, np.ndarray]:
        return simulate(nir_path or self.nir_path, self.input_path,
                        self.directory / f"{self.name}.{tag}.npz", *options)


@dataclass
class LayerDifference:
    """Where codesign's spikes of one node differ from the framework's."""

    layer: str
    framework: np.ndarray   # [N, T, ...] spike counts
    codesign: np.ndarray    # same shape, 0/1

    @property
    def differing(self) -> int:
        return int(np.count_nonzero(self.framework != self.codesign))

    @property
    def fraction(self) -> float:
        return self.differing / self.framework.size

    @property
    def samples_differing(self) -> int:
        per_sample = (self.framework != self.codesign).reshape(len(self.framework), -1)
        return int(per_sample.any(axis=1).sum())

    def describe(self) -> str:
        return (f"layer {self.layer}: {self.differing} of {self.framework.size} spike values "
                f"differ ({self.fraction:.2e}) in {self.samples_differing} of "
                f"{len(self.framework)} samples; rates framework {self.framework.mean():.4f}, "
                f"codesign {self.codesign.mean():.4f}")


def compare(case: Case, result: dict[str, np.ndarray]) -> list[LayerDifference]:
    """Every neuron node the framework recorded, against codesign's ``--record`` spikes."""
    layers = []
    for layer, theirs in case.framework_spikes().items():
        ours = result[f"{layer}.spikes"]
        assert ours.shape == theirs.shape, f"layer {layer}: {ours.shape} vs {theirs.shape}"
        layers.append(LayerDifference(layer, theirs.astype(np.int64), ours.astype(np.int64)))
    return layers


def assert_active(layers: list[LayerDifference]) -> None:
    for layer in layers:
        assert layer.framework.mean() >= MIN_RATE, \
            f"layer {layer.layer} is nearly silent ({layer.framework.mean():.4f}): the " \
            f"comparison would prove nothing"


def predictions(spikes: np.ndarray) -> np.ndarray:
    """Class per sample of ``[N, T, classes]`` output spikes: the most spikes (first on ties)."""
    return spikes.reshape(*spikes.shape[:2], -1).sum(axis=1).argmax(axis=-1)
