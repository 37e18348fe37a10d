"""snnTorch side of the round trip: build each model with seeded weights, train it briefly on
the spike-coded digits, export it with snnTorch's own ``export_to_nir`` and run snnTorch's own
forward pass on the test set.

    python snntorch_models.py DIGITS.npz OUT_DIR

writes ``OUT_DIR/NAME.nir``, ``NAME.input.npz`` and ``NAME.spikes.npz`` per model (common.py).

Every neuron resets to zero right after its spike (``reset_mechanism="zero"``,
``reset_delay=False``): that is what the exported NIR node says (``v_reset = 0``). snnTorch's
defaults (subtract the threshold, one step late) are not expressible in NIR; docs/compiler.md
gives the difference. snnTorch's exporter needs every parameter as a per-neuron vector.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir

from common import SpikeRecorder, export_models, save_case, train_on_spike_counts

HIDDEN = 48
CLASSES = 10
EPOCHS = 6
RESET = dict(reset_mechanism="zero", reset_delay=False, init_hidden=True)


def ones(*shape: int) -> torch.Tensor:
    return torch.ones(*shape)


def leaky(shape, beta=0.9, threshold=1.0, output=False) -> snn.Leaky:
    shape = (shape,) if isinstance(shape, int) else shape
    return snn.Leaky(beta=beta * ones(*shape) if np.isscalar(beta) else beta,
                     threshold=threshold * ones(*shape) if np.isscalar(threshold) else threshold,
                     output=output, **RESET)


def leaky_mlp() -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), leaky(HIDDEN),
                               torch.nn.Linear(HIDDEN, CLASSES), leaky(CLASSES, output=True))


def per_neuron_beta() -> torch.nn.Sequential:
    beta = torch.empty(HIDDEN).uniform_(0.5, 0.95)
    threshold = torch.empty(HIDDEN).uniform_(0.7, 1.3)
    return torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), leaky(HIDDEN, beta, threshold),
                               torch.nn.Linear(HIDDEN, CLASSES),
                               leaky(CLASSES, torch.empty(CLASSES).uniform_(0.6, 0.95),
                                     output=True))


def rleaky() -> torch.nn.Sequential:
    recurrent = snn.RLeaky(beta=0.9 * ones(HIDDEN), threshold=ones(HIDDEN),
                           linear_features=HIDDEN, all_to_all=True, **RESET)
    assert recurrent.recurrent.bias is not None   # the all-to-all Linear carries a bias
    return torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), recurrent,
                               torch.nn.Linear(HIDDEN, CLASSES), leaky(CLASSES, output=True))


def synaptic() -> torch.nn.Sequential:
    def cuba(size: int, output: bool = False) -> snn.Synaptic:
        return snn.Synaptic(alpha=0.8 * ones(size), beta=0.9 * ones(size),
                            threshold=ones(size), output=output, **RESET)
    return torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), cuba(HIDDEN),
                               torch.nn.Linear(HIDDEN, CLASSES), cuba(CLASSES, output=True))


def conv_pool() -> torch.nn.Sequential:
    channels = 8
    return torch.nn.Sequential(torch.nn.Conv2d(1, channels, 3, padding=1),
                               torch.nn.AvgPool2d(2), leaky((channels, 4, 4)),
                               torch.nn.Flatten(), torch.nn.Linear(channels * 16, CLASSES),
                               leaky(CLASSES, output=True))


MODELS = {"leaky_mlp": leaky_mlp, "per_neuron_beta": per_neuron_beta, "rleaky": rleaky,
          "synaptic": synaptic, "conv_pool": conv_pool}
IMAGE_INPUT = {"conv_pool"}


def neurons(model: torch.nn.Sequential) -> dict[str, torch.nn.Module]:
    """snnTorch neurons by the module index that nirtorch uses as the node name."""
    return {str(index): module for index, module in enumerate(model)
            if isinstance(module, snn.SpikingNeuron)}


def reset(model: torch.nn.Sequential) -> None:
    for module in neurons(model).values():
        module.reset_mem()


def run(model: torch.nn.Sequential, spikes: torch.Tensor) -> torch.Tensor:
    """Output spikes ``[N, T, CLASSES]`` of a fresh run over ``spikes`` ``[N, T, ...]``."""
    reset(model)
    steps = [model(spikes[:, t]) for t in range(spikes.shape[1])]
    return torch.stack([s[0] if isinstance(s, tuple) else s for s in steps], dim=1)


def train(model: torch.nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> None:
    """A few epochs of BPTT (snnTorch's surrogate gradient) on spike-count cross-entropy."""
    train_on_spike_counts(model, run, x, y, EPOCHS, lr=5e-3)


def export(name: str, model: torch.nn.Sequential, data: dict, directory: Path) -> None:
    shape = lambda x: x.reshape(*x.shape[:2], 1, 8, 8) if name in IMAGE_INPUT else x
    train_x = shape(torch.tensor(data["train_x"], dtype=torch.float32))
    test_x = shape(torch.tensor(data["test_x"], dtype=torch.float32))
    train(model, train_x, torch.tensor(data["train_y"], dtype=torch.long))
    with torch.no_grad():
        graph = export_to_nir(model, test_x[:1, 0], ignore_dims=[0])
        nir.write(str(directory / f"{name}.nir"), graph)
        by_module = neurons(model)
        nodes = {node: by_module[node.split(".")[0]] for node, kind in graph.nodes.items()
                 if isinstance(kind, (nir.LIF, nir.CubaLIF))}
        recorder = SpikeRecorder(nodes)
        run(model, test_x)
    save_case(directory, name, shape(data["test_x"]), data["test_y"], recorder.trains())


def main(digits: str, out_dir: str) -> None:
    export_models(MODELS, export, digits, out_dir, f"snntorch {snn.__version__}")


if __name__ == "__main__":
    main(*sys.argv[1:])
