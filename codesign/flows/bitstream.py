"""Board bitstreams: the accelerator behind a UART bridge, built with amaranth-boards platforms and
the YoWASP tools (nothing outside PyPI).

``build_bitstream(config, "ulx3s" | "icebreaker")``

1. builds :class:`~codesign.hw.board.board_top.BoardCore` (the UART bridge + the host design:
   the :class:`~codesign.hw.rtl.top.Accelerator` of ``config`` unless another host-stream
   component is given), at ``BAUD_RATE`` from the board's default clock, inside
   :class:`~codesign.hw.board.board_top.BoardTop` on the board's pins;
2. synthesises it with the family flow (:func:`~codesign.flows.synthesis.synthesize`, cached) and
   raises a one-line :class:`CodesignError` naming the resource and how far it is over when it
   cannot fit the board's device;
3. runs the platform's Yosys / nextpnr / pack flow with the YoWASP executables (amaranth 0.5
   has no single "use YoWASP" switch: it sources the script in ``AMARANTH_ENV_TRELLIS`` /
   ``AMARANTH_ENV_ICESTORM``, which here sets ``YOSYS``, ``NEXTPNR_ECP5``, ``ECPPACK``, ...), and
   returns the bitstream path (``.bit`` for ECP5, ``.bin`` for iCE40).

The design runs directly on the board clock (25 MHz ULX3S, 12 MHz iCEBreaker); nextpnr checks
timing at that clock and the build fails if it is not met.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from amaranth.lib import wiring

from codesign.arch.config import HWConfig
from codesign.errors import CodesignError
from codesign.flows.synthesis import SynthesisError, check_fits, synthesize
# The platform flow reads Amaranth's RTLIL: leave out all-zero memory init there as well (with
# it Yosys puts registers and bypass logic around every iCE40 block RAM; FPGA RAM configures
# to zero anyway).
from codesign.flows.verilog import no_zero_memory_init
from codesign.hw.board.board_top import BoardCore, BoardTop

BAUD_RATE = 115_200


@dataclass(frozen=True)
class Board:
    platform: str           # class name in amaranth_boards.<module>
    module: str
    family: str
    device_key: str         # key of synthesis.DEVICE_RESOURCES
    bitstream_suffix: str
    tools: tuple[str, ...]  # amaranth tool names -> YoWASP executables
    #: False: the design's ``sync`` domain has no reset; every flip-flop starts from its
    #: configuration value (iCE40: a synchronous reset costs a logic cell's SR input and keeps
    #: Yosys from moving registers into the SB_MAC16s).
    reset: bool = True


BOARDS: dict[str, Board] = {
    "ulx3s": Board("ULX3S_85F_Platform", "ulx3s", "ecp5", "ecp5-85k", ".bit",
                   ("yosys", "nextpnr-ecp5", "ecppack")),
    "icebreaker": Board("ICEBreakerPlatform", "icebreaker", "ice40", "ice40-up5k", ".bin",
                        ("yosys", "nextpnr-ice40", "icepack"), reset=False),
}


def board_divisor(board: str) -> int:
    """UART clock divisor at ``BAUD_RATE`` from the board's default clock."""
    platform = _platform(board)
    return round(platform.default_clk_frequency / BAUD_RATE)


def build_bitstream(config: HWConfig, board: str, output_dir: str | Path | None = None, *,
                    host_factory: Callable[[], wiring.Component] | None = None,
                    timeout: float | None = None) -> Path:
    """Build the board bitstream for ``config`` and return its path.

    ``host_factory`` replaces the accelerator by another component with ``command`` and
    ``response`` host streams of ``config.host_width`` bits (used to test the flow itself).
    """
    from codesign.hw.rtl.top import Accelerator   # the whole RTL: only when a build runs

    spec = _board(board)
    make_host = host_factory or (lambda: Accelerator(config))
    divisor = board_divisor(board)

    def make_core() -> BoardCore:
        return BoardCore(make_host(), divisor, config.host_width)

    resources = synthesize(make_core(), spec.family, top="codesign_core", timeout=timeout)
    check_fits(resources, spec.device_key, what=f"the design for {board}")

    output_dir = Path(output_dir or Path("build") / board).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    platform = _platform(board)
    overrides = {"synth_opts": "-dsp", "script_after_read": _VERILOG_ROUND_TRIP} \
        if spec.family == "ice40" else {}
    with _yowasp_environment(platform, spec.tools, output_dir), no_zero_memory_init():
        try:
            platform.build(BoardTop(make_core(), spec.reset), name="codesign_top",
                           build_dir=str(output_dir), do_program=False, **overrides)
        except Exception as error:  # amaranth raises a bare subprocess error on a tool failure
            log = output_dir / "codesign_top.tim"
            _raise_if_over_capacity(log, board, spec.device_key)
            raise SynthesisError(f"the {board} bitstream build failed: {error}",
                                 f"see the logs in {output_dir} ({log.name}, codesign_top.rpt)"
                                 ) from None
    bitstream = output_dir / f"codesign_top{spec.bitstream_suffix}"
    if not bitstream.is_file():
        raise SynthesisError(f"the {board} build wrote no {bitstream.name}",
                             f"see the logs in {output_dir}")
    return bitstream


