"""Sinabs side of the round trip, made as the NIR paper's SCNN was: a bias-free ReLU CNN with
sum pooling, trained on the digits images, converted with ``sinabs.from_model`` to ``IAFSqueeze``
layers (weights normalised with Sinabs' ``normalize_weights`` first), exported with Sinabs'
own ``to_nir`` (+ ``infer_types``, as the paper's script does) and
run with Sinabs' own forward pass on the spike-coded test set.

    python sinabs_models.py DIGITS.npz OUT_DIR

writes ``OUT_DIR/NAME.nir``, ``NAME.input.npz`` and ``NAME.spikes.npz`` per case (common.py):

* ``scnn_paper``: the paper's conversion settings (``spike_threshold=1``, ``min_v_mem=-1``,
  Sinabs' default ``MultiSpike`` and ``MembraneSubtract``);
* ``scnn_single_spike``: the same network with ``SingleSpike`` and no lower bound on the
  membrane, the features NIR's ``IF`` can express.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nir
import sinabs
import sinabs.layers as sl
import torch
from sinabs.activation import SingleSpike
from sinabs.utils import normalize_weights

from common import SpikeRecorder, load_digits, save_case, seed_everything

IMAGE = (1, 8, 8)
EPOCHS = 30


def ann() -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1, bias=False), torch.nn.ReLU(), sl.SumPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1, bias=False), torch.nn.ReLU(), sl.SumPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 2 * 2, 10, bias=False), torch.nn.ReLU())


def train_ann(model: torch.nn.Sequential, images: torch.Tensor, labels: torch.Tensor) -> None:
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    order = torch.Generator().manual_seed(1)
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(images), generator=order).split(128):
            loss = torch.nn.functional.cross_entropy(model(images[batch]), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()


CONVERSIONS = {"scnn_paper": dict(spike_threshold=1.0, min_v_mem=-1.0),
               "scnn_single_spike": dict(spike_threshold=1.0, min_v_mem=None,
                                         spike_fn=SingleSpike)}


def main(digits: str, out_dir: str) -> None:
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    data = load_digits(digits)
    seed_everything(0)
    network = ann()
    # the ANN learns from the images the spike trains code (rate = pixel): their mean over time
    images = torch.tensor(data["train_x"].mean(axis=1), dtype=torch.float32).reshape(-1, *IMAGE)
    train_ann(network, images, torch.tensor(data["train_y"], dtype=torch.long))
    with torch.no_grad():   # Rueckauer et al.'s data-based weight normalisation, Sinabs' own
        normalize_weights(network, images, output_layers=["1", "4", "8"],
                          param_layers=["0", "3", "7"], percentile=99.9)
    samples, steps = data["test_x"].shape[:2]
    test_x = data["test_x"].reshape(samples, steps, *IMAGE)
    for name, conversion in CONVERSIONS.items():
        snn = sinabs.from_model(network, input_shape=IMAGE, batch_size=1,
                                **conversion).spiking_model
        with torch.no_grad():
            graph = sinabs.to_nir(snn, torch.rand((1, *IMAGE)))
            graph.infer_types()
            nir.write(str(directory / f"{name}.nir"), graph)
            sinabs.set_batch_size(snn, samples)
            layers = {str(index): module for index, module in enumerate(snn)
                      if isinstance(module, sl.IAFSqueeze)}
            for layer in layers.values():
                layer.reset_states()
            recorder = SpikeRecorder(layers)
            # IAFSqueeze takes [N*T, ...] with the time steps of a sample next to each other
            snn(torch.tensor(test_x, dtype=torch.float32).reshape(samples * steps, *IMAGE))
        trains = {node: train[:, 0].reshape(samples, steps, *train.shape[2:])
                  for node, train in recorder.trains().items()}
        save_case(directory, name, test_x, data["test_y"], trains)
        print(f"sinabs {sinabs.__version__}: {name} exported", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
