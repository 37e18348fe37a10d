"""One named test per bad input the fuzz test draws and per case of issue #27: a one-line error
with exit status 2 that names the cause (and the fix), or a one-line warning (``--strict``: an
error), and no lost output."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

from codesign.cli import main
from fuzz_inputs import CONFIGS, DT, chain_graph, recurrent_graph, spikes

TINY = CONFIGS / "tiny.yaml"


def run(capsys, *argv) -> tuple[int, str]:
    status = main([str(arg) for arg in argv])
    return status, capsys.readouterr().err.strip()


def rejected(capsys, *argv, words=()) -> str:
    """The command exits 2 with exactly one stderr line naming every one of ``words``."""
    status, err = run(capsys, *argv)
    assert status == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("codesign: error: "), err
    for word in words:
        assert word in err, err
    return err


def warned(capsys, *argv, words=()) -> str:
    """The command succeeds with one warning line naming ``words``; ``--strict`` refuses it."""
    status, err = run(capsys, *argv)
    assert status == 0, err
    lines = [line for line in err.splitlines() if line.startswith("codesign: warning: ")]
    assert lines and all(word in "\n".join(lines) for word in words), err
    assert len(set(lines)) == len(lines), "a warning printed twice"
    rejected(capsys, *argv, "--strict", words=("(--strict)",))
    return lines[0]


@pytest.fixture
def chain(tmp_path) -> Path:
    nir.write(tmp_path / "model.nir", chain_graph())
    np.save(tmp_path / "in.npy", spikes((4,)))
    return tmp_path / "model.nir"


def edit(path: Path, key: str, value) -> Path:
    with h5py.File(path, "r+") as handle:
        del handle[key]
        handle[key] = value
    return path


def simulate(model, inputs, out, *extra):
    return ("simulate", model, "--input", inputs, "--dt", DT, "-o", out, *extra)


# -- budgets ----------------------------------------------------------------------------------
@pytest.mark.parametrize("budget, words", [
    ("luts=50kk", ["'50kk'", "e.g. luts=50k"]),
    ("lut=50k", ["unknown budget resource 'lut'", "did you mean luts"]),
    ("luts=-5", ["'-5'", "positive"]),
    ("luts=", ["''", "luts"]),
    ("luts=1e999", ["'1e999'"]),
], ids=["luts=50kk", "lut=50k", "luts=-5", "luts=", "luts=1e999"])
def test_budget_typo(capsys, chain, budget, words):
    out = chain.parent / "dse"
    rejected(capsys, "dse", chain, f"--budget={budget}", "--dry-run", "-o", out, words=words)
    assert not out.exists()


def test_valid_budget_dry_run_writes_nothing(capsys, chain):
    out = chain.parent / "dse"
    status, _ = run(capsys, "dse", chain, "--budget", "LUTS=50K", "--dry-run", "-o", out)
    assert status == 0 and not out.exists()


# -- truncated files --------------------------------------------------------------------------
def test_truncated_nir(capsys, chain):
    data = chain.read_bytes()
    chain.write_bytes(data[: len(data) // 2])
    rejected(capsys, "info", chain, words=("truncated",))


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_truncated_input(capsys, chain, suffix):
    path = chain.parent / f"cut{suffix}"
    (np.save if suffix == ".npy" else lambda p, a: np.savez(p, x=a[None]))(path, spikes((4,)))
    path.write_bytes(path.read_bytes()[:-20])
    rejected(capsys, *simulate(chain, path, chain.parent / "o.npz"), words=("truncated",))


def test_truncated_yaml_mid_line_is_warned(capsys, chain, tmp_path):
    config = tmp_path / "hw.yaml"
    config.write_text(TINY.read_text().rstrip("\n")[:-2])   # "shared_rows: fal"
    rejected(capsys, "compile", chain, "--hw", config, "--dt", DT, "-o", tmp_path / "out",
             words=("shared_rows",))
    config.write_text(TINY.read_text().rstrip("\n"))        # a whole last line, no newline
    warned(capsys, "compile", chain, "--hw", config, "--dt", DT, "-o", tmp_path / "out",
           words=("does not end with a newline",))


# -- NaN / inf / huge / negative parameters ---------------------------------------------------
@pytest.mark.parametrize("key, value", [("fc1/weight", np.nan), ("lif1/tau", np.inf),
                                        ("lif2/v_threshold", -np.inf), ("fc2/bias", np.nan)],
                         ids=["nan-weight", "inf-tau", "minus-inf-threshold", "nan-bias"])
def test_nan_or_inf_parameter(capsys, chain, key, value):
    with h5py.File(chain, "r") as handle:
        array = handle[f"node/nodes/{key}"][()].astype(float)
    array.reshape(-1)[0] = value
    edit(chain, f"node/nodes/{key}", array)
    rejected(capsys, "info", chain, words=("NaN or infinite", key.split("/")[1]))


def test_negative_time_constant(capsys, chain):
    edit(chain, "node/nodes/lif1/tau", -np.ones(5))
    rejected(capsys, "info", chain, words=("time constant 'tau' <= 0",))


@pytest.mark.parametrize("threshold", [0.0, -1.0])
def test_threshold_at_or_below_zero_is_warned(capsys, chain, threshold):
    edit(chain, "node/nodes/lif1/v_threshold", np.full(5, threshold))
    warned(capsys, "info", chain, words=("lif1", "v_threshold <= 0", "5 of 5"))


def test_huge_weights_that_saturate_are_warned_with_their_fidelity(capsys, chain, tmp_path):
    edit(chain, "node/nodes/fc1/weight", np.full((5, 4), 1e30))
    line = warned(capsys, *simulate(chain, tmp_path / "in.npy", tmp_path / "o.npz", "--mode",
                                    "golden"), words=("lif1", "threshold rounds to 0"))
    assert "spike agreement with float" in line
    warned(capsys, "compile", chain, "--hw", TINY, "--dt", DT, "-o", tmp_path / "out",
           words=("lif1", "measures the fidelity"))


def test_huge_delay_is_refused(capsys, tmp_path):
    nir.write(tmp_path / "model.nir", recurrent_graph())
    edit(tmp_path / "model.nir", "node/nodes/delay/delay", np.full(4, 1e30))
    rejected(capsys, "info", tmp_path / "model.nir", "--dt", DT, words=("delay", "steps"))


# -- deleted nodes and edges ------------------------------------------------------------------
def _delete_node(path: Path, name: str) -> None:
    with h5py.File(path, "r+") as handle:
        del handle[f"node/nodes/{name}"]
        edges = [e for e in handle["node/edges"][()] if name.encode() not in e]
        del handle["node/edges"]
        handle["node/edges"] = np.array(edges)


@pytest.mark.parametrize("name, words", [("fc2", ["lif2", "no incoming edge"]),
                                         ("output", ["no Output node"]),
                                         ("input", ["no Input"])])
def test_deleted_node(capsys, chain, name, words):
    _delete_node(chain, name)
    rejected(capsys, "info", chain, words=words)


def test_deleted_node_keeping_its_edges(capsys, chain):
    with h5py.File(chain, "r+") as handle:
        del handle["node/nodes/fc2"]
    rejected(capsys, "info", chain, words=("unknown node 'fc2'",))


def _delete_edge(path: Path, edge: tuple[str, str]) -> None:
    with h5py.File(path, "r+") as handle:
        edges = [e for e in handle["node/edges"][()] if tuple(e) != tuple(map(str.encode, edge))]
        del handle["node/edges"]
        handle["node/edges"] = np.array(edges)


def test_deleted_edge_names_the_unconnected_node(capsys, chain):
    """Issue #27: not "the graph has 2 Input and 2 Output nodes" (the file has one of each)."""
    _delete_edge(chain, ("lif1", "fc2"))
    message = rejected(capsys, "info", chain, words=("'fc2' has no incoming edge",))
    assert "2 Input" not in message


