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

import math
import sys
from dataclasses import dataclass, fields
from typing import Any, Callable

import numpy as np

from codesign.errors import CodesignError

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


# --- ReRAM crossbar ---------------------------------------------------------------------------
# The behavioural ReRAM crossbar tile (DESIGN contract 4). The tile's RTL and the golden model
# both call the functions below; ``crossbar_levels`` / ``crossbar_conductances`` /
# ``crossbar_adc_shift`` are the compiler's numpy side.
#
# Bit slicing. A signed ``weight_bits`` weight w (|w| <= 2^(weight_bits-1) - 1: the range is
# symmetric so that the magnitude fits) is a differential pair: |w| goes to the positive column
# group if w > 0, to the negative group if w < 0, the other group holds 0. The magnitude is cut
# into S = ceil((weight_bits - 1) / cell_bits) slices of cell_bits bits, slice s = bits
# [s*cell_bits, (s+1)*cell_bits) of |w|. Output o of a tile owns 2*S adjacent columns:
#
#     column = (2*o + polarity) * S + s        polarity 0 = positive, 1 = negative
#
# so a tile of ``cols`` columns has cols // (2*S) outputs (left-over columns stay unused).
# Cell address (what the tile's programming port takes, and the PRNG key) = column * rows + row.
#
# Conductance. A cell programmed to ``level`` holds the integer conductance (units of
# 2^-CONDUCTANCE_FRACTION_BITS of one level)
#
#     g = clamp_u((level << G) + round_shift(level * sample * scale, VARIATION_FRACTION_BITS),
#                 conductance_bits)
#
# with G = CONDUCTANCE_FRACTION_BITS, scale = variation_scale(variation_sigma) and ``sample`` an
# approximately normal integer (std IRWIN_HALL_STD) drawn from the cell's own PRNG stream:
#
#     state0 = ((address * ADDRESS_MIX) mod 2^32) ^ seed   (replaced by ZERO_STATE if it is 0)
#     sample = (sum of the 4 bytes of xorshift32(xorshift32(state0))) - IRWIN_HALL_MEAN
#
# The PRNG is counter based (keyed by the cell address), so the conductances do not depend on the
# order in which the host writes the cells. The tile applies it on chip when a cell is written;
# the compiler only ever writes levels. The deviation is proportional to the level, so level 0
# is exactly 0 (unused cells and columns contribute nothing).
#
# Conversion, per column c and spike vector x (binary, one bit per row):
#
#     column_sum = sum over active rows r of g[r, c]                        (exact, unsigned)
#     code       = min(round_shift(column_sum, G + adc_shift), 2^adc_bits - 1)
#     output o   = (sum over s of (code[pos, s] - code[neg, s]) << (s * cell_bits)) << adc_shift
#
# ``adc_shift`` (0..max_adc_shift) is chosen per tile by the compiler. Without variation and with
# adc_shift = 0 and no saturation the output equals the exact integer matvec sum_r x_r * w[r, o].

#: Fractional bits of a stored conductance: one level is 2^6 conductance units.
CONDUCTANCE_FRACTION_BITS = 6
#: Fractional bits of the quantised variation scale.
VARIATION_FRACTION_BITS = 12
#: Odd 32-bit constant (2^32 / golden ratio) that spreads cell addresses over the PRNG state.
ADDRESS_MIX = 0x9E3779B9
#: PRNG state used when the mixed state would be 0 (xorshift would stay at 0 forever).
ZERO_STATE = 0x6D2B79F5
#: The normal approximation sums the 4 bytes of a 32-bit PRNG word (Irwin-Hall distribution).
IRWIN_HALL_MEAN = 4 * 255 // 2
IRWIN_HALL_STD = math.sqrt(4 * (256 ** 2 - 1) / 12)


