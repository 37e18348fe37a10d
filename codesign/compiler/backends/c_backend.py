"""C11 back end: one dependency-free ``model.c`` + ``model.h`` (and optionally ``main.c``) from a
fixed-point :class:`~codesign.compiler.layer_ir.QuantizedNetwork` or, in float mode, from the float
:class:`~codesign.compiler.layer_ir.LayerNetwork`.

* The neuron update is *traced*, never restated: fixed mode runs
  :func:`codesign.arithmetic.neuron_step` on :mod:`c_expression` objects (DESIGN contract 1);
  float mode traces :func:`discrete_neuron_step`, the generator's single float form of the
  :class:`~codesign.compiler.ir.DiscreteNeuron` equations.
* Synapses are event-driven: each projection is stored by source row (compressed rows, or dense
  rows when that is smaller) and, for every source that spiked, its row is added to the
  targets' accumulators. Spiking populations keep per-step event lists (ring buffers as deep as
  the longest delay out of them), so the work is proportional to the number of spikes.
* Per-neuron parameters become ``const`` arrays only where neurons differ; values shared by a
  whole population are literals and fold away (a decay of 0 removes its multiplication).
* ``model.c`` includes only ``<stdint.h>``: no malloc, no libm, all storage static.

The C API and the ``main.c`` stream format are documented in ``docs/c-backend.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import scipy.sparse as sparse

from codesign import arithmetic
from codesign.compiler.backends.c_expression import Block, Expression, select, variable
from codesign.compiler.layer_ir import LayerNetwork, QuantizedNetwork
from codesign.errors import CodesignError

#: Version of the generated API and of ``model.json``; bump when either changes.
FORMAT_VERSION = 1
#: State variables in the order of ``snn_state()``'s ``variable`` argument and of ``--trace``.
STATE_VARIABLES = ("voltage", "current", "adaptation")


def discrete_neuron_step(neuron: Any, state: arithmetic.NeuronState, x, select: Callable):
    """One forward-Euler step of :class:`~codesign.compiler.ir.DiscreteNeuron` in float, written
    with traceable operators (the float counterpart of :func:`codesign.arithmetic.neuron_step`).
    ``x`` already includes the population's bias. Returns ``(new_state, spike)``."""
    current = neuron.current_decay * state.current + neuron.input_gain * x
    voltage = neuron.voltage_decay * state.voltage + neuron.current_gain * current + neuron.leak
    threshold = neuron.threshold + state.adaptation
    spike = voltage > threshold
    reset = select(neuron.reset_subtract, voltage - threshold, neuron.reset_voltage)
    adaptation = neuron.adaptation_decay * state.adaptation + select(spike,
                                                                     neuron.adaptation_step, 0)
    return arithmetic.NeuronState(voltage=select(spike, reset, voltage), current=current,
                                  adaptation=adaptation), spike


@dataclass
class CSources:
    """The generated files and ``model.json`` (what :mod:`c_runner` needs to drive ``main``)."""

    model_c: str
    model_h: str
    main_c: str
    manifest: dict

    def write(self, out_dir: str | Path, with_main: bool) -> list[Path]:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {"model.c": self.model_c, "model.h": self.model_h,
                 "model.json": json.dumps(self.manifest, indent=1) + "\n"}
        if with_main:
            files["main.c"] = self.main_c
        stale = out_dir / "main.c"
        if not with_main and stale.exists():
            stale.unlink()  # a main.c left from an earlier compile would not match model.h
        for name, text in files.items():
            (out_dir / name).write_text(text)
        return [out_dir / name for name in files]


@dataclass
class _Mode:
    fixed: bool
    compute: str  # C type of every traced expression
    state: str  # C type of stored state
    input: str  # C type of one input element
    output: str  # C type of one output element
    step: str  # name of the step function


