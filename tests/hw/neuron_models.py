"""Random neuron profiles of every model the neuron unit must run, and random neuron batches."""

from __future__ import annotations

import numpy as np

from codesign import arithmetic
from codesign.arithmetic import FRACTION_BITS, NeuronParameters, NeuronState

ONE = 1 << FRACTION_BITS
MODELS = ("LIF", "CubaLIF", "IF", "LI", "Integrator", "AdaptiveLIF")


def profile(model: str, state_bits: int, reset_subtract: int, rng: np.random.Generator) -> dict:
    """Scalar parameters (bias excluded) of ``model`` at ``state_bits``, slightly randomised."""
    low, high = arithmetic.signed_limits(state_bits)
    scale = 1 << (state_bits - 4)
    decay = lambda: int(rng.integers(ONE // 2, ONE + 1))
    gain = lambda: int(rng.integers(-2 * ONE, 4 * ONE))
    values = dict(current_decay=0, input_gain=gain(), voltage_decay=decay(),
                  current_gain=int(rng.integers(ONE // 8, ONE)), leak=int(rng.integers(-scale, scale)) * ONE // 16,
                  threshold=int(rng.integers(scale, 4 * scale)),
                  reset_voltage=int(rng.integers(-scale, scale // 2)),
                  reset_subtract=reset_subtract, adaptation_decay=0, adaptation_step=0)
    if model == "CubaLIF":
        values.update(current_decay=decay())
    elif model == "IF":
        values.update(voltage_decay=ONE, current_gain=ONE, leak=0)
    elif model == "LI":
        values.update(threshold=high, current_decay=decay())
    elif model == "Integrator":
        values.update(voltage_decay=ONE, current_gain=ONE, threshold=high, leak=0)
    elif model == "AdaptiveLIF":
        values.update(adaptation_decay=decay(), adaptation_step=int(rng.integers(1, scale)))
    return values


def neurons(count: int, state_bits: int, accumulator_bits: int, rng: np.random.Generator) -> dict:
    """Random per-neuron values: input, state and bias (int64 arrays)."""
    low, high = arithmetic.signed_limits(state_bits)
    acc_low, acc_high = arithmetic.signed_limits(accumulator_bits)
    bias_low, bias_high = arithmetic.signed_limits(state_bits + FRACTION_BITS)
    # Mix moderate values (that cross the threshold) with extremes (that saturate).
    def mixed(lo, hi, moderate):
        values = rng.integers(-moderate, moderate + 1, count)
        extreme = rng.random(count) < 0.2
        values[extreme] = rng.integers(lo, hi + 1, int(extreme.sum()))
        return values.astype(np.int64)
    quarter = 1 << (state_bits - 2)
    return dict(
        synaptic_input=mixed(acc_low, acc_high, min(acc_high, quarter)),
        voltage=mixed(low, high, quarter), current=mixed(low, high, quarter),
        adaptation=mixed(low, high, quarter // 4),
        bias=mixed(bias_low, bias_high, quarter * ONE // 8))


def reference(profile_values: dict, batch: dict, state_bits: int):
    """Golden model: ``arithmetic.neuron_step`` on int64 numpy arrays with ``np.where``."""
    parameters = NeuronParameters(bias=batch["bias"], **{k: np.int64(v) for k, v in
                                                          profile_values.items()})
    state = NeuronState(voltage=batch["voltage"], current=batch["current"],
                        adaptation=batch["adaptation"])
    new_state, spike = arithmetic.neuron_step(parameters, state, batch["synaptic_input"],
                                              state_bits, np.where)
    return new_state, np.asarray(spike).astype(np.int64)
