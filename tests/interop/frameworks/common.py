"""What the framework scripts share. They run in a framework's own virtual environment (torch,
numpy and the framework; never codesign), so this module imports nothing else."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch


def load_digits(path: str) -> dict[str, np.ndarray]:
    """The spike-coded digits written by the test: ``train_x``/``test_x`` ``[N, T, 64]`` uint8
    and ``train_y``/``test_y`` ``[N]``."""
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


class SpikeRecorder:
    """Collects the output of named modules at every call (forward hooks), so a step loop over
    a whole batch yields ``[N, T, *shape]`` spike trains per module."""

    def __init__(self, modules: dict[str, torch.nn.Module]):
        self.steps: dict[str, list[np.ndarray]] = {name: [] for name in modules}
        self._handles = [module.register_forward_hook(self._hook(name))
                         for name, module in modules.items()]

    def _hook(self, name: str):
        def hook(module, inputs, output):
            spikes = output[0] if isinstance(output, tuple) else output
            self.steps[name].append(spikes.detach().numpy().copy())
        return hook

    def trains(self) -> dict[str, np.ndarray]:
        for handle in self._handles:
            handle.remove()
        return {name: np.stack(steps, axis=1) for name, steps in self.steps.items()}


def save_case(directory: Path, name: str, inputs: np.ndarray, labels: np.ndarray,
              spikes: dict[str, np.ndarray]) -> None:
    """``NAME.input.npz`` (``x`` ``[N, T, *input_shape]``, ``y``) for ``codesign simulate`` and
    ``NAME.spikes.npz`` (the framework's spike counts per step and NIR neuron node)."""
    for node, train in spikes.items():
        if not (np.all(train >= 0) and np.all(train == np.round(train)) and train.max() < 256):
            raise ValueError(f"{name}: {node} emitted values that are not spike counts")
    np.savez(directory / f"{name}.input.npz", x=inputs, y=labels)
    np.savez(directory / f"{name}.spikes.npz",
             **{node: train.astype(np.uint8) for node, train in spikes.items()})


def export_models(models: Mapping[str, Callable[[], torch.nn.Module]],
                  export: Callable[[str, torch.nn.Module, dict, Path], None], digits: str,
                  out_dir: str, framework: str) -> None:
    """Build every model of ``models`` (seeded by its position) and ``export`` it with the
    digits data into ``out_dir``; one progress line each."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    data = load_digits(digits)
    for seed, (name, build) in enumerate(models.items()):
        seed_everything(seed)
        export(name, build(), data, directory)
        print(f"{framework}: {name} exported", flush=True)


def train_on_spike_counts(model: torch.nn.Module,
                          run: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor],
                          x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float) -> None:
    """``epochs`` of BPTT through the framework's surrogate gradient (``run``: spikes
    ``[N, T, outputs]``) on spike-count cross-entropy, Adam, batches of 128 in a seeded order."""
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(1)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=order).split(128):
            loss = torch.nn.functional.cross_entropy(run(model, x[batch]).sum(dim=1), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