@dataclass
class _Population:
    name: str
    shape: tuple[int, ...]
    spiking: bool
    parameters: dict[str, np.ndarray]
    trace: Callable  # (parameters namespace, NeuronState, x) -> (NeuronState, spike)
    model: str
    output_scale: float = 1.0
    stored: list[str] = field(default_factory=list)  # state variables kept in arrays

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class _Projection:
    source: str
    target: str
    by_source: sparse.csr_matrix  # [source, target]: row j holds the synapses out of source j
    delay: int


_BYTES = {"int8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4, "int64_t": 8,
          "double": 8}


def _integer_type(low: int, high: int) -> str:
    for bits in (8, 16, 32, 64):
        if -(1 << (bits - 1)) <= low and high < (1 << (bits - 1)):
            return f"int{bits}_t"
    raise ValueError(f"{low}..{high} does not fit in int64_t")


def _index_type(count: int) -> str:
    return "uint16_t" if count <= 0xFFFF else "uint32_t"


def _c_array(c_type: str, name: str, values: np.ndarray, per_line: int = 16) -> str:
    """``static const <c_type> name[n] = {...};`` with exact literals."""
    values = np.asarray(values).ravel()
    if c_type == "double":
        items = [repr(float(v)) for v in values]
    else:
        items = [str(int(v)) for v in values]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    body = ",\n    ".join(lines) if lines else "0"
    return f"static const {c_type} {name}[{max(len(items), 1)}] = {{\n    {body}\n}};"


def _comment(text: str) -> str:
    return text.replace("*/", "* /")


def _c_string(text: str) -> str:
    """A C string literal of ``text``'s UTF-8 bytes (printable ASCII kept, the rest octal)."""
    return '"' + "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\?' else f"\\{b:03o}"
                         for b in text.encode()) + '"'


