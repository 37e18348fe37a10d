"""``codesign run --target board``: a program on a board, over its serial link (docs/board.md).

The Python API behind the command, for notebooks too::

    from codesign.flows import board_runtime

    with board_runtime.open("/dev/ttyUSB0", baud=115200) as board:
        board.load("out/")                     # the folder `codesign compile` wrote
        result = board.run(steps)              # [T, B, *input_shape] spike counts
    result.output, result.cycles               # as --target rtl gives them

``open`` resets the link (and the accelerator, where the board can) and reads the board's
identity; ``load`` refuses a program compiled for another HWConfig than the bitstream's, then
sends the image; ``run`` streams each sample's inputs and reads its output spikes and cycle
counters (the commands of :mod:`codesign.compiler.image.host_commands`, the same the RTL
target sends). The first sample runs on the freshly loaded program; every later one first
re-sends the image's sequencer registers, which start the program afresh.

Everything goes through pyserial, so a real port (``/dev/ttyUSB0``), a pseudo-terminal standing
for one (a simulated board, :mod:`codesign.flows.board_simulation`) and pyserial's URLs
(``socket://host:port``) take the same code path. Flow control (:mod:`codesign.arch.link`):
the host never has more than the board's buffer in flight beyond the last answered command;
long program-load and input commands are split, and a READ_COUNTERS (no side effects) is slipped
in whenever a quarter of the buffer has gone by without a command that answers. Every failure
is a :class:`BoardError`: one line, naming the cause and the fix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import serial
from tqdm import tqdm

from codesign.arch import link, protocol
from codesign.compiler import golden
from codesign.compiler.driver import Target
from codesign.compiler.image import host_commands, program_image
from codesign.compiler.image.chunked import ChunkProgram, ChunkResult
from codesign.compiler.image.host_commands import AnswerReader, Command, RunAnswers
from codesign.compiler.program import MappedProgram
from codesign.errors import CodesignError

DEFAULT_BAUD = 115_200
#: Seconds without a byte from the board, while an answer is due, before giving up.
DEFAULT_TIMEOUT = 10.0
#: Largest DATA frame payload (smaller ones when the buffer has less room).
MAX_FRAME_BYTES = 1024
#: Transfers of more bytes than this get a progress bar.
PROGRESS_BYTES = 64 * 1024
_PING = Command(protocol.encode_read_counters(), len(protocol.COUNTER_NAMES))
_SPLITTABLE = (protocol.WRITE, protocol.INPUT)


class BoardError(CodesignError):
    """The board, its port or its link failed (one line: the cause and the fix)."""


@dataclass
class LinkStatistics:
    """Bytes each way (frames included), and how often the host waited for the buffer."""

    bytes_sent: int = 0
    bytes_received: int = 0
    buffer_waits: int = 0
    most_in_flight: int = 0


@dataclass
class BoardResult(RunAnswers):
    """:class:`RunAnswers` plus the link's statistics and the wall-clock seconds of the run."""

    link: LinkStatistics = field(default_factory=LinkStatistics)
    seconds: float = 0.0


