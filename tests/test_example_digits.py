"""The bundled digits example trains, writes a loadable NIR graph and a labelled spike test set."""

import subprocess
import sys

import nir
import numpy as np
import pytest

from codesign.errors import CodesignError
from codesign.examples.digits import make_digits


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    directory = tmp_path_factory.mktemp("digits")
    return make_digits(directory, seed=0)


def test_writes_loadable_nir_graph(digits):
    graph = nir.read(str(digits.nir_path))
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    assert sorted(kinds.values()) == ["IF", "IF", "Input", "Linear", "Linear", "Output"]
    assert ("input", "fc1") in graph.edges and ("if2", "output") in graph.edges
    assert graph.nodes["fc1"].weight.shape == (64, 64)
    assert graph.nodes["fc2"].weight.shape == (10, 64)
    for name in ("if1", "if2"):
        # discrete-time IF for dt = 1e-4: r = 1/dt, threshold 1, reset to 0
        np.testing.assert_allclose(graph.nodes[name].r, 1e4)
        np.testing.assert_allclose(graph.nodes[name].v_threshold, 1.0)
        np.testing.assert_allclose(graph.nodes[name].v_reset, 0.0)


def test_writes_labelled_spike_inputs(digits):
    data = np.load(digits.test_path)
    x, y = data["x"], data["y"]
    assert x.dtype == np.uint8 and x.ndim == 3 and x.shape[1:] == (32, 64)
    assert set(np.unique(x)) <= {0, 1}
    assert y.shape == (x.shape[0],) and x.shape[0] == 360
    assert set(np.unique(y)) == set(range(10))
    # rate coding: border pixels of the 8x8 digits are almost always dark, the centre is not
    rates = x.mean(axis=(0, 1)).reshape(8, 8)
    assert rates[:, 0].mean() < 0.05 and rates[2:6, 2:6].mean() > 0.2


def test_ann_and_converted_snn_classify_digits(digits):
    assert digits.ann_accuracy > 0.93
    # the test's own discrete-time IF simulation of the NIR graph (v += x; v > 1 -> spike, v = 0)
    graph = nir.read(str(digits.nir_path))
    data = np.load(digits.test_path)
    spikes = data["x"].astype(np.float64)
    layers = [graph.nodes["fc1"].weight, graph.nodes["fc2"].weight]
    voltages = [np.zeros((spikes.shape[0], w.shape[0])) for w in layers]
    counts = np.zeros((spikes.shape[0], 10))
    for step in range(spikes.shape[1]):
        signal = spikes[:, step]
        for weight, voltage in zip(layers, voltages):
            voltage += signal @ weight.T
            fired = voltage > 1.0
            voltage[fired] = 0.0
            signal = fired.astype(np.float64)
        counts += signal
    accuracy = np.mean(np.argmax(counts, axis=1) == data["y"])
    assert accuracy > 0.9
    # the float reference (dt = 1e-4, r = 1e4) runs the same discrete-time IF network
    assert digits.snn_accuracy == pytest.approx(accuracy, abs=0.01)


def test_is_deterministic_for_a_seed(digits, tmp_path):
    again = make_digits(tmp_path, seed=0, measure_snn=False)
    first, second = np.load(digits.test_path), np.load(again.test_path)
    assert np.array_equal(first["x"], second["x"]) and np.array_equal(first["y"], second["y"])
    np.testing.assert_array_equal(nir.read(str(digits.nir_path)).nodes["fc2"].weight,
                                  nir.read(str(again.nir_path)).nodes["fc2"].weight)


def test_bad_arguments_are_one_line_errors(tmp_path):
    with pytest.raises(CodesignError, match="--timesteps"):
        make_digits(tmp_path, timesteps=0)
    result = subprocess.run([sys.executable, "-m", "codesign", "example", "digits", "-o",
                             str(tmp_path), "--hidden", "2"], capture_output=True, text=True)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "--hidden" in result.stderr
