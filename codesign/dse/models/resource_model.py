"""Analytic FPGA resource model of the accelerator: LUTs, FFs, BRAM and DSPs from an HWConfig
in microseconds, so the DSE can prune before synthesis.

LUTs, FFs and DSPs are linear in structural features of the configuration (per-core lanes x
accumulator width, neuron datapath width, address widths, crossbar columns x ADC bits, ...); the
coefficients are fitted, non-negative and weighted for relative error, against real yosys results
of a corpus of random HWConfigs by ``bench/fit_resource_model.py`` and stored per family in
``resource_coefficients.json`` beside this file.

Block RAM is not fitted on ECP5: it is counted from the memories the elaborated accelerator
instantiates (:func:`memory_shapes`), with the choice Yosys' ``memory_libmap`` makes for each:
the cheaper of block RAM (cost 128 per DP16KD/PDPW16KD, shapes 16384x1 .. 512x36, a byte-enable
lane per separately written part, modes stacked along the depth) and distributed RAM (cost 4
per 16x4 TRELLIS_DPR16X4, one per part, plus 1.4 per bit for the register of the synchronous
read port), a copy per read port, block RAM on a tie, and whatever a memory's ``ram_style``
attribute asks for (the costs are those of Yosys' ``techlibs/lattice/brams_16kd.txt`` and
``lutrams_trellis.txt``). The fit script checks that this count is exact on the corpus.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from codesign import arithmetic
from codesign.arch.config import HWConfig
from codesign.arch.layout import CoreLayout

COEFFICIENTS_FILE = Path(__file__).with_name("resource_coefficients.json")
FITTED_RESOURCES = ("luts", "ffs", "bram", "dsp")
#: Families whose block RAM is counted exactly from the memories (else it is fitted too).
COUNTED_BRAM_FAMILIES = ("ecp5",)


def _features() -> dict[str, Callable[[HWConfig, CoreLayout], float]]:
    """Structural features of a config; widths are the hardware's own (``CoreLayout``), e.g. a
    synapse slot is ``lane_fields.width`` = row + weight + delay bits."""
    def multiplier_blocks(c: HWConfig, layout: CoreLayout) -> int:
        """18x18 multiplier blocks of the neuron update's products (arithmetic.py: three decays
        of Q1.16 times state, two gains of Q9.16 times the input and the current)."""
        blocks = lambda a, b: math.ceil(a / 18) * math.ceil(b / 18)
        return (3 * blocks(arithmetic.DECAY_BITS, c.state_bits)
                + blocks(arithmetic.COEFFICIENT_BITS, layout.accumulator_bits)
                + blocks(arithmetic.COEFFICIENT_BITS, c.state_bits))

    return {
        "constant": lambda c, layout: 1.0,
        "cores_x_multiplier_blocks": lambda c, layout: c.cores * multiplier_blocks(c, layout),
        "cores": lambda c, layout: c.cores,
        "cores_x_lanes_x_accumulator": lambda c, layout: c.cores * c.synapse_lanes
        * layout.accumulator_bits,
        "cores_x_lanes_x_synapse_bits": lambda c, layout: c.cores * c.synapse_lanes
        * layout.lane_fields.width,
        "cores_x_state_bits": lambda c, layout: c.cores * c.state_bits,
        "cores_x_address_bits": lambda c, layout: c.cores * (layout.synapse_address_bits
                                                             + layout.source_index_bits
                                                             + layout.neuron_index_bits),
        "cores_squared": lambda c, layout: c.cores * c.cores,
        "tiles_x_columns_x_adc_bits": lambda c, layout: c.crossbar.tiles * c.crossbar.cols
        * c.crossbar.adc_bits,
        "tiles_x_rows": lambda c, layout: c.crossbar.tiles * c.crossbar.rows,
        # a tile's column walk and slice accumulation (leave-one-out LUT error 5.5 % -> 3.6 %
        # on the 8 Dec corpus)
        "tiles_x_columns_x_slices": lambda c, layout: c.crossbar.tiles * c.crossbar.cols
        * arithmetic.crossbar_slices(c.weight_bits, c.crossbar.cell_bits),
        "tiles": lambda c, layout: c.crossbar.tiles,
    }


FEATURES = _features()


def feature_vector(config: HWConfig) -> np.ndarray:
    layout = CoreLayout.from_config(config)
    return np.array([function(config, layout) for function in FEATURES.values()],
                    dtype=np.float64)


@dataclass
class ResourceModel:
    """Fitted coefficients per resource (``resource -> feature -> coefficient``)."""

    family: str
    coefficients: dict[str, dict[str, float]]

    def estimate(self, config: HWConfig, resources: tuple[str, ...] = ("luts", "ffs", "bram",
                                                                          "dsp")
                 ) -> dict[str, float]:
        """Modelled ``resources``. Counted block RAM elaborates the design (about a second), so
        ask for it only where it is needed."""
        features = dict(zip(FEATURES, feature_vector(config)))
        usage = {resource: float(sum(weights.get(name, 0.0) * value
                                     for name, value in features.items()))
                 for resource, weights in self.coefficients.items() if resource in resources}
        if self.family in COUNTED_BRAM_FAMILIES and "bram" in resources:
            usage["bram"] = float(counted_bram(self.family, config))
        return usage


    def breakdown(self, config: HWConfig) -> dict[str, dict[str, float]]:
        """``resource -> model term -> contribution`` (what each structural part costs)."""
        features = dict(zip(FEATURES, feature_vector(config)))
        return {resource: {name: weight * features[name] for name, weight in weights.items()}
                for resource, weights in self.coefficients.items()}


#: Block RAM modes per family, as Yosys' memory_libmap uses them: ``(width, depth, lanes,
#: lane_width)``. A memory written in parts (a write port with a granularity) needs a
#: byte-enable lane of ``lane_width`` bits per part; on ECP5 only the 36-bit (PDPW16KD, 4 lanes)
#: and 18-bit (2 lanes) modes have more than one, the narrower modes write a whole word.
BRAM_MODES = {
    "ecp5": ((36, 512, 4, 9), (18, 1024, 2, 9), (9, 2048, 1, 9), (4, 4096, 1, 4),
             (2, 8192, 1, 2), (1, 16384, 1, 1)),
    "ice40": ((16, 256, 16, 1), (8, 512, 1, 8), (4, 1024, 1, 4), (2, 2048, 1, 2)),
    "xc7": ((36, 512, 4, 9), (18, 1024, 2, 9), (9, 2048, 1, 9), (4, 4096, 1, 4),
            (2, 8192, 1, 2), (1, 16384, 1, 1)),
}


BRAM_COST, DISTRIBUTED_RAM_COST = 128, 4
#: Yosys' cost per bit of emulating a synchronous read port on distributed RAM, fitted to the
#: corpus: 48 x 64 (the neuron state of 64 16-bit neurons) goes to block RAM, 36 x 16 not.
SYNC_READ_REGISTER_COST = 1.4
#: The same for a memory with the ``no_rw_check`` attribute (measured alone: 21 x 64 goes to
#: block RAM with it, to distributed RAM without; 16 x 64 to distributed RAM either way). Any
#: value from 1.6 to 2.0 makes the count exact on the 30 designs of the 8 Dec corpus.
UNCHECKED_SYNC_READ_REGISTER_COST = 2.0
#: A TRELLIS_DPR16X4 cell: 4 bits x 16 words, one write enable.
DISTRIBUTED_RAM_SHAPE = (4, 16)


@functools.lru_cache(maxsize=4096)
def bram_blocks(family: str, width: int, depth: int, parts: int = 1) -> int:
    """Fewest block RAMs holding a ``width`` x ``depth`` memory written in ``parts`` parts.
    Yosys may stack modes along the depth (measured: 1152 x 14 with 14 one-bit parts takes
    1024 words in 18-bit mode, 7 blocks, and 128 in 36-bit mode, 4 blocks: 11), so each
    ``depth`` is the best split into a first mode's depth and the rest."""
    part_width = math.ceil(width / parts)
    best = math.inf
    for mode_width, mode_depth, lanes, lane_width in BRAM_MODES[family]:
        if parts == 1:
            per_piece = math.ceil(width / mode_width)
        else:
            per_piece = math.ceil(parts * math.ceil(part_width / lane_width) / lanes)
        blocks = per_piece if depth <= mode_depth else \
            per_piece + bram_blocks(family, width, depth - mode_depth, parts)
        best = min(best, blocks)
    return int(best)


