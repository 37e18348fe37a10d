"""The compiler's driver: what ``codesign simulate``, ``compile`` and ``run`` do, as library
functions (``compiler/cli.py`` parses their arguments and prints what they return).

:func:`simulate_file` runs a NIR file on the float reference or the golden model.

:func:`compile_for_hardware` writes into ``OUT/``:

* ``program.img``: the program image (docs/program-format.md);
* ``mapping.txt``: the mapping report (chip -> core -> tile, utilisation, where every layer went,
  predicted cycles per timestep at a few spike rates);
* ``hw.yaml``: the HWConfig the image was compiled for.

With ``chunked`` (``--chunked``) a feed-forward network that does not fit is compiled into
chunks (:mod:`codesign.compiler.image.chunked`): one program image per chunk of a layer
(``pass_000.img``, ...) with ``passes.json`` and ``passes.npz``
(:mod:`codesign.compiler.image.chunked_files`) instead of ``program.img``, and the report of
every chunk in ``mapping.txt``; :func:`run_program` then runs the chunks layer by layer
(``cycles``: every step's cycles summed over the chunks).

:func:`run_program` loads ``OUT/program.img`` (rejecting corrupted images), runs it on a
:class:`Target` and saves ``output`` (``[T, *output_shape]``, or ``[N, T, ...]`` for a batch)
and ``cycles`` (``[T]`` or ``[N, T]``) to ``OUT.npz``. :data:`GOLDEN` (the golden model, cycles
from the cycle model) is built in; the RTL target is ``codesign.flows.rtl_target.target()``,
handed in by the command line, so the compiler never imports a tool flow.

:func:`compile_c` and :func:`run_c` are the C target (docs/c-backend.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.arch.config import HWConfig, load_config
from codesign.compiler import float_reference, frontend, golden
from codesign.compiler.analysis import cycle_model, fidelity
from codesign.compiler.analysis.sizing import does_not_fit_error
from codesign.compiler.backends import c_runner
from codesign.compiler.backends.c_backend import CSources, generate_fixed, generate_float
from codesign.compiler.image import chunked, chunked_files, program_image
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.pipeline import CompileOptions, discretized, map_network, quantized
from codesign.compiler.program import MappedProgram, MappingOptions
from codesign.errors import CodesignError, DoesNotFit, warn
from codesign.inputs import Inputs, load_inputs
from codesign.outputs import check_file, check_folder, save_npz, staged_folder

IMAGE_NAME = "program.img"
REPORT_NAME = "mapping.txt"
CONFIG_NAME = "hw.yaml"
#: Spike rates (per neuron per step) of the report's predicted cycles.
REPORT_RATES = (0.0, 0.05, 0.2)
#: ``codesign simulate --mode``: the float reference or the golden model.
SIMULATION_MODES = ("float", "golden")
#: Arithmetic of the generated C (``codesign compile --target c --mode``).
C_MODES = ("fixed", "float")
#: ``--record`` array names of the C target, as ``codesign simulate`` names them.
RECORD_SUFFIX = {"voltage": "v", "current": "i", "adaptation": "a"}


# -- simulate ---------------------------------------------------------------------------------
@dataclass
class Simulation:
    """What :func:`simulate_file` saved (``arrays``), its fidelity report (golden mode) and the
    run's size."""

    arrays: dict[str, np.ndarray]
    fidelity: fidelity.FidelityReport | None
    steps: int
    samples: int
    output_spikes: int


def simulate_file(model: str | Path, input_path: str | Path, output_path: str | Path,
                  mode: str, options: CompileOptions, record: bool = False,
                  dump_after: tuple[str, ...] | str = ()) -> Simulation:
    """Run ``model`` on the float reference (``float``) or the golden model (``golden``, with
    its fidelity against the float reference) and save ``output`` (and with ``record`` every
    neuron node's ``<node>.spikes`` and ``<node>.v``) to ``output_path``."""
    if mode not in SIMULATION_MODES:
        raise CodesignError(f"simulation mode '{mode}' is unknown",
                            f"use one of {', '.join(SIMULATION_MODES)}")
    check_file(output_path)
    graph = frontend.load(model)
    inputs = load_inputs(input_path)
    reference = float_reference.simulate(discretized(graph, options), inputs.steps,
                                         record=record or mode == "golden")
    result, records, report = reference, reference.records, None
    spike_totals = reference.spike_totals
    if mode == "golden":
        network = quantized(graph, options, dump_after)
        fixed = golden.simulate(network, inputs.steps, record=True)
        report = fidelity.compare(reference.records, fixed.records, reference.output,
                                  fixed.output, inputs.labels)
        fidelity.warn_precision_loss(network, report)
        spike_totals = {p.name: int(np.sum(fixed.records[p.name]["spikes"]))
                        for p in network.populations if p.spiking}
        scales = {p.name: p.voltage_scale for p in network.populations}
        records = {name: {"spikes": r["spikes"], "v": r["v"] * scales[name]}
                   for name, r in fixed.records.items()}
        result = fixed
    warn_silent_layers(spike_totals, mode)
    arrays = {"output": inputs.unbatch(result.output)}
    if record:
        for name, values in records.items():
            arrays[f"{name}.spikes"] = inputs.unbatch(values["spikes"])
            arrays[f"{name}.v"] = inputs.unbatch(values["v"])
    save_npz(output_path, arrays)
    return Simulation(arrays=arrays, fidelity=report, steps=inputs.steps.shape[0],
                      samples=inputs.steps.shape[1], output_spikes=int(np.sum(result.output)))


