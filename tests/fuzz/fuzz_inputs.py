"""The fuzz test's valid inputs (NIR graphs, spike arrays, an HWConfig, a budget) and the
mutations hypothesis applies to them. Each mutation writes the mutated file and says what a
correct command line must do with it (:class:`fuzz_harness.Expect`, per command where it
differs)."""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import nir
import numpy as np
import yaml
from hypothesis import strategies as st

from fuzz_harness import Expect

TAU = 5e-3
#: The time step of the graphs built here (IF neurons integrate r * dt = 1 per step).
DT = 1e-3
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
#: A small config the tests compile to at the default --weight-bits 8 (configs/tiny.yaml is cut
#: to 16 neurons and 6-bit weights for the UP5K board); its last line is ``shared_rows: false``.
SMALL_CONFIG = """\
cores: 1
neurons_per_core: 32
synapse_memory_depth: 512
synapse_lanes: 1
weight_bits: 8
state_bits: 16
delay_slots: 2
source_table_depth: 128
profiles: 2
router_queue_depth: 2
clock_mhz: 12
timing_registers: false
shared_rows: false
"""


# -- valid inputs -----------------------------------------------------------------------------
def _lif(n: int, threshold: float = 1.0) -> nir.LIF:
    one = np.ones(n)
    return nir.LIF(tau=one * TAU, r=one, v_leak=0 * one, v_threshold=one * threshold,
                   v_reset=0 * one)


def chain_graph() -> nir.NIRGraph:
    """Input 4 -> Linear -> LIF 5 -> Linear -> LIF 3 -> Output."""
    rng = np.random.default_rng(1)
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([4])),
               "fc1": nir.Linear(weight=rng.uniform(0.2, 1.2, (5, 4))),
               "lif1": _lif(5, 0.5),
               "fc2": nir.Affine(weight=rng.uniform(0.2, 1.0, (3, 5)), bias=np.zeros(3)),
               "lif2": _lif(3, 0.5),
               "output": nir.Output(output_type=np.array([3]))},
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"),
               ("lif2", "output")], type_check=False)


def recurrent_graph() -> nir.NIRGraph:
    """Input 3 -> Linear -> CubaLIF 4 with a recurrent Linear through an explicit Delay."""
    rng = np.random.default_rng(2)
    one = np.ones(4)
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([3])),
               "fc": nir.Linear(weight=rng.uniform(0.5, 1.5, (4, 3))),
               "cuba": nir.CubaLIF(tau_syn=one * 2e-3, tau_mem=one * TAU, r=one, v_leak=0 * one,
                                   v_threshold=one * 0.3, v_reset=0 * one, w_in=one),
               "delay": nir.Delay(delay=one * DT),
               "rec": nir.Linear(weight=rng.uniform(-0.3, 0.3, (4, 4))),
               "output": nir.Output(output_type=np.array([4]))},
        edges=[("input", "fc"), ("fc", "cuba"), ("cuba", "delay"), ("delay", "rec"),
               ("rec", "cuba"), ("cuba", "output")], type_check=False)


def conv_graph() -> nir.NIRGraph:
    """Input [1, 4, 4] -> Conv2d -> IF -> SumPool2d -> Flatten -> Linear -> IF -> Output."""
    rng = np.random.default_rng(3)
    ones = np.ones((2, 4, 4))
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([1, 4, 4])),
               "conv": nir.Conv2d(input_shape=(4, 4), weight=rng.uniform(0.2, 1.0, (2, 1, 3, 3)),
                                  stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(2)),
               "if1": nir.IF(r=ones / DT, v_threshold=ones * 0.5, v_reset=0 * ones),
               "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                     padding=np.array([0, 0])),
               "flat": nir.Flatten(input_type={"input": np.array([2, 2, 2])}, start_dim=0,
                                   end_dim=-1),
               "fc": nir.Linear(weight=rng.uniform(0.1, 0.6, (3, 8))),
               "if2": nir.IF(r=np.ones(3) / DT, v_threshold=np.ones(3) * 0.5,
                             v_reset=np.zeros(3)),
               "output": nir.Output(output_type=np.array([3]))},
        edges=[("input", "conv"), ("conv", "if1"), ("if1", "pool"), ("pool", "flat"),
               ("flat", "fc"), ("fc", "if2"), ("if2", "output")], type_check=False)


