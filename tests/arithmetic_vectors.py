"""Input/output vectors of every primitive of ``codesign/arithmetic.py``, worked out by hand from
the equations in docs/compiler.md ("Arithmetic") and docs/hardware.md ("ReRAM crossbar tile"),
never by running arithmetic.py. tests/test_arithmetic_vectors.py checks the module against them.

Notation: F = 16 fractional bits, so a coefficient c stands for c / 65536 (65536 = 1.0,
32768 = 0.5, 49152 = 0.75); round_shift(v, s) = floor((v + 2^(s-1)) / 2^s) rounds half up
(towards +inf, so -1.5 -> -1); sat_b clamps to -2^(b-1) .. 2^(b-1) - 1. Crossbar: G = 6
conductance fraction bits (a level is 64 conductance units).
"""

# --- widths ---------------------------------------------------------------------------------
# (bits, (lowest, highest)): -2^(b-1) .. 2^(b-1) - 1
SIGNED_LIMITS = [
    (1, (-1, 0)),
    (8, (-128, 127)),
    (16, (-32768, 32767)),
    (32, (-2147483648, 2147483647)),
]
# (weight_bits, accumulator bits = weight_bits + 14)
ACCUMULATOR_BITS = [(2, 16), (8, 22), (16, 30)]
# parameter_widths(16): decays unsigned 17 (Q1.16), gains signed 26 (Q9.16), bias and leak signed
# 16 + 16 = 32 (added before the shift), threshold / reset / adaptation step signed 16
PARAMETER_WIDTHS_16 = {
    "current_decay": (17, False), "input_gain": (26, True), "bias": (32, True),
    "voltage_decay": (17, False), "current_gain": (26, True), "leak": (32, True),
    "threshold": (16, True), "reset_voltage": (16, True), "reset_subtract": (1, False),
    "adaptation_decay": (17, False), "adaptation_step": (16, True),
}

# --- round_shift(value, shift) -> value / 2^shift rounded half up ------------------------------
ROUND_SHIFT = [
    (0, 16, 0),
    (65536, 16, 1),          # 1.0
    (-65536, 16, -1),        # -1.0
    (32767, 16, 0),          # 0.49998 -> 0
    (32768, 16, 1),          # exactly 0.5 -> 1 (half up)
    (-32768, 16, 0),         # exactly -0.5 -> 0 (half up, towards +inf)
    (-32769, 16, -1),        # -0.50002 -> -1
    (98304, 16, 2),          # 1.5 -> 2
    (-98304, 16, -1),        # -1.5 -> -1
    (163840, 16, 3),         # 2.5 -> 3
    (-163840, 16, -2),       # -2.5 -> -2
    (1, 1, 1),               # 0.5 -> 1
    (-1, 1, 0),              # -0.5 -> 0
    (3, 1, 2),               # 1.5 -> 2
    (-3, 1, -1),             # -1.5 -> -1
    (2048, 12, 1),           # 0.5 at 12 bits -> 1
    (-2048, 12, 0),          # -0.5 -> 0
    (-2049, 12, -1),
]

# --- saturate(value, bits) -> clamped to the signed range ----------------------------------------
SATURATE = [
    (0, 16, 0),
    (32767, 16, 32767),      # the upper bound itself stays
    (32768, 16, 32767),      # one above -> the bound
    (10**9, 16, 32767),
    (-32768, 16, -32768),    # the lower bound itself stays
    (-32769, 16, -32768),    # one below -> the bound
    (-10**9, 16, -32768),
    (127, 8, 127), (128, 8, 127), (-128, 8, -128), (-129, 8, -128),
    (2**31 - 1, 32, 2**31 - 1), (2**31, 32, 2**31 - 1),
    (-2**31, 32, -2**31), (-2**31 - 1, 32, -2**31),
]

