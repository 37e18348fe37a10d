"""The time step a graph assumes (docs/compiler.md, "Time step"): read from the file, used when no
--dt is given, and a one-line warning when the step leaves populations still."""

import nir
import numpy as np
import pytest

from codesign.cli import main
from codesign.compiler import frontend, timestep
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.pipeline import CompileOptions, discretized
from codesign.events import bin_events, read_nmnist
from nir_cases import shared_case

SCNN = "NIR_paper/02_cnn/cnn_sinabs.nir"


def _graph(neuron, size=2, metadata=None):
    return frontend.nir_to_ir(nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([size])),
               "w": nir.Linear(weight=np.eye(size)), "n": neuron,
               "output": nir.Output(output_type=np.array([size]))},
        edges=[("input", "w"), ("w", "n"), ("n", "output")], type_check=False,
        metadata=metadata or {}))


def _snntorch_lif(beta, dt=1e-4):
    """What snnTorch's export_to_nir writes for Leaky(beta): tau = dt/(1-beta), r = tau/dt."""
    beta = np.asarray(beta, dtype=np.float32)
    tau = (dt / (1 - beta)).astype(np.float32)
    return nir.LIF(tau=tau, r=(tau / np.float32(dt)).astype(np.float32), v_leak=0 * tau,
                   v_threshold=np.ones_like(tau), v_reset=0 * tau)


@pytest.mark.parametrize("case, dt, words", [
    (SCNN, 1.0, "Sinabs"),
    ("NIR_paper/03_rnn/braille_noDelay_bias_zero.nir", 1e-4, "snnTorch"),
    ("norse/braille.nir", 1e-4, "snnTorch"),  # the SRNN trained in snnTorch, loaded in Norse
    ("NIR_paper/01_lif/lif_norse.nir", None, ""),  # r = 1: nothing fixes the step
    ("NIR_paper/01_lif/lif_rockpool.nir", None, ""),  # tau/r = 1.04e-4 is no exporter's step
])
def test_assumed_step_of_the_shared_cases(case, dt, words):
    guess = timestep.assumed_dt(frontend.load(shared_case(case)))
    if dt is None:
        assert guess is None
    else:
        assert guess.dt == dt and words in guess.reason


def test_snntorch_convention_with_per_neuron_beta():
    guess = timestep.assumed_dt(_graph(_snntorch_lif([0.5, 0.9])))
    assert guess.dt == 1e-4 and "r = tau/dt" in guess.reason


def test_norse_style_and_conflicting_graphs_fix_no_step():
    one = np.ones(2)
    norse = nir.CubaLIF(tau_syn=one * 5e-3, tau_mem=one * 1e-2, r=one, v_leak=0 * one,
                        v_threshold=one, v_reset=0 * one, w_in=one)
    assert timestep.assumed_dt(_graph(norse)) is None
    uneven = nir.IF(r=np.array([1.0, 2.0]), v_threshold=one, v_reset=0 * one)
    assert timestep.assumed_dt(_graph(uneven)) is None


def test_metadata_step_wins_and_explicit_dt_wins_over_it(tmp_path):
    one = np.ones(2)
    path = tmp_path / "model.nir"
    nir.write(path, nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([2])),
               "n": nir.IF(r=one, v_threshold=one, v_reset=0 * one),
               "output": nir.Output(output_type=np.array([2]))},
        edges=[("input", "n"), ("n", "output")], metadata={"dt": 1e-3}))
    graph = frontend.load(path)
    assert timestep.assumed_dt(graph).reason == "the file's metadata gives dt = 0.001"
    assert discretized(graph, CompileOptions()).dt == 1e-3
    assert discretized(graph, CompileOptions(dt=0.5)).dt == 0.5
    assert timestep.resolve_dt(_graph(nir.LIF(tau=one, r=one, v_leak=0 * one, v_threshold=one,
                                              v_reset=0 * one)), None) == timestep.DEFAULT_DT


def test_drive_of_an_integrate_and_fire_layer():
    # IF r = 1, unit weights, threshold 1: at dt = 1e-3 one spike moves v by 1e-3 of the
    # threshold, so 1000 steps reach it exactly and the strict threshold needs 1001.
    one = np.ones(2)
    graph = _graph(nir.IF(r=one, v_threshold=one, v_reset=0 * one))
    drive = timestep.drives(Fuse().apply(discretized(graph, CompileOptions(dt=1e-3))))["n"]
    assert drive.fraction == pytest.approx(1e-3) and drive.steps in (1000, 1001)


def test_slow_leaky_layer_without_a_known_step_gets_a_longer_step_to_try():
    # LIF tau = 1 s, r = 1, weight 1, threshold 0.5: v_eq = 1 under a spike every step, so
    # v_n = 1 - 0.9999^n needs 6932 steps to pass 0.5 at dt = 1e-4 (a move of 1e-4 = 0.0002 of
    # the threshold per step); try dt * 6932 / 10.
    one = np.ones(2)
    graph = _graph(nir.LIF(tau=one, r=one, v_leak=0 * one, v_threshold=one * 0.5,
                           v_reset=0 * one))
    layers = Fuse().apply(discretized(graph, CompileOptions(dt=1e-4)))
    assert timestep.drives(layers)["n"].steps == 6932
    text = timestep.warning(graph, 1e-4, layers)
    assert "population 'n' moves by at most 0.0002 of the threshold per step" in text
    assert "needs 6932+ steps" in text and text.endswith("try --dt 0.07")


def test_no_warning_where_the_step_is_right():
    for case in ("NIR_paper/01_lif/lif_norse.nir", "NIR_paper/03_rnn/braille_noDelay_bias_zero.nir"):
        graph = frontend.load(shared_case(case))
        layers = Fuse().apply(discretized(graph, CompileOptions()))
        assert timestep.warning(graph, layers.dt, layers) is None, case


@pytest.fixture
def nmnist(tmp_path):
    frames = bin_events(read_nmnist(shared_case("tonic/sample_nmnist.bin")))
    path = tmp_path / "nmnist.npy"
    np.save(path, frames)
    return path


def test_scnn_predicts_class_4_with_no_dt_flag(tmp_path, capsys, nmnist):
    status = main(["simulate", str(shared_case(SCNN)), "--input", str(nmnist),
                   "-o", str(tmp_path / "out.npz")])
    captured = capsys.readouterr()
    assert status == 0 and captured.err == ""
    assert "at dt = 1 s" in captured.out and "predicted class 4" in captured.out
    assert np.load(tmp_path / "out.npz")["output"].sum(axis=0).argmax() == 4


def test_scnn_at_a_wrong_dt_warns_in_one_line_naming_dt_1(tmp_path, capsys, nmnist):
    status = main(["simulate", str(shared_case(SCNN)), "--input", str(nmnist), "--dt", "1e-4",
                   "-o", str(tmp_path / "out.npz")])
    captured = capsys.readouterr()
    assert status == 0  # a warning, not an error: --dt stays authoritative
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("codesign: warning:")
    assert "never spiked" in lines[0] and "Sinabs" in lines[0]
    assert lines[0].endswith("try --dt 1")


def test_info_names_the_assumed_step(capsys):
    assert main(["info", str(shared_case(SCNN))]) == 0
    out = capsys.readouterr().out
    assert "time step: the graph seems to assume dt = 1 s" in out
    assert "using dt = 1 s (the graph's)" in out
    assert main(["info", str(shared_case(SCNN)), "--dt", "1e-4"]) == 0
    captured = capsys.readouterr()
    assert "using dt = 0.0001 s (--dt)" in captured.out and "try --dt 1" in captured.err
