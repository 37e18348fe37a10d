"""``codesign compile MODEL --hw CFG -o OUT/`` and ``codesign run OUT/ --target ref|rtl``.

``compile_for_hardware`` writes into ``OUT/``:

* ``program.img``: the program image (docs/program-format.md);
* ``mapping.txt``: the mapping report (chip -> core -> tile, utilisation, where every layer went,
  predicted cycles per timestep at a few spike rates);
* ``hw.yaml``: the HWConfig the image was compiled for.

With ``in_passes`` (``--passes``) a feed-forward network that does not fit is compiled into
passes (:mod:`codesign.compiler.multipass`): ``pass_000.img``, ... with ``passes.json`` and
``passes.npz`` (:mod:`codesign.compiler.multipass_files`) instead of ``program.img``, and the
report of every pass in ``mapping.txt``; ``run_program`` then runs the passes layer by layer
(``cycles``: every step's cycles summed over the passes).

``run_program`` loads ``OUT/program.img`` (rejecting corrupted images), runs it on the golden
model (``ref``; cycles from the cycle model) or on the Verilator-built RTL (``rtl``; measured
cycles) and saves ``output`` (``[T, *output_shape]``, or ``[N, T, ...]`` for a batch) and
``cycles`` (``[T]`` or ``[N, T]``) to ``OUT.npz``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.compiler import (cycle_model, frontend, golden, multipass, multipass_files,
                               program_image)
from codesign.compiler.fitting import does_not_fit_error
from codesign.compiler.mapping import MappedProgram, MappingOptions, map_network
from codesign.compiler.pipeline import CompileOptions, quantized
from codesign.errors import CodesignError, DoesNotFit
from codesign.hw.config import HWConfig, load_config
from codesign.inputs import load_inputs

IMAGE_NAME = "program.img"
REPORT_NAME = "mapping.txt"
CONFIG_NAME = "hw.yaml"
TARGETS = ("ref", "rtl", "board")
#: Spike rates (per neuron per step) of the report's predicted cycles.
REPORT_RATES = (0.0, 0.05, 0.2)


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
                         in_passes: bool = False) -> MappedProgram | multipass.MultiPassPlan:
    """NIR file -> program image + mapping report in ``out_dir``; with ``in_passes``, a
    network that does not fit is compiled into passes instead (:mod:`multipass`)."""
    config = load_config(hw_config_path)
    check_widths(options, config)
    network = quantized(frontend.load(model), options)
    try:
        program = map_network(network, config, mapping)
    except DoesNotFit as error:
        if not in_passes:
            raise does_not_fit_error(error, network, config, Path(hw_config_path).name,
                                     mapping) from None
        program = None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stale = [IMAGE_NAME, multipass_files.MANIFEST_NAME, multipass_files.ARRAYS_NAME]
    for name in [*stale, *(path.name for path in out_dir.glob("pass_*.img"))]:
        (out_dir / name).unlink(missing_ok=True)
    if program is None:
        plan = multipass.plan_passes(network, config, mapping)
        multipass_files.save(plan, out_dir)
        (out_dir / REPORT_NAME).write_text(passes_report_text(plan))
    else:
        (out_dir / IMAGE_NAME).write_bytes(program_image.build_image(program).to_bytes())
        (out_dir / REPORT_NAME).write_text(report_text(program))
    (out_dir / CONFIG_NAME).write_text(config.to_yaml())
    return program if program is not None else plan


def passes_report_text(plan: multipass.MultiPassPlan) -> str:
    """The mapping report of every pass, after a summary of the passes."""
    lines = [f"the network does not fit in one program: {len(plan.passes)} passes, layer by "
             f"layer ({plan.describe()}); every pass runs all timesteps and is loaded through "
             "the host interface"]
    for index, chunk in enumerate(plan.passes):
        neurons = chunk.neurons
        lines.append(f"\n== pass {index} ({multipass_files.image_name(index)}): "
                     f"{neurons.size} neurons of '{chunk.population}' "
                     f"({neurons.min()}..{neurons.max()}), {chunk.program.network.input_size} "
                     f"inputs from {', '.join(chunk.sources)}")
        lines.append(report_text(chunk.program).rstrip("\n"))
    return "\n".join(lines) + "\n"


def run_program(out_dir: str | Path, target: str, input_path: str | Path,
                output_path: str | Path, waves: bool = False, profile_guided: bool = False,
                board=None) -> dict[str, np.ndarray]:
    """Run a compiled program on ``target`` (ref, rtl or board; ``profile_guided``: on a
    profile-guided build of the RTL model; ``board``: the
    :class:`~codesign.flows.board_runtime.BoardTarget` of ``board``); returns what it saved."""
    if target not in TARGETS:
        raise CodesignError(f"target '{target}' is unknown", f"use one of {', '.join(TARGETS)}")
    inputs = load_inputs(input_path)
    if (Path(out_dir) / multipass_files.MANIFEST_NAME).is_file():
        if waves or profile_guided:
            raise CodesignError("--waves and --profile-guided run one program, not passes",
                                "run without them, or compile for a config that holds the network")
        plan = multipass_files.load(Path(out_dir))
        counts = golden.integer_counts(plan.input_shape, inputs.steps)
        runner = {"ref": multipass.reference_runner, "rtl": multipass.rtl_runner,
                  "board": board.run_passes if board else None}[target]
        result = multipass.run(plan, counts, runner)
        return _save(output_path, inputs, result.output, result.cycles)
    image = program_image.load_image(Path(out_dir) / IMAGE_NAME)
    program = program_image.program_from_image(image)
    counts = golden.integer_input(program.network, inputs.steps)
    if target == "ref":
        prediction, result = cycle_model.predict_run(program, inputs.steps)
        output, cycles = result.output, prediction.cycles
    elif target == "board":
        output, cycles = board.run_one(image, counts)
    else:
        from codesign.compiler.backends.rtl_runner import run_rtl

        result = run_rtl(image, counts, waves=waves, profile_guided=profile_guided)
        output, cycles = result.output, result.cycles.T
    return _save(output_path, inputs, output, cycles)


def _save(output_path: str | Path, inputs, output: np.ndarray,
          cycles: np.ndarray) -> dict[str, np.ndarray]:
    arrays = {"output": inputs.unbatch(output), "cycles": inputs.unbatch(cycles)}
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(output_path, **arrays)
    return arrays
