"""Norse side of the round trip: seeded MLPs of ``LIFBoxCell`` (NIR LIF) and ``LIFCell`` (NIR
CubaLIF), trained briefly on the spike-coded digits, exported with Norse's own ``to_nir`` and
run with Norse's own forward pass (its dt, 1e-3 s) on the test set.

    python norse_models.py DIGITS.npz OUT_DIR

writes ``OUT_DIR/NAME.nir``, ``NAME.input.npz`` and ``NAME.spikes.npz`` per case (common.py).

Norse 1.1.0's ``to_nir(model, sample, dt=...)`` writes every time constant as ``dt / tau_inv``
(its ``dt`` times the real one; fixed on Norse's main branch, not released). The default call
(``dt=1e-3``) is written as ``NAME.nir``; ``NAME_tau_in_seconds.nir`` is the same model written
with ``dt=1``, which gives the time constants in seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nir
import norse
import norse.torch as snn
import torch

from common import SpikeRecorder, export_models, save_case, train_on_spike_counts

HIDDEN = 48
CLASSES = 10
EPOCHS = 6
#: Norse's own default Euler step, which its cells use here.
NORSE_DT = 1e-3


def vector(value: float, size: int) -> torch.Tensor:
    # NIR needs per-neuron parameters: nir.write cannot store Norse's scalar tensors.
    return torch.full((size,), value)


def lif_box(size: int) -> snn.LIFBoxCell:
    return snn.LIFBoxCell(snn.LIFBoxParameters(
        tau_mem_inv=vector(100.0, size), v_leak=vector(0.0, size), v_th=vector(1.0, size),
        v_reset=vector(0.0, size)), dt=NORSE_DT)


def lif(size: int) -> snn.LIFCell:
    return snn.LIFCell(snn.LIFParameters(
        tau_syn_inv=vector(200.0, size), tau_mem_inv=vector(100.0, size),
        v_leak=vector(0.0, size), v_th=vector(1.0, size), v_reset=vector(0.0, size)),
        dt=NORSE_DT)


def mlp(cell) -> snn.SequentialState:
    return snn.SequentialState(torch.nn.Linear(64, HIDDEN), cell(HIDDEN),
                               torch.nn.Linear(HIDDEN, CLASSES), cell(CLASSES))


MODELS = {"lif_box": lambda: mlp(lif_box), "lif": lambda: mlp(lif)}


def neurons(model: snn.SequentialState) -> dict[str, torch.nn.Module]:
    return {str(index): module for index, module in enumerate(model)
            if isinstance(module, (snn.LIFBoxCell, snn.LIFCell))}


def run(model: snn.SequentialState, spikes: torch.Tensor) -> torch.Tensor:
    """Output spikes ``[N, T, CLASSES]`` from a fresh state over ``spikes`` ``[N, T, 64]``."""
    state, outputs = None, []
    for t in range(spikes.shape[1]):
        output, state = model(spikes[:, t], state)
        outputs.append(output)
    return torch.stack(outputs, dim=1)


def train(model: snn.SequentialState, x: torch.Tensor, y: torch.Tensor) -> None:
    """A few epochs of BPTT (Norse's SuperSpike surrogate) on spike-count cross-entropy."""
    with torch.no_grad():   # Norse integrates dt / tau of its input per step: start louder
        for layer in (model[0], model[2]):
            layer.weight.mul_(10.0)
    train_on_spike_counts(model, run, x, y, EPOCHS, lr=2e-2)


def export(name: str, model: snn.SequentialState, data: dict, directory: Path) -> None:
    test_x = torch.tensor(data["test_x"], dtype=torch.float32)
    train(model, torch.tensor(data["train_x"], dtype=torch.float32),
          torch.tensor(data["train_y"], dtype=torch.long))
    with torch.no_grad():
        sample = test_x[0, 0]   # one step of one sample: nirtorch keeps no batch axis then
        nir.write(str(directory / f"{name}.nir"), snn.to_nir(model, sample))
        nir.write(str(directory / f"{name}_tau_in_seconds.nir"),
                  snn.to_nir(model, sample, dt=1.0))
        recorder = SpikeRecorder(neurons(model))
        run(model, test_x)
    save_case(directory, name, data["test_x"], data["test_y"], recorder.trains())


def main(digits: str, out_dir: str) -> None:
    export_models(MODELS, export, digits, out_dir, f"norse {norse.__version__}")


if __name__ == "__main__":
    main(*sys.argv[1:])
