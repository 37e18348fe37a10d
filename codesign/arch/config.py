"""``HWConfig``: every knob of the accelerator, loaded from YAML and validated.

The knobs and their ranges are the agreed plan (docs/hardware.md, section "HWConfig"). A bad
value, an unknown key or invalid YAML raises :class:`~codesign.errors.CodesignError` with one line
that names the key and the allowed range. Missing keys take the defaults below, which are the
documented default configuration.

Construction validates too, so ``HWConfig(cores=0)`` fails the same way as a YAML file with
``cores: 0``; :meth:`HWConfig.from_dict` and :meth:`HWConfig.to_dict` round-trip exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from codesign import arithmetic
from codesign.arch.protocol import SOURCE_ID_BITS
from codesign.errors import CodesignError, warn


@dataclass(frozen=True)
class _Range:
    """The allowed values of one knob: ``low..high`` (inclusive, ``None`` = unbounded)."""

    low: float | None
    high: float | None = None
    power_of_two: bool = False
    choices: tuple[int, ...] | None = None
    integer: bool = True
    boolean: bool = False

    def describe(self) -> str:
        if self.boolean:
            return "true or false"
        if self.choices is not None:
            return "one of " + ", ".join(str(choice) for choice in self.choices)
        kind = "an integer" if self.integer else "a number"
        if self.power_of_two:
            kind = "a power of two"
        if self.high is None:
            return f"{kind} >= {self.low}"
        return f"{kind} in {self.low}..{self.high}"

    def check(self, key: str, value: Any, source: str) -> None:
        if self.boolean:
            if not isinstance(value, bool):
                raise CodesignError(f"{source}: {key} = {value!r} is not allowed",
                                    f"use {self.describe()}")
            return
        wrong_type = isinstance(value, bool) or not isinstance(value, (int, float) if not self.integer else int)
        if (wrong_type
                or (self.choices is not None and value not in self.choices)
                or (self.low is not None and value < self.low)
                or (self.high is not None and value > self.high)
                or (self.power_of_two and value & (value - 1) != 0)
                or (not self.integer and not math.isfinite(value))):
            raise CodesignError(f"{source}: {key} = {value!r} is not allowed",
                                f"use {self.describe()}")


def _knob(default: Any, allowed: _Range, help_text: str) -> Any:
    return field(default=default, metadata={"range": allowed, "help": help_text})


@dataclass(frozen=True)
class CrossbarConfig:
    """Behavioural ReRAM crossbar tiles (DESIGN contract 4)."""

    tiles: int = _knob(0, _Range(0, 64), "crossbar tiles in the accelerator (0 = none)")
    rows: int = _knob(64, _Range(1, 4096), "word lines per tile: spike sources a tile listens to")
    cols: int = _knob(64, _Range(1, 4096), "physical bit lines (columns) per tile")
    cell_bits: int = _knob(2, _Range(1, 8), "conductance levels per cell, as bits")
    adc_bits: int = _knob(6, _Range(1, 16), "resolution of each column's saturating ADC")
    variation_sigma: float = _knob(0.0, _Range(0.0, 1.0, integer=False),
                                   "relative std-dev of cell conductance (0 = ideal devices)")
    variation_seed: int = _knob(1, _Range(0, 2**32 - 1), "seed of the device-variation PRNG")

    def __post_init__(self) -> None:
        _validate(self, "hw config", prefix="crossbar.")


@dataclass(frozen=True)
class HWConfig:
    """The accelerator's knobs. Widths, depths and word layouts derived from them are defined
    once, in :class:`~codesign.arch.layout.CoreLayout` and
    :class:`~codesign.arch.layout.AcceleratorSizes`."""

    cores: int = _knob(2, _Range(1, 32), "neuron cores (each: neuron-update unit + synapse engine)")
    neurons_per_core: int = _knob(256, _Range(8, 65536, power_of_two=True),
                                  "neurons time-multiplexed on one core")
    synapse_memory_depth: int = _knob(4096, _Range(1, 2**20),
                                      "synapse words per core (a word holds synapse_lanes synapses)")
    synapse_lanes: int = _knob(4, _Range(1, 16, power_of_two=True),
                               "synapses processed in parallel per cycle per core")
    weight_bits: int = _knob(8, _Range(2, 16), "signed synaptic weight width")
    state_bits: int = _knob(16, _Range(8, 32), "signed neuron state width (voltage, current, adaptation)")
    delay_slots: int = _knob(2, _Range(2, 16),
                             "accumulator banks; projection delays 0..delay_slots-1 are supported")
    source_table_depth: int = _knob(1024, _Range(1, 2**SOURCE_ID_BITS),
                                    "distinct spike sources one core listens to")
    profiles: int = _knob(8, _Range(1, 256), "neuron parameter profiles per core")
    crossbar: CrossbarConfig = field(default_factory=CrossbarConfig,
                                     metadata={"help": "ReRAM crossbar tiles"})
    router_queue_depth: int = _knob(16, _Range(2, 4096, power_of_two=True),
                                    "entries of each router event queue")
    host_width: int = _knob(32, _Range(None, choices=(8, 16, 32)), "host stream data width in bits")
    clock_mhz: float = _knob(100, _Range(1, 1000, integer=False), "target clock frequency in MHz")
    neuron_dsp_bits: int = _knob(18, _Range(None, choices=(16, 18)),
                                 "DSP operand width the neuron unit's multipliers are cut for "
                                 "(18: ECP5 MULT18X18D; 16: iCE40 SB_MAC16, small products in LUTs)")
    neuron_lanes: int = _knob(1, _Range(1, 16, power_of_two=True),
                              "neuron-update units per core, each updating one neuron per cycle "
                              "(a sweep of L neurons takes L / lanes cycles); <= synapse_lanes")
    neuron_stage_depth: float = _knob(1.5, _Range(1, 16, integer=False),
                                      "carry chains between the neuron unit's pipeline registers "
                                      "(deeper: fewer flip-flops and latency cycles, lower fmax)")
    timing_registers: bool = _knob(True, _Range(None, boolean=True),
                                   "registered copies that only serve timing at ~100 MHz (each "
                                   "unit's program bus, the profile memory's output); false: "
                                   "small parts at low clocks, profiles in block RAM")
    sweep_overlap: bool = _knob(True, _Range(None, boolean=True),
                                "the synapse engine keeps accumulating events while the core "
                                "sweeps (each accumulator lane gets a second read port, i.e. a "
                                "copy of its memory), so a phase's spikes are delivered during "
                                "its sweep; false: the engine pauses during sweeps (small parts "
                                "short of block RAM)")
    skip_resting: bool = _knob(True, _Range(None, boolean=True),
                               "a segment whose neurons were all at rest (input 0, state "
                               "unchanged, no spike) in their last update is not swept while "
                               "nothing is added into its core's accumulator bank (the update "
                               "would repeat itself); costs a state compare per neuron lane")
    shared_rows: bool = _knob(True, _Range(None, boolean=True),
                              "sources whose synapse rows are equal up to a shift of their "
                              "targets share one copy of the words (a convolution stores a "
                              "few rows per channel, not one per pixel); each source-table "
                              "entry carries the shift, added to every lane's row")

    def __post_init__(self) -> None:
        if not isinstance(self.crossbar, CrossbarConfig):
            raise CodesignError("hw config: crossbar must be a CrossbarConfig",
                                "build it with HWConfig.from_dict or CrossbarConfig(...)")
        _validate(self, "hw config")
        self._check_relations("hw config")

    def _check_relations(self, source: str) -> None:
        if self.crossbar.cell_bits > self.weight_bits:
            raise CodesignError(
                f"{source}: crossbar.cell_bits = {self.crossbar.cell_bits} is larger than "
                f"weight_bits = {self.weight_bits}",
                f"use crossbar.cell_bits in 1..{self.weight_bits}")
        if self.crossbar.tiles and arithmetic.crossbar_outputs(
                self.crossbar.cols, self.weight_bits, self.crossbar.cell_bits) == 0:
            needed = arithmetic.crossbar_columns_per_output(self.weight_bits,
                                                            self.crossbar.cell_bits)
            raise CodesignError(
                f"{source}: crossbar.cols = {self.crossbar.cols} cannot hold one "
                f"{self.weight_bits}-bit weight of {needed} columns",
                f"use crossbar.cols >= {needed} or a larger crossbar.cell_bits")
        if self.neuron_lanes > self.synapse_lanes:
            raise CodesignError(
                f"{source}: neuron_lanes = {self.neuron_lanes} exceeds synapse_lanes = "
                f"{self.synapse_lanes} (each neuron lane reads its own accumulator lane)",
                f"use neuron_lanes <= {self.synapse_lanes}")
        if self.synapse_lanes > self.neurons_per_core:
            raise CodesignError(
                f"{source}: synapse_lanes = {self.synapse_lanes} exceeds neurons_per_core = "
                f"{self.neurons_per_core}", f"use synapse_lanes <= {self.neurons_per_core}")
        if self.total_neurons > 2**SOURCE_ID_BITS:
            raise CodesignError(
                f"{source}: cores x neurons_per_core = {self.total_neurons} exceeds the "
                f"{2**SOURCE_ID_BITS} global spike-source ids",
                f"use at most {2**SOURCE_ID_BITS} neurons in total")

    @property
    def total_neurons(self) -> int:
        """Neurons of the whole chip (every derived width is in :mod:`codesign.arch.layout`)."""
        return self.cores * self.neurons_per_core

    # -- (de)serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict with every knob (what :meth:`from_dict` and the YAML files take)."""
        data = {item.name: getattr(self, item.name) for item in fields(self)}
        data["crossbar"] = {item.name: getattr(self.crossbar, item.name)
                            for item in fields(self.crossbar)}
        return data

    @classmethod
    def from_dict(cls, data: Any, source: str = "hw config") -> HWConfig:
        """Build and validate from a (partial) nested dict; missing knobs keep their defaults."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise CodesignError(f"{source}: the top level must be a mapping of knobs, "
                                f"not {type(data).__name__}", "write `key: value` lines")
        _reject_unknown(cls, data, source, prefix="")
        values = dict(data)
        crossbar = values.pop("crossbar", None)
        if crossbar is None:
            crossbar = {}
        if not isinstance(crossbar, dict):
            raise CodesignError(f"{source}: crossbar must be a mapping, not {crossbar!r}",
                                "indent its keys (tiles, rows, ...) under `crossbar:`")
        _reject_unknown(CrossbarConfig, crossbar, source, prefix="crossbar.")
        # Validate with the file name in the message before the constructors do it again.
        _validate_values(CrossbarConfig, crossbar, source, prefix="crossbar.")
        _validate_values(cls, values, source, prefix="")
        try:
            return cls(crossbar=CrossbarConfig(**crossbar), **values)
        except CodesignError as error:  # a relation between knobs: name the file, not "hw config"
            raise CodesignError(source + error.cause.removeprefix("hw config"), error.fix) from None

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice (plain YAML keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in keys:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' is given twice", key_node.start_mark)
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path) -> HWConfig:
    """Read and validate a YAML HWConfig file. A file that is empty or does not end with a
    newline (a cut-off write) is read with a warning."""
    path = Path(path)
    if path.is_dir():
        raise CodesignError(f"hw config {path} is a directory",
                            "pass a YAML file (e.g. configs/default.yaml)")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise CodesignError(f"hw config {path} is not text",
                            "pass a YAML file (e.g. configs/default.yaml)") from None
    except OSError as error:
        raise CodesignError(f"cannot read hw config {path}: {error.strerror}",
                            "pass an existing YAML file (e.g. configs/default.yaml)") from None
    if not text.strip():
        warn(f"hw config {path} is empty: every knob takes its default",
             "write the knobs you mean (see configs/default.yaml)")
    elif not text.endswith("\n"):
        warn(f"hw config {path} does not end with a newline: it may be cut off",
             "check its last line and end the file with a newline")
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise CodesignError(f"{path}: invalid YAML{where}: {problem}",
                            "fix the YAML syntax (see configs/default.yaml)") from None
    return HWConfig.from_dict(data, source=str(path))


def _reject_unknown(cls: type, data: dict, source: str, prefix: str) -> None:
    valid = [item.name for item in fields(cls)]
    for key in data:
        if key not in valid:
            raise CodesignError(f"{source}: unknown key {prefix}{key!s}",
                                f"valid keys{' under crossbar' if prefix else ''} are "
                                + ", ".join(valid))


def _validate_values(cls: type, data: dict, source: str, prefix: str) -> None:
    for item in fields(cls):
        allowed = item.metadata.get("range")
        if allowed is not None and item.name in data:
            allowed.check(prefix + item.name, data[item.name], source)


def _validate(instance: Any, source: str, prefix: str = "") -> None:
    _validate_values(type(instance), {item.name: getattr(instance, item.name)
                                      for item in fields(instance)}, source, prefix)

