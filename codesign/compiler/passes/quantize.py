"""``quantize``: automatic per-population fixed-point scales, with rescaling where layers meet.

For every target population, with no annotation from the user:

* **weights**: one scale ``s_w`` for all its incoming projections, so their integer sums add up:
  ``s_w = max|W| / (2^(weight_bits-1) - 1)``, round to nearest, saturate;
* **voltage**: ``s_v`` puts the largest of |threshold|, |reset|, |leak equilibrium| at a quarter of
  the ``state_bits`` range (2 bits of headroom for overshoot and negative excursions); non-spiking
  read-outs use a bound of their reachable voltage instead;
* **current**: ``s_i = s_v / max(current_gain)``, so one step of current moves the voltage by up
  to four thresholds before it saturates;
* **rescaling**: the integer input ``x`` (units ``s_w``) enters the current through
  ``input_gain = round(gamma_in * s_w / s_i * 2^F)``, and the current enters the voltage through
  ``current_gain = round(gamma_v * s_i / s_v * 2^F)``; gains that would overflow the coefficient
  width coarsen the finer scale instead of saturating.

The arithmetic that consumes these integers is :mod:`codesign.arithmetic`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sparse

from codesign import arithmetic
from codesign.compiler.layer_ir import (LayerNetwork, Population, QuantizedNetwork,
                                        QuantizedPopulation, QuantizedProjection)
from codesign.errors import CodesignError

WEIGHT_BITS = range(2, 17)
STATE_BITS = range(8, 33)
HEADROOM_BITS = 2
#: A non-spiking integrator is scaled to hold this many steps of full-scale input.
INTEGRATOR_STEPS = 64

F = arithmetic.FRACTION_BITS
GAIN_LIMIT = (1 << (arithmetic.COEFFICIENT_BITS - 1)) - 1


#: Share of a population's non-zero weights that may round to 0 before quantize reports it
#: (a real network at 4 bits loses 20-50 %; 90 % is a layer whose weights span too much).
VANISHED_WEIGHTS = 0.5


def _integer(values, bits: int) -> np.ndarray:
    low, high = arithmetic.signed_limits(bits)
    return np.clip(np.rint(values), low, high).astype(np.int64)


def _clipped(values, bits: int) -> int:
    """How many of ``values`` :func:`_integer` clips at the ``bits``-bit limits."""
    low, high = arithmetic.signed_limits(bits)
    rounded = np.rint(np.asarray(values, dtype=np.float64))
    return int(np.sum((rounded < low) | (rounded > high)))


def _decay(values, population: str, what: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if np.any(values < 0) or np.any(values > 1):
        raise CodesignError(
            f"population '{population}': {what} decay {values.min():.4g} is outside [0, 1], "
            "forward Euler is unstable", "choose a --dt smaller than every time constant")
    return np.rint(values * (1 << F)).astype(np.int64)


@dataclass(frozen=True)
class Quantize:
    """:class:`LayerNetwork` -> :class:`QuantizedNetwork` at ``weight_bits`` and ``state_bits``."""

    weight_bits: int = 8
    state_bits: int = 16
    name: ClassVar[str] = "quantize"

    def __post_init__(self):
        if self.weight_bits not in WEIGHT_BITS:
            raise CodesignError(f"--weight-bits {self.weight_bits} is out of range",
                                "choose 2 to 16 weight bits")
        if self.state_bits not in STATE_BITS:
            raise CodesignError(f"--state-bits {self.state_bits} is out of range",
                                "choose 8 to 32 state bits")

    def apply(self, network: LayerNetwork) -> QuantizedNetwork:
        populations, projections = [], []
        for population in network.populations:
            incoming = network.incoming(population.name)
            largest = max((abs(p.weight).max() for p in incoming if p.weight.nnz), default=0.0)
            weight_scale = largest / ((1 << (self.weight_bits - 1)) - 1) if largest else 1.0
            quantized = [QuantizedProjection(
                p.source, p.target, self._weights(p.weight, weight_scale), p.delay)
                for p in incoming]
            fan_in = sum(abs(q.weight).sum(axis=1).A1 for q in quantized) if quantized else \
                np.zeros(population.size)
            self._check_accumulator(population.name, fan_in)
            quantized_population = self._population(population, weight_scale, fan_in)
            vanished = sum(int(np.sum(np.rint(p.weight.data / weight_scale) == 0))
                           for p in incoming)
            weights = sum(int(np.count_nonzero(p.weight.data)) for p in incoming)
            losses = [quantized_population.precision_loss] if \
                quantized_population.precision_loss else []
            if weights and vanished > VANISHED_WEIGHTS * weights:
                losses.insert(0, f"{vanished} of {weights} weights ({vanished / weights:.0%}) "
                              f"round to 0 at {self.weight_bits} bits (largest |w| "
                              f"{largest:.3g})")
            quantized_population.precision_loss = "; ".join(losses)
            populations.append(quantized_population)
            projections.extend(quantized)
        return QuantizedNetwork(
            input_name=network.input.name, input_shape=network.input.shape,
            populations=populations, projections=projections, output=network.output,
            output_shape=network.output_shape, weight_bits=self.weight_bits,
            state_bits=self.state_bits, dt=network.dt, reset=network.reset)

    def _weights(self, weight: sparse.csr_matrix, scale: float) -> sparse.csr_matrix:
        result = weight.copy().tocsr()
        result.data = _integer(result.data / scale, self.weight_bits).astype(np.float64)
        result.eliminate_zeros()
        return sparse.csr_matrix(result, dtype=np.int64)

    def _check_accumulator(self, name: str, fan_in: np.ndarray) -> None:
        limit = 1 << (arithmetic.accumulator_bits(self.weight_bits) - 1)
        if fan_in.size and fan_in.max() >= limit:
            raise CodesignError(
                f"population '{name}' can receive |x| = {int(fan_in.max())} in one step, beyond "
                f"the {arithmetic.accumulator_bits(self.weight_bits)}-bit accumulator",
                "prune synapses or reduce the fan-in of that layer")

    def _population(self, population: Population, weight_scale: float,
                    fan_in: np.ndarray) -> QuantizedPopulation:
        neuron, name = population.neuron, population.name
        flat = lambda array: np.asarray(array, dtype=np.float64).ravel()
        current_decay, input_gain = flat(neuron.current_decay), flat(neuron.input_gain)
        voltage_decay, current_gain = flat(neuron.voltage_decay), flat(neuron.current_gain)
        leak, threshold, reset = flat(neuron.leak), flat(neuron.threshold), \
            flat(neuron.reset_voltage)
        bias = flat(population.bias)
        spiking = neuron.spiking_output
        state_max = (1 << (self.state_bits - 1)) - 1

        # Largest float current: steady state of I' = a I + g (x + b) with every input active.
        current_bound = np.max(np.abs(input_gain) * (fan_in * weight_scale + np.abs(bias))
                               / np.maximum(1.0 - current_decay, 1e-12))
        equilibrium = np.where(voltage_decay < 1, np.abs(leak) / np.maximum(1 - voltage_decay,
                                                                             1e-12), 0.0)
        if spiking:
            reference = max(np.abs(threshold).max(), np.abs(reset).max(), equilibrium.max())
            voltage_scale = (reference or 1.0) / (1 << (self.state_bits - 1 - HEADROOM_BITS))
        else:
            drive = np.abs(current_gain).max() * current_bound
            settle = np.where(voltage_decay < 1, 1 / np.maximum(1 - voltage_decay, 1e-12),
                              INTEGRATOR_STEPS).max()
            voltage_scale = ((equilibrium.max() + drive * settle) or 1.0) / state_max
        gain_v = np.abs(current_gain).max() or 1.0
        current_scale = voltage_scale / gain_v
        # Keep both rescaling gains inside the coefficient width by coarsening the finer scale.
        largest_input_gain = np.abs(input_gain).max() * weight_scale / current_scale * (1 << F)
        if largest_input_gain > GAIN_LIMIT:
            current_scale *= largest_input_gain / GAIN_LIMIT
        largest_current_gain = gain_v * current_scale / voltage_scale * (1 << F)
        if largest_current_gain > GAIN_LIMIT:
            voltage_scale *= largest_current_gain / GAIN_LIMIT

        wide = self.state_bits + F
        lost = []
        if spiking:
            vanished = int(np.sum((threshold != 0) & (np.rint(threshold / voltage_scale) == 0)))
            if vanished:
                lost.append(f"the threshold rounds to 0 for {vanished} of {population.size} "
                            f"neurons (voltage scale {voltage_scale:.3g}, coarsened to keep the "
                            "gains in range)")
        clipped = sum(_clipped(values, width) for values, width in (
            (input_gain * weight_scale / current_scale * (1 << F), arithmetic.COEFFICIENT_BITS),
            (input_gain * bias / current_scale * (1 << F), wide),
            (leak / voltage_scale * (1 << F), wide),
            (threshold / voltage_scale if spiking else 0, self.state_bits),
            (reset / voltage_scale if spiking else 0, self.state_bits)))
        if clipped:
            lost.append(f"{clipped} neuron parameters saturate at their width")
        parameters = arithmetic.NeuronParameters(
            current_decay=_decay(current_decay, name, "current"),
            input_gain=_integer(input_gain * weight_scale / current_scale * (1 << F),
                                arithmetic.COEFFICIENT_BITS),
            bias=_integer(input_gain * bias / current_scale * (1 << F), wide),
            voltage_decay=_decay(voltage_decay, name, "voltage"),
            current_gain=_integer(current_gain * current_scale / voltage_scale * (1 << F),
                                  arithmetic.COEFFICIENT_BITS),
            leak=_integer(leak / voltage_scale * (1 << F), wide),
            threshold=_integer(threshold / voltage_scale, self.state_bits) if spiking else
            np.full(population.size, state_max, dtype=np.int64),
            reset_voltage=_integer(reset / voltage_scale, self.state_bits) if spiking else
            np.zeros(population.size, dtype=np.int64),
            reset_subtract=np.full(population.size, int(neuron.reset_subtract), dtype=np.int64),
            adaptation_decay=_decay(flat(neuron.adaptation_decay), name, "adaptation"),
            adaptation_step=_integer(flat(neuron.adaptation_step) / voltage_scale,
                                     self.state_bits),
        )
        return QuantizedPopulation(
            name=name, shape=tuple(population.shape), model=neuron.model, parameters=parameters,
            spiking=spiking, voltage_scale=float(voltage_scale),
            current_scale=float(current_scale), input_scale=float(weight_scale),
            precision_loss="; ".join(lost))