class _Generator:
    """Builds ``model.c``/``model.h``/``main.c`` for populations and projections."""

    def __init__(self, mode: _Mode, input_name: str, input_shape: tuple[int, ...],
                 populations: list[_Population], projections: list[_Projection], output: str,
                 output_shape: tuple[int, ...], accumulator_limit: int | None, title: str):
        self.mode = mode
        self.input_name, self.input_size = input_name, int(np.prod(input_shape))
        self.input_shape = tuple(input_shape)
        self.populations = populations
        self.output, self.output_shape = output, tuple(output_shape)
        self.accumulator_limit = accumulator_limit
        self.title = title
        self.index = {p.name: i for i, p in enumerate(populations)}
        spiking = {p.name: p.spiking for p in populations}
        # A non-spiking population sends no spikes (the golden model's rule): nothing to emit.
        sends = lambda p: p.source == input_name or spiking[p.source]
        self.projections = [p for p in projections if sends(p)]
        self.silent = [p for p in projections if not sends(p)]
        self.history = {}
        for projection in self.projections:
            depth = projection.delay + 1
            self.history[projection.source] = max(self.history.get(projection.source, 1), depth)
        self.input_parameter = "in_spikes" if mode.fixed else "in"
        self.declarations: list[str] = []
        self.reset_lines: list[str] = []

    # -- names ---------------------------------------------------------------------------------
    def prefix(self, name: str) -> str:
        return "input" if name == self.input_name else f"pop{self.index[name]}"

    def size(self, name: str) -> int:
        return self.input_size if name == self.input_name else \
            self.populations[self.index[name]].size

    def slot(self, name: str, delay: int) -> str:
        """C expression of the ring-buffer slot that holds ``name``'s output ``delay`` steps ago."""
        depth = self.history.get(name, 1)
        if depth == 1:
            return "0"
        cursor = f"{self.prefix(name)}_slot"
        return cursor if delay == 0 else f"({cursor} + {depth - delay}u) % {depth}u"

    # -- storage -------------------------------------------------------------------------------
    def declare_history(self) -> None:
        for name, depth in self.history.items():
            prefix, size = self.prefix(name), self.size(name)
            if name == self.input_name:
                if depth > 1:
                    self.declarations.append(
                        f"static {self.mode.input} input_history[{depth}][{size}];")
                    self.reset_lines.append(f"for (uint32_t s = 0; s < {depth}u; ++s) "
                                            f"for (uint32_t j = 0; j < {size}u; ++j) "
                                            f"input_history[s][j] = 0;")
            else:
                index = _index_type(size)
                self.declarations += [f"static {index} {prefix}_events[{depth}][{size}];",
                                      f"static uint32_t {prefix}_event_count[{depth}];"]
                self.reset_lines.append(f"for (uint32_t s = 0; s < {depth}u; ++s) "
                                        f"{prefix}_event_count[s] = 0;")
            if depth > 1:
                self.declarations.append(f"static uint32_t {prefix}_slot;")
                self.reset_lines.append(f"{prefix}_slot = 0;")

    def projection_arrays(self, number: int, projection: _Projection) -> dict:
        """Emit the ``const`` arrays of one projection; returns how its rows are laid out."""
        matrix = projection.by_source
        matrix.sort_indices()
        sources, targets = matrix.shape
        name = f"projection{number}"
        fixed = self.mode.fixed
        weight_type = _integer_type(int(matrix.data.min(initial=0)),
                                    int(matrix.data.max(initial=0))) if fixed else "double"
        index_type = _index_type(targets)
        sparse_bytes = matrix.nnz * (_BYTES[weight_type] + _BYTES[index_type]) + 4 * (sources + 1)
        dense = sources * targets * _BYTES[weight_type] <= sparse_bytes
        header = (f"/* projection {number}: {_comment(projection.source)} -> "
                  f"{_comment(projection.target)}, delay {projection.delay}, "
                  f"{matrix.nnz} synapses, {'dense' if dense else 'compressed'} rows by source */")
        self.declarations.append(header)
        if dense:
            self.declarations.append(_c_array(weight_type, f"{name}_weight",
                                              matrix.toarray()))
        else:
            self.declarations += [
                _c_array("uint32_t", f"{name}_row", matrix.indptr),
                _c_array(index_type, f"{name}_target", matrix.indices),
                _c_array(weight_type, f"{name}_weight", matrix.data)]
        return {"name": name, "dense": dense, "targets": targets}

    # -- step code -----------------------------------------------------------------------------
    def accumulate(self, number: int, projection: _Projection, layout: dict) -> list[str]:
        """Code adding projection ``number``'s rows for every source event to ``accumulator``."""
        name, targets = layout["name"], layout["targets"]
        if layout["dense"]:
            add = (f"for (uint32_t k = 0; k < {targets}u; ++k) "
                   f"accumulator[k] += {{amount}} * {name}_weight[j * {targets}u + k];")
        else:
            add = (f"for (uint32_t k = {name}_row[j]; k < {name}_row[j + 1]; ++k) "
                   f"accumulator[{name}_target[k]] += {{amount}} * {name}_weight[k];")
        slot = self.slot(projection.source, projection.delay)
        lines = [f"/* projection {number}: {_comment(projection.source)}"
                 f"{f' (t-{projection.delay})' if projection.delay else ''} */"]
        if projection.source == self.input_name:
            values = self.input_parameter if self.history.get(self.input_name, 1) == 1 else \
                f"input_history[{slot}]"
            amount = f"({self.mode.compute}){values}[j]"
            lines += [f"for (uint32_t j = 0; j < {self.input_size}u; ++j) {{",
                      f"    if ({values}[j] != 0) {{",
                      "        " + add.format(amount=amount),
                      "    }", "}"]
        else:
            prefix = self.prefix(projection.source)
            one = "1" if self.mode.fixed else "1.0"
            lines += [f"for (uint32_t e = 0; e < {prefix}_event_count[{slot}]; ++e) {{",
                      f"    const uint32_t j = {prefix}_events[{slot}][e];",
                      "    " + add.format(amount=one).replace(f"+= {one} * ", "+= "),
                      "}"]
        return lines

    def parameter_leaves(self, population: _Population) -> tuple[dict, dict[str, str]]:
        """Per-neuron arrays where neurons differ, Python numbers (which fold) elsewhere.
        Returns the leaves and the array declarations by leaf text (emitted only if used)."""
        prefix, leaves, arrays = self.prefix(population.name), {}, {}
        for key, values in population.parameters.items():
            values = np.asarray(values).ravel()
            if np.all(values == values[0]):
                leaves[key] = int(values[0]) if self.mode.fixed else float(values[0])
                continue
            if self.mode.fixed:
                c_type = _integer_type(int(values.min()), int(values.max()))
                leaves[key] = variable(f"(int64_t){prefix}_{key}[i]")
            else:
                c_type = "double"
                leaves[key] = variable(f"{prefix}_{key}[i]")
            arrays[leaves[key].text] = _c_array(c_type, f"{prefix}_{key}", values)
        return leaves, arrays

    def neuron_loop(self, population: _Population) -> tuple[list[str], list[str]]:
        """The traced neuron update; returns (loop lines, names of the stored state arrays)."""
        leaves, arrays = self.parameter_leaves(population)
        parameters = SimpleNamespace(**leaves)
        # A state variable whose update folds to 0 never leaves its reset value: trace again with
        # the constant so that it folds away, until nothing more does.
        constant: set[str] = set()
        while True:
            state = arithmetic.NeuronState(*(0 if v in constant else variable(v)
                                             for v in STATE_VARIABLES))
            new_state, spike = population.trace(parameters, state, variable("x"))
            zero = {v for v in STATE_VARIABLES if not isinstance(getattr(new_state, v), Expression)
                    and getattr(new_state, v) == 0}
            assert zero >= constant, "folding more constants cannot un-fold a zero"
            if zero == constant:
                break
            constant = zero
        stored = [v for v in STATE_VARIABLES if v not in constant]
        results = {f"new_{v}": getattr(new_state, v) for v in stored}
        records_spikes = population.spiking and population.name in self.history
        if records_spikes or (population.spiking and population.name == self.output):
            results["spike"] = spike
        block = Block(self.mode.compute, results)
        # Parameters that folded away (e.g. the reset voltage under subtract-reset) need no array.
        self.declarations += [array for text, array in arrays.items() if text in block.variables]
        prefix, compute = self.prefix(population.name), self.mode.compute
        body = [f"const {compute} x = accumulator[i];"]
        if self.accumulator_limit is not None:
            limit = self.accumulator_limit
            # Out of range: flag it and clamp, so that the arithmetic below stays defined.
            body[0] = f"{compute} x = accumulator[i];"
            body += [f"if (x >= {limit} || x <= -{limit}) {{",
                     "    status = SNN_ACCUMULATOR_OVERFLOW;",
                     f"    x = x > 0 ? {limit - 1} : -{limit - 1};", "}"]
        for v in stored:
            if v in block.variables:
                body.append(f"const {compute} {v} = {prefix}_{v}[i];")
        body += block.lines
        for v in stored:
            body.append(f"{prefix}_{v}[i] = ({self.mode.state}){block.results['new_' + v]};")
        spike_text = block.results.get("spike")
        if records_spikes:
            slot = self.slot(population.name, 0)
            body.append(f"if ({spike_text}) {{ {prefix}_events[{slot}][{prefix}_event_count"
                        f"[{slot}]++] = ({_index_type(population.size)})i; }}")
        if population.name == self.output:
            value = spike_text if population.spiking else block.results.get("new_voltage", "0")
            body.append(f"out[i] = ({self.mode.output}){value};")
        return body, stored

    def population_code(self, population: _Population, layouts: dict) -> list[str]:
        prefix, size = self.prefix(population.name), population.size
        lines = [f"/* population {self.index[population.name]} "
                 f"'{_comment(population.name)}': {population.model}, {size} neurons */"]
        zero = "0" if self.mode.fixed else "0.0"
        lines.append(f"for (uint32_t i = 0; i < {size}u; ++i) accumulator[i] = {zero};")
        for number, projection in enumerate(self.projections):
            if projection.target == population.name:
                lines += self.accumulate(number, projection, layouts[number])
        for projection in self.silent:
            if projection.target == population.name:
                lines.append(f"/* {_comment(projection.source)} is non-spiking: it sends no "
                             f"spikes to this population */")
        if population.name in self.history:
            slot = self.slot(population.name, 0)
            lines.append(f"{prefix}_event_count[{slot}] = 0;")
        body, stored = self.neuron_loop(population)
        lines.append(f"for (uint32_t i = 0; i < {size}u; ++i) {{")
        lines += ["    " + line for line in body]
        lines.append("}")
        for v in stored:
            self.declarations.append(f"static {self.mode.state} {prefix}_{v}[{size}];")
            self.reset_lines.append(f"for (uint32_t i = 0; i < {size}u; ++i) {prefix}_{v}[i] = 0;")
        population.stored = stored
        return lines

    # -- files ---------------------------------------------------------------------------------
    def sources(self) -> CSources:
        mode = self.mode
        self.declare_history()
        layouts = {number: self.projection_arrays(number, projection)
                   for number, projection in enumerate(self.projections)}
        step = []
        for name, depth in self.history.items():
            if depth > 1:
                step.append(f"{self.prefix(name)}_slot = ({self.prefix(name)}_slot + 1u) % "
                            f"{depth}u;")
        if self.history.get(self.input_name, 1) > 1:
            slot = self.slot(self.input_name, 0)
            step.append(f"for (uint32_t j = 0; j < {self.input_size}u; ++j) "
                        f"input_history[{slot}][j] = {self.input_parameter}[j];")
        for population in self.populations:
            step += self.population_code(population, layouts)
        largest = max(p.size for p in self.populations)
        self.declarations.append(f"static {mode.compute} accumulator[{largest}];")
        return CSources(self.model_c(step), self.model_h(), self.main_c(), self.manifest())

    def state_reader(self) -> list[str]:
        lines = ["snn_state_t snn_state(uint32_t population, uint32_t variable, uint32_t neuron)",
                 "{", "    switch (population) {"]
        for population in self.populations:
            prefix = self.prefix(population.name)
            lines.append(f"    case {self.index[population.name]}:")
            lines.append(f"        if (neuron >= {population.size}u) return 0;")
            for number, v in enumerate(STATE_VARIABLES):
                if v in population.stored:
                    lines.append(f"        if (variable == {number}u) return {prefix}_{v}[neuron];")
            lines.append("        return 0;")
        lines += ["    default:", "        return 0;", "    }", "}"]
        return lines

    def model_c(self, step: list[str]) -> str:
        mode = self.mode
        names = ", ".join(_c_string(p.name) for p in self.populations)
        sizes = ", ".join(f"{p.size}u" for p in self.populations)
        lines = [f"/* {_comment(self.title)}", " * Generated by codesign's C back end "
                 f"(format {FORMAT_VERSION}); do not edit. See docs/c-backend.md. */",
                 "#include <stdint.h>", '#include "model.h"', ""]
        if mode.fixed:
            lines += ["/* Arithmetic right shift (floor division by 2^shift) for |value| <= 2^62,",
                      " * without the implementation-defined >> of a negative value: shift the",
                      " * value offset by 2^62 (a multiple of 2^shift) as unsigned, then remove",
                      " * the offset. arithmetic.py keeps every traced sum far below 2^62. */",
                      "static inline int64_t asr(int64_t value, int shift)", "{",
                      "    const uint64_t offset = UINT64_C(1) << 62;",
                      "    return (int64_t)(((uint64_t)value + offset) >> shift)",
                      "        - (int64_t)(offset >> shift);",
                      "}", ""]
        lines += self.declarations
        lines += ["", f"static const char *const population_names[{len(self.populations)}] = "
                  f"{{{names}}};",
                  f"static const uint32_t population_sizes[{len(self.populations)}] = "
                  f"{{{sizes}}};", "",
                  "void snn_reset(void)", "{"]
        lines += ["    " + line for line in self.reset_lines]
        lines += ["}", "",
                  f"int {mode.step}(const {mode.input} *{self.input_parameter}, "
                  f"{mode.output} *out)", "{"]
        lines.append("    int status = SNN_OK;")
        lines += ["    " + line for line in step]
        lines += ["    return status;", "}", ""]
        lines += self.state_reader()
        lines += ["", "uint32_t snn_population_size(uint32_t population)", "{",
                  f"    return population < {len(self.populations)}u ? "
                  f"population_sizes[population] : 0;", "}", "",
                  "const char *snn_population_name(uint32_t population)", "{",
                  f"    return population < {len(self.populations)}u ? "
                  f"population_names[population] : 0;", "}", ""]
        return "\n".join(lines)

    def model_h(self) -> str:
        mode = self.mode
        output_spikes = self.populations[self.index[self.output]].spiking
        if mode.fixed:
            step_doc = [" * snn_step: one timestep. in_spikes[SNN_INPUT_SIZE] holds the spike",
                        " * COUNT of every input this step (0..255, usually 0 or 1);",
                        " * out[SNN_OUTPUT_SIZE] receives the output spikes (0/1), or the",
                        " * read-out's integer voltage",
                        " * when SNN_OUTPUT_IS_SPIKES is 0. Returns SNN_OK, or",
                        " * SNN_ACCUMULATOR_OVERFLOW when an input sum left the accumulator range",
                        " * (the golden model rejects such inputs): the sum was clamped, the state",
                        " * no longer matches the golden model; call snn_reset()."]
            step = "int snn_step(const uint8_t *in_spikes, snn_output_t *out);"
        else:
            step_doc = [" * snn_step_float: one timestep on real-valued inputs in[SNN_INPUT_SIZE];",
                        " * out[SNN_OUTPUT_SIZE] receives the output spikes (0.0/1.0), or the",
                        " * read-out's voltage when SNN_OUTPUT_IS_SPIKES is 0. Returns SNN_OK."]
            step = "int snn_step_float(const snn_float_t *in, snn_output_t *out);"
        lines = [
            f"/* {_comment(self.title)}",
            f" * Generated by codesign's C back end (format {FORMAT_VERSION}); do not edit. */",
            "#ifndef SNN_MODEL_H", "#define SNN_MODEL_H", "", "#include <stdint.h>", "",
            "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
            f"#define SNN_FORMAT_VERSION {FORMAT_VERSION}",
            f"#define SNN_FIXED_POINT {int(mode.fixed)}",
            f"#define SNN_INPUT_SIZE {self.input_size}u",
            f"#define SNN_OUTPUT_SIZE {int(np.prod(self.output_shape))}u",
            f"#define SNN_OUTPUT_IS_SPIKES {int(output_spikes)}",
            f"#define SNN_POPULATION_COUNT {len(self.populations)}u", ""]
        if not mode.fixed:
            lines.append("typedef double snn_float_t;")
        lines += [f"typedef {mode.output} snn_output_t;",
                  f"typedef {mode.state} snn_state_t;", "",
                  "enum { SNN_OK = 0, SNN_ACCUMULATOR_OVERFLOW = 1 };",
                  "enum { SNN_VOLTAGE = 0, SNN_CURRENT = 1, SNN_ADAPTATION = 2 };", "",
                  "/* All state is static: one network instance per program, not thread-safe.",
                  " * snn_reset: zero every neuron state and spike history (call before a sample).",
                  *step_doc, " */", "void snn_reset(void);", step, "",
                  "/* State of one neuron after the last step: variable is SNN_VOLTAGE,",
                  " * SNN_CURRENT or SNN_ADAPTATION; 0 for indices out of range. Fixed mode",
                  " * returns the raw integer state (see model.json for the scales). */",
                  "snn_state_t snn_state(uint32_t population, uint32_t variable, uint32_t neuron);",
                  "uint32_t snn_population_size(uint32_t population);",
                  "const char *snn_population_name(uint32_t population);", "",
                  "#ifdef __cplusplus", "}", "#endif", "", "#endif", ""]
        return "\n".join(lines)

    def main_c(self) -> str:
        return main_source(self.mode.fixed)

    def manifest(self) -> dict:
        output = self.populations[self.index[self.output]]
        return {
            "format": FORMAT_VERSION,
            "mode": "fixed" if self.mode.fixed else "float",
            "title": self.title,
            "input_shape": list(self.input_shape),
            "input_type": "uint8" if self.mode.fixed else "float64",
            "output_shape": list(self.output_shape),
            "output_type": {"uint8_t": "uint8", "int32_t": "int32",
                            "double": "float64"}[self.mode.output],
            "output_is_spikes": output.spiking,
            "output_scale": output.output_scale,
            "state_type": "int32" if self.mode.fixed else "float64",
            "populations": [{"name": p.name, "shape": list(p.shape), "size": p.size}
                            for p in self.populations],
            "synapses": int(sum(p.by_source.nnz for p in self.projections)),
        }


