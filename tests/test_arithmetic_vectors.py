"""codesign/arithmetic.py against vectors worked out by hand (tests/arithmetic_vectors.py).

The RTL and C tests take their expected values from arithmetic.py, so only these catch a bug in
arithmetic.py itself (docs/compiler.md, "Testing the arithmetic")."""

import numpy as np
import pytest

from codesign import arithmetic
from codesign.errors import CodesignError
import arithmetic_vectors as vectors

NEURON_DEFAULTS = {name: 0 for name in
                   ("current_decay", "input_gain", "bias", "voltage_decay", "current_gain",
                    "leak", "threshold", "reset_voltage", "reset_subtract", "adaptation_decay",
                    "adaptation_step")}


def _parameters(values: dict) -> arithmetic.NeuronParameters:
    unknown = set(values) - set(NEURON_DEFAULTS)
    assert not unknown, unknown
    merged = {**NEURON_DEFAULTS, **values}
    return arithmetic.NeuronParameters(**{key: np.int64(value) for key, value in merged.items()})


def _int(value) -> int:
    return int(np.asarray(value))


@pytest.mark.parametrize("bits, limits", vectors.SIGNED_LIMITS)
def test_signed_limits(bits, limits):
    assert arithmetic.signed_limits(bits) == limits


@pytest.mark.parametrize("weight_bits, bits", vectors.ACCUMULATOR_BITS)
def test_accumulator_bits(weight_bits, bits):
    assert arithmetic.accumulator_bits(weight_bits) == bits


def test_parameter_widths():
    assert arithmetic.parameter_widths(16) == vectors.PARAMETER_WIDTHS_16


@pytest.mark.parametrize("value, shift, expected", vectors.ROUND_SHIFT)
def test_round_shift(value, shift, expected):
    assert _int(arithmetic.round_shift(np.int64(value), shift)) == expected


@pytest.mark.parametrize("value, bits, expected", vectors.SATURATE)
def test_saturate(value, bits, expected):
    assert _int(arithmetic.saturate(np.int64(value), bits, np.where)) == expected


@pytest.mark.parametrize("values, current, x, bits, expected", vectors.UPDATE_CURRENT)
def test_update_current(values, current, x, bits, expected):
    result = arithmetic.update_current(_parameters(values), np.int64(current), np.int64(x), bits,
                                       np.where)
    assert _int(result) == expected


@pytest.mark.parametrize("values, voltage, current, bits, expected", vectors.UPDATE_VOLTAGE)
def test_update_voltage(values, voltage, current, bits, expected):
    result = arithmetic.update_voltage(_parameters(values), np.int64(voltage), np.int64(current),
                                       bits, np.where)
    assert _int(result) == expected


@pytest.mark.parametrize("values, voltage, adaptation, bits, expected", vectors.FIRE_AND_RESET)
def test_fire_and_reset(values, voltage, adaptation, bits, expected):
    after, spike = arithmetic.fire_and_reset(_parameters(values), np.int64(voltage),
                                             np.int64(adaptation), bits, np.where)
    assert (_int(after), _int(spike)) == expected


@pytest.mark.parametrize("values, adaptation, spike, bits, expected", vectors.UPDATE_ADAPTATION)
def test_update_adaptation(values, adaptation, spike, bits, expected):
    result = arithmetic.update_adaptation(_parameters(values), np.int64(adaptation),
                                          np.bool_(spike), bits, np.where)
    assert _int(result) == expected


@pytest.mark.parametrize("values, inputs, expected", vectors.NEURON_STEPS)
def test_neuron_step_sequences(values, inputs, expected):
    parameters = _parameters(values)
    state = arithmetic.NeuronState(voltage=np.int64(0), current=np.int64(0),
                                   adaptation=np.int64(0))
    seen = []
    for x in inputs:
        state, spike = arithmetic.neuron_step(parameters, state, np.int64(x), 16, np.where)
        seen.append((_int(state.current), _int(state.voltage), _int(state.adaptation),
                     _int(spike)))
    assert seen == expected


def test_neuron_step_is_elementwise_on_arrays():
    """The rows of UPDATE_CURRENT at once, as the golden model runs them."""
    rows = [row for row in vectors.UPDATE_CURRENT if row[3] == 16]
    parameters = arithmetic.NeuronParameters(**{
        key: np.array([{**NEURON_DEFAULTS, **row[0]}[key] for row in rows], dtype=np.int64)
        for key in NEURON_DEFAULTS})
    result = arithmetic.update_current(parameters, np.array([row[1] for row in rows]),
                                       np.array([row[2] for row in rows]), 16, np.where)
    assert result.tolist() == [row[4] for row in rows]


@pytest.mark.parametrize("weight_bits, cell_bits, expected", vectors.CROSSBAR_SLICES)
def test_crossbar_slices(weight_bits, cell_bits, expected):
    assert arithmetic.crossbar_slices(weight_bits, cell_bits) == expected
    assert arithmetic.crossbar_columns_per_output(weight_bits, cell_bits) == 2 * expected


@pytest.mark.parametrize("cols, weight_bits, cell_bits, expected", vectors.CROSSBAR_OUTPUTS)
def test_crossbar_outputs(cols, weight_bits, cell_bits, expected):
    assert arithmetic.crossbar_outputs(cols, weight_bits, cell_bits) == expected


@pytest.mark.parametrize("output, polarity, slice_index, slices, expected",
                         vectors.CROSSBAR_COLUMN)
def test_crossbar_column(output, polarity, slice_index, slices, expected):
    assert arithmetic.crossbar_column(output, polarity, slice_index, slices) == expected


