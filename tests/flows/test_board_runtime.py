"""The board runtime without a board or a simulation: flow control's cutting and pinging, and
the one-line errors of a missing port, a board that does not answer, a missing --port."""

from __future__ import annotations

import os
import pty

import numpy as np
import pytest

from codesign.arch import protocol
from codesign.arch.config import HWConfig
from codesign.cli import main
from codesign.compiler.image import program_image
from codesign.compiler.image.host_commands import Command, load_commands
from codesign.flows import board_runtime
from codesign.flows.board_runtime import BoardError, _flow_controlled


def _image_fields(words: int) -> list[int]:
    """Two WRITE records (one long) and the sequencer registers, as in a program image."""
    return (protocol.encode_write(protocol.core_unit(0), 1, 0, list(range(words)), 70)
            + protocol.encode_write(protocol.ROUTER_UNIT, 0, 5, [7, 8], 40)
            + protocol.encode_write(protocol.SEQUENCER_UNIT, protocol.SEQUENCER_REGISTERS, 0,
                                    [3, 0, 0, 1], 32))


def test_cut_commands_write_the_same_words_and_an_answer_comes_every_quarter_buffer():
    depth = 256
    image = program_image.ProgramImage(HWConfig(), {}, np.asarray(_image_fields(300),
                                                                  dtype=np.uint32))
    inputs = Command(protocol.encode_input({source: 1 for source in range(200)}))
    wire, internal, silent = _flow_controlled([*load_commands(image), inputs,
                                               Command(protocol.encode_step(1), 1)], depth, 0)
    silent_fields = [f for c in wire if not c.answer for f in c.fields]
    cut = program_image.ProgramImage(HWConfig(), {}, np.asarray(
        [f for c in wire if not c.answer and c.fields[0] >> 24 == protocol.WRITE
         for f in c.fields], dtype=np.uint32))
    assert program_image.decode_records(cut) == program_image.decode_records(image)
    entries = [f for c in wire if c.fields[0] >> 24 == protocol.INPUT for f in c.fields[1:]]
    assert entries == inputs.fields[1:]
    assert internal[-1] is False and sum(internal) == len(internal) - 1 and silent == 0
    run = 0
    for command in wire:
        run = 0 if command.answer else run + 4 * len(command.fields)
        assert run <= depth // 4


def test_a_missing_port_is_one_line():
    with pytest.raises(BoardError) as caught:
        board_runtime.open("/dev/ttyNOSUCHPORT")
    message = caught.value.one_line()
    assert "serial port /dev/ttyNOSUCHPORT does not exist; plug in the board" in message


def test_a_board_that_does_not_answer_is_one_line():
    master, slave = pty.openpty()
    try:
        with pytest.raises(BoardError, match=r"does not answer at 115200 baud.*--program"):
            board_runtime.open(os.ttyname(slave), timeout=0.3)
    finally:
        os.close(master)
        os.close(slave)


def test_target_board_needs_a_port(tmp_path, capsys):
    status = main(["run", str(tmp_path), "--target", "board", "--input", "x.npy", "-o",
                   "o.npz"])
    message = capsys.readouterr().err.strip()
    assert status == 2 and "--target board needs --port" in message