class SerialLink:
    """Frames, flow control and answers on an open pyserial port."""

    def __init__(self, port: serial.SerialBase, name: str, baud: int, timeout: float):
        self.port = port
        self.name = name
        self.baud = baud
        self.timeout = timeout
        self.identity: link.Identity | None = None
        self.statistics = LinkStatistics()
        self._decoder = link.FrameDecoder()
        self._answer_bytes = bytearray()
        # Bytes sent by earlier transactions that no answer has acknowledged yet (all of
        # silent commands), and how long the run of silent bytes is.
        self._unacknowledged = 0
        self._silent = 0

    # -- the byte stream ----------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as error:
            raise self._lost(error) from None
        self.statistics.bytes_sent += len(data)

    def _read(self, wait: bool) -> list[link.Frame]:
        """Frames that have arrived (waiting up to the port's timeout for a byte if ``wait``)."""
        try:
            waiting = self.port.in_waiting
            data = self.port.read(waiting or (1 if wait else 0)) if waiting or wait else b""
        except (serial.SerialException, OSError) as error:
            raise self._lost(error) from None
        self.statistics.bytes_received += len(data)
        return self._decoder.feed(data) if data else []

    def _lost(self, error: Exception) -> BoardError:
        return BoardError(f"the serial port {self.name} went away in the middle of the run "
                          f"({error})", "reconnect the board and run again")

    # -- session start ------------------------------------------------------------------------
    def reset(self) -> link.Identity:
        """RESET the link; returns the board's identity."""
        try:
            self.port.reset_input_buffer()
        except (serial.SerialException, OSError) as error:
            raise self._lost(error) from None
        self._decoder = link.FrameDecoder()
        self._answer_bytes = bytearray()
        self._unacknowledged = self._silent = 0
        self._write(bytes([link.FLAG]) + link.encode_frame(link.RESET))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for frame in self._read(wait=True):
                # Before the LINK frame, anything (a previous session's tail) is dropped.
                if frame.intact and frame.kind == link.LINK:
                    state = link.LinkState.from_payload(frame.payload)
                    self._check_identity(state)
                    self.identity = state.identity
                    return state.identity
        raise BoardError(f"the board on {self.name} does not answer at {self.baud} baud",
                         "check that its bitstream is loaded (codesign hw build --board NAME "
                         "--program) and that --baud is the rate it was built with (default "
                         f"{DEFAULT_BAUD})")

    def _check_identity(self, state: link.LinkState) -> None:
        if state.identity.version != link.LINK_VERSION:
            raise BoardError(f"the board on {self.name} speaks link version "
                             f"{state.identity.version}, this codesign version "
                             f"{link.LINK_VERSION}", "rebuild and load its bitstream "
                             "(codesign hw build --board NAME --program)")
        if state.status:
            raise BoardError(f"the board on {self.name} reports a link error right after its "
                             f"reset ({link.status_text(state.status)})",
                             "check the cable and the --baud rate")

    # -- commands -------------------------------------------------------------------------
    def transact(self, commands: Sequence[Command], progress: str | None = None
                 ) -> list[list[int]]:
        """Send ``commands`` and return the answers of those that answer, in order."""
        depth = self.identity.fifo_depth
        wire, internal, self._silent = _flow_controlled(commands, depth, self._silent)
        data = b"".join(np.asarray(c.fields, dtype="<u4").tobytes() for c in wire)
        ends = np.cumsum([4 * len(c.fields) for c in wire])
        answer_ends = [int(end) for end, c in zip(ends, wire) if c.answer]
        reader = AnswerReader(wire)
        # In flight: sent - taken; earlier transactions' bytes count until the first answer.
        sent, taken = 0, -self._unacknowledged
        last_byte = time.monotonic()
        bar = tqdm(total=len(data), unit="B", unit_scale=True, desc=progress, leave=False,
                   disable=progress is None or len(data) < PROGRESS_BYTES)
        with bar:
            while sent < len(data) or reader.need():
                room = depth - (sent - taken)
                if sent < len(data) and room > 0:
                    chunk = min(room, MAX_FRAME_BYTES, len(data) - sent)
                    self._write(link.encode_frame(link.DATA, data[sent:sent + chunk]))
                    sent += chunk
                    bar.update(chunk)
                    self.statistics.most_in_flight = max(self.statistics.most_in_flight,
                                                         sent - taken)
                    frames = self._read(wait=False)
                else:
                    if sent < len(data):
                        self.statistics.buffer_waits += 1
                    frames = self._read(wait=True)
                if frames:
                    last_byte = time.monotonic()
                    completed = self._take(frames, reader)
                    if completed:
                        taken = max(taken, answer_ends[len(reader.answers) - 1])
                elif time.monotonic() - last_byte > self.timeout:
                    raise BoardError(f"the board on {self.name} stopped answering (nothing for "
                                     f"{self.timeout:g} s with {reader.need()} answer fields "
                                     "due)", "reset the board (reload its bitstream) and run "
                                     "again; a long run may need a larger --timeout")
        self._unacknowledged = sent - taken
        return [answer for answer, ping in zip(reader.answers, internal) if not ping]

    def _take(self, frames: list[link.Frame], reader: AnswerReader) -> int:
        completed = 0
        for frame in frames:
            if not frame.intact:
                raise BoardError(f"a frame from the board on {self.name} failed its checksum "
                                 "(a byte was damaged on the way)",
                                 "check the cable or lower --baud, then run again")
            if frame.kind == link.LINK:
                status = link.LinkState.from_payload(frame.payload).status
                raise BoardError(f"the board on {self.name} reports a link error: "
                                 f"{link.status_text(status)}; it dropped the damaged frame and "
                                 "takes nothing more until a reset",
                                 "check the cable or lower --baud, then run again")
            if frame.kind != link.ANSWER:
                raise BoardError(f"the board on {self.name} sent a frame of unknown kind "
                                 f"{frame.kind}", "rebuild and load its bitstream with this "
                                 "codesign version")
            self._answer_bytes += frame.payload
            whole = len(self._answer_bytes) // 4 * 4
            if whole:
                fields = np.frombuffer(bytes(self._answer_bytes[:whole]), dtype="<u4")
                del self._answer_bytes[:whole]
                completed += reader.feed(fields.tolist())
        return completed


