"""Fidelity of the fixed-point model against the float reference (DESIGN contract 3)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codesign.compiler.layer_ir import QuantizedNetwork
from codesign.errors import warn


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two rate vectors; 1.0 when both are silent."""
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    if norm == 0:
        return 1.0 if not a.any() and not b.any() else 0.0
    return float(a @ b / norm)


def predictions(output: np.ndarray) -> np.ndarray:
    """Class per sample from ``[T, B, classes]`` outputs: the largest summed output."""
    return np.asarray(output).reshape(*np.shape(output)[:2], -1).sum(axis=0).argmax(axis=-1)


@dataclass
class LayerFidelity:
    name: str
    spike_agreement: float
    rate_cosine: float
    float_rate: float
    fixed_rate: float


@dataclass
class FidelityReport:
    """Per-layer spike agreement and rate cosine, plus class agreement and accuracy."""

    layers: list[LayerFidelity] = field(default_factory=list)
    output_rate_cosine: float = 1.0
    prediction_agreement: float = 1.0
    float_accuracy: float | None = None
    fixed_accuracy: float | None = None

    def summary(self) -> str:
        lines = ["fidelity of fixed point against float:",
                 f"  {'layer':<20} {'spike agreement':>16} {'rate cosine':>12} "
                 f"{'float rate':>11} {'fixed rate':>11}"]
        for layer in self.layers:
            lines.append(f"  {layer.name:<20} {layer.spike_agreement:>16.4f} "
                         f"{layer.rate_cosine:>12.4f} {layer.float_rate:>11.4f} "
                         f"{layer.fixed_rate:>11.4f}")
        lines.append(f"  output rate cosine {self.output_rate_cosine:.4f}, "
                     f"same prediction on {self.prediction_agreement:.1%} of samples")
        if self.fixed_accuracy is not None:
            lines.append(f"  accuracy: float {self.float_accuracy:.2%}, "
                         f"fixed {self.fixed_accuracy:.2%}")
        return "\n".join(lines)


def compare(float_records: dict, fixed_records: dict, float_output: np.ndarray,
            fixed_output: np.ndarray, labels: np.ndarray | None = None) -> FidelityReport:
    """Compare recorded spikes layer by layer (``[T, B, ...]`` arrays keyed by layer name)."""
    report = FidelityReport()
    for name, fixed in fixed_records.items():
        reference = float_records[name]["spikes"]
        spikes = fixed["spikes"]
        report.layers.append(LayerFidelity(
            name=name, spike_agreement=float(np.mean(reference == spikes)),
            rate_cosine=cosine(reference.mean(axis=0), spikes.mean(axis=0)),
            float_rate=float(reference.mean()), fixed_rate=float(spikes.mean())))
    report.output_rate_cosine = cosine(np.mean(float_output, axis=0),
                                       np.mean(fixed_output, axis=0))
    float_classes, fixed_classes = predictions(float_output), predictions(fixed_output)
    report.prediction_agreement = float(np.mean(float_classes == fixed_classes))
    if labels is not None:
        report.float_accuracy = float(np.mean(float_classes == labels))
        report.fixed_accuracy = float(np.mean(fixed_classes == labels))
    return report


def warn_precision_loss(network: QuantizedNetwork, report: FidelityReport | None = None) -> None:
    """Warn about every population whose quantisation lost more than rounding, with the
    fidelity it costs when ``report`` measured it."""
    layers = {layer.name: layer for layer in report.layers} if report else {}
    for population in network.populations:
        if not population.precision_loss:
            continue
        layer = layers.get(population.name)
        cost = (f"spike agreement with float {layer.spike_agreement:.4f}, rate cosine "
                f"{layer.rate_cosine:.4f}" if layer else "")
        warn(f"quantising population '{population.name}' to {network.weight_bits}-bit weights "
             f"and {network.state_bits}-bit state: {population.precision_loss}"
             + (f" ({cost})" if cost else ""),
             "rescale the layer's weights and threshold together, or use more bits"
             + ("" if layer else "; `codesign simulate --mode golden` measures the fidelity "
                                 "it costs"))
