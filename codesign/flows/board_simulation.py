"""A board without the board: its core (:class:`~codesign.hw.board.board_top.BoardCore`: UART
bridge, flow control, accelerator) simulated by Verilator behind a pseudo-terminal, which the host
runtime opens like a serial port (docs/board.md, "Without a board")::

    with simulated_board(config, "ulx3s") as board:        # Verilator builds the first time
        with board_runtime.open(board.port) as session:     # e.g. /dev/pts/7
            ...

The simulated design is the board's own core, built by :func:`codesign.flows.bitstream.board_core`
for a few clock cycles per bit (``cycles_per_bit``, default 4, so a byte takes 40 cycles);
nothing else differs from the bitstream's. Around it sits what stands for the board's USB-serial
chip: a UART transmitter and receiver of the same bit period, whose bytes a cocotb coroutine
(:mod:`codesign.flows.testbench.board_cocotb`) moves to and from the pseudo-terminal. The host
side is then the same code path as with a real port: pyserial on a tty device.

``faults`` makes the line misbehave, for the tests: ``corrupt_to_board`` ``[[n, bit]]`` inverts
bit ``bit`` (0..7 data, 8 the stop bit) of the ``n``-th byte on its way to the board, on the
wire; ``corrupt_to_host`` ``[[n, mask]]`` XORs ``mask`` into the ``n``-th byte the host
receives; ``unplug_after`` closes the pseudo-terminal after that many bytes from the host.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from codesign.arch.config import HWConfig
from codesign.cache import cache_dir, write_atomically
from codesign.errors import CodesignError

TOPLEVEL = "simulated_board"
#: Clock cycles per UART bit in simulation: the fewest the UART allows.
SIMULATION_CYCLES_PER_BIT = 4
#: Seconds to wait for the simulation's pseudo-terminal once its model is built (the build,
#: minutes the first time, comes before and is not limited).
START_TIMEOUT = 120.0


def simulation_top(config: HWConfig, board: str, cycles_per_bit: Fraction):
    """The board's core with a host-side UART pair and fault inputs on the two wires."""
    from amaranth import Module
    from amaranth.lib import stream, wiring
    from amaranth.lib.wiring import In, Out

    from codesign.flows.bitstream import board_core
    from codesign.hw.board.uart_receiver import UARTReceiver
    from codesign.hw.board.uart_transmitter import UARTTransmitter

    class SimulatedBoard(wiring.Component):
        def __init__(self):
            self.core = board_core(config, board, cycles_per_bit)
            super().__init__({
                "to_board": In(stream.Signature(8)),     # bytes from the host
                "to_host_data": Out(8),                  # a byte for the host ...
                "to_host_valid": Out(1),                 # ... in this cycle
                "fault_to_board": In(1),                 # inverts the wire into the board
                "busy": Out(1),
            })

        def elaborate(self, platform):
            m = Module()
            m.submodules.core = core = self.core
            m.submodules.host_transmitter = transmitter = UARTTransmitter(cycles_per_bit)
            m.submodules.host_receiver = receiver = UARTReceiver(cycles_per_bit)
            wiring.connect(m, wiring.flipped(self.to_board), transmitter.data)
            m.d.comb += [core.rx.eq(transmitter.tx ^ self.fault_to_board),
                         receiver.rx.eq(core.tx),
                         self.to_host_data.eq(receiver.data.payload),
                         self.to_host_valid.eq(receiver.data.valid),
                         self.busy.eq(core.busy | ~transmitter.data.ready)]
            return m

    return SimulatedBoard()