def spikes(shape: tuple[int, ...], steps: int = 24, seed: int = 0) -> np.ndarray:
    """A seeded spike train ``[T, *shape]`` (uint8 0/1) dense enough that every layer spikes."""
    return (np.random.default_rng(seed).random((steps, *shape)) < 0.6).astype(np.uint8)


@dataclass
class Case:
    """A valid model with its input (``input.npy`` or ``input.npz``) and HWConfig."""

    name: str
    model: Path
    input: Path
    config: Path
    dt: str = "1e-4"
    graph: dict = field(default_factory=dict)  # node -> type, from the file


def build_cases(folder: Path, digits: tuple[Path, Path] | None,
                shared_lif: Path | None) -> list[Case]:
    """Write the valid cases into ``folder``."""
    cases = []
    (folder / "small.yaml").write_text(SMALL_CONFIG)
    for name, graph, shape, config in (("chain", chain_graph(), (4,), "small.yaml"),
                                       ("recurrent", recurrent_graph(), (3,), "default.yaml"),
                                       ("conv", conv_graph(), (1, 4, 4), "default.yaml")):
        nir.write(folder / f"{name}.nir", graph)
        np.save(folder / f"{name}.npy", spikes(shape))
        cases.append(Case(name, folder / f"{name}.nir", folder / f"{name}.npy",
                          folder / config if config == "small.yaml" else CONFIGS / config,
                          dt=str(DT)))
    # The loop's Delay node adds one step to the step every recurrent edge takes.
    config = yaml.safe_load((CONFIGS / "default.yaml").read_text())
    (folder / "recurrent.yaml").write_text(yaml.safe_dump({**config, "delay_slots": 4}))
    cases[1].config = folder / "recurrent.yaml"
    if digits is not None:
        model, test = digits
        data = np.load(test)
        np.savez(folder / "digits.npz", x=data["x"][:3, :12], y=data["y"][:3])
        cases.append(Case("digits", model, folder / "digits.npz", CONFIGS / "default.yaml"))
    if shared_lif is not None:
        trace = np.loadtxt(shared_lif.with_suffix(".csv"), delimiter=",")
        np.save(folder / "lif_norse.npy", trace[:, :1])
        cases.append(Case("lif_norse", shared_lif, folder / "lif_norse.npy",
                          folder / "small.yaml"))
    for case in cases:
        with h5py.File(case.model, "r") as handle:
            nodes = handle["node/nodes"]
            case.graph = {name: nodes[name]["type"][()].decode() for name in nodes}
    return cases


# -- mutations --------------------------------------------------------------------------------
@dataclass
class Mutation:
    """``describe`` names it; ``expect`` is the default expectation, ``per_command`` overrides
    it for some commands (e.g. huge weights: a warning in fixed point, valid in float)."""

    describe: str
    expect: Expect
    per_command: dict[str, Expect] = field(default_factory=dict)

    def expected(self, command: str) -> Expect:
        return self.per_command.get(command, self.expect)


def truncate(data, source: Path, target: Path) -> Mutation:
    """``target`` = ``source`` cut at a drawn byte."""
    raw = source.read_bytes()
    cut = data.draw(st.integers(0, len(raw) - 1), label="cut")
    target.write_bytes(raw[:cut])
    return Mutation(f"truncated at byte {cut} of {len(raw)}", Expect.REJECT)