def test_deleted_loop_edge_leaves_a_side_branch(capsys, tmp_path):
    """What is left of the loop (delay -> rec) is legal but read by nothing: a warning."""
    nir.write(tmp_path / "model.nir", recurrent_graph())
    _delete_edge(tmp_path / "model.nir", ("rec", "cuba"))
    warned(capsys, "info", tmp_path / "model.nir", "--dt", DT,
           words=("does not lead to the Output",))


# -- shapes and dtypes ------------------------------------------------------------------------
@pytest.mark.parametrize("key, value, words", [
    ("fc1/weight", np.ones((6, 4)), ["fc1", "lif1"]),
    ("lif1/v_leak", np.zeros(6), ["same shape"]),
    ("input/shape", np.array([[4]]), ["'shape'", "whole number"]),
    ("input/shape", np.array([0]), ["'input'", "empty shape"]),
], ids=["weight-rows", "parameter-length", "nested-shape", "zero-shape"])
def test_bad_shape(capsys, chain, key, value, words):
    edit(chain, f"node/nodes/{key}", value)
    rejected(capsys, "info", chain, words=words)


def test_zero_neuron_layer(capsys, tmp_path):
    """Issue #27: a 0-neuron LIF crashed --mode fixed and passed info silently."""
    graph = chain_graph()
    graph.nodes["fc1"] = nir.Linear(weight=np.ones((0, 4)))
    graph.nodes["lif1"] = nir.LIF(tau=np.ones(0), r=np.ones(0), v_leak=np.zeros(0),
                                  v_threshold=np.ones(0), v_reset=np.zeros(0))
    graph.nodes["fc2"] = nir.Affine(weight=np.ones((3, 0)), bias=np.zeros(3))
    nir.write(tmp_path / "model.nir", graph)
    np.save(tmp_path / "in.npy", spikes((4,)))
    rejected(capsys, "info", tmp_path / "model.nir", words=("'fc1'", "empty shape"))
    rejected(capsys, *simulate(tmp_path / "model.nir", tmp_path / "in.npy", tmp_path / "o.npz",
                               "--mode", "golden"), words=("empty shape",))


