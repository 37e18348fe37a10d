"""HWConfig: YAML loading, round trip, knobs only (derived widths are the layout's), and a
one-line CodesignError naming the key and the allowed range for every kind of bad
configuration."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from codesign import arithmetic
from codesign.arch.config import CrossbarConfig, HWConfig, load_config
from codesign.arch.layout import CoreLayout
from codesign.errors import CodesignError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

SIZE_KEYS = ["cores", "neurons_per_core", "synapse_memory_depth", "synapse_lanes", "weight_bits",
             "state_bits", "delay_slots", "source_table_depth", "profiles", "router_queue_depth",
             "host_width", "clock_mhz"]
CROSSBAR_SIZE_KEYS = ["rows", "cols", "cell_bits", "adc_bits"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hw.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(CodesignError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "hw.yaml") in message
    return message


@pytest.mark.parametrize("name", ["tiny", "default", "large"])
def test_shipped_configs_load_and_round_trip(name: str):
    config = load_config(CONFIGS / f"{name}.yaml")
    assert HWConfig.from_dict(config.to_dict()) == config
    assert HWConfig.from_dict(yaml.safe_load(config.to_yaml())) == config


def test_defaults_are_the_documented_plan():
    config = HWConfig()
    assert (config.cores, config.neurons_per_core, config.synapse_memory_depth,
            config.synapse_lanes, config.weight_bits, config.state_bits, config.delay_slots,
            config.source_table_depth, config.profiles, config.router_queue_depth,
            config.host_width, config.clock_mhz) == (2, 256, 4096, 4, 8, 16, 2, 1024, 8, 16, 32, 100)
    assert config.crossbar == CrossbarConfig(tiles=0, rows=64, cols=64, cell_bits=2, adc_bits=6,
                                             variation_sigma=0.0, variation_seed=1)


def test_derived_widths_come_from_the_layout():
    """HWConfig holds knobs; every width derived from them is the layout's (arch/layout.py)."""
    config = HWConfig.from_dict({"neurons_per_core": 512, "synapse_lanes": 8, "weight_bits": 6,
                                 "delay_slots": 3, "crossbar": {"cell_bits": 4}})
    layout = CoreLayout.from_config(config)
    assert layout.accumulator_bits == 6 + 14
    assert layout.neuron_index_bits == 9
    assert layout.lane_bits == 3
    assert layout.row_bits == 6                 # 512 / 8 = 64 rows per lane
    assert layout.delay_bits == 2
    assert layout.lane_fields.width == 6 + 6 + 2
    assert arithmetic.crossbar_slices(6, 4) == 2              # ceil((6 - 1) / 4): magnitude only
    assert arithmetic.crossbar_columns_per_output(6, 4) == 4  # differential pairs: 2 x 2 columns
    assert arithmetic.crossbar_outputs(64, 6, 4) == 64 // 4
    assert config.total_neurons == 1024
    assert {name for name, value in vars(HWConfig).items() if isinstance(value, property)} \
        == {"total_neurons"}


def test_partial_yaml_keeps_defaults(tmp_path: Path):
    config = load_config(write(tmp_path, "cores: 3\ncrossbar:\n  tiles: 2\n"))
    assert config.cores == 3 and config.crossbar.tiles == 2
    assert config.neurons_per_core == HWConfig().neurons_per_core


@pytest.mark.parametrize("key", SIZE_KEYS)
@pytest.mark.parametrize("value", [0, -4])
def test_zero_and_negative_sizes(tmp_path: Path, key: str, value: int):
    message = error_of(tmp_path, f"{key}: {value}\n")
    assert f"{key} = {value}" in message
    assert ".." in message or "one of" in message


@pytest.mark.parametrize("key", CROSSBAR_SIZE_KEYS)
@pytest.mark.parametrize("value", [0, -1])
def test_zero_and_negative_crossbar_sizes(tmp_path: Path, key: str, value: int):
    message = error_of(tmp_path, f"crossbar:\n  {key}: {value}\n")
    assert f"crossbar.{key} = {value}" in message