_STRUCTURAL = {"stride", "padding", "dilation", "groups", "kernel_size", "shape", "input_shape",
               "start_dim", "end_dim", "input_type", "output_type"}
_TIME_CONSTANTS = ("tau", "tau_mem", "tau_syn")


def _edges(handle) -> list[tuple[str, str]]:
    return [(a.decode(), b.decode()) for a, b in handle["node/edges"][()]]


def _set_edges(handle, edges: list[tuple[str, str]]) -> None:
    del handle["node/edges"]
    handle["node/edges"] = np.array(edges, dtype=object).astype("S") if edges else \
        np.zeros((0, 2), dtype="S1")


def _connected(nodes: dict[str, str], edges: list[tuple[str, str]]) -> bool:
    """Independent of the product: every node reached from the Input, the Output reached."""
    inputs = [n for n, kind in nodes.items() if kind == "Input"]
    outputs = [n for n, kind in nodes.items() if kind == "Output"]
    if len(inputs) != 1 or len(outputs) != 1:
        return False
    seen, todo = set(inputs), list(inputs)
    while todo:
        node = todo.pop()
        for source, target in edges:
            if source == node and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen == set(nodes)


def mutate_graph(data, case: Case, target: Path) -> Mutation:
    """A drawn mutation of ``case.model`` written to ``target``."""
    kind = data.draw(st.sampled_from(["truncate", "delete node", "delete edge", "shape",
                                      "dtype", "value", "type name"]), label="kind")
    if kind == "truncate":
        return truncate(data, case.model, target)
    shutil.copy(case.model, target)
    with h5py.File(target, "r+") as handle:
        nodes = handle["node/nodes"]
        names = sorted(case.graph)
        if kind == "delete node":
            name = data.draw(st.sampled_from(names), label="node")
            drop_edges = data.draw(st.booleans(), label="drop its edges")
            del nodes[name]
            if drop_edges:
                _set_edges(handle, [e for e in _edges(handle) if name not in e])
            return Mutation(f"node {name} deleted" + (" with its edges" if drop_edges else ""),
                            Expect.REJECT)
        if kind == "delete edge":
            edges = _edges(handle)
            index = data.draw(st.integers(0, len(edges) - 1), label="edge")
            rest = edges[:index] + edges[index + 1:]
            _set_edges(handle, rest)
            # A deleted loop edge leaves a valid feed-forward graph.
            expect = Expect.VARIANT if _connected(case.graph, rest) else Expect.REJECT
            return Mutation(f"edge {edges[index]} deleted", expect)
        if kind == "type name":
            name = data.draw(st.sampled_from(names), label="node")
            new = data.draw(st.sampled_from(["Hodgkin", "", "lif", "NIRGraph2"]), label="type")
            del nodes[name]["type"]
            nodes[name]["type"] = np.bytes_(new)
            return Mutation(f"node {name} has type {new!r}", Expect.REJECT)
        params = [(name, key) for name in names for key in nodes[name]
                  if key != "type" and isinstance(nodes[name][key], h5py.Dataset)]
        name, key = data.draw(st.sampled_from(params), label="parameter")
        value = np.asarray(nodes[name][key][()])
        del nodes[name][key]
        if kind == "shape":
            return _corrupt_shape(data, nodes[name], key, value, name)
        if kind == "dtype":
            return _corrupt_dtype(data, nodes[name], key, value, name)
        return _corrupt_value(data, nodes[name], key, value, name, case.graph[name])