# --- neuron stages (state_bits 16 unless a row says otherwise) ----------------------------------
# update_current: sat(round_shift(current_decay*I + input_gain*x + bias))
# (parameters, I, x, state_bits, I')
UPDATE_CURRENT = [
    # decay by 0 (LIF): the old current is gone, x passes at gain 1
    ({"current_decay": 0, "input_gain": 65536}, 500, 300, 16, 300),
    # decay by 1: the current integrates, 500 + 300
    ({"current_decay": 65536, "input_gain": 65536}, 500, 300, 16, 800),
    # CubaLIF: 0.75*101 + 0.25*40 = 75.75 + 10 = 85.75 -> 86
    ({"current_decay": 49152, "input_gain": 16384}, 101, 40, 16, 86),
    # gain 0.5 on x = 3: 1.5 -> 2; on x = -3: -1.5 -> -1
    ({"current_decay": 0, "input_gain": 32768}, 0, 3, 16, 2),
    ({"current_decay": 0, "input_gain": 32768}, 0, -3, 16, -1),
    # bias alone (in 2^-16 units of the current): 0.5 -> 1, -0.5 -> 0
    ({"current_decay": 0, "input_gain": 0, "bias": 32768}, 0, 0, 16, 1),
    ({"current_decay": 0, "input_gain": 0, "bias": -32768}, 0, 0, 16, 0),
    # saturation: 32000 + 1000 = 33000 -> 32767; -33000 -> -32768
    ({"current_decay": 65536, "input_gain": 65536}, 32000, 1000, 16, 32767),
    ({"current_decay": 65536, "input_gain": 65536}, -32000, -1000, 16, -32768),
    # 8-bit state: 100 + 100 = 200 -> 127
    ({"current_decay": 65536, "input_gain": 65536}, 100, 100, 8, 127),
]
# update_voltage: sat(round_shift(voltage_decay*v + current_gain*I' + leak))
# (parameters, v, I', state_bits, v')
UPDATE_VOLTAGE = [
    # IF (decay by 1): 1000 + 250
    ({"voltage_decay": 65536, "current_gain": 65536}, 1000, 250, 16, 1250),
    # decay by 0 (Threshold): no memory, 250
    ({"voltage_decay": 0, "current_gain": 65536}, 1000, 250, 16, 250),
    # LIF: (62259*1000 + 3277*2000) / 65536 = 68813000 / 65536 = 1050.003 -> 1050
    ({"voltage_decay": 62259, "current_gain": 3277}, 1000, 2000, 16, 1050),
    # leak -1.5 (-98304): 10 - 1.5 = 8.5 -> 9
    ({"voltage_decay": 65536, "current_gain": 0, "leak": -98304}, 10, 0, 16, 9),
    # decay 0.5 of -3 = -1.5 -> -1; of 3 = 1.5 -> 2
    ({"voltage_decay": 32768, "current_gain": 0}, -3, 0, 16, -1),
    ({"voltage_decay": 32768, "current_gain": 0}, 3, 0, 16, 2),
    # saturation at both bounds
    ({"voltage_decay": 65536, "current_gain": 65536}, 32767, 1, 16, 32767),
    ({"voltage_decay": 65536, "current_gain": 65536}, -32768, -1, 16, -32768),
]
# fire_and_reset: threshold' = threshold + a; spike = v > threshold' (strict);
# v'' = spike ? (subtract ? sat(v - threshold') : reset_voltage) : v
# (parameters, v, a, state_bits, (v'', spike))
FIRE_AND_RESET = [
    ({"threshold": 1000}, 1000, 0, 16, (1000, 0)),          # equal: no spike (strict)
    ({"threshold": 1000}, 999, 0, 16, (999, 0)),
    ({"threshold": 1000}, 1001, 0, 16, (0, 1)),             # reset to v_reset = 0
    ({"threshold": 1000, "reset_voltage": -200}, 1001, 0, 16, (-200, 1)),
    ({"threshold": -1, "reset_voltage": 7}, 0, 0, 16, (7, 1)),  # 0 > -1
    ({"threshold": 0}, -5, 0, 16, (-5, 0)),
    ({"threshold": 1000, "reset_subtract": 1}, 1500, 0, 16, (500, 1)),
    ({"threshold": 1000, "reset_subtract": 1}, 1000, 0, 16, (1000, 0)),
    # adaptation raises the threshold to 1300
    ({"threshold": 1000, "reset_subtract": 1}, 1500, 300, 16, (200, 1)),
    ({"threshold": 1000}, 1300, 300, 16, (1300, 0)),        # equal to threshold + a
    ({"threshold": 1000}, 1200, 300, 16, (1200, 0)),
    # subtraction saturates: 32767 - (-32768) = 65535 -> 32767
    ({"threshold": -32768, "reset_subtract": 1}, 32767, 0, 16, (32767, 1)),
]
# update_adaptation: sat(round_shift(adaptation_decay * a) + (spike ? adaptation_step : 0))
# (parameters, a, spike, state_bits, a')
UPDATE_ADAPTATION = [
    ({"adaptation_decay": 65536}, 100, 0, 16, 100),                       # decay by 1
    ({"adaptation_decay": 0, "adaptation_step": 50}, 100, 1, 16, 50),     # decay by 0, a spike
    ({"adaptation_decay": 32768}, 5, 0, 16, 3),                           # 2.5 -> 3
    ({"adaptation_decay": 32768}, -5, 0, 16, -2),                         # -2.5 -> -2
    ({"adaptation_decay": 32768, "adaptation_step": 40}, 100, 1, 16, 90),  # 50 + 40
    ({"adaptation_decay": 32768, "adaptation_step": 40}, 100, 0, 16, 50),
    ({"adaptation_decay": 65536, "adaptation_step": 100}, 32760, 1, 16, 32767),  # saturates
]
# neuron_step over several steps: (parameters, inputs x_t, [(I, v, a, spike) after each step])
NEURON_STEPS = [
    # LIF: I = x; v = 0.75 v + I; threshold 100, reset to 0:
    # v: 40, 0.75*40 + 40 = 70, 52.5 + 40 = 92.5 -> 93, 69.75 + 40 = 109.75 -> 110 > 100:
    # spike, reset 0; then x = 0: v = 0
    ({"current_decay": 0, "input_gain": 65536, "voltage_decay": 49152, "current_gain": 65536,
      "threshold": 100}, [40, 40, 40, 40, 0],
     [(40, 40, 0, 0), (40, 70, 0, 0), (40, 93, 0, 0), (40, 0, 0, 1), (0, 0, 0, 0)]),
    # adaptive IF with subtract reset: threshold 50, adaptation decay 0.5, step 20, x = 60:
    # t0: v 60 > 50: spike, v 60 - 50 = 10, a = 0 + 20 = 20
    # t1: v 10 + 60 = 70, threshold 50 + 20 = 70: equal, no spike; a = 10
    # t2: v 70 + 60 = 130 > 60: spike, v = 130 - 60 = 70; a = 5 + 20 = 25
    ({"current_decay": 0, "input_gain": 65536, "voltage_decay": 65536, "current_gain": 65536,
      "threshold": 50, "reset_subtract": 1, "adaptation_decay": 32768,
      "adaptation_step": 20}, [60, 60, 60],
     [(60, 10, 20, 1), (60, 70, 10, 0), (60, 70, 25, 1)]),
]