def test_negative_crossbar_tiles_and_sigma(tmp_path: Path):
    assert "crossbar.tiles = -1" in error_of(tmp_path, "crossbar: {tiles: -1}\n")
    assert "crossbar.variation_sigma = -0.1" in error_of(tmp_path,
                                                         "crossbar: {variation_sigma: -0.1}\n")


def test_adc_bits_above_16(tmp_path: Path):
    message = error_of(tmp_path, "crossbar:\n  adc_bits: 17\n")
    assert "crossbar.adc_bits = 17" in message and "1..16" in message


def test_cell_bits_above_weight_bits(tmp_path: Path):
    message = error_of(tmp_path, "weight_bits: 4\ncrossbar:\n  cell_bits: 6\n")
    assert "crossbar.cell_bits = 6" in message and "weight_bits = 4" in message
    assert "1..4" in message


@pytest.mark.parametrize("key,value", [("neurons_per_core", 100), ("synapse_lanes", 3),
                                       ("router_queue_depth", 12)])
def test_non_power_of_two(tmp_path: Path, key: str, value: int):
    message = error_of(tmp_path, f"{key}: {value}\n")
    assert f"{key} = {value}" in message and "power of two" in message


def test_too_few_crossbar_columns(tmp_path: Path):
    message = error_of(tmp_path, "crossbar: {tiles: 1, cols: 6}\n")
    assert "crossbar.cols = 6" in message and "crossbar.cols >= 8" in message
    load_config(write(tmp_path, "crossbar: {tiles: 0, cols: 6}\n"))  # unused without tiles


def test_host_width_choices(tmp_path: Path):
    assert "one of 8, 16, 32" in error_of(tmp_path, "host_width: 24\n")


def test_unknown_key_lists_valid_keys(tmp_path: Path):
    message = error_of(tmp_path, "cores: 2\nneurons: 64\n")
    assert "unknown key neurons" in message
    assert "neurons_per_core" in message and "crossbar" in message


def test_unknown_crossbar_key(tmp_path: Path):
    message = error_of(tmp_path, "crossbar:\n  tile: 2\n")
    assert "unknown key crossbar.tile" in message and "tiles" in message


@pytest.mark.parametrize("text", ["cores: [1, 2\n", "cores: 2\n  bad indent: 3\n", "a: b: c\n"])
def test_invalid_yaml(tmp_path: Path, text: str):
    assert "invalid YAML" in error_of(tmp_path, text)


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "just a string\n", "crossbar: 3\n"])
def test_wrong_structure(tmp_path: Path, text: str):
    error_of(tmp_path, text)


@pytest.mark.parametrize("text", ["cores: 2.5\n", "cores: true\n", "weight_bits: eight\n",
                                  "clock_mhz: .nan\n"])
def test_wrong_types(tmp_path: Path, text: str):
    error_of(tmp_path, text)


def test_missing_file(tmp_path: Path):
    with pytest.raises(CodesignError, match="cannot read hw config"):
        load_config(tmp_path / "absent.yaml")


def test_direct_construction_validates_too():
    with pytest.raises(CodesignError, match="cores = 0"):
        HWConfig(cores=0)
    with pytest.raises(CodesignError, match="adc_bits = 20"):
        CrossbarConfig(adc_bits=20)


def test_cli_handlers_raise_codesign_error_for_bad_config(tmp_path: Path):
    from codesign.flows import cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    bad = write(tmp_path, "crossbar:\n  adc_bits: 17\n")
    for argv in (["hw", "verilog", "--hw", str(bad), "-o", str(tmp_path / "out")],
                 ["hw", "synth", "--hw", str(bad), "--family", "ecp5"],
                 ["hw", "build", "--hw", str(bad), "--board", "ulx3s"]):
        args = parser.parse_args(argv)
        with pytest.raises(CodesignError, match="crossbar.adc_bits = 17"):
            args.handler(args)


def test_timing_registers_is_a_boolean(tmp_path: Path):
    assert load_config(write(tmp_path, "timing_registers: false\n")).timing_registers is False
    assert HWConfig().timing_registers is True
    assert "true or false" in error_of(tmp_path, "timing_registers: 1\n")
    assert "timing_registers = 'no'" in error_of(tmp_path, "timing_registers: 'no'\n")
