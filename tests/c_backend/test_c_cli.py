"""``driver.compile_c`` / ``run_c`` (what ``codesign compile --target c`` and ``codesign run
--target c`` call): files, npy/npz round trips through the cached build, and one-line errors."""

import json

import nir
import numpy as np
import pytest

from codesign.compiler import frontend, golden
from codesign.compiler.backends import c_runner
from codesign.compiler.driver import compile_c, run_c
from codesign.compiler.pipeline import CompileOptions, quantized
from codesign.errors import CodesignError
from nir_cases import shared_case


def _wide_fan_in(path) -> None:
    """70 inputs onto one LIF neuron: 255 spikes on each overflow the 8-bit accumulator."""
    nodes = {"input": nir.Input(input_type={"input": np.array([70])}),
             "weight": nir.Linear(weight=np.ones((1, 70))),
             "lif": nir.LIF(tau=np.array([1e-3]), r=np.ones(1), v_leak=np.zeros(1),
                            v_threshold=np.ones(1), v_reset=np.zeros(1)),
             "output": nir.Output(output_type={"output": np.array([1])})}
    edges = [("input", "weight"), ("weight", "lif"), ("lif", "output")]
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))


def test_compile_and_run_a_npz_batch(tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(tmp_path / "cache"))
    model = shared_case("NIR_paper/03_rnn/braille_noDelay_noBias_subtract.nir")
    options = CompileOptions(reset="subtract")
    _, files = compile_c(model, options, "fixed", tmp_path / "out", with_main=False)
    assert sorted(f.name for f in files) == ["model.c", "model.h", "model.json"]
    samples = (np.random.default_rng(2).random((3, 50, 12)) < 0.3).astype(np.int64)
    np.savez(tmp_path / "in.npz", x=samples, y=np.arange(3))
    arrays, _ = run_c(tmp_path / "out", tmp_path / "in.npz", tmp_path / "run.npz", record=True)
    saved = np.load(tmp_path / "run.npz")
    assert sorted(arrays) == sorted(saved.files)
    expected = golden.simulate(quantized(frontend.load(model), options),
                               np.swapaxes(samples, 0, 1), record=True)
    np.testing.assert_array_equal(saved["output"], np.swapaxes(expected.output, 0, 1))
    np.testing.assert_array_equal(saved["lif2.v"], np.swapaxes(expected.records["lif2"]["v"], 0, 1))
    np.testing.assert_array_equal(saved["lif1.lif.i"],
                                  np.swapaxes(expected.records["lif1.lif"]["i"], 0, 1))
    assert len(list((tmp_path / "cache" / "c").iterdir())) == 1  # built once, cached


def test_float_mode_with_main_and_npy(tmp_path):
    model = shared_case("NIR_paper/01_lif/lif_norse.nir")
    _, files = compile_c(model, CompileOptions(), "float", tmp_path / "out", with_main=True)
    assert "main.c" in {f.name for f in files}
    header = (tmp_path / "out" / "model.h").read_text()
    assert "int snn_step_float(const snn_float_t *in, snn_output_t *out);" in header
    trace = np.loadtxt(shared_case("NIR_paper/01_lif/lif_norse.csv"), delimiter=",")
    np.save(tmp_path / "in.npy", trace[:, :1])
    run_c(tmp_path / "out", tmp_path / "in.npy", tmp_path / "run.npz")
    output = np.load(tmp_path / "run.npz")["output"]
    assert output.shape == (1000, 1)
    assert np.nonzero(output.ravel())[0].tolist() == [460, 510, 710, 760]
    manifest = json.loads((tmp_path / "out" / "model.json").read_text())
    assert manifest["mode"] == "float" and manifest["input_type"] == "float64"


def test_errors_are_one_line(tmp_path):
    with pytest.raises(CodesignError, match="no model.json"):
        c_runner.execute(tmp_path, np.zeros((1, 1, 1)))
    compile_c(shared_case("NIR_paper/01_lif/lif_norse.nir"), CompileOptions(), "fixed",
              tmp_path / "lif", with_main=False)
    with pytest.raises(CodesignError, match="spike counts from 0 to 255"):
        c_runner.execute(tmp_path / "lif", np.full((3, 1, 1), 256.0))
    with pytest.raises(CodesignError, match="expects"):
        c_runner.execute(tmp_path / "lif", np.zeros((3, 1, 2)))
    with pytest.raises(CodesignError, match="unknown C mode"):
        compile_c(shared_case("NIR_paper/01_lif/lif_norse.nir"), CompileOptions(), "double",
                  tmp_path / "bad", with_main=False)


def test_accumulator_overflow_is_reported_like_the_golden_model(tmp_path):
    _wide_fan_in(tmp_path / "wide.nir")
    compile_c(tmp_path / "wide.nir", CompileOptions(), "fixed", tmp_path / "out", False)
    inputs = np.full((2, 1, 70), 255.0)
    with pytest.raises(CodesignError, match="accumulator"):
        golden.simulate(quantized(frontend.load(tmp_path / "wide.nir"), CompileOptions()), inputs)
    with pytest.raises(CodesignError, match="step 0: an input sum exceeds the accumulator"):
        c_runner.execute(tmp_path / "out", inputs)
    below = np.full((2, 1, 70), 200.0)
    result = c_runner.execute(tmp_path / "out", below)
    assert result.output.shape == (2, 1, 1)
