"""Pass pipeline, quantisation invariants and golden-model vectorisation."""

import io

import nir
import numpy as np
import pytest

from codesign import arithmetic
from codesign.compiler import frontend, golden
from codesign.compiler.pass_manager import PassManager
from codesign.compiler.passes.discretize import Discretize
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.passes.quantize import Quantize
from codesign.compiler.pipeline import CompileOptions, quantized
from codesign.errors import CodesignError
from nir_cases import shared_case


def _braille():
    return frontend.load(shared_case("NIR_paper/03_rnn/braille_noDelay_bias_zero.nir"))


def test_pass_manager_dumps_the_ir_after_the_named_pass():
    stream = io.StringIO()
    PassManager([Discretize(), Fuse(), Quantize()], dump_after=["fuse"], stream=stream).run(
        _braille())
    text = stream.getvalue()
    assert "// IR after fuse" in text and "// IR after quantize" not in text
    assert "projection lif1.lif -> lif1.lif delay=1" in text


def test_pass_manager_rejects_unknown_pass_name():
    with pytest.raises(CodesignError, match="unknown pass"):
        PassManager([Discretize()], dump_after=["nonsense"])


@pytest.mark.parametrize("weight_bits, state_bits", [(2, 8), (4, 12), (8, 16), (16, 32)])
def test_quantized_values_fit_their_widths(weight_bits, state_bits):
    network = quantized(_braille(), CompileOptions(weight_bits=weight_bits,
                                                   state_bits=state_bits))
    low, high = arithmetic.signed_limits(weight_bits)
    for population in network.populations:
        weights = np.concatenate([p.weight.data for p in network.incoming(population.name)])
        assert weights.min() >= low and weights.max() <= high
        assert np.abs(weights).max() == high  # the largest weight uses the full range
    widths = arithmetic.parameter_widths(state_bits)
    for population in network.populations:
        for name, (bits, signed) in widths.items():
            values = getattr(population.parameters, name)
            lowest, highest = arithmetic.signed_limits(bits) if signed else (0, (1 << bits) - 1)
            assert values.min() >= lowest and values.max() <= highest, name


def test_weight_scale_is_shared_by_all_projections_into_a_population():
    layers = Fuse().apply(Discretize().apply(_braille()))
    network = Quantize(8, 16).apply(layers)
    incoming = [p for p in layers.projections if p.target == "lif1.lif"]
    scale = network.population("lif1.lif").input_scale
    assert scale == pytest.approx(max(abs(p.weight).max() for p in incoming) / 127)


def test_golden_batch_equals_samples_run_one_by_one():
    network = quantized(_braille(), CompileOptions())
    spikes = (np.random.default_rng(3).random((64, 5, 12)) < 0.3).astype(np.int64)
    batch = golden.simulate(network, spikes, record=True)
    for sample in range(5):
        alone = golden.simulate(network, spikes[:, sample:sample + 1], record=True)
        assert np.array_equal(alone.output[:, 0], batch.output[:, sample])
        assert np.array_equal(alone.records["lif1.lif"]["v"][:, 0],
                              batch.records["lif1.lif"]["v"][:, sample])


def test_golden_rejects_non_integer_input():
    network = quantized(_braille(), CompileOptions())
    with pytest.raises(CodesignError, match="spike counts"):
        golden.simulate(network, np.full((3, 1, 12), 0.5))


def test_accumulator_overflow_is_refused():
    wide = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([20000])),
        "lin": nir.Linear(weight=np.ones((1, 20000))),
        "if": nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1)),
        "output": nir.Output(output_type=np.array([1]))},
        edges=[("input", "lin"), ("lin", "if"), ("if", "output")])
    with pytest.raises(CodesignError, match="accumulator"):
        quantized(frontend.nir_to_ir(wide), CompileOptions(weight_bits=8))