MAIN_TEMPLATE = r"""/* Stream driver for model.c (generated by codesign; see docs/c-backend.md).
 *
 *   model [--steps T] [--trace] < input.bin > output.bin
 *
 * stdin: one record per timestep, SNN_INPUT_SIZE values of @INPUT_TYPE@ (native byte order).
 * stdout: per timestep, SNN_OUTPUT_SIZE values of snn_output_t; with --trace, followed by the
 * state of every population (voltage[size], current[size], adaptation[size] as snn_state_t).
 * --steps T: the stream holds several samples of T steps each; the network is reset between them.
 * Exit status: 0 done, 1 I/O error or truncated step, 2 bad arguments, 3 accumulator overflow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static @INPUT_TYPE@ input[SNN_INPUT_SIZE];
static snn_output_t output[SNN_OUTPUT_SIZE];

static int write_state(void)
{
    for (uint32_t population = 0; population < SNN_POPULATION_COUNT; ++population) {
        const uint32_t size = snn_population_size(population);
        for (uint32_t variable = 0; variable < 3; ++variable) {
            for (uint32_t neuron = 0; neuron < size; ++neuron) {
                const snn_state_t value = snn_state(population, variable, neuron);
                if (fwrite(&value, sizeof value, 1, stdout) != 1) {
                    return 0;
                }
            }
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    unsigned long steps_per_sample = 0, step = 0;
    int trace = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--trace") == 0) {
            trace = 1;
        } else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
            char *end = NULL;
            steps_per_sample = strtoul(argv[++i], &end, 10);
            if (*end != '\0' || steps_per_sample == 0) {
                fprintf(stderr, "model: --steps needs a positive integer\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: %s [--steps T] [--trace] < input > output\n", argv[0]);
            return 2;
        }
    }
    snn_reset();
    for (;;) {
        const size_t got = fread(input, sizeof input[0], SNN_INPUT_SIZE, stdin);
        if (got == 0 && feof(stdin)) {
            break;
        }
        if (got != SNN_INPUT_SIZE) {
            fprintf(stderr, "model: step %lu is truncated (%zu of %u inputs)\n", step, got,
                    (unsigned)SNN_INPUT_SIZE);
            return 1;
        }
        if (steps_per_sample != 0 && step % steps_per_sample == 0) {
            snn_reset();
        }
        if (@STEP@(input, output) != SNN_OK) {
            fprintf(stderr, "model: step %lu: an input sum exceeds the accumulator range\n", step);
            return 3;
        }
        if (fwrite(output, sizeof output[0], SNN_OUTPUT_SIZE, stdout) != SNN_OUTPUT_SIZE
            || (trace && !write_state())) {
            fprintf(stderr, "model: cannot write the output\n");
            return 1;
        }
        ++step;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
"""


