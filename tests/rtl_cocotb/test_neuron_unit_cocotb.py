"""NeuronUnit on Verilator under cocotb: every model, both resets, one neuron per cycle, compared
bit for bit with arithmetic.neuron_step on numpy int64 arrays."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cocotb
import numpy as np
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

from codesign import arithmetic
from codesign.hw.rtl.neuron_unit import NeuronUnit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hw"))
from neuron_models import MODELS, neurons, profile, reference  # noqa: E402

WEIGHT_BITS = 8
COUNT = 150


def make_unit(state_bits: int, dsp_bits: int, max_depth: float) -> NeuronUnit:
    return NeuronUnit(state_bits=state_bits,
                      accumulator_bits=arithmetic.accumulator_bits(WEIGHT_BITS),
                      dsp_bits=dsp_bits, max_depth=max_depth)


@cocotb.test()
async def every_model_bit_exact(dut):
    state_bits = int(os.environ["NEURON_STATE_BITS"])
    # for the port layouts and the latency
    unit = make_unit(state_bits, int(os.environ["NEURON_DSP_BITS"]),
                     float(os.environ["NEURON_STAGE_DEPTH"]))
    rng = np.random.default_rng(11)
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    dut.neuron_valid.value = 0
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    checked = spikes = 0
    for model in MODELS:
        for reset_subtract in (0, 1):
            profile_values = profile(model, state_bits, reset_subtract, rng)
            batch = neurons(COUNT, state_bits, unit.accumulator_bits, rng)
            expected, expected_spike = reference(profile_values, batch, state_bits)
            dut.parameters.value = unit.profile_layout.const(profile_values).as_value().value
            packed = [unit.input_layout.const({"tag": i % 256, **{k: int(v[i]) for k, v in
                                                                  batch.items()}}).as_value().value
                      for i in range(COUNT)]
            results = []
            # Inputs change on the falling edge; outputs are sampled there too (settled).
            for cycle in range(COUNT + unit.latency + 2):
                await FallingEdge(dut.clk)
                if int(dut.result_valid.value):
                    results.append(unit.output_layout.from_bits(int(dut.result.value)))
                dut.neuron_valid.value = int(cycle < COUNT)
                if cycle < COUNT:
                    dut.neuron.value = packed[cycle]
            assert len(results) == COUNT, (model, len(results))
            for name in ("voltage", "current", "adaptation"):
                got = np.array([r[name] for r in results], dtype=np.int64)
                np.testing.assert_array_equal(got, getattr(expected, name),
                                              err_msg=f"{model} {name} subtract={reset_subtract}")
            got_spike = np.array([r.spike for r in results], dtype=np.int64)
            np.testing.assert_array_equal(got_spike, expected_spike, err_msg=model)
            assert [r.tag for r in results] == [i % 256 for i in range(COUNT)]
            checked += COUNT
            spikes += int(expected_spike.sum())
    assert spikes > 0
    dut._log.info("%d neuron updates bit-exact (%d spikes), latency %d", checked, spikes,
                  unit.latency)


def _run(design, dsp_bits: int, max_depth: float) -> None:
    from codesign.flows.verilator import run_cocotb

    run_cocotb(design, toplevel="neuron_unit",
               test_module=Path(__file__).stem, test_dir=Path(__file__).parent,
               extra_env={"NEURON_STATE_BITS": "16", "NEURON_DSP_BITS": str(dsp_bits),
                          "NEURON_STAGE_DEPTH": str(max_depth)})


@pytest.mark.parametrize("dsp_bits, max_depth", [(18, 1.5), (16, 4.0)])  # ECP5, iCE40 cut
def test_neuron_unit_on_verilator(dsp_bits, max_depth):
    _run(make_unit(16, dsp_bits, max_depth), dsp_bits, max_depth)


def test_ecp5_elaboration_on_verilator(tmp_path):
    """The unit as ``hw synth --family ecp5`` elaborates it (MULT18X18D instances with their own
    registers), with sim/models/mult18x18d.v standing in for the primitive: checks the instances'
    wiring and timing against the golden model, given that model of the block."""
    from codesign.flows.verilog import FamilyPlatform
    from codesign.flows.verilog import to_verilog

    verilog = to_verilog(make_unit(16, 18, 1.5), name="neuron_unit",
                         platform=FamilyPlatform("ecp5"))
    assert "MULT18X18D" in verilog and "REG_OUTPUT_CLK" in verilog
    model = Path(__file__).parent / "models" / "mult18x18d.v"
    design = tmp_path / "neuron_unit_ecp5.v"
    design.write_text(verilog + "\n" + model.read_text())
    _run(design, 18, 1.5)