# --- ReRAM crossbar ------------------------------------------------------------------------------
# crossbar_slices(weight_bits, cell_bits) = ceil((weight_bits - 1) / cell_bits)
CROSSBAR_SLICES = [(8, 2, 4), (8, 3, 3), (8, 7, 1), (8, 8, 1), (2, 1, 1), (16, 4, 4)]
# crossbar_outputs(cols, weight_bits, cell_bits) = cols // (2 S)
CROSSBAR_OUTPUTS = [(64, 8, 2, 8), (63, 8, 2, 7), (7, 8, 2, 0), (6, 8, 3, 1)]
# crossbar_column(output, polarity, slice, S) = (2 output + polarity) S + slice
CROSSBAR_COLUMN = [(0, 0, 0, 4, 0), (0, 1, 0, 4, 4), (1, 1, 2, 4, 14), (2, 0, 3, 4, 19)]
# crossbar_cell_address(row, column, rows) = column * rows + row
CELL_ADDRESS = [(3, 2, 16, 35), (0, 0, 16, 0), (15, 0, 16, 15)]
# conductance_bits(cell_bits) = cell_bits + G + 1
CONDUCTANCE_BITS = [(1, 8), (2, 9), (8, 15)]
# max_adc_shift(rows, cell_bits, adc_bits) = max(0, bits(rows (2^(cell_bits + 7) - 1)) - G - adc)
# 64 rows x 511 = 32704 (15 bits) -> 15 - 6 - 6 = 3; 1 x 511 (9 bits) -> 0; 4 x 511 = 2044
# (11 bits) -> 11 - 6 - 2 = 3
MAX_ADC_SHIFT = [(64, 2, 6, 3), (1, 2, 6, 0), (4, 2, 2, 3)]
# crossbar_output_bits(rows, cols, weight_bits, cell_bits, adc_bits): largest output
# (2^adc - 1) * sum_s 2^(s cell_bits) << max_adc_shift, plus a sign bit:
# 63 * (1 + 4 + 16 + 64) = 5355, << 3 = 42840 (16 bits) -> 17
CROSSBAR_OUTPUT_BITS = [(64, 64, 8, 2, 6, 17)]