def _corrupt_shape(data, group, key: str, value: np.ndarray, name: str) -> Mutation:
    how = data.draw(st.sampled_from(["grow", "shrink", "extra axis", "empty", "scalar"]),
                    label="shape change")
    if how == "shrink" and value.ndim == 1 and value.size == 2:
        how = "scalar"   # one entry left: read as a scalar, as numpy broadcasts it
    if how == "grow":
        new = np.concatenate([value.reshape(-1), value.reshape(-1)[:1]]) if value.ndim <= 1 \
            else np.concatenate([value, value[:1]], axis=0)
    elif how == "shrink" and value.size > 1:
        new = value.reshape(-1)[:-1] if value.ndim <= 1 else value[:-1]
    elif how == "extra axis":
        new = value[..., None, None] if value.ndim else value.reshape(1, 1)
    elif how == "empty":
        new = np.zeros((0, *value.shape[1:]), dtype=value.dtype)
    else:
        flat = value.reshape(-1)
        uniform = flat.size > 0 and np.all(flat == flat[0])
        group[key] = flat[0] if flat.size else value
        # A uniform per-neuron parameter stored as a scalar broadcasts to the same values.
        expect = Expect.SAME if uniform and key not in _STRUCTURAL else Expect.VARIANT
        return Mutation(f"{name}.{key} {value.shape} stored as a scalar", expect)
    group[key] = new
    # Structural entries (shape, stride, ...) change meaning with their length; parameter
    # arrays of the wrong size must be refused. Input/Output shapes with the same element count
    # (an extra axis of 1) may be read as the same shape.
    expect = Expect.VARIANT if key in _STRUCTURAL else Expect.REJECT
    if how == "extra axis" and key in ("shape",):
        expect = Expect.SAME
    return Mutation(f"{name}.{key} {value.shape} -> {new.shape}", expect)


def _corrupt_dtype(data, group, key: str, value: np.ndarray, name: str) -> Mutation:
    how = data.draw(st.sampled_from(["bytes", "complex", "int", "float32", "bool"]),
                    label="dtype")
    if how == "bytes":
        group[key] = np.char.encode(value.astype(str)) if value.size else value.astype("S1")
        return Mutation(f"{name}.{key} stored as strings", Expect.REJECT)
    if how == "complex":
        group[key] = value.astype(np.complex128) + 1j
        return Mutation(f"{name}.{key} stored as complex", Expect.REJECT)
    # The same numbers in another real dtype read the same; other numbers are another model.
    cast = {"int": np.int64, "float32": np.float32, "bool": np.bool_}[how]
    new = value.astype(cast)
    group[key] = new
    exact = value.dtype.kind in "biuf" and np.array_equal(new.astype(np.float64),
                                                          value.astype(np.float64))
    return Mutation(f"{name}.{key} stored as {how}", Expect.SAME if exact else Expect.VARIANT)


def _corrupt_value(data, group, key: str, value: np.ndarray, name: str, kind: str) -> Mutation:
    bad = data.draw(st.sampled_from([math.nan, math.inf, -math.inf, 1e30, -1e30, -1.0, 0.0,
                                     -1e-3]), label="value")
    new = value.astype(np.float64).copy() if value.dtype.kind in "biuf" else \
        np.zeros(value.shape)
    if new.size == 0:
        new = np.array([bad])
    else:
        index = data.draw(st.integers(0, new.size - 1), label="element")
        new.reshape(-1)[index] = bad
    group[key] = new
    describe = f"{name}.{key}[...] = {bad}"
    if not math.isfinite(bad):
        return Mutation(describe, Expect.REJECT)
    if key in _TIME_CONSTANTS and bad <= 0:
        return Mutation(describe, Expect.REJECT)
    if key == "delay" and bad < 0:
        return Mutation(describe, Expect.REJECT)
    if key == "v_threshold" and bad <= 0:
        return Mutation(describe, Expect.WARN)
    if key in _STRUCTURAL and bad <= 0 and key in ("shape", "kernel_size", "stride"):
        return Mutation(describe, Expect.REJECT)
    if key in ("weight",) and abs(bad) >= 1e30:
        # Fixed point cannot hold it next to the other weights: warned where it quantises.
        fixed = {command: Expect.WARN for command in
                 ("simulate golden", "compile hw", "compile c")}
        return Mutation(describe, Expect.VARIANT, fixed)
    return Mutation(describe, Expect.VARIANT)