@dataclass(frozen=True)
class MemoryShape:
    """What decides where Yosys puts one memory: ``parts`` is the most write-enable bits of any
    write port (1: whole words only), ``reads`` the number of read ports, ``style`` the
    ``ram_style`` attribute, ``collisions_unchecked`` the ``no_rw_check`` attribute."""

    width: int
    depth: int
    parts: int = 1
    reads: int = 1
    style: str | None = None
    collisions_unchecked: bool = False


def memory_bram(family: str, shape: MemoryShape) -> int:
    """Block RAMs Yosys spends on one memory: 0 when distributed RAM is cheaper, unless its
    ``ram_style`` asks for one or the other. Block and distributed RAM both have one write and
    one read port per copy, so every further read port costs a copy."""
    blocks = shape.reads * bram_blocks(family, shape.width, shape.depth, shape.parts)
    if shape.style in ("block", "distributed", "logic"):
        return blocks if shape.style == "block" else 0
    # one write enable per distributed cell: every part takes cells of its own
    cells = shape.reads * shape.parts * math.ceil(
        math.ceil(shape.width / shape.parts) / DISTRIBUTED_RAM_SHAPE[0]) * \
        math.ceil(shape.depth / DISTRIBUTED_RAM_SHAPE[1])
    # distributed RAM reads asynchronously: a synchronous read port costs a register per bit
    # (and its emulation, dearer where collisions are left unchecked)
    register = UNCHECKED_SYNC_READ_REGISTER_COST if shape.collisions_unchecked else \
        SYNC_READ_REGISTER_COST
    distributed = cells * DISTRIBUTED_RAM_COST + shape.reads * shape.width * register
    return blocks if blocks * BRAM_COST <= distributed else 0


