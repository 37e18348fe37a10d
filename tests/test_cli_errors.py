"""Bad input gets one line on stderr and exit status 2, never a traceback or a wrong result."""

import subprocess
import sys
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

from codesign.cli import main
from nir_cases import shared_case

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"


def _run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.err.strip()


def _assert_one_line_error(status, message, *words):
    assert status == 2
    assert "\n" not in message and message.startswith("codesign: error:")
    assert "Traceback" not in message
    for word in words:
        assert word in message, message


@pytest.fixture
def spikes(tmp_path):
    path = tmp_path / "in.npy"
    np.save(path, np.zeros((5, 1)))
    return path


def _lif_graph(tau=1e-3, shape=1, input_shape=1):
    one = np.ones(shape)
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([input_shape])),
               "lin": nir.Linear(weight=np.ones((shape, input_shape))),
               "lif": nir.LIF(tau=one * tau, r=one, v_leak=0 * one, v_threshold=one,
                              v_reset=0 * one),
               "output": nir.Output(output_type=np.array([shape]))},
        edges=[("input", "lin"), ("lin", "lif"), ("lif", "output")], type_check=False)


def _write(graph, path):
    nir.write(path, graph)
    return path


def test_truncated_file(tmp_path, capsys, spikes):
    data = shared_case("NIR_paper/01_lif/lif_norse.nir").read_bytes()
    path = tmp_path / "truncated.nir"
    path.write_bytes(data[: len(data) // 2])
    status, message = _run(capsys, "simulate", str(path), "--input", str(spikes), "-o",
                           str(tmp_path / "o.npz"))
    _assert_one_line_error(status, message, "truncated")
    assert not (tmp_path / "o.npz").exists()


def test_non_hdf5_file(tmp_path, capsys):
    path = tmp_path / "model.nir"
    path.write_text("this is not HDF5\n")
    status, message = _run(capsys, "info", str(path))
    _assert_one_line_error(status, message, "not a readable NIR")


def test_unknown_node_type(tmp_path, capsys):
    path = _write(_lif_graph(), tmp_path / "model.nir")
    with h5py.File(path, "r+") as handle:
        del handle["node/nodes/lif/type"]
        handle["node/nodes/lif/type"] = np.bytes_("Hodgkin")
    status, message = _run(capsys, "info", str(path))
    _assert_one_line_error(status, message, "Hodgkin")


def test_mismatched_shapes(tmp_path, capsys):
    graph = _lif_graph(shape=3)
    graph.nodes["lin"] = nir.Linear(weight=np.ones((2, 1)))
    path = _write(graph, tmp_path / "model.nir")
    status, message = _run(capsys, "info", str(path))
    _assert_one_line_error(status, message, "shape")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_inf_parameters(tmp_path, capsys, value):
    path = _write(_lif_graph(tau=value), tmp_path / "model.nir")
    status, message = _run(capsys, "info", str(path))
    _assert_one_line_error(status, message, "NaN or infinite", "tau")


def test_graph_without_input(tmp_path, capsys):
    graph = _lif_graph()
    del graph.nodes["input"]
    graph.edges.remove(("input", "lin"))
    path = _write(graph, tmp_path / "model.nir")
    status, message = _run(capsys, "info", str(path))
    _assert_one_line_error(status, message, "no Input")


@pytest.mark.parametrize("case", [
    "rockpool/braille.nir",
    "NIR_paper/03_rnn/extras/braille_noDelay_bias_zero_subgraph.nir",
    "NIR_paper/03_rnn/extras/braille_noDelay_noBias_subtract_subgraph.nir",
])
def test_files_that_nir_itself_rejects(capsys, case):
    status, message = _run(capsys, "info", str(shared_case(case)))
    _assert_one_line_error(status, message, f"nir {nir.__version__} rejects",
                           "written by nir 0.2.0", "re-export the model")


def test_empty_hdf5_file_holds_no_graph(tmp_path, capsys):
    path = tmp_path / "model.nir"
    h5py.File(path, "w").close()
    status, message = _run(capsys, "info", str(path))
    _assert_one_line_error(status, message, "holds no graph", "'node' group is missing",
                           "no 'version' entry", "run the export again")


def test_file_of_an_export_that_crashed_holds_no_graph(tmp_path, capsys):
    class CrashingGraph(nir.NIRGraph):
        def to_dict(self):
            raise RuntimeError("the exporter failed half-way")

    path = tmp_path / "model.nir"
    graph = _lif_graph()
    with pytest.raises(RuntimeError):  # nir.write has created the file by then
        nir.write(path, CrashingGraph(nodes=graph.nodes, edges=graph.edges, type_check=False))
    status, message = _run(capsys, "info", str(path))
    _assert_one_line_error(status, message, "holds no graph", "'node' group is empty",
                           f"written by nir {nir.__version__}", "crashed")


def test_node_without_type(tmp_path, capsys):
    path = _write(_lif_graph(), tmp_path / "model.nir")
    with h5py.File(path, "r+") as handle:
        del handle["node/nodes/lif/type"]
    status, message = _run(capsys, "info", str(path))
    _assert_one_line_error(status, message, "node 'lif'", "no key 'type'", "re-export")


def _with_old_version(path, version="0.0.9"):
    with h5py.File(path, "r+") as handle:
        del handle["version"]
        handle["version"] = np.bytes_(version)


def test_node_of_a_foreign_version_missing_a_key(tmp_path, capsys):
    """A key nir needs is missing in a node of a subgraph (snnTorch's RLeaky layout)."""
    one = np.ones(2)
    block = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([2])),
        "lif": nir.LIF(tau=one, r=one, v_leak=0 * one, v_threshold=one, v_reset=0 * one),
        "w_rec": nir.Affine(weight=np.eye(2), bias=0 * one),
        "output": nir.Output(output_type=np.array([2]))},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        type_check=False)
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2])), "lif1": block,
                                "output": nir.Output(output_type=np.array([2]))},
                         edges=[("input", "lif1"), ("lif1", "output")], type_check=False)
    path = _write(graph, tmp_path / "model.nir")
    with h5py.File(path, "r+") as handle:
        del handle["node/nodes/lif1/nodes/lif/tau"]
    _with_old_version(path)
    status, message = _run(capsys, "info", str(path))
    _assert_one_line_error(status, message, "node 'lif1.lif' (LIF) has no key 'tau'",
                           "written by nir 0.0.9", "another nir version", "re-export the model")