def test_conv_stride_of_the_wrong_length(capsys, tmp_path):
    from fuzz_inputs import conv_graph

    nir.write(tmp_path / "model.nir", conv_graph())
    edit(tmp_path / "model.nir", "node/nodes/conv/stride", np.array([1, 1, 1]))
    rejected(capsys, "info", tmp_path / "model.nir", words=("'stride' has 3 entries",))


@pytest.mark.parametrize("value, words", [
    (np.array([[b"a"] * 4] * 5), ["'weight'", "dtype"]),
    (np.ones((5, 4)) * (1 + 1j), ["'weight'", "complex"]),
], ids=["string-weights", "complex-weights"])
def test_bad_parameter_dtype(capsys, chain, value, words):
    edit(chain, "node/nodes/fc1/weight", value)
    rejected(capsys, "info", chain, words=words)


@pytest.mark.parametrize("array, words", [
    (np.array([["a"] * 4] * 5), ["dtype <U1", "not numbers"]),
    (np.ones((5, 4)) * (1 + 1j), ["complex"]),
    (np.zeros((0, 4)), ["0 timesteps"]),
    (np.ones(5), ["one value (a 1-D array [T]) per step", "[T, 4]"]),
    (np.full((5, 4), np.nan), ["NaN"]),
], ids=["strings", "complex", "zero-timesteps", "one-dimensional", "nan"])
def test_bad_input_array(capsys, chain, tmp_path, array, words):
    """Issue #27: strings and 0 timesteps crashed; complex input lost its imaginary part."""
    np.save(tmp_path / "bad.npy", array)
    rejected(capsys, *simulate(chain, tmp_path / "bad.npy", tmp_path / "o.npz"), words=words)


def test_input_of_python_objects(capsys, chain, tmp_path):
    np.save(tmp_path / "bad.npy", np.array([{"a": 1}] * 5, dtype=object), allow_pickle=True)
    rejected(capsys, *simulate(chain, tmp_path / "bad.npy", tmp_path / "o.npz"),
             words=("Python objects",))


def test_junk_input_file(capsys, chain, tmp_path):
    """Issue #27: no talk of pickled data when nothing was pickled."""
    (tmp_path / "junk.npy").write_bytes(b"these are not the spikes you are looking for")
    message = rejected(capsys, *simulate(chain, tmp_path / "junk.npy", tmp_path / "o.npz"),
                       words=("neither a .npy nor a .npz",))
    assert "pickle" not in message


@pytest.mark.parametrize("labels, words", [(np.array(["a", "b"]), ["labels y"]),
                                           (np.zeros(3), ["y has shape (3,)"])])
def test_bad_labels(capsys, chain, tmp_path, labels, words):
    np.savez(tmp_path / "in.npz", x=np.stack([spikes((4,))] * 2), y=labels)
    rejected(capsys, *simulate(chain, tmp_path / "in.npz", tmp_path / "o.npz"), words=words)


# -- paths ------------------------------------------------------------------------------------
def test_model_path_that_is_a_directory(capsys, tmp_path):
    rejected(capsys, "info", tmp_path, words=("is a directory",))


def test_output_folder_that_is_a_file(capsys, chain, tmp_path):
    (tmp_path / "taken").write_text("mine\n")
    rejected(capsys, "compile", chain, "--hw", TINY, "--dt", DT, "-o", tmp_path / "taken",
             words=("is a file, not a folder",))
    assert (tmp_path / "taken").read_text() == "mine\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(capsys, chain, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    rejected(capsys, *simulate(chain, tmp_path / "in.npy", locked / "o.npz"),
             words=("not writable",))