def _fragment_memories(component) -> list[MemoryShape]:
    """The shape of every memory in ``component``."""
    from amaranth.hdl import Fragment, Shape
    from amaranth.hdl._mem import MemoryInstance   # the elaborated form of lib.memory.Memory

    shapes = []
    pending = [Fragment.get(component, None)]
    while pending:
        fragment = pending.pop()
        if isinstance(fragment, MemoryInstance):
            shapes.append(MemoryShape(
                width=Shape.cast(fragment._data.shape).width, depth=fragment._data.depth,
                parts=max((len(port._en) for port in fragment._write_ports), default=1),
                reads=max(len(fragment._read_ports), 1),
                style=fragment._attrs.get("ram_style"),
                collisions_unchecked=bool(fragment._attrs.get("no_rw_check"))))
        pending.extend(sub for sub, *_ in fragment.subfragments)
    return shapes


@functools.lru_cache(maxsize=4096)
def memory_shapes(config: HWConfig) -> tuple[MemoryShape, ...]:
    """Every memory of the accelerator for ``config``: one of each part (host interface,
    router, sequencer, a core, a tile, the host pipes) elaborated, times the number the top
    level instantiates (``codesign.hw.rtl.top.memory_parts``)."""
    from codesign.hw.rtl.top import memory_parts

    return tuple(shape for part, count in memory_parts(config)
                 for shape in _fragment_memories(part) * count)


def counted_bram(family: str, config: HWConfig) -> int:
    return sum(memory_bram(family, shape) for shape in memory_shapes(config))


def fit(family: str, configs: list[HWConfig], measured: list[dict[str, float]]) -> ResourceModel:
    """Non-negative least squares on relative error for every fitted resource."""
    from scipy.optimize import nnls

    matrix = np.stack([feature_vector(config) for config in configs])
    coefficients = {}
    for resource in FITTED_RESOURCES:
        if resource == "bram" and family in COUNTED_BRAM_FAMILIES:
            continue
        target = np.array([float(m[resource]) for m in measured])
        weight = 1.0 / np.maximum(target, 1.0)
        solution, _ = nnls(matrix * weight[:, None], target * weight)
        coefficients[resource] = {name: float(value) for name, value in zip(FEATURES, solution)
                                  if value != 0.0}
    return ResourceModel(family=family, coefficients=coefficients)


def load_model(family: str, path: Path | None = None) -> ResourceModel | None:
    """The fitted model of ``family``, or None when it has not been fitted yet."""
    path = path or COEFFICIENTS_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if family not in data:
        return None
    return ResourceModel(family=family, coefficients=data[family])