def warn_silent_layers(spike_totals: dict[str, int], mode: str) -> None:
    """Warn about every spiking layer that never spiked on the whole input."""
    silent = [name for name, total in spike_totals.items() if total == 0]
    if silent:
        warn(f"{', '.join(silent)} never spike{'s' if len(silent) == 1 else ''} on this input "
             f"({mode})", "check the input's scale, the weights and the thresholds, or run "
             "longer inputs")


# -- compile for the accelerator --------------------------------------------------------------
def check_widths(options: CompileOptions, config: HWConfig) -> None:
    """The fixed-point widths must be the hardware's (state) or fit it (weights)."""
    if options.state_bits != config.state_bits:
        raise CodesignError(f"--state-bits {options.state_bits} differs from the hw config's "
                            f"state_bits = {config.state_bits}",
                            f"pass --state-bits {config.state_bits} or change the hw config")
    if options.weight_bits > config.weight_bits:
        raise CodesignError(f"--weight-bits {options.weight_bits} exceeds the hw config's "
                            f"weight_bits = {config.weight_bits}",
                            f"pass --weight-bits {config.weight_bits} or less")


def report_text(program: MappedProgram) -> str:
    lines = program.dump().splitlines()
    lines.append("predicted cycles per timestep (cycle model, every source spiking at rate r):")
    for rate in REPORT_RATES:
        cycles = cycle_model.static_estimate(program, rate)
        lines.append(f"  r = {rate:g}: {cycles:.0f} cycles = "
                     f"{cycles / program.config.clock_mhz:.2f} us at {program.config.clock_mhz:g} MHz")
    return "\n".join(lines) + "\n"


def compile_for_hardware(model: str | Path, hw_config_path: str | Path, options: CompileOptions,
                         out_dir: str | Path, mapping: MappingOptions | None = None,
                         chunked_if_needed: bool = False
                         ) -> MappedProgram | chunked.ChunkedPlan:
    """NIR file -> program image + mapping report in ``out_dir``; with ``chunked_if_needed``, a
    network that does not fit is compiled into chunks instead (:mod:`chunked`)."""
    out_dir = check_folder(out_dir)
    config = load_config(hw_config_path)
    check_widths(options, config)
    network = quantized(frontend.load(model), options)
    fidelity.warn_precision_loss(network)
    try:
        program = map_network(network, config, mapping)
    except DoesNotFit as error:
        if not chunked_if_needed:
            raise does_not_fit_error(error, network, config, Path(hw_config_path).name,
                                     mapping) from None
        program = None
    # Outputs of an earlier compile that this one may not write (single program <-> chunks).
    stale = [IMAGE_NAME, chunked_files.MANIFEST_NAME, chunked_files.ARRAYS_NAME,
             *(path.name for path in out_dir.glob("pass_*.img"))]
    with staged_folder(out_dir, remove=stale,
                       last=[IMAGE_NAME, chunked_files.MANIFEST_NAME]) as staging:
        if program is None:
            plan = chunked.plan_chunks(network, config, mapping)
            chunked_files.save(plan, staging)
            (staging / REPORT_NAME).write_text(chunks_report_text(plan))
        else:
            (staging / IMAGE_NAME).write_bytes(program_image.build_image(program).to_bytes())
            (staging / REPORT_NAME).write_text(report_text(program))
        (staging / CONFIG_NAME).write_text(config.to_yaml())
    return program if program is not None else plan


def chunks_report_text(plan: chunked.ChunkedPlan) -> str:
    """The mapping report of every chunk, after a summary of the chunks."""
    lines = [f"the network does not fit in one program: {len(plan.chunks)} chunks, layer by "
             f"layer ({plan.describe()}); every chunk runs all timesteps and is loaded through "
             "the host interface"]
    for index, chunk in enumerate(plan.chunks):
        neurons = chunk.neurons
        lines.append(f"\n== chunk {index} ({chunked_files.image_name(index)}): "
                     f"{neurons.size} neurons of '{chunk.population}' "
                     f"({neurons.min()}..{neurons.max()}), {chunk.program.network.input_size} "
                     f"inputs from {', '.join(chunk.sources)}")
        lines.append(report_text(chunk.program).rstrip("\n"))
    return "\n".join(lines) + "\n"


