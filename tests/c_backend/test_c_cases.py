"""The C back end on every graph of ../shared/nir-cases that the front end accepts: fixed mode
bit-exact with the golden model, float mode against the float reference."""

import numpy as np
import pytest

from codesign.compiler import float_reference, frontend, golden, ir
from codesign.compiler.backends.c_backend import generate_fixed, generate_float
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.pipeline import CompileOptions, discretized, quantized
from codesign.events import bin_events, read_nmnist
from c_helpers import assert_bit_exact, run_sources
from nir_cases import shared_case

LIF = "NIR_paper/01_lif/lif_norse.nir"
TWO_LIF = "NIR_paper/01_lif/debug_spike_representation/two_lif_neurons.nir"


def _lif_input() -> np.ndarray:
    trace = np.loadtxt(shared_case("NIR_paper/01_lif/lif_norse.csv"), delimiter=",")
    return trace[:, 0].reshape(-1, 1, 1)


def _braille_input() -> np.ndarray:
    return (np.random.default_rng(7).random((256, 3, 12)) < 0.2).astype(np.float64)


CASES = {
    "lif_norse": (LIF, CompileOptions(), _lif_input),
    "lif_rockpool": ("NIR_paper/01_lif/lif_rockpool.nir", CompileOptions(), _lif_input),
    "two_lif_neurons": (TWO_LIF, CompileOptions(), lambda: np.zeros((1000, 1, 1))),
    "braille_bias_zero": ("NIR_paper/03_rnn/braille_noDelay_bias_zero.nir",
                          CompileOptions(reset="zero"), _braille_input),
    "braille_noBias_subtract": ("NIR_paper/03_rnn/braille_noDelay_noBias_subtract.nir",
                                CompileOptions(reset="subtract"), _braille_input),
    "braille_norse": ("norse/braille.nir", CompileOptions(), _braille_input),
    "braille_nirtorch": ("NIRTorch/braille.nir", CompileOptions(), _braille_input),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fixed_mode_is_bit_exact_with_the_golden_model(case, tmp_path):
    relative, options, make_input = CASES[case]
    network = quantized(frontend.load(shared_case(relative)), options)
    inputs = make_input()
    expected = golden.simulate(network, inputs, record=True)
    result = run_sources(generate_fixed(network, case), tmp_path, inputs)
    assert_bit_exact(result, expected)
    if case.startswith("braille"):
        assert expected.records[network.populations[0].name]["spikes"].sum() > 0


def test_fixed_lif_spikes_at_the_papers_steps(tmp_path):
    network = quantized(frontend.load(shared_case(LIF)), CompileOptions())
    result = run_sources(generate_fixed(network), tmp_path, _lif_input())
    assert np.nonzero(result.output.ravel())[0].tolist() == [460, 510, 710, 760]


@pytest.mark.slow
def test_fixed_scnn_on_20_nmnist_frames_is_bit_exact(tmp_path):
    frames = bin_events(read_nmnist(shared_case("tonic/sample_nmnist.bin")))[:20, None]
    # sinabs' IAF is discrete-time: one unit of time per step (see passes/discretize.py).
    network = quantized(frontend.load(shared_case("NIR_paper/02_cnn/cnn_sinabs.nir")),
                        CompileOptions(dt=1.0))
    expected = golden.simulate(network, frames, record=True)
    result = run_sources(generate_fixed(network, "scnn"), tmp_path, frames,
                         flags=("-std=c11", "-O1"))
    assert_bit_exact(result, expected)
    assert all(record["spikes"].sum() > 0 for name, record in expected.records.items()
               if name != network.output), "every hidden layer must spike"


# Also the Braille SRNNs (recurrent CubaLIF): with biases, the recurrent Affine's bias acts from
# step 0 in both, as the cycle reads the previous step at the neuron's spike output.
@pytest.mark.parametrize("case", ["lif_norse", "lif_rockpool", "two_lif_neurons",
                                  "braille_bias_zero", "braille_noBias_subtract",
                                  "braille_norse"])
def test_float_mode_matches_the_float_reference(case, tmp_path):
    relative, options, make_input = CASES[case]
    graph = discretized(frontend.load(shared_case(relative)), options)
    inputs = make_input()
    reference = float_reference.simulate(graph, inputs, record=True)
    result = run_sources(generate_float(Fuse().apply(graph), case), tmp_path, inputs)
    np.testing.assert_array_equal(result.output, reference.output)
    for name, record in reference.records.items():
        voltage = result.records[name]["voltage"].reshape(record["v"].shape)
        assert np.max(np.abs(voltage - record["v"])) <= 1e-5, name
    if case == "two_lif_neurons":  # the hidden neuron's spikes show as resets to 0
        resets = np.nonzero(result.records["lif1"]["voltage"].ravel() == 0)[0]
        spikes = np.nonzero(reference.records["lif1"]["spikes"].ravel())[0]
        assert resets.tolist() == spikes.tolist() == list(range(178, 1000, 179))


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_adaptive_lif_outside_nir_is_bit_exact(reset, tmp_path):
    """The adaptive threshold (stage 4 of the arithmetic) is stored and traced like the rest."""
    rng = np.random.default_rng(11)
    size, inputs = 16, 6
    nodes = {
        "input": ir.Input("input", shape=(inputs,)),
        "weight": ir.Affine("weight", weight=rng.normal(0.6, 0.5, (size, inputs)),
                            bias=np.zeros(size)),
        "alif": ir.AdaptiveLIF("alif", tau=rng.uniform(2e-3, 6e-3, size), r=np.ones(size),
                               v_leak=np.zeros(size), v_threshold=rng.uniform(0.3, 0.6, size),
                               v_reset=np.zeros(size), tau_adaptation=np.full(size, 2e-2),
                               adaptation_step=rng.uniform(0.1, 0.4, size)),
        "output": ir.Output("output", shape=(size,)),
    }
    graph = ir.Graph(nodes, [("input", "weight"), ("weight", "alif"), ("alif", "output")])
    network = quantized(graph, CompileOptions(dt=1e-3, reset=reset))
    spikes = (rng.random((80, 2, inputs)) < 0.5).astype(np.float64)
    expected = golden.simulate(network, spikes, record=True)
    assert np.any(expected.final_state["alif"].adaptation != 0)
    sources = generate_fixed(network, "adaptive")
    assert "pop0_adaptation" in sources.model_c
    assert_bit_exact(run_sources(sources, tmp_path, spikes), expected)
