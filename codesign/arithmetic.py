"""The one definition of codesign's fixed-point arithmetic (DESIGN contract 1).

Every function here is written only with operators that numpy integer arrays and Amaranth values
both understand (``+ - * >> << & ^ | < >``) plus a ``select(condition, if_true, if_false)``
argument (``numpy.where`` or ``amaranth.hdl.Mux``). The same code therefore

* runs vectorised over neurons and batch samples in the golden model (numpy ``int64``),
* builds the datapath of the neuron-update unit and the crossbar tile (Amaranth),
* is traced into C expressions by the C back end.

Nothing else in the project may restate these formulas.

Neuron update, per timestep, for every neuron (all quantities are integers)::

    current'  = sat_S((current_decay * current + input_gain * x + bias + 2^(F-1)) >> F)
    voltage'  = sat_S((voltage_decay * voltage + current_gain * current' + leak + 2^(F-1)) >> F)
    spike     = voltage' > threshold + adaptation                 (strict, DESIGN contract 2)
    voltage'' = spike ? (reset_subtract ? sat_S(voltage' - threshold - adaptation) : reset_voltage)
                      : voltage'
    adaptation' = sat_S(((adaptation_decay * adaptation + 2^(F-1)) >> F) + (spike ? adaptation_step : 0))

``x`` is the integer sum of the weights of every spike that reached the neuron this timestep. It
never saturates: the compiler proves ``|x| < 2^(accumulator_bits - 1)`` before it emits a program.
``>>`` is an arithmetic (floor) shift, so ``+ 2^(F-1)`` makes the shift round half up.

One generic update covers every model by its parameters:

=================  ============================================================================
LIF                current_decay = 0 (the current stage only rescales x)
CubaLIF            all stages
IF / Threshold     voltage_decay = 2^F (no leak) / voltage_decay = 0 (no memory)
LI, CubaLI, I      threshold = the largest state value, so they never spike
adaptive LIF       adaptation_decay, adaptation_step non-zero (outside NIR)
=================  ============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable

#: Fractional bits of every decay and gain coefficient (Q-format ``Q.F``).
FRACTION_BITS = 16
#: Decays are unsigned ``Q1.16``: 0 .. 2^16 inclusive stands for 0.0 .. 1.0.
DECAY_BITS = FRACTION_BITS + 1
#: Gains are signed ``Q9.16``: magnitudes below 2^9.
COEFFICIENT_BITS = FRACTION_BITS + 10
#: Accumulator headroom above the weight width: 2^14 full-scale weights per neuron per step.
ACCUMULATOR_HEADROOM_BITS = 14

Select = Callable[[Any, Any, Any], Any]


def signed_limits(bits: int) -> tuple[int, int]:
    """The smallest and largest value of a two's-complement integer of ``bits`` bits."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def accumulator_bits(weight_bits: int) -> int:
    """Width of the per-neuron input accumulator for ``weight_bits``-bit weights."""
    return weight_bits + ACCUMULATOR_HEADROOM_BITS


def saturate(value, bits: int, select: Select):
    """Clamp ``value`` to a signed ``bits``-bit integer."""
    low, high = signed_limits(bits)
    return select(value > high, high, select(value < low, low, value))


def round_shift(value, shift: int = FRACTION_BITS):
    """``value / 2^shift`` rounded half up, with an arithmetic shift."""
    return (value + (1 << (shift - 1))) >> shift


@dataclass
class NeuronParameters:
    """Integer parameters of the generic neuron update; numpy arrays or Amaranth values.

    Widths (see :func:`parameter_widths`): decays unsigned ``DECAY_BITS``; gains signed
    ``COEFFICIENT_BITS``; ``bias`` and ``leak`` signed ``state_bits + FRACTION_BITS`` (they are
    added before the shift); threshold, reset voltage and adaptation step signed ``state_bits``.
    """

    current_decay: Any
    input_gain: Any
    bias: Any
    voltage_decay: Any
    current_gain: Any
    leak: Any
    threshold: Any
    reset_voltage: Any
    reset_subtract: Any
    adaptation_decay: Any
    adaptation_step: Any


@dataclass
class NeuronState:
    """Signed ``state_bits`` state of one neuron (or arrays of them)."""

    voltage: Any
    current: Any
    adaptation: Any


def parameter_widths(state_bits: int) -> dict[str, tuple[int, bool]]:
    """``name -> (bits, signed)`` for every :class:`NeuronParameters` field."""
    wide = state_bits + FRACTION_BITS
    widths = {
        "current_decay": (DECAY_BITS, False),
        "input_gain": (COEFFICIENT_BITS, True),
        "bias": (wide, True),
        "voltage_decay": (DECAY_BITS, False),
        "current_gain": (COEFFICIENT_BITS, True),
        "leak": (wide, True),
        "threshold": (state_bits, True),
        "reset_voltage": (state_bits, True),
        "reset_subtract": (1, False),
        "adaptation_decay": (DECAY_BITS, False),
        "adaptation_step": (state_bits, True),
    }
    assert list(widths) == [f.name for f in fields(NeuronParameters)]
    return widths


def update_current(parameters: NeuronParameters, current, synaptic_input, state_bits: int,
                   select: Select):
    """Stage 1: synaptic current from the decayed current and this step's input."""
    total = (parameters.current_decay * current + parameters.input_gain * synaptic_input
             + parameters.bias)
    return saturate(round_shift(total), state_bits, select)


def update_voltage(parameters: NeuronParameters, voltage, new_current, state_bits: int,
                   select: Select):
    """Stage 2: membrane voltage from the decayed voltage, the new current and the leak."""
    total = (parameters.voltage_decay * voltage + parameters.current_gain * new_current
             + parameters.leak)
    return saturate(round_shift(total), state_bits, select)


def fire_and_reset(parameters: NeuronParameters, voltage, adaptation, state_bits: int,
                   select: Select):
    """Stage 3: strict threshold test, then reset to ``reset_voltage`` or by subtraction.

    Returns ``(voltage_after_reset, spike)``.
    """
    threshold = parameters.threshold + adaptation
    spike = voltage > threshold
    subtracted = saturate(voltage - threshold, state_bits, select)
    after_reset = select(parameters.reset_subtract, subtracted, parameters.reset_voltage)
    return select(spike, after_reset, voltage), spike


def update_adaptation(parameters: NeuronParameters, adaptation, spike, state_bits: int,
                      select: Select):
    """Stage 4: the adaptive threshold decays and jumps by ``adaptation_step`` on a spike."""
    decayed = round_shift(parameters.adaptation_decay * adaptation)
    return saturate(decayed + select(spike, parameters.adaptation_step, 0), state_bits, select)


def neuron_step(parameters: NeuronParameters, state: NeuronState, synaptic_input, state_bits: int,
                select: Select) -> tuple[NeuronState, Any]:
    """One timestep of the generic neuron. Returns ``(new_state, spike)``."""
    current = update_current(parameters, state.current, synaptic_input, state_bits, select)
    voltage = update_voltage(parameters, state.voltage, current, state_bits, select)
    voltage, spike = fire_and_reset(parameters, voltage, state.adaptation, state_bits, select)
    adaptation = update_adaptation(parameters, state.adaptation, spike, state_bits, select)
    return NeuronState(voltage=voltage, current=current, adaptation=adaptation), spike
