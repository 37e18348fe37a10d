"""Board bitstreams: the accelerator behind a UART bridge, built with amaranth-boards platforms and
the YoWASP tools (nothing outside PyPI).

``build_bitstream(config, "ulx3s" | "icebreaker")``

1. builds :class:`~codesign.hw.board.board_top.BoardCore` (the flow-controlled serial link,
   docs/board.md, + the host design: the :class:`~codesign.hw.rtl.top.Accelerator` of ``config``
   unless another host-stream component is given), at ``baud`` (``BAUD_RATE`` unless given)
   from the board's default clock, its identity naming ``config``, inside
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
import shutil
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

from amaranth.lib import wiring

from codesign.arch import link
from codesign.arch.config import HWConfig
from codesign.errors import CodesignError
from codesign.flows.synthesis import SynthesisError, check_fits, synthesize
# The platform flow reads Amaranth's RTLIL: leave out all-zero memory init there as well (with
# it Yosys puts registers and bypass logic around every iCE40 block RAM; FPGA RAM configures
# to zero anyway).
from codesign.flows.verilog import no_zero_memory_init
from codesign.hw.board.board_top import BoardCore, BoardTop
from codesign.hw.board.uart_receiver import MIN_CYCLES_PER_BIT

BAUD_RATE = 115_200


@dataclass(frozen=True)
class Board:
    platform: str           # class name in amaranth_boards.<module>
    module: str
    family: str
    device_key: str         # key of synthesis.DEVICE_RESOURCES
    bitstream_suffix: str
    tools: tuple[str, ...]  # amaranth tool names -> YoWASP executables
    #: Bytes of the link's receive buffer (the host's credit): enough for the USB-serial
    #: chip's latency at the top baud rate (docs/board.md).
    link_buffer: int
    #: The buffer is an SB_SPRAM256KA (iCE40 UP5K: the accelerator uses every block RAM).
    link_spram: bool = False
    #: False: the design's ``sync`` domain has no reset; every flip-flop starts from its
    #: configuration value (iCE40: a synchronous reset costs a logic cell's SR input and keeps
    #: Yosys from moving registers into the SB_MAC16s). The link's RESET frame then cannot
    #: reset the accelerator either (the identity says so); reloading the bitstream does.
    reset: bool = True
    #: How openFPGALoader loads the bitstream (``-b NAME``, ``-m``: into the FPGA's
    #: configuration memory, until power-off; the iCEBreaker's is written to its SPI flash).
    loader_arguments: tuple[str, ...] = ()


BOARDS: dict[str, Board] = {
    "ulx3s": Board("ULX3S_85F_Platform", "ulx3s", "ecp5", "ecp5-85k", ".bit",
                   ("yosys", "nextpnr-ecp5", "ecppack"), link_buffer=8192,
                   loader_arguments=("-b", "ulx3s", "-m")),
    "icebreaker": Board("ICEBreakerPlatform", "icebreaker", "ice40", "ice40-up5k", ".bin",
                        ("yosys", "nextpnr-ice40", "icepack"), link_buffer=1024,
                        link_spram=True, reset=False,
                        loader_arguments=("-b", "ice40_generic")),
}


def board_identity(config: HWConfig, board: str) -> link.Identity:
    """What the board's link says about itself: the config's hash, the buffer depth, whether a
    RESET frame resets the accelerator."""
    spec = _board(board)
    return link.Identity(version=link.LINK_VERSION,
                         capabilities=link.CAN_RESET_ACCELERATOR if spec.reset else 0,
                         config_hash=link.config_hash(config), fifo_depth=spec.link_buffer)


def cycles_per_bit(board: str, baud: int = BAUD_RATE) -> Fraction:
    """Clock cycles per UART bit at ``baud`` from the board's default clock (the UART keeps the
    fraction: 25 MHz / 3 Mbaud is 8 1/3)."""
    platform = _platform(board)
    cycles = Fraction(int(platform.default_clk_frequency), int(baud))
    if baud <= 0 or cycles < MIN_CYCLES_PER_BIT:
        top = int(platform.default_clk_frequency) // MIN_CYCLES_PER_BIT
        raise CodesignError(f"{baud} baud is too fast for the {board}'s "
                            f"{platform.default_clk_frequency / 1e6:g} MHz clock",
                            f"use at most {top} baud (3000000 is the usual top for its USB "
                            "serial chip)")
    return cycles


def board_core(config: HWConfig, board: str, cycles: float | Fraction | None = None,
               host: wiring.Component | None = None) -> BoardCore:
    """The board's core for ``config``: what its bitstream holds, at ``cycles`` clock cycles
    per UART bit (default: ``BAUD_RATE`` from the board's clock). A simulation of the board
    passes a few cycles per bit; nothing else differs."""
    from codesign.hw.rtl.top import Accelerator   # the whole RTL: only when a core is built

    spec = _board(board)
    return BoardCore(host if host is not None else Accelerator(config),
                     cycles if cycles is not None else cycles_per_bit(board),
                     config.host_width, board_identity(config, board), spram=spec.link_spram)


def build_bitstream(config: HWConfig, board: str, output_dir: str | Path | None = None, *,
                    host_factory: Callable[[], wiring.Component] | None = None,
                    timeout: float | None = None, baud: int = BAUD_RATE) -> Path:
    """Build the board bitstream for ``config`` and return its path.

    ``host_factory`` replaces the accelerator by another component with ``command`` and
    ``response`` host streams of ``config.host_width`` bits (used to test the flow itself).
    """
    spec = _board(board)
    cycles = cycles_per_bit(board, baud)

    def make_core() -> BoardCore:
        return board_core(config, board, cycles, host_factory() if host_factory else None)

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


def load_bitstream(board: str, bitstream: str | Path) -> list[str]:
    """Load ``bitstream`` onto ``board`` with openFPGALoader; returns the command it ran."""
    spec = _board(board)
    tool = shutil.which(os.environ.get("OPENFPGALOADER", "openFPGALoader"))
    command = [*spec.loader_arguments, str(bitstream)]
    if tool is None:
        raise CodesignError("openFPGALoader is not installed, so the bitstream cannot be loaded",
                            "install it (Debian and Ubuntu: sudo apt install openfpgaloader) "
                            f"and run: openFPGALoader {shlex.join(command)}")
    completed = subprocess.run([tool, *command], capture_output=True, text=True)
    if completed.returncode != 0:
        lines = [line.strip() for line in (completed.stderr + completed.stdout).splitlines()
                 if line.strip()]
        reason = next((line for line in reversed(lines) if "rror" in line or "unable" in line),
                      lines[-1] if lines else f"exit status {completed.returncode}")
        raise CodesignError(f"openFPGALoader could not load {bitstream} onto the {board} "
                            f"({reason})", "plug the board in over USB and let your user open "
                            "it (docs/board.md, 'USB permissions'), then run: openFPGALoader "
                            + shlex.join(command))
    return [tool, *command]


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
