"""``compile_for_hardware`` / ``run_program`` on the golden model, end to end on files; the
command line's old spellings (``--passes``, ``--target ref``) still work."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from codesign.arch.config import HWConfig
from codesign.compiler import golden
from codesign.compiler.driver import compile_for_hardware, run_program
from codesign.compiler.pipeline import CompileOptions
from codesign.compiler.program import MappingOptions
from codesign.errors import CodesignError
from networks import chain, chain_graph, spikes


@pytest.fixture
def compiled(tmp_path):
    nir.write(tmp_path / "model.nir", chain_graph([12, 16, 4], recurrent=True))
    (tmp_path / "hw.yaml").write_text(HWConfig(cores=2, neurons_per_core=16).to_yaml())
    program = compile_for_hardware(tmp_path / "model.nir", tmp_path / "hw.yaml",
                                   CompileOptions(dt=1e-3), tmp_path / "out")
    return tmp_path, program


def test_compile_writes_image_report_and_config(compiled):
    tmp_path, program = compiled
    out = tmp_path / "out"
    report = (out / "mapping.txt").read_text()
    assert "core 1: neurons" in report and "predicted cycles per timestep" in report
    assert HWConfig.from_dict(__import__("yaml").safe_load((out / "hw.yaml").read_text())) \
        == program.config
    assert (out / "program.img").stat().st_size > 32


def test_run_is_the_golden_model_with_predicted_cycles(compiled):
    tmp_path, _ = compiled
    inputs = spikes(30, 12)[:, 0]
    np.save(tmp_path / "in.npy", inputs)
    saved = run_program(tmp_path / "out", tmp_path / "in.npy", tmp_path / "o.npz")
    expected = golden.simulate(chain([12, 16, 4], recurrent=True), inputs[:, None]).output[:, 0]
    loaded = np.load(tmp_path / "o.npz")
    assert np.array_equal(loaded["output"], expected) and expected.sum() > 0
    assert loaded["cycles"].shape == (30,) and np.all(loaded["cycles"] > 0)
    assert np.array_equal(saved["cycles"], loaded["cycles"])


def test_run_rejects_a_corrupted_image(compiled):
    tmp_path, _ = compiled
    image = tmp_path / "out" / "program.img"
    data = bytearray(image.read_bytes())
    data[40] ^= 0xFF
    image.write_bytes(bytes(data))
    np.save(tmp_path / "in.npy", spikes(3, 12)[:, 0])
    with pytest.raises(CodesignError, match="checksum"):
        run_program(tmp_path / "out", tmp_path / "in.npy", tmp_path / "o.npz")


def test_compile_refuses_widths_the_hardware_does_not_have(tmp_path):
    nir.write(tmp_path / "model.nir", chain_graph([4, 4]))
    (tmp_path / "hw.yaml").write_text(HWConfig(cores=1, state_bits=24).to_yaml())
    with pytest.raises(CodesignError, match="--state-bits 24"):
        compile_for_hardware(tmp_path / "model.nir", tmp_path / "hw.yaml",
                             CompileOptions(dt=1e-3), tmp_path / "out", MappingOptions())


@pytest.fixture
def in_chunks(tmp_path):
    """The pooled CNN (309 neurons), too large for 2 x 32 neurons: the compile command."""
    from codesign.cli import main
    from networks import pooled_cnn_graph

    nir.write(tmp_path / "cnn.nir", pooled_cnn_graph())
    config = HWConfig(cores=2, neurons_per_core=32, source_table_depth=64,
                      synapse_memory_depth=256)
    (tmp_path / "hw.yaml").write_text(config.to_yaml())
    argv = ["compile", str(tmp_path / "cnn.nir"), "--hw", str(tmp_path / "hw.yaml"), "--dt", "1",
            "-o", str(tmp_path / "out")]
    return tmp_path, argv, main


@pytest.mark.parametrize("chunked, target", [("--chunked", "golden"), ("--passes", "ref")],
                         ids=["new-spellings", "old-spellings"])
def test_a_network_that_does_not_fit_compiles_in_chunks_and_runs_as_the_whole(
        in_chunks, capsys, chunked, target):
    from networks import pooled_cnn

    tmp_path, argv, main = in_chunks
    assert main(argv) == 2
    assert "or compile with --chunked" in capsys.readouterr().err
    assert main([*argv, chunked]) == 0
    out = tmp_path / "out"
    images = sorted(out.glob("pass_*.img"))
    assert len(images) > 3 and not (out / "program.img").exists()
    report = (out / "mapping.txt").read_text()
    assert report.startswith(f"the network does not fit in one program: {len(images)} chunks")
    inputs = (np.random.default_rng(1).random((20, 2, 8, 8)) < 0.3).astype(np.int64)
    np.save(tmp_path / "in.npy", inputs)
    capsys.readouterr()
    assert main(["run", str(out), "--target", target, "--input", str(tmp_path / "in.npy"),
                 "-o", str(tmp_path / "o.npz")]) == 0
    assert capsys.readouterr().out.startswith("golden: ")
    saved = np.load(tmp_path / "o.npz")
    whole = golden.simulate(pooled_cnn(), inputs[:, None])
    assert np.array_equal(saved["output"], whole.output[:, 0]) and whole.output.sum() > 0
    assert saved["cycles"].shape == (20,) and np.all(saved["cycles"] > 0)


def test_a_corrupted_chunk_image_is_rejected(in_chunks, capsys):
    tmp_path, argv, main = in_chunks
    assert main([*argv, "--chunked"]) == 0
    image = tmp_path / "out" / "pass_001.img"
    data = bytearray(image.read_bytes())
    data[40] ^= 0xFF
    image.write_bytes(bytes(data))
    np.save(tmp_path / "in.npy", np.zeros((3, 2, 8, 8)))
    assert main(["run", str(tmp_path / "out"), "--input", str(tmp_path / "in.npy"),
                 "-o", str(tmp_path / "o.npz")]) == 2
    assert "checksum" in capsys.readouterr().err


def test_compiling_again_into_the_directory_leaves_no_stale_program(in_chunks):
    tmp_path, argv, main = in_chunks
    assert main([*argv, "--chunked"]) == 0
    large = HWConfig(cores=2, neurons_per_core=256, source_table_depth=512)
    (tmp_path / "hw.yaml").write_text(large.to_yaml())
    assert main(argv) == 0
    out = tmp_path / "out"
    assert (out / "program.img").exists() and not list(out.glob("pass_*"))
    assert not (out / "passes.json").exists()


@pytest.mark.parametrize("damage, words", [
    (lambda out: (out / "passes.json").write_text('{"format": "codesign-passes", "version": 9}'),
     "is not a version-1 manifest of chunks"),
    (lambda out: (out / "passes.json").write_text("{not json"), "unreadable"),
    (lambda out: (out / "passes.npz").unlink(), "unreadable"),
])
def test_damaged_chunk_files_are_refused_in_one_line(in_chunks, capsys, damage, words):
    tmp_path, argv, main = in_chunks
    assert main([*argv, "--chunked"]) == 0
    damage(tmp_path / "out")
    np.save(tmp_path / "in.npy", np.zeros((3, 2, 8, 8)))
    assert main(["run", str(tmp_path / "out"), "--input", str(tmp_path / "in.npy"),
                 "-o", str(tmp_path / "o.npz")]) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and words in message, message
