"""The NIR paper's cases on the float reference and the fixed-point golden model."""

import numpy as np
import pytest

from codesign.compiler import float_reference, frontend, golden
from codesign.compiler.analysis import fidelity
from codesign.compiler.pipeline import CompileOptions, discretized, quantized
from codesign.events import bin_events, read_nmnist
from nir_cases import shared_case


def _lif_trace():
    return np.loadtxt(shared_case("NIR_paper/01_lif/lif_norse.csv"), delimiter=",")


def test_single_lif_matches_norse_trace():
    trace = _lif_trace()
    graph = discretized(frontend.load(shared_case("NIR_paper/01_lif/lif_norse.nir")),
                        CompileOptions())
    result = float_reference.simulate(graph, trace[:, 0].reshape(1000, 1, 1), record=True)
    assert np.nonzero(result.output.ravel())[0].tolist() == [460, 510, 710, 760]
    voltage = result.records["1"]["v"].ravel()
    assert np.max(np.abs(voltage - trace[:, 1])) < 1e-6


def test_single_lif_fixed_point_spikes_at_the_same_steps():
    trace = _lif_trace()
    network = quantized(frontend.load(shared_case("NIR_paper/01_lif/lif_norse.nir")),
                        CompileOptions())
    result = golden.simulate(network, trace[:, 0].reshape(1000, 1, 1))
    assert np.nonzero(result.output.ravel())[0].tolist() == [460, 510, 710, 760]


@pytest.mark.parametrize("mode", ["float", "fixed"])
def test_two_lif_neurons(mode):
    graph = frontend.load(shared_case(
        "NIR_paper/01_lif/debug_spike_representation/two_lif_neurons.nir"))
    zeros = np.zeros((1000, 1, 1))
    if mode == "float":
        records = float_reference.simulate(discretized(graph, CompileOptions()), zeros,
                                           record=True).records
    else:
        records = golden.simulate(quantized(graph, CompileOptions()), zeros, record=True).records
    spikes = np.nonzero(records["lif1"]["spikes"].ravel())[0]
    assert spikes.tolist() == list(range(178, 1000, 179))
    assert records["lif2"]["spikes"].sum() == 0


@pytest.mark.parametrize("name, reset", [("braille_noDelay_bias_zero", "zero"),
                                         ("braille_noDelay_noBias_subtract", "subtract")])
def test_braille_srnn_fixed_point_fidelity(name, reset):
    graph = frontend.load(shared_case(f"NIR_paper/03_rnn/{name}.nir"))
    options = CompileOptions(reset=reset, weight_bits=8, state_bits=16)
    spikes = (np.random.default_rng(0).random((256, 16, 12)) < 0.2).astype(np.float64)
    reference = float_reference.simulate(discretized(graph, options), spikes, record=True)
    fixed = golden.simulate(quantized(graph, options), spikes, record=True)
    report = fidelity.compare(reference.records, fixed.records, reference.output, fixed.output)
    hidden = next(layer for layer in report.layers if layer.name == "lif1.lif")
    print(f"{name}: hidden-layer rate cosine {hidden.rate_cosine:.4f}")
    assert hidden.float_rate > 0, "the input must drive the hidden layer"
    assert hidden.rate_cosine >= 0.95


def test_scnn_on_nmnist_float_and_fixed_agree_on_the_class():
    frames = bin_events(read_nmnist(shared_case("tonic/sample_nmnist.bin")))
    assert frames.shape[1:] == (2, 34, 34)
    assert frames.sum() == 4325  # every event of the recording is binned
    graph = frontend.load(shared_case("NIR_paper/02_cnn/cnn_sinabs.nir"))
    # sinabs exports its discrete-time IAF as IF with r=1: one unit of time per step.
    options = CompileOptions(dt=1.0)
    reference = float_reference.simulate(discretized(graph, options), frames[:, None])
    fixed = golden.simulate(quantized(graph, options), frames[:, None])
    assert reference.output.sum() > 0 and fixed.output.sum() > 0
    assert fidelity.predictions(reference.output) == fidelity.predictions(fixed.output)