def _flow_controlled(commands: Sequence[Command], depth: int, silent: int
                     ) -> tuple[list[Command], list[bool], int]:
    """``commands`` with WRITE and INPUT commands cut to a quarter of the buffer and a
    READ_COUNTERS whenever a quarter of the buffer would go by without an answering command
    (``silent`` bytes of it have gone already); per answering command, whether it is such an
    inserted one; and the silent bytes at the end. The first answering command after any point
    then ends within half the buffer, so when the buffer is full an answer is on its way."""
    quarter = depth // 4
    wire, internal = [], []
    for command in commands:
        for piece in _pieces(command, quarter // 4):
            if not piece.answer and silent + 4 * len(piece.fields) > quarter:
                wire.append(_PING)
                internal.append(True)
                silent = 0
            wire.append(piece)
            if piece.answer:
                internal.append(False)
                silent = 0
            else:
                silent += 4 * len(piece.fields)
    return wire, internal, silent


def _pieces(command: Command, max_fields: int) -> list[Command]:
    """A WRITE or INPUT command as several of at most ``max_fields`` fields (the accelerator
    does the same with them: WRITE writes words, INPUT appends entries)."""
    fields = command.fields
    if command.answer or len(fields) <= max_fields or fields[0] >> 24 not in _SPLITTABLE:
        return [command]
    if fields[0] >> 24 == protocol.INPUT:
        entries = fields[1:]
        return [Command([protocol.INPUT << 24 | len(part), *part])
                for part in (entries[i:i + max_fields - 1]
                             for i in range(0, len(entries), max_fields - 1))]
    head, address = fields[0], fields[1]
    per_word = head & 0xFF
    words = max(1, (max_fields - 3) // per_word)
    data = fields[3:]
    return [Command([head, address + start, min(words, len(data) // per_word - start),
                     *data[start * per_word:(start + words) * per_word]])
            for start in range(0, len(data) // per_word, words)]


class BoardSession:
    """An open board: :meth:`load` a program, :meth:`run` it, :meth:`close` the port."""

    def __init__(self, link_: SerialLink):
        self.link = link_
        self.image: program_image.ProgramImage | None = None
        self._network = None
        self._fresh = False

    @property
    def identity(self) -> link.Identity:
        return self.link.identity

    def load(self, program: str | Path | program_image.ProgramImage,
             progress: bool = True) -> None:
        """Send a program image (a ``codesign compile`` folder, an ``.img`` file or a
        :class:`ProgramImage`) after checking it was compiled for the bitstream's HWConfig."""
        image = program if isinstance(program, program_image.ProgramImage) \
            else program_image.load_image(_image_path(program))
        wanted = link.config_hash(image.config)
        if wanted != self.identity.config_hash:
            raise BoardError(
                f"the bitstream on {self.link.name} was built for another HWConfig (config hash "
                f"0x{self.identity.config_hash:08x}; the program's is 0x{wanted:08x})",
                "build and load the bitstream for the program's config: codesign hw build "
                "--hw OUT/hw.yaml --board NAME --program")
        self.link.transact(host_commands.load_commands(image),
                           progress="loading" if progress else None)
        self.image, self._network, self._fresh = image, None, True

    def run(self, steps: np.ndarray, progress: bool = True) -> BoardResult:
        """Run the loaded program on ``steps`` ``[T, B, *input_shape]`` (spike counts)."""
        image = self._loaded()
        if self._network is None:
            self._network = program_image.program_from_image(image).network
        return self.run_counts(golden.integer_input(self._network, steps), progress)

    def run_counts(self, counts: np.ndarray, progress: bool = True) -> BoardResult:
        """:meth:`run` on integer counts ``[T, B, input_size]``."""
        image = self._loaded()
        started = time.monotonic()
        before = LinkStatistics(**vars(self.link.statistics))
        plan = host_commands.readback_plan(image, *counts.shape[:2])
        samples = []
        inputs = host_commands.sample_inputs(image, counts)
        for fields, offsets in tqdm(inputs, desc="samples", unit="sample", leave=False,
                                    disable=not progress or len(inputs) < 2):
            commands = [] if self._fresh else [Command(host_commands.restart_fields(image))]
            commands += host_commands.sample_commands(plan, fields, offsets)
            self._fresh = False
            answers = self.link.transact(commands, progress="running" if progress else None)
            samples.append(host_commands.decode_sample(answers, plan))
        run = host_commands.decode_run(image, samples, plan)
        after = self.link.statistics
        traffic = LinkStatistics(**{name: getattr(after, name) - getattr(before, name)
                                    for name in ("bytes_sent", "bytes_received",
                                                 "buffer_waits")},
                                 most_in_flight=after.most_in_flight)
        return BoardResult(**vars(run), link=traffic, seconds=time.monotonic() - started)

    def _loaded(self) -> program_image.ProgramImage:
        if self.image is None:
            raise BoardError("no program is loaded on the board", "call load(OUT/) first")
        return self.image

    def close(self) -> None:
        self.link.port.close()

    def __enter__(self) -> BoardSession:
        return self

    def __exit__(self, *exception) -> None:
        self.close()


def open(port: str, baud: int = DEFAULT_BAUD, timeout: float = DEFAULT_TIMEOUT) -> BoardSession:
    """Open the board on ``port`` (a device path or a pyserial URL), reset its link, check the
    accelerator answers; ``timeout``: seconds to wait for the board before giving up."""
    try:
        device = serial.serial_for_url(port, baudrate=baud, timeout=0.05, write_timeout=timeout)
    except (serial.SerialException, OSError, ValueError) as error:
        if isinstance(error, serial.SerialException) and "No such file" in str(error):
            raise BoardError(f"serial port {port} does not exist",
                             "plug in the board and pass its port (e.g. --port /dev/ttyUSB0; "
                             "ls /dev/ttyUSB* lists them)") from None
        raise BoardError(f"cannot open serial port {port} ({error})",
                         "check the port name and that no other program holds it") from None
    session = BoardSession(SerialLink(device, port, baud, timeout))
    try:
        session.link.reset()
        answers = session.link.transact([_PING])
        protocol.decode_counters(answers[0])
    except BaseException:
        device.close()
        raise
    return session


def _image_path(program: str | Path) -> Path:
    path = Path(program)
    return path / "program.img" if path.is_dir() else path


def target(port: str, baud: int = DEFAULT_BAUD, timeout: float = DEFAULT_TIMEOUT) -> Target:
    """``codesign run --target board``: the :class:`~codesign.compiler.driver.Target` of the
    board on ``port``. Each run opens the port, loads, runs and closes it; a network compiled
    in chunks loads and runs every chunk of a layer in turn on one open board."""
    def run_one(image: program_image.ProgramImage, program: MappedProgram,
                counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with open(port, baud, timeout) as board:
            board.load(image)
            result = board.run_counts(counts)
        return result.output, result.cycles.T

    def run_chunks(chunks: Sequence[tuple[ChunkProgram, np.ndarray]]) -> list[ChunkResult]:
        results = []
        with open(port, baud, timeout) as board:
            for chunk, counts in chunks:
                board.load(chunk.image)
                result = board.run_counts(counts)
                results.append(ChunkResult(result.output, result.final_state[chunk.population],
                                           result.cycles.T))
        return results

    return Target("board", run_one, run_chunks)