@pytest.mark.parametrize("row, column, rows, expected", vectors.CELL_ADDRESS)
def test_cell_address(row, column, rows, expected):
    assert arithmetic.crossbar_cell_address(row, column, rows) == expected


@pytest.mark.parametrize("cell_bits, expected", vectors.CONDUCTANCE_BITS)
def test_conductance_bits(cell_bits, expected):
    assert arithmetic.conductance_bits(cell_bits) == expected


@pytest.mark.parametrize("rows, cell_bits, adc_bits, expected", vectors.MAX_ADC_SHIFT)
def test_max_adc_shift(rows, cell_bits, adc_bits, expected):
    assert arithmetic.max_adc_shift(rows, cell_bits, adc_bits) == expected


@pytest.mark.parametrize("rows, cols, weight_bits, cell_bits, adc_bits, expected",
                         vectors.CROSSBAR_OUTPUT_BITS)
def test_crossbar_output_bits(rows, cols, weight_bits, cell_bits, adc_bits, expected):
    assert arithmetic.crossbar_output_bits(rows, cols, weight_bits, cell_bits,
                                           adc_bits) == expected


@pytest.mark.parametrize("address, seed, expected", vectors.VARIATION_STATE)
def test_variation_state(address, seed, expected):
    assert _int(arithmetic.variation_state(np.int64(address), np.int64(seed),
                                           np.where)) == expected


@pytest.mark.parametrize("state, expected", vectors.XORSHIFT32)
def test_xorshift32(state, expected):
    assert _int(arithmetic.xorshift32(np.int64(state))) == expected


@pytest.mark.parametrize("state, expected", vectors.VARIATION_SAMPLE)
def test_variation_sample(state, expected):
    assert _int(arithmetic.variation_sample(np.int64(state))) == expected


@pytest.mark.parametrize("sigma, expected", vectors.VARIATION_SCALE)
def test_variation_scale(sigma, expected):
    assert arithmetic.variation_scale(sigma) == expected


@pytest.mark.parametrize("sigma", [-0.1, float("nan"), float("inf")])
def test_variation_scale_refuses_bad_sigma(sigma):
    with pytest.raises(CodesignError, match="variation_sigma"):
        arithmetic.variation_scale(sigma)


@pytest.mark.parametrize("level, variation, cell_bits, expected", vectors.CELL_CONDUCTANCE)
def test_cell_conductance(level, variation, cell_bits, expected):
    assert _int(arithmetic.cell_conductance(np.int64(level), np.int64(variation), cell_bits,
                                            np.where)) == expected


def test_conductance_with_device_variation():
    levels, cell_bits, sigma, seed, expected = vectors.CONDUCTANCE_WITH_VARIATION
    assert arithmetic.crossbar_conductances(np.array(levels), cell_bits, sigma,
                                            seed).tolist() == expected


@pytest.mark.parametrize("column_sum, shift, bits, expected", vectors.ADC_CONVERT)
def test_adc_convert(column_sum, shift, bits, expected):
    assert _int(arithmetic.adc_convert(np.int64(column_sum), shift, bits, np.where)) == expected


@pytest.mark.parametrize("shift, expected", vectors.ADC_ROUNDING)
def test_adc_rounding(shift, expected):
    assert arithmetic.adc_rounding(shift) == expected


@pytest.mark.parametrize("shift, bits, expected", vectors.ADC_SATURATION)
def test_adc_saturation(shift, bits, expected):
    assert arithmetic.adc_saturation(shift, bits) == expected


@pytest.mark.parametrize("code, polarity, slice_index, cell_bits, expected",
                         vectors.SLICE_CONTRIBUTION)
def test_slice_contribution(code, polarity, slice_index, cell_bits, expected):
    assert _int(arithmetic.slice_contribution(np.int64(code), np.bool_(polarity), slice_index,
                                              cell_bits, np.where)) == expected


@pytest.mark.parametrize("total, shift, expected", vectors.CROSSBAR_OUTPUT)
def test_crossbar_output(total, shift, expected):
    assert _int(arithmetic.crossbar_output(np.int64(total), shift)) == expected


@pytest.mark.parametrize("weights, rows, cols, expected", vectors.CROSSBAR_LEVELS)
def test_crossbar_levels(weights, rows, cols, expected):
    assert arithmetic.crossbar_levels(np.array(weights), rows, cols, 8, 2).tolist() == expected


@pytest.mark.parametrize("weights", vectors.CROSSBAR_LEVELS_REFUSED)
def test_crossbar_levels_refuse_the_asymmetric_end(weights):
    with pytest.raises(CodesignError, match="-127..127"):
        arithmetic.crossbar_levels(np.array(weights), 1, 8, 8, 2)


@pytest.mark.parametrize("levels, spikes, adc_bits, shift, expected", vectors.CROSSBAR_MATVEC)
def test_crossbar_matvec(levels, spikes, adc_bits, shift, expected):
    conductances = np.array(levels) * 64  # no variation: level << G
    assert arithmetic.crossbar_matvec(conductances, np.array(spikes), 8, 2, adc_bits,
                                      shift).tolist() == expected


@pytest.mark.parametrize("adc_bits, active_rows, expected", vectors.CROSSBAR_ADC_SHIFT)
def test_crossbar_adc_shift(adc_bits, active_rows, expected):
    conductances = np.array(vectors.LEVELS_4_X_127) * 64
    assert arithmetic.crossbar_adc_shift(conductances, 2, adc_bits, active_rows) == expected