def verilog_path(config: HWConfig, board: str, cycles_per_bit: Fraction) -> Path:
    """Verilog of the simulated board (cached on the config, the board, the bit period and the
    sources)."""
    from codesign.flows.rtl_target import clocked_top
    from codesign.flows.verilog import to_verilog

    package = Path(__file__).parents[1]
    sources = sorted((package / "hw").rglob("*.py")) + sorted((package / "arch").glob("*.py"))
    sources += [package / "arithmetic.py", package / "flows" / "verilog.py",
                package / "flows" / "bitstream.py", Path(__file__)]
    digest = hashlib.sha256(f"{config.to_yaml()}{board}{cycles_per_bit}".encode())
    for source in sources:
        digest.update(source.read_bytes())
    path = cache_dir("board-verilog") / f"{digest.hexdigest()[:32]}.v"
    if not path.is_file():
        logic, top = f"{TOPLEVEL}_logic", simulation_top(config, board, cycles_per_bit)
        write_atomically(path, to_verilog(top, name=logic) + clocked_top(top, logic, TOPLEVEL))
    return path


@dataclass
class SimulatedBoard:
    """A running simulation: ``port`` is the pseudo-terminal to open; after the ``with`` block,
    ``timeline`` holds the simulated cycle of every byte each way (``to_board``: when it went
    onto the wire; ``to_host``: when the host side received it) and ``cycles`` the total."""

    port: str
    cycles_per_bit: Fraction
    work_dir: Path
    timeline: dict[str, np.ndarray] = field(default_factory=dict)
    cycles: int = 0


@contextlib.contextmanager
def simulated_board(config: HWConfig, board: str = "ulx3s",
                    cycles_per_bit: float | Fraction = SIMULATION_CYCLES_PER_BIT,
                    faults: dict[str, Any] | None = None,
                    work_dir: Path | None = None) -> Iterator[SimulatedBoard]:
    """Run the simulated board in a background thread while the ``with`` block talks to it."""
    from codesign.flows.rtl_target import SIM_BUILD_ARGS, SIM_ENV, TESTBENCH_DIR
    from codesign.flows.verilator import build, run_built, run_folder

    cycles_per_bit = Fraction(cycles_per_bit).limit_denominator(1 << 16)
    verilog = verilog_path(config, board, cycles_per_bit)
    work_dir = run_folder("board-", work_dir)
    files = {name: work_dir / name for name in ("pty", "stop", "timeline.npz")}
    environment = {**SIM_ENV, "CODESIGN_BOARD_PTY": str(files["pty"]),
                   "CODESIGN_BOARD_STOP": str(files["stop"]),
                   "CODESIGN_BOARD_TIMELINE": str(files["timeline.npz"]),
                   "CODESIGN_BOARD_CYCLES_PER_BIT": str(cycles_per_bit),
                   "CODESIGN_BOARD_FAULTS": json.dumps(faults or {})}
    failure: list[BaseException] = []
    build_dir = build(verilog, TOPLEVEL, build_args=SIM_BUILD_ARGS, ports_only=True)

    def simulate() -> None:
        try:
            run_built(build_dir, TOPLEVEL, "board_cocotb", TESTBENCH_DIR, environment,
                      work_dir=work_dir / "sim")
        except BaseException as error:   # reported in the main thread
            failure.append(error)

    thread = threading.Thread(target=simulate, name="simulated-board", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not files["pty"].is_file():
        if failure or not thread.is_alive():
            cause = failure[0] if failure else "it ended"
            raise CodesignError(f"the board simulation did not start ({cause})",
                                f"see {work_dir / 'sim'}")
        if time.monotonic() > deadline:
            raise CodesignError("the board simulation did not start in time",
                                f"see {work_dir / 'sim'}")
        time.sleep(0.05)
    simulated = SimulatedBoard(port=files["pty"].read_text(), cycles_per_bit=cycles_per_bit,
                               work_dir=work_dir)
    try:
        yield simulated
    finally:
        files["stop"].write_text("stop\n")
        thread.join()
    if failure:
        raise failure[0]
    with np.load(files["timeline.npz"]) as timeline:
        simulated.timeline = {name: timeline[name] for name in ("to_board", "to_host")}
        simulated.cycles = int(timeline["cycles"])