#: Yosys maps the memories of Amaranth's RTLIL (synchronous read ports with an enable) to iCE40
#: block RAM with flip-flops around it (write data and read data copies: ~800 logic cells on
#: tiny.yaml); read back from Verilog, as ``codesign hw synth`` reads ``to_verilog``'s output,
#: they map to plain SB_RAM40_4K ports. The platform flow reads the RTLIL, so it takes that
#: round trip first (``-norename`` keeps the port names the pin constraints use).
_VERILOG_ROUND_TRIP = ("proc\nmemory_collect\nwrite_verilog -norename codesign_top_rtlil.v\n"
                       "design -reset\nread_verilog codesign_top_rtlil.v")

#: nextpnr's utilisation lines, e.g. ``Info:      ICESTORM_LC:  8304/  5280   157%``.
_UTILISATION = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.MULTILINE)


def _raise_if_over_capacity(log: Path, board: str, device_key: str) -> None:
    """One-line error when nextpnr could not place the design because a BEL type ran out.

    On iCE40 the binding limit is the logic cell (ICESTORM_LC: one LUT4, one flip-flop and one
    carry): a flip-flop packs into the cell of the LUT that drives it, any other one (register
    chains, registered memory and DSP outputs) takes a cell of its own, so LUT and FF counts that
    each fit the device can still need more cells than it has.
    """
    text = log.read_text() if log.is_file() else ""
    for kind, used, available in _UTILISATION.findall(text):
        used, available = int(used), int(available)
        if used > available:
            raise SynthesisError(
                f"the design for {board} needs {used} {kind} but the {device_key} has "
                f"{available} ({used - available} over, {100 * used / available:.0f}% of the "
                f"device; nextpnr packing)",
                "use a smaller hardware configuration (fewer cores, neurons or profiles)")


def _board(board: str) -> Board:
    if board not in BOARDS:
        raise CodesignError(f"unknown board {board!r}", "use one of " + ", ".join(BOARDS))
    return BOARDS[board]


def _platform(board: str):
    import importlib

    spec = _board(board)
    module = importlib.import_module(f"amaranth_boards.{spec.module}")
    return getattr(module, spec.platform)()


@contextlib.contextmanager
def _yowasp_environment(platform, tools: tuple[str, ...], output_dir: Path) -> Iterator[None]:
    """Run the platform's build with the YoWASP tools.

    amaranth 0.5 sources the script named by the platform's ``AMARANTH_ENV_<TOOLCHAIN>`` variable
    (``AMARANTH_ENV_TRELLIS``, ``AMARANTH_ENV_ICESTORM``) before building, and skips its check
    for programming tools (openFPGALoader, iceprog) that a build does not need. The script sets
    the per-tool variables (``YOSYS``, ``NEXTPNR_ECP5``, ...) to the YoWASP executables.
    """
    bin_folder = Path(sys.executable).parent
    lines = ["# written by codesign.flows.bitstream: use the YoWASP tools from the Python environment"]
    for tool in tools:
        variable = tool.upper().replace("-", "_")
        executable = os.environ.get(variable) or str(bin_folder / f"yowasp-{tool}")
        lines.append(f"export {variable}={shlex.quote(executable)}")
    script = output_dir / "yowasp_env.sh"
    script.write_text("\n".join(lines) + "\n")
    variable = platform._toolchain_env_var
    saved = os.environ.get(variable)
    os.environ[variable] = str(script)
    try:
        yield
    finally:
        if saved is None:
            del os.environ[variable]
        else:
            os.environ[variable] = saved