def crossbar_slices(weight_bits: int, cell_bits: int) -> int:
    """Cells per weight magnitude: S = ceil((weight_bits - 1) / cell_bits)."""
    return -(-(weight_bits - 1) // cell_bits)


def crossbar_columns_per_output(weight_bits: int, cell_bits: int) -> int:
    """Physical columns one output uses: S positive and S negative slices."""
    return 2 * crossbar_slices(weight_bits, cell_bits)


def crossbar_outputs(cols: int, weight_bits: int, cell_bits: int) -> int:
    """Outputs (logical columns) of a tile with ``cols`` physical columns."""
    return cols // crossbar_columns_per_output(weight_bits, cell_bits)


def crossbar_column(output, polarity, slice_index, slices: int):
    """Physical column of ``(output, polarity, slice)``; polarity 0 = positive, 1 = negative."""
    return (2 * output + polarity) * slices + slice_index


def crossbar_cell_address(row, column, rows: int):
    """Address of a cell in the tile's programming port (and its PRNG key)."""
    return column * rows + row


def conductance_bits(cell_bits: int) -> int:
    """Width of a stored conductance: the nominal range plus one bit of variation headroom."""
    return cell_bits + CONDUCTANCE_FRACTION_BITS + 1


def _unsigned_clamp(value, bits: int, select: Select):
    high = (1 << bits) - 1
    return select(value < 0, 0, select(value > high, high, value))


def variation_scale(variation_sigma: float) -> int:
    """``variation_sigma`` quantised: the integer that turns a PRNG sample into a deviation."""
    if not math.isfinite(variation_sigma) or variation_sigma < 0:
        raise CodesignError(f"crossbar variation_sigma = {variation_sigma!r} is not allowed",
                            "use a finite number >= 0")
    return round(variation_sigma * (1 << (CONDUCTANCE_FRACTION_BITS + VARIATION_FRACTION_BITS))
                 / IRWIN_HALL_STD)


def _low_bits(value, bits: int):
    """``value mod 2^bits`` for a non-negative value. On Amaranth values a slice, so that the
    width shrinks as well (``&`` keeps the wider operand's width). An Amaranth value exists only
    once Amaranth is loaded, so the golden model's numpy path never imports it."""
    hdl = sys.modules.get("amaranth.hdl")
    if hdl is not None and isinstance(value, hdl.Value):
        return value[:bits]
    return value & ((1 << bits) - 1)


def variation_state(address, seed, select: Select):
    """First PRNG state of the cell at ``address`` for ``seed`` (32-bit, never 0)."""
    mixed = _low_bits(address * ADDRESS_MIX, 32) ^ seed
    return select(mixed == 0, ZERO_STATE, mixed)


def xorshift32(state):
    """One step of Marsaglia's xorshift32 (shifts 13, 17, 5) on a nonzero 32-bit state."""
    state = state ^ _low_bits(state << 13, 32)
    state = state ^ (state >> 17)
    return state ^ _low_bits(state << 5, 32)


def variation_sample(state):
    """Approximately normal sample (mean 0, std IRWIN_HALL_STD) from a cell's first PRNG state:
    two xorshift32 steps, then the sum of the 4 bytes minus its mean."""
    word = xorshift32(xorshift32(state))
    return (_low_bits(word, 8) + _low_bits(word >> 8, 8) + _low_bits(word >> 16, 8)
            + _low_bits(word >> 24, 8) - IRWIN_HALL_MEAN)


def scaled_variation(sample, scale: int):
    """A sample times the quantised sigma (``variation_scale``)."""
    return sample * scale


def cell_conductance(level, variation, cell_bits: int, select: Select):
    """Conductance of a cell programmed to ``level`` (``variation`` = ``scaled_variation(...)``;
    0 for ideal devices)."""
    nominal = level << CONDUCTANCE_FRACTION_BITS
    deviation = round_shift(level * variation, VARIATION_FRACTION_BITS)
    return _unsigned_clamp(nominal + deviation, conductance_bits(cell_bits), select)


def max_adc_shift(rows: int, cell_bits: int, adc_bits: int) -> int:
    """Largest useful ``adc_shift``: with it no column sum of ``rows`` cells can saturate."""
    largest_sum = rows * ((1 << conductance_bits(cell_bits)) - 1)
    return max(0, largest_sum.bit_length() - CONDUCTANCE_FRACTION_BITS - adc_bits)


def adc_convert(column_sum, adc_shift, adc_bits: int, select: Select):
    """ADC: the column sum in level units >> adc_shift, rounded half up, saturated to
    ``adc_bits`` unsigned bits."""
    return adc_code(column_sum + adc_rounding(adc_shift), adc_saturation(adc_shift, adc_bits),
                    adc_shift, adc_bits, select)


def adc_rounding(adc_shift):
    """Half of one ADC step (in conductance units), added to a column sum to round half up."""
    # (1 << shift) >> 1 rather than 1 << (shift - 1): an unsigned hardware shift amount minus 1
    # would turn signed.
    return (1 << (adc_shift + CONDUCTANCE_FRACTION_BITS)) >> 1


def adc_saturation(adc_shift, adc_bits: int):
    """The smallest rounded column sum whose ADC code saturates."""
    return (1 << (adc_shift + CONDUCTANCE_FRACTION_BITS)) << adc_bits


def adc_code(rounded_sum, saturation, adc_shift, adc_bits: int, select: Select):
    """The ADC code of ``rounded_sum`` = column sum + ``adc_rounding(adc_shift)``, given
    ``saturation`` = ``adc_saturation(adc_shift, adc_bits)``. Both terms depend on ``adc_shift``
    alone, so hardware computes them when it is written, not for every column."""
    high = (1 << adc_bits) - 1
    return select(rounded_sum >= saturation, high,
                  ((rounded_sum >> CONDUCTANCE_FRACTION_BITS) >> adc_shift) & high)


def slice_contribution(code, polarity, slice_index, cell_bits: int, select: Select):
    """Shift-add recombination term of one column's ADC code."""
    magnitude = code << (slice_index * cell_bits)
    return select(polarity, -magnitude, magnitude)


def crossbar_output(total, adc_shift):
    """An output in weight units from the sum of its columns' contributions."""
    return total << adc_shift


def crossbar_output_bits(rows: int, cols: int, weight_bits: int, cell_bits: int,
                         adc_bits: int) -> int:
    """Signed width that holds every output of the tile."""
    slices = crossbar_slices(weight_bits, cell_bits)
    largest = ((1 << adc_bits) - 1) * sum(1 << (s * cell_bits) for s in range(slices))
    return (largest << max_adc_shift(rows, cell_bits, adc_bits)).bit_length() + 1


def crossbar_levels(weights, rows: int, cols: int, weight_bits: int, cell_bits: int):
    """Cell levels ``[rows, outputs * 2S]`` (int64) of a tile programmed with ``weights``
    ``[sources, targets]`` (integers; sources <= rows, targets <= outputs; unused cells are 0)."""
    weights = np.asarray(weights)
    slices = crossbar_slices(weight_bits, cell_bits)
    outputs = crossbar_outputs(cols, weight_bits, cell_bits)
    if weights.ndim != 2 or not np.issubdtype(weights.dtype, np.integer):
        raise CodesignError(f"crossbar weights must be a 2-D integer matrix, got "
                            f"{weights.ndim}-D {weights.dtype}", "quantise the layer first")
    if weights.shape[0] > rows or weights.shape[1] > outputs:
        raise CodesignError(
            f"a {weights.shape[0]}x{weights.shape[1]} weight matrix does not fit a crossbar tile "
            f"of {rows} rows x {outputs} outputs ({cols} columns / {2 * slices} per output)",
            "split the layer over several tiles or map it to the digital synapse engine")
    limit = (1 << (weight_bits - 1)) - 1
    if weights.size and np.abs(weights.astype(np.int64)).max() > limit:
        raise CodesignError(f"crossbar weights must lie in -{limit}..{limit} for weight_bits = "
                            f"{weight_bits}", "clamp the quantised weights to the symmetric range")
    padded = np.zeros((rows, outputs), dtype=np.int64)
    padded[:weights.shape[0], :weights.shape[1]] = weights
    levels = np.zeros((rows, outputs, 2, slices), dtype=np.int64)
    level_mask = (1 << cell_bits) - 1
    for polarity, magnitude in enumerate((np.maximum(padded, 0), np.maximum(-padded, 0))):
        for slice_index in range(slices):
            levels[:, :, polarity, slice_index] = (magnitude >> (slice_index * cell_bits)) \
                & level_mask
    # (output, polarity, slice) flattened in this order is exactly crossbar_column's numbering.
    return levels.reshape(rows, outputs * 2 * slices)


def crossbar_conductances(levels, cell_bits: int, variation_sigma: float, variation_seed: int):
    """Conductances ``[rows, columns]`` (int64) the tile holds after the levels are written."""
    levels = np.asarray(levels, dtype=np.int64)
    rows, columns = levels.shape
    row_index, column_index = np.meshgrid(np.arange(rows, dtype=np.int64),
                                          np.arange(columns, dtype=np.int64), indexing="ij")
    address = crossbar_cell_address(row_index, column_index, rows)
    sample = variation_sample(variation_state(address, np.int64(variation_seed), np.where))
    variation = scaled_variation(sample, variation_scale(variation_sigma))
    return cell_conductance(levels, variation, cell_bits, np.where).astype(np.int64)


def crossbar_matvec(conductances, spikes_batch, weight_bits: int, cell_bits: int, adc_bits: int,
                    adc_shift: int):
    """Golden tile outputs ``[batch, outputs]`` (int64) for binary ``spikes_batch``
    ``[batch, rows]`` and the tile's ``conductances`` ``[rows, outputs * 2S]``."""
    conductances = np.asarray(conductances, dtype=np.int64)
    spikes = (np.asarray(spikes_batch) != 0).astype(np.int64)
    slices = crossbar_slices(weight_bits, cell_bits)
    column_sums = spikes @ conductances
    codes = adc_convert(column_sums, adc_shift, adc_bits, np.where)
    codes = codes.reshape(spikes.shape[0], -1, 2, slices)
    polarity = np.arange(2).reshape(2, 1)
    slice_index = np.arange(slices).reshape(1, slices)
    terms = slice_contribution(codes, polarity, slice_index, cell_bits, np.where)
    return crossbar_output(terms.sum(axis=(2, 3)), adc_shift).astype(np.int64)


def crossbar_adc_shift(conductances, cell_bits: int, adc_bits: int,
                       active_rows: int | None = None) -> int:
    """Smallest ``adc_shift`` for which no column saturates when at most ``active_rows`` rows
    (default: all) are active, capped at ``max_adc_shift``."""
    conductances = np.asarray(conductances, dtype=np.int64)
    rows = conductances.shape[0]
    largest_first = -np.sort(-conductances, axis=0)
    worst = int(largest_first[:active_rows].sum(axis=0).max(initial=0))
    shift = 0
    while (shift < max_adc_shift(rows, cell_bits, adc_bits)
           and round_shift(worst, shift + CONDUCTANCE_FRACTION_BITS) > (1 << adc_bits) - 1):
        shift += 1
    return shift