def test_failed_compile_leaves_the_earlier_program(capsys, chain, tmp_path, monkeypatch):
    """The -o folder is written atomically: a compile that fails while writing leaves the
    earlier, complete program, and no staging folder."""
    out = tmp_path / "out"
    assert main(["compile", str(chain), "--hw", str(TINY), "--dt", str(DT), "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    from codesign.compiler import driver

    def fail(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(driver, "report_text", fail)
    rejected(capsys, "compile", chain, "--hw", TINY, "--dt", DT, "-o", out,
             words=("cannot write", "No space left on device"))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(tmp_path.glob("*.partial"))


def test_rejected_dse_leaves_the_study(capsys, chain, tmp_path):
    out = tmp_path / "dse"
    out.mkdir()
    (out / "study.db").write_bytes(b"earlier study")
    np.save(tmp_path / "bad.npy", np.full((5, 4), np.nan))
    rejected(capsys, "dse", chain, "--budget", "luts=50k", "--input", tmp_path / "bad.npy",
             "-o", out, words=("NaN",))
    assert [p.name for p in out.iterdir()] == ["study.db"]
    assert (out / "study.db").read_bytes() == b"earlier study"


# -- HWConfig YAML ----------------------------------------------------------------------------
@pytest.mark.parametrize("text, words", [
    ("cores: two\n", ["cores = 'two'", "integer"]),
    ("crossbar: 5\n", ["crossbar must be a mapping"]),
    ("clock_mhz: fast\n", ["clock_mhz"]),
    ("timing_registers: 1\n", ["timing_registers", "true or false"]),
    ("- cores: 1\n", ["top level must be a mapping"]),
    ("core: 2\n", ["unknown key core"]),
    ("cores: 1\ncores: 2\n", ["'cores' is given twice"]),
], ids=["string-for-int", "scalar-for-mapping", "string-for-float", "int-for-bool",
        "list-top-level", "key-typo", "duplicate-key"])
def test_wrong_yaml(capsys, chain, tmp_path, text, words):
    (tmp_path / "hw.yaml").write_text(text)
    for argv in (("compile", chain, "--hw", tmp_path / "hw.yaml", "-o", tmp_path / "out"),
                 ("hw", "synth", "--hw", tmp_path / "hw.yaml", "--family", "ice40",
                  "--dry-run"),
                 ("hw", "verilog", "--hw", tmp_path / "hw.yaml", "-o", tmp_path / "v")):
        rejected(capsys, *argv, words=words)
    assert not (tmp_path / "out").exists() and not (tmp_path / "v").exists()


# -- warnings ---------------------------------------------------------------------------------
def test_recurrent_edge_without_delay_is_warned(capsys, tmp_path):
    graph = recurrent_graph()
    del graph.nodes["delay"]
    graph.edges = [e for e in graph.edges if "delay" not in e] + [("cuba", "rec")]
    nir.write(tmp_path / "model.nir", graph)
    warned(capsys, "info", tmp_path / "model.nir", "--dt", DT,
           words=("rec -> cuba closes a loop without a Delay", "(t-1)"))


def test_layer_that_never_spikes_is_warned(capsys, chain, tmp_path):
    np.save(tmp_path / "silence.npy", np.zeros((10, 4)))
    warned(capsys, *simulate(chain, tmp_path / "silence.npy", tmp_path / "o.npz"),
           words=("lif1, lif2 never spike on this input",))


def test_warning_then_error_prints_only_the_error(capsys, chain, tmp_path):
    edit(chain, "node/nodes/lif1/v_threshold", np.zeros(5))
    np.save(tmp_path / "bad.npy", np.full((5, 4), np.inf))
    rejected(capsys, *simulate(chain, tmp_path / "bad.npy", tmp_path / "o.npz"), words=("NaN",))
    assert not (tmp_path / "o.npz").exists()


# -- compiled folders -------------------------------------------------------------------------
@pytest.mark.parametrize("damage, words", [
    (lambda out: (out / "program.img").write_bytes((out / "program.img").read_bytes()[:40]),
     ["program.img"]),
    (lambda out: (out / "program.img").unlink(), ["program.img"]),
], ids=["truncated-image", "deleted-image"])
def test_damaged_program_folder(capsys, chain, tmp_path, damage, words):
    out = tmp_path / "out"
    assert main(["compile", str(chain), "--hw", str(TINY), "--dt", str(DT), "-o", str(out)]) == 0
    damage(out)
    rejected(capsys, "run", out, "--input", tmp_path / "in.npy", "-o", tmp_path / "r.npz",
             words=words)


@pytest.mark.parametrize("damage, words", [
    (lambda out: (out / "model.json").write_text((out / "model.json").read_text()[:50]),
     ["model.json", "truncated"]),
    (lambda out: (out / "model.c").unlink(), ["holds no model.c"]),
], ids=["truncated-manifest", "deleted-source"])
def test_damaged_c_folder(capsys, chain, tmp_path, damage, words):
    out = tmp_path / "c"
    assert main(["compile", str(chain), "--target", "c", "--dt", str(DT), "-o", str(out)]) == 0
    damage(out)
    rejected(capsys, "run", out, "--target", "c", "--input", tmp_path / "in.npy",
             "-o", tmp_path / "r.npz", words=words)
