"""Properties of the ReRAM crossbar arithmetic in codesign.arithmetic: bit slicing and shift-add
recombination, the ADC conversion and its saturation, the seeded device-variation PRNG."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign import arithmetic as a
from codesign.errors import CodesignError

G = a.CONDUCTANCE_FRACTION_BITS


@st.composite
def tile_shapes(draw):
    weight_bits = draw(st.integers(2, 16))
    cell_bits = draw(st.integers(1, weight_bits))
    rows = draw(st.integers(1, 24))
    outputs = draw(st.integers(1, 6))
    cols = outputs * a.crossbar_columns_per_output(weight_bits, cell_bits) + draw(
        st.integers(0, 3))
    return weight_bits, cell_bits, rows, cols


@settings(max_examples=60, deadline=None)
@given(tile_shapes(), st.integers(0, 2**31))
def test_slices_recombine_to_the_weight(shape, seed):
    weight_bits, cell_bits, rows, cols = shape
    rng = np.random.default_rng(seed)
    limit = (1 << (weight_bits - 1)) - 1
    outputs = a.crossbar_outputs(cols, weight_bits, cell_bits)
    weights = rng.integers(-limit, limit + 1, size=(rows, outputs))
    levels = a.crossbar_levels(weights, rows, cols, weight_bits, cell_bits)
    slices = -(-(weight_bits - 1) // cell_bits)
    assert levels.shape == (rows, outputs * 2 * slices)
    assert levels.min() >= 0 and levels.max() < (1 << cell_bits)
    for output in range(outputs):
        groups = []
        for polarity in (0, 1):
            columns = [a.crossbar_column(output, polarity, s, slices) for s in range(slices)]
            groups.append(sum(levels[:, column] * (1 << (s * cell_bits))
                              for s, column in enumerate(columns)))
        positive, negative = groups
        assert np.array_equal(positive - negative, weights[:, output])
        assert not np.any((positive != 0) & (negative != 0))  # one side of the pair only


@settings(max_examples=60, deadline=None)
@given(tile_shapes(), st.integers(0, 2**31))
def test_ideal_tile_with_wide_adc_is_the_exact_matvec(shape, seed):
    weight_bits, cell_bits, rows, cols = shape
    rng = np.random.default_rng(seed)
    limit = (1 << (weight_bits - 1)) - 1
    outputs = a.crossbar_outputs(cols, weight_bits, cell_bits)
    weights = rng.integers(-limit, limit + 1, size=(rows, outputs))
    spikes = rng.integers(0, 2, size=(5, rows))
    conductances = a.crossbar_conductances(
        a.crossbar_levels(weights, rows, cols, weight_bits, cell_bits), cell_bits, 0.0, 1)
    adc_bits = (rows * ((1 << cell_bits) - 1)).bit_length()  # just wide enough
    result = a.crossbar_matvec(conductances, spikes, weight_bits, cell_bits, adc_bits, 0)
    assert np.array_equal(result, spikes @ weights)


def test_smaller_matrix_is_padded_with_zero_cells():
    weights = np.array([[3, -2], [-7, 5], [1, 0]])
    levels = a.crossbar_levels(weights, 8, 40, 4, 1)   # 3 slices -> 6 columns, 6 outputs
    assert levels.shape == (8, 36)
    assert not levels[3:].any() and not levels[:, 12:].any()
    spikes = np.array([[1, 1, 1, 1, 1, 1, 1, 1]])
    result = a.crossbar_matvec(a.crossbar_conductances(levels, 1, 0.0, 1), spikes, 4, 1, 8, 0)
    assert result.tolist() == [[-3, 3, 0, 0, 0, 0]]


def test_adc_rounds_half_up_and_saturates():
    adc_bits = 4
    sums = np.arange(0, 40 << G)
    for shift in (0, 1, 3):
        codes = a.adc_convert(sums, shift, adc_bits, np.where)
        # Independent definition: nearest integer of sum / 2^(G + shift), halves up, max 15.
        expected = [min(int(np.floor(value / 2 ** (G + shift) + 0.5)), 15) for value in sums]
        assert codes.tolist() == expected
    assert a.adc_convert(np.array([10**9]), 0, adc_bits, np.where).tolist() == [15]


def test_saturated_column_gives_the_documented_output():
    # Every active row holds +7 (all slices at the top level): each positive column sums to
    # rows * 1 level, far above a 2-bit ADC, so every code saturates at 3.
    weight_bits, cell_bits, rows, adc_bits, shift = 4, 1, 20, 2, 1
    weights = np.full((rows, 1), 7)
    conductances = a.crossbar_conductances(a.crossbar_levels(weights, rows, 6, weight_bits,
                                                             cell_bits), cell_bits, 0.0, 1)
    result = a.crossbar_matvec(conductances, np.ones((1, rows)), weight_bits, cell_bits,
                               adc_bits, shift)
    assert result.tolist() == [[(3 * (1 + 2 + 4)) << shift]]
    assert result[0, 0] < rows * 7


def test_chosen_adc_shift_avoids_saturation_and_is_the_smallest():
    rng = np.random.default_rng(5)
    rows, weight_bits, cell_bits, adc_bits = 64, 8, 2, 6
    weights = rng.integers(-127, 128, size=(rows, 8))
    conductances = a.crossbar_conductances(a.crossbar_levels(weights, rows, 64, weight_bits,
                                                             cell_bits), cell_bits, 0.0, 1)
    shift = a.crossbar_adc_shift(conductances, cell_bits, adc_bits)
    worst = conductances.sum(axis=0).max()
    assert 0 < shift <= a.max_adc_shift(rows, cell_bits, adc_bits)
    assert (worst + (1 << (G + shift - 1))) >> (G + shift) <= 63
    assert (worst + (1 << (G + shift - 2))) >> (G + shift - 1) > 63
    assert a.crossbar_adc_shift(conductances, cell_bits, adc_bits, active_rows=2) == 0


def reference_xorshift32(state: int) -> int:
    state ^= (state << 13) & 0xFFFFFFFF
    state ^= state >> 17
    state ^= (state << 5) & 0xFFFFFFFF
    return state


def test_xorshift32_is_marsaglias():
    # Marsaglia, "Xorshift RNGs" (2003): from 2463534242 the first output is 723471715.
    assert a.xorshift32(2463534242) == 723471715
    states = np.random.default_rng(1).integers(1, 2**32, size=200)
    assert a.xorshift32(states).tolist() == [reference_xorshift32(int(s)) for s in states]


def test_variation_is_reproducible_by_seed_and_independent_of_layout():
    levels = np.random.default_rng(2).integers(0, 4, size=(32, 48))
    first = a.crossbar_conductances(levels, 2, 0.2, 77)
    assert np.array_equal(first, a.crossbar_conductances(levels, 2, 0.2, 77))
    assert not np.array_equal(first, a.crossbar_conductances(levels, 2, 0.2, 78))
    # A cell's conductance depends only on (address, level, seed): recompute one by hand.
    row, column = 5, 17
    state = a.variation_state(a.crossbar_cell_address(row, column, 32), 77, np.where)
    word = reference_xorshift32(reference_xorshift32(int(state)))
    sample = sum((word >> (8 * byte)) & 0xFF for byte in range(4)) - 510
    level = int(levels[row, column])
    deviation = (level * sample * a.variation_scale(0.2) + (1 << 11)) >> 12
    assert first[row, column] == min(max((level << G) + deviation, 0), (1 << (2 + G + 1)) - 1)
    assert a.variation_state(0, 0, np.where) == a.ZERO_STATE  # never the xorshift fixed point


def test_variation_statistics_and_zero_level():
    levels = np.tile(np.array([0, 1, 2, 3]), (128, 64))
    sigma = 0.1
    conductances = a.crossbar_conductances(levels, 2, sigma, 3)
    assert not conductances[levels == 0].any()
    nominal = levels << G
    relative = (conductances - nominal)[levels > 0] / nominal[levels > 0]
    assert abs(relative.mean()) < 0.01
    assert abs(relative.std() - sigma) < 0.01
    assert np.array_equal(a.crossbar_conductances(levels, 2, 0.0, 3), nominal)


def test_bad_inputs_raise_one_line_errors():
    with pytest.raises(CodesignError, match="-127..127"):
        a.crossbar_levels(np.array([[-128]]), 4, 8, 8, 2)
    with pytest.raises(CodesignError, match="does not fit"):
        a.crossbar_levels(np.zeros((5, 1), dtype=int), 4, 8, 8, 2)
    with pytest.raises(CodesignError, match="integer"):
        a.crossbar_levels(np.zeros((2, 1)), 4, 8, 8, 2)
    with pytest.raises(CodesignError, match="variation_sigma"):
        a.variation_scale(-0.1)