# --- device variation (Marsaglia xorshift32, shifts 13, 17, 5; words worked out with the
# equations on 32-bit integers) -----------------------------------------------------------------
# variation_state(address, seed) = ((address * 0x9E3779B9) mod 2^32) XOR seed, 0 -> 0x6D2B79F5
VARIATION_STATE = [
    (0, 0, 0x6D2B79F5),          # 0 would stay 0 forever
    (1, 0, 0x9E3779B9),
    (2, 0, 0x3C6EF372),          # 0x13C6EF372 mod 2^32
    (1, 0x9E3779B9, 0x6D2B79F5),  # mixes to 0
    (1, 1, 0x9E3779B8),
    (5, 7, 387276954),           # 5 * 0x9E3779B9 = 13272178845 = 387276957 mod 2^32, XOR 7
]
# xorshift32: 1 -> 1 ^ 1<<13 = 8193 -> (>>17 = 0) -> 8193 ^ 8193<<5 = 270369;
# 270369 = 0x42021 -> 0x84000021 -> 0x84004221 -> 0x04080601 = 67634689;
# Marsaglia's published first output from 2463534242 is 723471715
XORSHIFT32 = [(1, 270369), (270369, 67634689), (2463534242, 723471715)]
# variation_sample(state) = sum of the 4 bytes of xorshift32(xorshift32(state)) - 510:
# state 1 -> 0x04080601: 1 + 6 + 8 + 4 - 510 = -491
VARIATION_SAMPLE = [(1, -491)]
# variation_scale(sigma) = round(sigma * 2^18 / sqrt(4 (256^2 - 1) / 12)), sqrt(21845) = 147.8005:
# 0.1 -> 177.36 -> 177; 0.25 -> 443.41 -> 443
VARIATION_SCALE = [(0.0, 0), (0.1, 177), (0.25, 443)]
# cell_conductance(level, variation, cell_bits) = clamp(level << 6 + round_shift(level *
# variation, 12), 0, 2^(cell_bits + 7) - 1)
CELL_CONDUCTANCE = [
    (0, 123456, 2, 0),          # level 0 is exactly 0 whatever the variation
    (3, 0, 2, 192),
    (2, 2048, 2, 129),          # 128 + round_shift(4096, 12) = 128 + 1
    (1, 2048, 2, 65),           # 64 + 0.5 -> 64 + 1
    (1, -2048, 2, 64),          # 64 - 0.5 -> 64 + 0
    (3, 10**6, 2, 511),         # 192 + 732 = 924, clamped to 2^9 - 1
    (3, -10**6, 2, 0),          # 192 - 732 < 0, clamped to 0
]
# crossbar_conductances of one cell, level 3, cell_bits 2, sigma 0.1 at address 0 with seed 1:
# state 1, sample -491, scale 177, variation -86907; 192 + round_shift(-260721, 12)
# = 192 + floor(-258673 / 4096) = 192 - 64 = 128
CONDUCTANCE_WITH_VARIATION = ([[3]], 2, 0.1, 1, [[128]])