FIXED = _Mode(fixed=True, compute="int64_t", state="int32_t", input="uint8_t", output="uint8_t",
              step="snn_step")
FLOAT = _Mode(fixed=False, compute="double", state="double", input="double", output="double",
              step="snn_step_float")


def main_source(fixed: bool) -> str:
    """``main.c`` for a fixed-point (``snn_step``) or float (``snn_step_float``) model."""
    mode = FIXED if fixed else FLOAT
    return MAIN_TEMPLATE.replace("@INPUT_TYPE@", mode.input).replace("@STEP@", mode.step)


def generate_fixed(network: QuantizedNetwork, title: str = "codesign model") -> CSources:
    """C sources that execute ``network`` bit-exactly like :mod:`codesign.compiler.golden`."""
    if network.state_bits > 32:
        raise CodesignError(f"--state-bits {network.state_bits} does not fit the C state type",
                            "choose at most 32 state bits")
    output = network.population(network.output)
    mode = FIXED if output.spiking else _Mode(**{**FIXED.__dict__, "output": "int32_t"})
    bits = network.state_bits

    def trace(parameters, state, x):
        return arithmetic.neuron_step(arithmetic.NeuronParameters(**vars(parameters)), state, x,
                                      bits, select)

    populations = [
        _Population(p.name, tuple(p.shape), p.spiking,
                    {f: np.asarray(getattr(p.parameters, f)).ravel()
                     for f in arithmetic.NeuronParameters.__dataclass_fields__},
                    trace, p.model, p.voltage_scale)
        for p in network.populations]
    projections = [_Projection(p.source, p.target, sparse.csr_matrix(p.weight.T, dtype=np.int64),
                               p.delay) for p in network.projections]
    limit = 1 << (network.accumulator_bits - 1)
    return _Generator(mode, network.input_name, network.input_shape, populations, projections,
                      network.output, network.output_shape, limit,
                      f"{title} (fixed point: {network.weight_bits}-bit weights, "
                      f"{bits}-bit state)").sources()