# -- input arrays -----------------------------------------------------------------------------
def mutate_input(data, case: Case, folder: Path) -> tuple[Path, Mutation]:
    """A drawn mutation of ``case.input`` written into ``folder``; returns its path."""
    batched = case.input.suffix == ".npz"
    if batched:
        loaded = np.load(case.input)
        x, y = loaded["x"], loaded["y"]
    else:
        x, y = np.load(case.input), None
    target = folder / case.input.name
    kind = data.draw(st.sampled_from(["truncate", "junk", "dtype", "value", "shape", "npz"]),
                     label="kind")
    save = (lambda **arrays: np.savez(target, **arrays)) if batched else None

    def write(array: np.ndarray, labels=y, allow_pickle=False) -> None:
        if batched:
            arrays = {"x": array} if labels is None else {"x": array, "y": labels}
            np.savez(target, **arrays, allow_pickle=allow_pickle) if allow_pickle else \
                save(**arrays)
        else:
            np.save(target, array, allow_pickle=allow_pickle)

    if kind == "truncate":
        return target, truncate(data, case.input, target)
    if kind == "junk":
        target.write_bytes(data.draw(st.binary(min_size=0, max_size=64), label="bytes"))
        return target, Mutation("junk bytes", Expect.REJECT)
    if kind == "dtype":
        how = data.draw(st.sampled_from(["bool", "int32", "float32", "float64", "complex",
                                         "str", "object"]), label="dtype")
        if how == "complex":
            write(x.astype(np.complex128))
            return target, Mutation("input as complex", Expect.REJECT)
        if how == "str":
            write(x.astype(str))
            return target, Mutation("input as strings", Expect.REJECT)
        if how == "object":
            write(x.astype(object), allow_pickle=True)
            return target, Mutation("input as Python objects", Expect.REJECT)
        write(x.astype(how))   # 0/1 spikes: the same numbers in every real dtype
        return target, Mutation(f"input as {how}", Expect.SAME)
    if kind == "value":
        bad = data.draw(st.sampled_from([math.nan, math.inf, -math.inf, 1e30, -1.0, 0.5,
                                         2.0**40]), label="value")
        new = x.astype(np.float64)
        index = data.draw(st.integers(0, new.size - 1), label="element")
        new.reshape(-1)[index] = bad
        write(new)
        describe = f"input element = {bad}"
        if not math.isfinite(bad):
            return target, Mutation(describe, Expect.REJECT)
        # Spike counts must be whole, non-negative and within one step's range for the fixed
        # point targets; the float reference takes any finite current.
        fixed = {command: Expect.REJECT for command in ("simulate golden", "run golden",
                                                        "run c", "dse dry-run")}
        return target, Mutation(describe, Expect.VARIANT, fixed)
    if kind == "shape":
        how = data.draw(st.sampled_from(["no time axis", "extra axis", "wrong width",
                                         "zero steps", "transposed"]), label="shape change")
        time_axis = 1 if batched else 0
        if how == "no time axis":
            new = x.reshape(-1)
            if not batched and x[0].size == 1:
                write(new)   # [T] for a network with one input: one value per step
                return target, Mutation("input [T, 1] stored as [T]", Expect.SAME)
        elif how == "extra axis":
            new = x[..., None]   # one more axis of 1: the same elements per step
            write(new)
            return target, Mutation("input with a trailing axis of 1", Expect.SAME)
        elif how == "wrong width":
            new = np.concatenate([x, x[..., :1]], axis=-1)
        elif how == "zero steps":
            new = np.take(x, [], axis=time_axis)
        else:
            new = np.swapaxes(x, time_axis, -1)
            if new.shape == x.shape:
                write(new)
                return target, Mutation("input transposed (square)", Expect.VARIANT)
        write(new)
        return target, Mutation(f"input {x.shape} -> {new.shape} ({how})", Expect.REJECT)
    # npz structure
    how = data.draw(st.sampled_from(["no x", "labels wrong length", "labels as strings",
                                     "extra array", "zero samples"]), label="npz change")
    x_batch = x if batched else x[None]
    if how == "no x":
        np.savez(folder / "input.npz", samples=x_batch)
    elif how == "labels wrong length":
        np.savez(folder / "input.npz", x=x_batch, y=np.zeros(len(x_batch) + 1, dtype=int))
    elif how == "labels as strings":
        np.savez(folder / "input.npz", x=x_batch, y=np.array(["a"] * len(x_batch)))
    elif how == "zero samples":
        np.savez(folder / "input.npz", x=x_batch[:0])
    else:
        arrays = {"x": x_batch, "notes": np.arange(3)}
        if y is not None:
            arrays["y"] = y
        np.savez(folder / "input.npz", **arrays)
        # The same samples; only an .npz input is compared (an .npy one changes layout).
        expect = Expect.SAME if batched else Expect.VARIANT
        return folder / "input.npz", Mutation("npz with an extra array", expect)
    return folder / "input.npz", Mutation(f"npz: {how}", Expect.REJECT)