def test_conv_without_input_shape_names_the_nir_releases_that_wrote_it(tmp_path, capsys):
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([1, 4, 4])),
        "conv": nir.Conv2d(input_shape=(4, 4), weight=np.ones((1, 1, 3, 3)), stride=1,
                           padding=1, dilation=1, groups=1, bias=np.zeros(1)),
        "if": nir.IF(r=np.ones((1, 4, 4)), v_threshold=np.ones((1, 4, 4))),
        "output": nir.Output(output_type=np.array([1, 4, 4]))},
        edges=[("input", "conv"), ("conv", "if"), ("if", "output")], type_check=False)
    path = _write(graph, tmp_path / "model.nir")
    with h5py.File(path, "r+") as handle:
        del handle["node/nodes/conv/input_shape"]
    _with_old_version(path, "0.2.0")
    status, message = _run(capsys, "info", str(path))
    _assert_one_line_error(status, message, "node 'conv' (Conv2d) has no key 'input_shape'",
                           "written by nir 0.2.0", "nir before 1.0 wrote Conv2d without it")


def test_node_with_a_key_of_a_newer_version(tmp_path, capsys):
    path = _write(_lif_graph(), tmp_path / "model.nir")
    with h5py.File(path, "r+") as handle:
        handle["node/nodes/lif/tau_adaptation"] = np.ones(1)
    _with_old_version(path, "1.2.0")
    status, message = _run(capsys, "info", str(path))
    _assert_one_line_error(status, message, "node 'lif' (LIF) has a key 'tau_adaptation'",
                           "written by nir 1.2.0", "another nir version", "r, tau, v_leak")


def test_directory_instead_of_a_file(tmp_path, capsys):
    status, message = _run(capsys, "info", str(tmp_path))
    _assert_one_line_error(status, message, "is a directory", "pass the path of a .nir file")


def test_unstable_time_step(tmp_path, capsys, spikes):
    path = _write(_lif_graph(tau=1e-3), tmp_path / "model.nir")
    status, message = _run(capsys, "simulate", str(path), "--input", str(spikes), "--mode",
                           "fixed", "--dt", "0.01", "-o", str(tmp_path / "o.npz"))
    _assert_one_line_error(status, message, "--dt")


def test_weight_bits_out_of_range(tmp_path, capsys, spikes):
    path = _write(_lif_graph(), tmp_path / "model.nir")
    status, message = _run(capsys, "simulate", str(path), "--input", str(spikes), "--mode",
                           "fixed", "--weight-bits", "1", "-o", str(tmp_path / "o.npz"))
    _assert_one_line_error(status, message, "--weight-bits")


def test_real_process_exit_status(tmp_path):
    path = tmp_path / "model.nir"
    path.write_bytes(b"\x00" * 64)
    result = subprocess.run([sys.executable, "-m", "codesign", "info", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_simulate_writes_output_and_records(tmp_path, capsys):
    trace = np.loadtxt(shared_case("NIR_paper/01_lif/lif_norse.csv"), delimiter=",")
    np.save(tmp_path / "in.npy", trace[:, :1])
    status = main(["simulate", str(shared_case("NIR_paper/01_lif/lif_norse.nir")), "--input",
                   str(tmp_path / "in.npy"), "--mode", "fixed", "--record", "-o",
                   str(tmp_path / "out.npz")])
    assert status == 0
    assert "spike agreement" in capsys.readouterr().out
    out = np.load(tmp_path / "out.npz")
    assert out["output"].shape == (1000, 1)
    assert np.nonzero(out["output"].ravel())[0].tolist() == [460, 510, 710, 760]
    assert out["1.v"].shape == (1000, 1) and out["1.spikes"].sum() == 4


@pytest.mark.parametrize("seed", ["0", "x", "5-3", "1,,2"])
def test_bad_placement_seed(capsys, seed):
    status, message = _run(capsys, "hw", "synth", "--hw", str(TINY), "--family",
                           "ice40", "--pnr", "--seed", seed)
    _assert_one_line_error(status, message, "is not a seed list", "--seed 1-8")


def test_several_seeds_need_place_and_route(capsys):
    status, message = _run(capsys, "hw", "synth", "--hw", str(TINY), "--family",
                           "ice40", "--seed", "1-2")
    _assert_one_line_error(status, message, "without --pnr", "add --pnr")
