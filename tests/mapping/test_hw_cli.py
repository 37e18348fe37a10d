"""``compile_for_hardware`` / ``run_program --target ref`` end to end on files."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from codesign.compiler import golden
from codesign.compiler.hw_cli import compile_for_hardware, run_program
from codesign.compiler.mapping import MappingOptions
from codesign.compiler.pipeline import CompileOptions
from codesign.errors import CodesignError
from codesign.hw.config import HWConfig
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


def test_run_ref_is_the_golden_model_with_predicted_cycles(compiled):
    tmp_path, _ = compiled
    inputs = spikes(30, 12)[:, 0]
    np.save(tmp_path / "in.npy", inputs)
    saved = run_program(tmp_path / "out", "ref", tmp_path / "in.npy", tmp_path / "o.npz")
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
        run_program(tmp_path / "out", "ref", tmp_path / "in.npy", tmp_path / "o.npz")


def test_compile_refuses_widths_the_hardware_does_not_have(tmp_path):
    nir.write(tmp_path / "model.nir", chain_graph([4, 4]))
    (tmp_path / "hw.yaml").write_text(HWConfig(cores=1, state_bits=24).to_yaml())
    with pytest.raises(CodesignError, match="--state-bits 24"):
        compile_for_hardware(tmp_path / "model.nir", tmp_path / "hw.yaml",
                             CompileOptions(dt=1e-3), tmp_path / "out", MappingOptions())