# -- HWConfig YAML ----------------------------------------------------------------------------
def mutate_config(data, source: Path, target: Path) -> Mutation:
    """A drawn mutation of the HWConfig YAML ``source`` written to ``target``."""
    text = source.read_text()
    config = yaml.safe_load(text)
    kind = data.draw(st.sampled_from(["truncate", "wrong type", "out of range", "unknown key",
                                      "duplicate key", "syntax", "not a mapping", "reorder",
                                      "comments"]), label="kind")
    keys = [key for key in config if key != "crossbar"]
    if kind == "truncate":
        cut = data.draw(st.integers(0, len(text) - 1), label="cut")
        target.write_text(text[:cut])
        # A cut right after a line is a shorter config (missing keys take the defaults);
        # a cut inside a line may change a value: it must be refused or warned about.
        expect = Expect.VARIANT if text[:cut].endswith("\n") and \
            text[:cut].strip() else Expect.WARN
        return Mutation(f"truncated at character {cut}", expect)
    if kind == "wrong type":
        key = data.draw(st.sampled_from(keys + ["crossbar"]), label="key")
        value = data.draw(st.sampled_from(["fifty", [1, 2], {"a": 1}, None, "1e3", "", 2.5,
                                           True]), label="value")
        # (the small config has no crossbar section: a wrong-typed one is added)
        if isinstance(config.get(key), bool) and isinstance(value, bool):
            value = "yes please"
        if isinstance(config.get(key), float) and isinstance(value, float):
            value = "fast"
        config[key] = value
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        if key == "crossbar" and value is None:   # an empty section, like an empty file
            return Mutation("crossbar: (empty section, its defaults)", Expect.VARIANT)
        return Mutation(f"{key}: {value!r}", Expect.REJECT)
    if kind == "out of range":
        key = data.draw(st.sampled_from([k for k in keys if not isinstance(config[k], bool)]),
                        label="key")
        value = data.draw(st.sampled_from([-5, 0, 10**12, -1e300]), label="value")
        config[key] = value
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        return Mutation(f"{key}: {value}", Expect.REJECT)
    if kind == "unknown key":
        key = data.draw(st.sampled_from(keys), label="key")
        typo = data.draw(st.sampled_from([key[:-1], key + "s", key.upper(), "crossbar.tiles"]),
                         label="typo")
        target.write_text(text + f"{typo}: {config[key]}\n")
        return Mutation(f"unknown key {typo}", Expect.REJECT)
    if kind == "duplicate key":
        key = data.draw(st.sampled_from(keys), label="key")
        target.write_text(text + f"{key}: {yaml.safe_dump(config[key]).splitlines()[0]}\n")
        return Mutation(f"{key} given twice", Expect.REJECT)
    if kind == "syntax":
        broken = data.draw(st.sampled_from(["cores: [1, 2\n", "\tcores: 1\n", "cores: 1: 2\n",
                                            "crossbar: {tiles: 0\n", "!!python/object:os.system "
                                            "{}\n"]), label="text")
        target.write_text(text + broken)
        return Mutation(f"invalid YAML {broken!r}", Expect.REJECT)
    if kind == "not a mapping":
        target.write_text(data.draw(st.sampled_from(["- cores: 1\n", "42\n", "just text\n"]),
                                    label="text"))
        return Mutation("top level is not a mapping", Expect.REJECT)
    if kind == "reorder":
        items = list(config.items())
        order = data.draw(st.permutations(range(len(items))), label="order")
        target.write_text(yaml.safe_dump(dict(items[i] for i in order), sort_keys=False))
        return Mutation("keys reordered", Expect.SAME)
    target.write_text("# a comment\n" + text.replace("\n", "  # note\n", 3))
    return Mutation("comments added", Expect.SAME)


