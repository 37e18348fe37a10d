"""The generated C itself: strict warnings, sanitizers, no dependency beyond <stdint.h>, const
weights, compressed rows for sparse layers, and the stream driver's error paths."""

import re
import shutil
import subprocess

import nir
import numpy as np
import pytest

from codesign.compiler import frontend, golden
from codesign.compiler.backends import c_runner
from codesign.compiler.backends.c_backend import generate_fixed, generate_float
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.pipeline import CompileOptions, discretized, quantized
from c_helpers import assert_bit_exact, run_sources
from nir_cases import shared_case

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None,
                                reason="the warning, sanitizer and nm checks need gcc on PATH")

SANITIZE = ("-std=c11", "-O2", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all")


def _mixed_graph(hidden_readout: bool = True) -> nir.NIRGraph:
    """Input delays, a sparse layer, per-neuron CubaLIF with recurrence, an LI read-out."""
    rng = np.random.default_rng(3)
    weight = rng.normal(0.4, 1.0, (64, 8)) * (rng.random((64, 8)) < 0.15)
    recurrent = rng.normal(0.0, 0.8, (64, 64)) * (rng.random((64, 64)) < 0.05)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([8])}),
        "delay": nir.Delay(delay=np.array([0, 1, 2, 3, 0, 1, 2, 3]) * 1e-3),
        "sparse": nir.Affine(weight=weight, bias=rng.normal(0.0, 0.1, 64)),
        "hidden": nir.CubaLIF(tau_syn=rng.uniform(2e-3, 5e-3, 64),
                              tau_mem=rng.uniform(2e-3, 8e-3, 64), r=np.ones(64),
                              v_leak=np.zeros(64), v_threshold=rng.uniform(0.2, 0.6, 64),
                              v_reset=np.zeros(64), w_in=np.ones(64)),
        "recurrent": nir.Linear(weight=recurrent),
        "readout_weight": nir.Linear(weight=rng.normal(0.0, 1.0, (5, 64))),
        "readout": nir.LI(tau=np.full(5, 5e-3), r=np.ones(5), v_leak=np.zeros(5))
        if hidden_readout else nir.LIF(tau=np.full(5, 5e-3), r=np.ones(5), v_leak=np.zeros(5),
                                       v_threshold=np.full(5, 0.5), v_reset=np.zeros(5)),
        "output": nir.Output(output_type={"output": np.array([5])}),
    }
    edges = [("input", "delay"), ("delay", "sparse"), ("sparse", "hidden"),
             ("hidden", "recurrent"), ("recurrent", "hidden"), ("hidden", "readout_weight"),
             ("readout_weight", "readout"), ("readout", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _sources():
    options = CompileOptions(dt=1e-3, reset="subtract", weight_bits=6, state_bits=14)
    graph = frontend.nir_to_ir(_mixed_graph())
    network = quantized(graph, options)
    float_graph = discretized(frontend.nir_to_ir(_mixed_graph(hidden_readout=False)), options)
    return network, generate_fixed(network, "mixed"), generate_float(Fuse().apply(float_graph))


def _stress_inputs() -> np.ndarray:
    """Large spike counts drive voltages into saturation at both ends."""
    rng = np.random.default_rng(5)
    return rng.integers(0, 256, (60, 2, 8)) * (rng.random((60, 2, 8)) < 0.3)


def test_strict_warnings_build_cleanly(tmp_path):
    _, fixed, floating = _sources()
    braille = generate_fixed(quantized(frontend.load(shared_case(
        "NIR_paper/03_rnn/braille_noDelay_bias_zero.nir")), CompileOptions()))
    for name, sources in (("fixed", fixed), ("float", floating), ("braille", braille)):
        directory = tmp_path / name
        sources.write(directory, with_main=True)
        result = subprocess.run(["gcc", *c_runner.STRICT_FLAGS, "-o", "model", "model.c",
                                 "main.c"], cwd=directory, capture_output=True, text=True)
        assert result.returncode == 0 and result.stderr == "", result.stderr


def test_sanitized_build_runs_cleanly_and_bit_exact(tmp_path):
    network, fixed, _ = _sources()
    inputs = _stress_inputs()
    expected = golden.simulate(network, inputs, record=True)
    saturated = expected.records["hidden"]["v"]
    limit = 1 << (network.state_bits - 1)
    assert saturated.max() == limit - 1 or saturated.min() == -limit, "inputs must saturate"
    result = run_sources(fixed, tmp_path, inputs, flags=SANITIZE)
    assert_bit_exact(result, expected)


def test_float_mode_runs_under_sanitizers(tmp_path):
    _, _, floating = _sources()
    inputs = np.random.default_rng(1).random((40, 2, 8)) * 3
    result = run_sources(floating, tmp_path, inputs, flags=SANITIZE)
    assert np.all(np.isfinite(result.records["hidden"]["voltage"]))
    assert result.output.sum() > 0


def test_model_needs_only_stdint_and_keeps_weights_const(tmp_path):
    _, fixed, floating = _sources()
    for sources in (fixed, floating):
        includes = re.findall(r"#include\s*(\S+)", sources.model_c + sources.model_h)
        assert sorted(set(includes)) == ['"model.h"', "<stdint.h>"]
        assert "malloc" not in sources.model_c
        for name in re.findall(r"\b(projection\d+_\w+)\[", sources.model_c):
            assert re.search(rf"static const \w+ {name}\[", sources.model_c), name
    # The 15 %-dense input layer is stored as compressed rows by source, the dense read-out not.
    assert "projection0_row" in fixed.model_c and "projection0_target" in fixed.model_c
    assert "compressed rows by source" in fixed.model_c
    if shutil.which("nm") is None:
        pytest.skip("nm (binutils) is not installed")
    for name, sources in (("fixed", fixed), ("float", floating)):
        (tmp_path / name).mkdir()
        sources.write(tmp_path / name, with_main=False)
        subprocess.run(["gcc", "-std=c11", "-O2", "-ffreestanding", "-c", "model.c"],
                       cwd=tmp_path / name, check=True)
        undefined = subprocess.run(["nm", "-u", "model.o"], cwd=tmp_path / name,
                                   capture_output=True, text=True, check=True).stdout
        assert undefined.strip() == "", f"{name} model.o needs {undefined}"


def test_driver_rejects_truncated_input_and_bad_arguments(tmp_path):
    _, fixed, _ = _sources()
    fixed.write(tmp_path, with_main=True)
    executable = c_runner.build(tmp_path, cache=tmp_path / "build")
    truncated = subprocess.run([executable], input=bytes(8 + 3), capture_output=True)
    assert truncated.returncode == 1
    assert b"step 1 is truncated (3 of 8 inputs)" in truncated.stderr
    assert len(truncated.stdout) == 5 * 4  # the complete first step was answered
    bad = subprocess.run([executable, "--steps", "0"], input=b"", capture_output=True)
    assert bad.returncode == 2
    empty = subprocess.run([executable], input=b"", capture_output=True)
    assert empty.returncode == 0 and empty.stdout == b""
