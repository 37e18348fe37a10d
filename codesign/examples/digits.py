"""The bundled digits example: a ReLU MLP trained on scikit-learn's ``load_digits``, converted
to an integrate-and-fire SNN and written as NIR with a labelled, rate-coded test set.

Conversion (Diehl et al. 2015, "Fast-classifying, high-accuracy spiking deep networks through
weight and threshold balancing"; Rueckauer et al. 2017, "Conversion of continuous-valued deep
networks to efficient event-driven networks for image classification"):

* the ANN is a bias-free ReLU MLP, so every unit maps onto an IF neuron with threshold 1;
* data-based weight normalisation: each layer's weights are scaled by
  ``lambda_{l-1} / lambda_l``, where ``lambda_l`` is a high percentile (99.9 %, Rueckauer's
  robust choice instead of Diehl's maximum) of layer ``l``'s ReLU activations on the training set
  and ``lambda_0 = 1`` (pixels are scaled to [0, 1]); a firing rate of 1 spike per step then
  stands for the activation ``lambda_l``;
* pixels are rate coded: pixel ``p`` in [0, 1] spikes at each timestep with probability ``p``
  (seeded Bernoulli trains);
* the class is the output neuron with the most spikes.

NIR's IF is continuous time, ``dv/dt = r * x``; codesign discretises it with forward Euler,
``v += dt * r * x``. Discrete-time exporters set ``r = 1 / dt`` so every step integrates its input
once; this file does the same for ``dt = 1e-4`` (codesign's default ``--dt``), i.e. ``r = 1e4``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.errors import CodesignError

#: The ``dt`` the exported IF parameters are written for (codesign's default ``--dt``).
EXPORT_DT = 1e-4
#: Percentile of the training activations used as each layer's scale (Rueckauer et al. 2017).
NORMALISATION_PERCENTILE = 99.9


@dataclass
class DigitsResult:
    """What :func:`make_digits` wrote and measured."""

    nir_path: Path
    test_path: Path
    ann_accuracy: float
    snn_accuracy: float | None  # None when not measured
    test_samples: int
    timesteps: int


def _load_split(seed: int, test_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                           np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float64)   # pixels 0..16 -> [0, 1]
    return train_test_split(images, digits.target, test_size=test_fraction, random_state=seed,
                            stratify=digits.target)


def train_mlp(images: np.ndarray, labels: np.ndarray, hidden: int, seed: int,
              epochs: int = 60, batch_size: int = 32, learning_rate: float = 2e-3
              ) -> list[np.ndarray]:
    """Train a bias-free ReLU MLP ``64 -> hidden -> 10`` with Adam on softmax cross-entropy.

    Returns the weight matrices in NIR's ``[out, in]`` layout.
    """
    rng = np.random.default_rng(seed)
    sizes = [images.shape[1], hidden, int(labels.max()) + 1]
    weights = [rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))
               for fan_in, fan_out in zip(sizes[:-1], sizes[1:])]
    first_moment = [np.zeros_like(w) for w in weights]
    second_moment = [np.zeros_like(w) for w in weights]
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8
    one_hot = np.eye(sizes[-1])[labels]
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(images))
        for start in range(0, len(images), batch_size):
            batch = order[start:start + batch_size]
            hidden_activation = np.maximum(images[batch] @ weights[0].T, 0.0)
            logits = hidden_activation @ weights[1].T
            logits -= logits.max(axis=1, keepdims=True)
            probabilities = np.exp(logits)
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            output_error = (probabilities - one_hot[batch]) / len(batch)
            hidden_error = (output_error @ weights[1]) * (hidden_activation > 0)
            gradients = [hidden_error.T @ images[batch], output_error.T @ hidden_activation]
            step += 1
            for index, gradient in enumerate(gradients):
                first_moment[index] = beta1 * first_moment[index] + (1 - beta1) * gradient
                second_moment[index] = beta2 * second_moment[index] + (1 - beta2) * gradient ** 2
                corrected_first = first_moment[index] / (1 - beta1 ** step)
                corrected_second = second_moment[index] / (1 - beta2 ** step)
                weights[index] -= learning_rate * corrected_first / (np.sqrt(corrected_second)
                                                                     + epsilon)
    return weights


def ann_predict(weights: list[np.ndarray], images: np.ndarray) -> np.ndarray:
    """Class predictions of the bias-free ReLU MLP."""
    activation = images
    for weight in weights[:-1]:
        activation = np.maximum(activation @ weight.T, 0.0)
    return np.argmax(activation @ weights[-1].T, axis=1)


def normalise_weights(weights: list[np.ndarray], images: np.ndarray) -> list[np.ndarray]:
    """Data-based weight normalisation so that every layer's activations fit a rate of <= 1."""
    normalised = []
    previous_scale = 1.0
    activation = images
    for weight in weights:
        activation = np.maximum(activation @ weight.T, 0.0)
        positive = activation[activation > 0]
        scale = float(np.percentile(positive, NORMALISATION_PERCENTILE)) if positive.size else 1.0
        normalised.append(weight * previous_scale / scale)
        previous_scale = scale
    return normalised