# -- budgets ----------------------------------------------------------------------------------
BUDGET = "luts=50k"
#: Typos a user makes, and spellings of the same budget.
BUDGET_TYPOS = ("luts=50kk", "lut=50k", "luts=-5", "luts=", "luts=1e999", "luts=50k,", "=50k",
                "luts:50k", "luts=50 k", "luts=5O", "luts=0", "luts=1.5", "luts=50k,luts=60k",
                "luts=nan", "luts=inf", "luts=0x10", "luts==50k", "", " ", ",", "luts=50k;ffs=1")
BUDGET_SAME = ("LUTS=50k", "luts=50000", " luts = 50k ", "luts=50K", "luts=0.05M",
               "Luts=50.0k")


def budget_strategy():
    """(budget text, expectation): typos, equivalent spellings, and random text from the
    budget's alphabet (any clean outcome)."""
    typos = st.sampled_from(BUDGET_TYPOS).map(lambda text: (text, Expect.REJECT))
    same = st.sampled_from(BUDGET_SAME).map(lambda text: (text, Expect.SAME))
    noise = st.text(alphabet="lutsfbramdpx=,.kKM0123456789-+e ", max_size=16).map(
        lambda text: (text, Expect.VARIANT))
    return st.one_of(typos, same, noise)


# -- compiled folders -------------------------------------------------------------------------
def mutate_compiled(data, program: Path, c_sources: Path) -> tuple[str, Mutation]:
    """A drawn mutation of a compiled folder (``program`` from ``compile --hw``, ``c_sources``
    from ``compile --target c``); returns which folder ("program" or "c") and the mutation."""
    which = data.draw(st.sampled_from(["program", "program", "program", "c"]), label="folder")
    if which == "c":
        name = data.draw(st.sampled_from(["model.json", "model.c"]), label="file")
        path = c_sources / name
        if data.draw(st.booleans(), label="delete"):
            path.unlink()
            return which, Mutation(f"c/{name} deleted", Expect.REJECT)
        return which, truncate(data, path, path)
    image = program / "program.img"
    kind = data.draw(st.sampled_from(["truncate", "flip", "delete", "junk"]), label="kind")
    if kind == "truncate":
        return which, truncate(data, image, image)
    if kind == "delete":
        image.unlink()
        return which, Mutation("program.img deleted", Expect.REJECT)
    if kind == "junk":
        image.write_bytes(data.draw(st.binary(max_size=64), label="bytes"))
        return which, Mutation("program.img replaced by junk", Expect.REJECT)
    raw = bytearray(image.read_bytes())
    offset = data.draw(st.integers(0, len(raw) - 1), label="offset")
    raw[offset] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    image.write_bytes(bytes(raw))
    return which, Mutation(f"program.img bit flipped at byte {offset}", Expect.REJECT)