# -- run a compiled folder --------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """Where :func:`run_program` runs a compiled folder. ``run_one(image, program, counts)``
    runs one program on integer input ``counts`` ``[T, B, input_size]`` and returns its output
    ``[T, B, *output_shape]`` and cycles ``[T, B]``; ``run_chunks`` is the runner of
    :func:`chunked.run` for a network compiled in chunks."""

    name: str
    run_one: Callable[[program_image.ProgramImage, MappedProgram, np.ndarray],
                      tuple[np.ndarray, np.ndarray]]
    run_chunks: Callable[[Sequence[tuple[chunked.ChunkProgram, np.ndarray]]],
                         list[chunked.ChunkResult]]


def _golden_one(image: program_image.ProgramImage, program: MappedProgram,
                counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    prediction, result = cycle_model.predict_run(program, counts)
    return result.output, prediction.cycles


#: The golden model, with the cycle model's cycles.
GOLDEN = Target("golden", _golden_one, chunked.golden_runner)


def run_program(out_dir: str | Path, input_path: str | Path, output_path: str | Path,
                target: Target = GOLDEN) -> dict[str, np.ndarray]:
    """Run the program (or the chunks) compiled into ``out_dir`` on ``target``; returns what it
    saved to ``output_path``."""
    check_file(output_path)
    inputs = load_inputs(input_path)
    if (Path(out_dir) / chunked_files.MANIFEST_NAME).is_file():
        plan = chunked_files.load(Path(out_dir))
        counts = golden.integer_counts(plan.input_shape, inputs.steps)
        result = chunked.run(plan, counts, target.run_chunks)
        return _save(output_path, inputs, result.output, result.cycles)
    image = program_image.load_image(Path(out_dir) / IMAGE_NAME)
    program = program_image.program_from_image(image)
    counts = golden.integer_input(program.network, inputs.steps)
    output, cycles = target.run_one(image, program, counts)
    return _save(output_path, inputs, output, cycles)


def _save(output_path: str | Path, inputs: Inputs, output: np.ndarray,
          cycles: np.ndarray) -> dict[str, np.ndarray]:
    arrays = {"output": inputs.unbatch(output), "cycles": inputs.unbatch(cycles)}
    save_npz(output_path, arrays)
    return arrays


# -- the C target -----------------------------------------------------------------------------
def generate_c(model_path: str | Path, options: CompileOptions, mode: str = "fixed") -> CSources:
    """The C sources of a NIR file: fixed mode from the quantised network, float mode from the
    float layer network."""
    if mode not in C_MODES:
        raise CodesignError(f"unknown C mode '{mode}'", f"use one of {', '.join(C_MODES)}")
    graph = frontend.load(model_path)
    title = f"{Path(model_path).name}, dt={options.dt:g}, reset={options.reset}"
    if mode == "fixed":
        network = quantized(graph, options)
        fidelity.warn_precision_loss(network)
        return generate_fixed(network, title)
    return generate_float(Fuse().apply(discretized(graph, options)), title)


def compile_c(model_path: str | Path, options: CompileOptions, mode: str, out_dir: str | Path,
              with_main: bool) -> tuple[CSources, list[Path]]:
    """``codesign compile MODEL --target c``: write ``OUT/model.c``, ``model.h``, ``model.json``
    (and ``main.c``); returns the sources and the files written."""
    out_dir = check_folder(out_dir)
    sources = generate_c(model_path, options, mode)
    with staged_folder(out_dir, remove=[] if with_main else ["main.c"],
                       last=["model.json"]) as staging:
        written = sources.write(staging, with_main)
    return sources, [out_dir / path.name for path in written]


def run_c(out_dir: str | Path, input_path: str | Path, output_path: str | Path,
          record: bool = False) -> tuple[dict[str, np.ndarray], c_runner.CResult]:
    """``codesign run OUT/ --target c --input IN -o OUT.npz``: build (cached), run, and save
    ``output`` (``[T, *output_shape]``, or ``[N, T, ...]`` for an ``.npz`` batch); with
    ``record``, also ``<population>.v`` / ``.i`` / ``.a`` (raw integers in fixed mode).
    Returns the saved arrays and the run."""
    check_file(output_path)
    inputs = load_inputs(input_path)
    result = c_runner.execute(out_dir, inputs.steps, trace=record)
    arrays = {"output": inputs.unbatch(result.output)}
    for name, variables in result.records.items():
        for variable, values in variables.items():
            arrays[f"{name}.{RECORD_SUFFIX[variable]}"] = inputs.unbatch(values)
    save_npz(output_path, arrays)
    return arrays, result