def rate_code(images: np.ndarray, timesteps: int, seed: int) -> np.ndarray:
    """Seeded Bernoulli spike trains ``[N, T, pixels]`` (uint8) with rate = pixel intensity."""
    rng = np.random.default_rng(seed)
    draws = rng.random((images.shape[0], timesteps, images.shape[1]))
    return (draws < images[:, None, :]).astype(np.uint8)


def build_graph(weights: list[np.ndarray], dt: float = EXPORT_DT):
    """The NIR graph Input -> (Linear -> IF)* -> Output, IF with ``r = 1/dt``, threshold 1,
    reset to 0."""
    import nir

    nodes = {"input": nir.Input(input_type={"input": np.array([weights[0].shape[1]])})}
    edges = []
    previous = "input"
    for index, weight in enumerate(weights):
        size = weight.shape[0]
        linear, neuron = f"fc{index + 1}", f"if{index + 1}"
        nodes[linear] = nir.Linear(weight=weight.astype(np.float32))
        nodes[neuron] = nir.IF(r=np.full(size, 1.0 / dt, dtype=np.float32),
                               v_threshold=np.ones(size, dtype=np.float32),
                               v_reset=np.zeros(size, dtype=np.float32))
        edges += [(previous, linear), (linear, neuron)]
        previous = neuron
    nodes["output"] = nir.Output(output_type={"output": np.array([weights[-1].shape[0]])})
    edges.append((previous, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def snn_accuracy(nir_path: Path, spikes: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the exported SNN under codesign's float reference (``dt = EXPORT_DT``): the
    class is the output neuron with the most spikes."""
    from codesign.compiler import float_reference, frontend
    from codesign.compiler.passes.discretize import Discretize

    graph = Discretize(EXPORT_DT, "zero").apply(frontend.load(nir_path))
    result = float_reference.simulate(graph, np.moveaxis(spikes, 0, 1))
    counts = result.output.reshape(spikes.shape[1], spikes.shape[0], -1).sum(axis=0)
    return float(np.mean(np.argmax(counts, axis=1) == labels))


def make_digits(output_dir: Path | str, hidden: int = 64, timesteps: int = 32,
                test_samples: int | None = None, seed: int = 0,
                measure_snn: bool = True) -> DigitsResult:
    """Train, convert and write ``digits.nir`` and ``digits_test.npz`` into ``output_dir``."""
    if not 8 <= hidden <= 1024:
        raise CodesignError(f"--hidden {hidden} is out of range", "use 8..1024 hidden neurons")
    if not 1 <= timesteps <= 10000:
        raise CodesignError(f"--timesteps {timesteps} is out of range", "use 1..10000 steps")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    train_images, test_images, train_labels, test_labels = _load_split(seed, test_fraction=0.2)
    if test_samples is not None:
        if test_samples < 1:
            raise CodesignError(f"--test-samples {test_samples} is out of range",
                                "use at least 1")
        test_images, test_labels = test_images[:test_samples], test_labels[:test_samples]

    weights = train_mlp(train_images, train_labels, hidden=hidden, seed=seed)
    ann_accuracy = float(np.mean(ann_predict(weights, test_images) == test_labels))
    weights = normalise_weights(weights, train_images)

    import nir

    nir_path = output_dir / "digits.nir"
    test_path = output_dir / "digits_test.npz"
    nir.write(str(nir_path), build_graph(weights))
    spikes = rate_code(test_images, timesteps, seed=seed + 1)
    np.savez_compressed(test_path, x=spikes, y=test_labels.astype(np.int64))
    accuracy = snn_accuracy(nir_path, spikes, test_labels) if measure_snn else None
    return DigitsResult(nir_path=nir_path, test_path=test_path, ann_accuracy=ann_accuracy,
                        snn_accuracy=accuracy, test_samples=len(test_labels),
                        timesteps=timesteps)