# --- ADC: code = min((column_sum + 2^(G + shift - 1)) >> (G + shift), 2^adc_bits - 1) -----------
# (column_sum, adc_shift, adc_bits, code)
ADC_CONVERT = [
    (0, 0, 6, 0),
    (320, 0, 6, 5),            # 5 levels
    (351, 0, 6, 5),            # 5.48 -> 5
    (352, 0, 6, 6),            # 5.5 -> 6 (half up)
    (4032, 0, 6, 63),          # 63 levels: the largest code
    (4063, 0, 6, 63),          # 63.48 -> 63
    (4064, 0, 6, 63),          # 63.5 -> 64, clipped to 63
    (10**6, 0, 6, 63),         # clipped
    (1280, 2, 6, 5),           # 1280 / 256 = 5
    (1408, 2, 6, 6),           # 5.5 -> 6
    (3840, 2, 4, 15),          # 15: the largest 4-bit code
    (3968, 2, 4, 15),          # 15.5 -> 16, clipped to 15
]
# adc_rounding(shift) = 2^(G + shift) / 2; adc_saturation(shift, bits) = 2^(G + shift + bits)
ADC_ROUNDING = [(0, 32), (3, 256)]
ADC_SATURATION = [(0, 6, 4096), (2, 4, 4096), (1, 6, 8192)]

# --- bit slicing and recombination --------------------------------------------------------------
# slice_contribution(code, polarity, slice, cell_bits) = +-(code << slice * cell_bits)
SLICE_CONTRIBUTION = [(5, 0, 0, 2, 5), (5, 0, 1, 2, 20), (5, 1, 3, 2, -320), (3, 1, 0, 2, -3)]
# crossbar_output(total, shift) = total << shift
CROSSBAR_OUTPUT = [(37, 0, 37), (-37, 2, -148)]
# crossbar_levels(weights [sources, targets], rows, cols, weight_bits = 8, cell_bits = 2):
# S = 4, one output (8 columns: 0-3 positive slices 0..3, 4-7 negative). 5 = 0b0000101 ->
# slices 1, 1, 0, 0; |-6| = 0b0000110 -> 2, 1, 0, 0; 127 = 0b1111111 -> 3, 3, 3, 1
CROSSBAR_LEVELS = [
    ([[5], [-6]], 2, 8, [[1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 2, 1, 0, 0]]),
    ([[127], [-127]], 2, 8, [[3, 3, 3, 1, 0, 0, 0, 0], [0, 0, 0, 0, 3, 3, 3, 1]]),
    ([[0]], 1, 8, [[0, 0, 0, 0, 0, 0, 0, 0]]),
]
# weights outside -127..127 at 8 bits are refused
CROSSBAR_LEVELS_REFUSED = [[[128]], [[-128]]]
# crossbar_matvec(conductances = levels << 6, spikes, weight_bits 8, cell_bits 2, adc_bits,
# adc_shift) -> outputs, on the level rows above:
# weights 5, -6 (rows 0, 1), both rows active: columns 0, 1 sum 64 -> codes 1, 1; column 4 sums
# 128 -> 2, column 5 64 -> 1: 1 + 1<<2 - 2 - 1<<2 = -1 = 5 - 6
# four rows of 127 all active, adc 2 bits (codes 0..3): columns 0-2 sum 4 * 192 = 768 -> 12,
# column 3 sums 256 -> 4, all clipped to 3: 3 + 3<<2 + 3<<4 + 3<<6 = 255 (exact: 508)
# the same at adc 6 bits, shift 1: 768 -> (768 + 64) >> 7 = 6, 256 -> 2:
# (6 + 6<<2 + 6<<4 + 2<<6) << 1 = 254 << 1 = 508, exact
LEVELS_5_MINUS_6 = [[1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 2, 1, 0, 0]]
LEVELS_4_X_127 = [[3, 3, 3, 1, 0, 0, 0, 0]] * 4
CROSSBAR_MATVEC = [
    (LEVELS_5_MINUS_6, [[1, 1], [1, 0], [0, 1], [0, 0]], 6, 0, [[-1], [5], [-6], [0]]),
    (LEVELS_4_X_127, [[1, 1, 1, 1]], 2, 0, [[255]]),
    (LEVELS_4_X_127, [[1, 1, 1, 1]], 6, 1, [[508]]),
]
# crossbar_adc_shift(conductances of LEVELS_4_X_127, cell_bits 2, adc_bits, active_rows): the
# smallest shift whose rounded worst column (768) fits the code: adc 6 -> 12 <= 63 at shift 0;
# adc 2 -> 12, 6 > 3, then (768 + 128) >> 8 = 3 at shift 2; one active row: 192 -> 3 at shift 0
CROSSBAR_ADC_SHIFT = [(6, None, 0), (2, None, 2), (2, 1, 0)]
