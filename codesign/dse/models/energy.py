"""Energy per inference: synaptic events, neuron updates, ADC conversions and static power.

``E = sum(work_i * e_i) + P_static * latency`` where the work counts come from the cycle estimate
(per timestep, times the timesteps of a sample) and the per-operation energies are built from
published constants:

* **Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014**, 45 nm,
  0.9 V: 32-bit integer add 0.1 pJ, 32-bit integer multiply 3.1 pJ, 64-bit read of an 8 KB SRAM
  10 pJ (so ~0.16 pJ per bit). Adds scale linearly with width, multiplies with the product of the
  widths, SRAM reads with the bits read.
* **Kuon and Rose, "Measuring the gap between FPGAs and ASICs", IEEE TCAD 26(2), 2007**: an FPGA
  needs ~14x the dynamic power of an ASIC for soft logic and ~7.1x when hard blocks (block RAM,
  DSP) do the work. Logic energies are scaled by the first, memory reads by the second.
* **Shafiee et al., "ISAAC: a convolutional neural network accelerator with in-situ analog
  arithmetic in crossbars", ISCA 2016**: an 8-bit ADC at 1.28 GS/s draws 16 mW, i.e. 12.5 pJ per
  conversion; energy per conversion doubles per extra bit (constant Walden figure of merit).
  A 128x128 memristor array read costs 0.3 mW x 100 ns = 30 pJ, i.e. ~1.8 fJ per cell read.
  These model the ReRAM target the crossbar tiles stand for (the FPGA only emulates them).
* **Static power**: ~100 mW of core quiescent power for a Lattice ECP5-85 (84k LUTs), the order
  of magnitude the Lattice ECP5 power calculator gives at 25 C; the design is charged the share
  of the device its LUTs occupy (1.2 mW per 1000 LUTs).

The numbers are estimates for comparing designs against each other, not sign-off figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from codesign import arithmetic
from codesign.arch.config import HWConfig
from codesign.arch.layout import CoreLayout
from codesign.dse.models.cycle_estimate import CycleEstimate

ADD_32BIT_PJ = 0.1            # Horowitz 2014
MULTIPLY_32BIT_PJ = 3.1       # Horowitz 2014
SRAM_BIT_READ_PJ = 10.0 / 64  # Horowitz 2014, 8 KB SRAM
FPGA_LOGIC_FACTOR = 14.0      # Kuon and Rose 2007, soft logic
FPGA_HARD_BLOCK_FACTOR = 7.1  # Kuon and Rose 2007, with hard memories/multipliers
ADC_8BIT_PJ = 12.5            # Shafiee et al. 2016 (ISAAC)
CROSSBAR_CELL_READ_PJ = 30.0 / (128 * 128)  # Shafiee et al. 2016 (ISAAC)
STATIC_MW_PER_KLUT = 100.0 / 84.0           # ECP5-85 quiescent power / its kLUTs


@dataclass
class OperationEnergies:
    """Energy in pJ of one operation of each kind on ``config``."""

    synaptic_event: float
    synapse_word: float
    neuron_update: float
    adc_conversion: float
    crossbar_row: float


def _add(bits: int) -> float:
    return ADD_32BIT_PJ * bits / 32 * FPGA_LOGIC_FACTOR


def _multiply(bits_a: int, bits_b: int) -> float:
    return MULTIPLY_32BIT_PJ * bits_a * bits_b / (32 * 32) * FPGA_HARD_BLOCK_FACTOR


def _memory(bits: int) -> float:
    return SRAM_BIT_READ_PJ * bits * FPGA_HARD_BLOCK_FACTOR


def operation_energies(config: HWConfig) -> OperationEnergies:
    layout = CoreLayout.from_config(config)
    accumulator = layout.accumulator_bits
    state = config.state_bits
    coefficient = arithmetic.COEFFICIENT_BITS
    return OperationEnergies(
        # accumulator read-modify-write plus the add
        synaptic_event=_memory(2 * accumulator) + _add(accumulator),
        synapse_word=_memory(layout.synapse_word_fields.width),
        # three state words and one accumulator read and written back; two multiply-adds for
        # current and voltage, the threshold compare and the adaptation
        neuron_update=_memory(2 * 3 * state + 2 * accumulator)
        + 3 * _multiply(state, coefficient) + 5 * _add(state + arithmetic.FRACTION_BITS),
        adc_conversion=ADC_8BIT_PJ * 2.0 ** (config.crossbar.adc_bits - 8),
        crossbar_row=CROSSBAR_CELL_READ_PJ * config.crossbar.cols,
    )


def static_power_mw(luts: float) -> float:
    """Static power charged to a design of ``luts`` LUTs."""
    return STATIC_MW_PER_KLUT * luts / 1000.0


def energy_per_sample_uj(config: HWConfig, work: CycleEstimate, timesteps: int,
                         latency_us: float, luts: float) -> float:
    """Energy of one inference of ``timesteps`` steps, in microjoules."""
    energies = operation_energies(config)
    dynamic_pj = timesteps * (work.synaptic_events * energies.synaptic_event
                              + work.synapse_words * energies.synapse_word
                              + work.neuron_updates * energies.neuron_update
                              + work.adc_conversions * energies.adc_conversion
                              + work.crossbar_row_activations * energies.crossbar_row)
    static_pj = static_power_mw(luts) * 1e-3 * latency_us * 1e-6 * 1e12
    return (dynamic_pj + static_pj) * 1e-6