def generate_float(network: LayerNetwork, title: str = "codesign model") -> CSources:
    """C sources (double precision) that execute the float layer network like the float
    reference executes the discretised graph."""
    names = ("current_decay", "input_gain", "voltage_decay", "current_gain", "leak", "threshold",
             "reset_voltage", "adaptation_decay", "adaptation_step")
    spiking = {p.name: p.neuron.spiking_output for p in network.populations}
    for projection in network.projections:
        if projection.source != network.input.name and not spiking[projection.source]:
            raise CodesignError(
                f"population '{projection.source}' is non-spiking but feeds "
                f"'{projection.target}'; float C mode sends only spikes between populations",
                "use non-spiking neurons (LI, CubaLI, I) only as the read-out layer")
    populations = []
    for p in network.populations:
        neuron = p.neuron
        parameters = {n: np.asarray(getattr(neuron, n), dtype=np.float64).ravel() for n in names}
        parameters["bias"] = np.zeros(p.size) if p.bias is None else np.asarray(p.bias).ravel()
        subtract = int(neuron.reset_subtract)

        def trace(leaves, state, x, subtract=subtract):
            leaves = SimpleNamespace(**vars(leaves), reset_subtract=subtract)
            return discrete_neuron_step(leaves, state, x + leaves.bias, select)

        populations.append(_Population(p.name, tuple(p.shape), spiking[p.name], parameters,
                                       trace, neuron.model))
    projections = [_Projection(p.source, p.target, sparse.csr_matrix(p.weight.T, dtype=np.float64),
                               p.delay) for p in network.projections]
    return _Generator(FLOAT, network.input.name, network.input.shape, populations, projections,
                      network.output, network.output_shape, None,
                      f"{title} (float, double precision)").sources()
