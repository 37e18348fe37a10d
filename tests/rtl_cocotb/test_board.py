"""``codesign run --target board`` end to end without a board: Verilator simulates the ULX3S's
board core (UART bridge, flow control, accelerator) at 4 clock cycles per bit behind a
pseudo-terminal, and the host runtime talks to it through pyserial as to /dev/ttyUSB0.

* LIF and both Braille graphs: output bit-exact with the golden model, cycles equal to
  ``--target rtl`` (Braille with two samples: the second starts from the re-sent sequencer
  registers, the RTL target reloads the whole image);
* a host faster than the accelerator: the buffer fills to the brim and no word is lost;
* faults: a byte damaged on its way to the board or to the host, a lost stop bit, the pseudo-
  terminal closing mid-run, a program for another HWConfig: each one line and exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from nir_cases import shared_case

from codesign.arch import protocol
from codesign.arch.config import HWConfig
from codesign.cli import main
from codesign.compiler import frontend, golden
from codesign.compiler.image import program_image
from codesign.compiler.image.host_commands import Command
from codesign.compiler.pipeline import CompileOptions, map_network, quantized
from codesign.flows import board_runtime
from codesign.flows.board_simulation import simulated_board

pytestmark = pytest.mark.xdist_group("board")

#: The RTL regression's one-core config (its Verilator model of the plain accelerator is shared).
CONFIG = HWConfig.from_dict({"synapse_lanes": 4, "profiles": 8, "cores": 1,
                             "neurons_per_core": 64, "synapse_memory_depth": 2048,
                             "source_table_depth": 64})
CASES = {
    "lif": ("NIR_paper/01_lif/lif_norse.nir", []),
    "braille-zero": ("NIR_paper/03_rnn/braille_noDelay_bias_zero.nir", []),
    "braille-subtract": ("NIR_paper/03_rnn/braille_noDelay_noBias_subtract.nir",
                         ["--reset", "subtract"]),
}


def _input(name: str) -> np.ndarray:
    """``[N, T, *input_shape]`` spike counts."""
    if name == "lif":
        trace = np.loadtxt(shared_case("NIR_paper/01_lif/lif_norse.csv"), delimiter=",")
        return trace[:, 0].reshape(1, -1, 1).astype(np.int64)
    return (np.random.default_rng(0).random((2, 256, 12)) < 0.2).astype(np.int64)


def _compile(tmp: Path, name: str, config: HWConfig = CONFIG) -> tuple[Path, Path]:
    path, options = CASES[name]
    (tmp / "hw.yaml").write_text(config.to_yaml())
    out = tmp / f"{name}-out"
    assert main(["compile", str(shared_case(path)), "--hw", str(tmp / "hw.yaml"), *options,
                 "-o", str(out)]) == 0
    inputs = tmp / f"{name}.npz"
    np.savez(inputs, x=_input(name))
    return out, inputs


def _run(capsys, out: Path, inputs: Path, target: str, result: Path, *extra: str):
    status = main(["run", str(out), "--target", target, "--input", str(inputs), "-o",
                   str(result), *extra])
    return status, capsys.readouterr().err.strip()


def _one_line_error(status: int, message: str, *parts: str) -> None:
    assert status == 2, message
    assert message.startswith("codesign: error:") and "\n" not in message, message
    for part in parts:
        assert part in message, message


@pytest.fixture(scope="module")
def board():
    with simulated_board(CONFIG) as simulated:
        yield simulated


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_board_runs_bit_exact_with_rtl_cycles(board, tmp_path, capsys, name):
    out, inputs = _compile(tmp_path, name)
    status, message = _run(capsys, out, inputs, "board", tmp_path / "board.npz",
                           "--port", board.port)
    assert status == 0, message
    assert _run(capsys, out, inputs, "rtl", tmp_path / "rtl.npz")[0] == 0
    on_board, rtl = np.load(tmp_path / "board.npz"), np.load(tmp_path / "rtl.npz")
    image = program_image.load_image(out / "program.img")
    network = program_image.program_from_image(image).network
    expected = golden.simulate(network, np.swapaxes(np.load(inputs)["x"], 0, 1))
    assert np.array_equal(on_board["output"], np.swapaxes(expected.output, 0, 1))
    assert on_board["output"].sum() > 0
    assert np.array_equal(on_board["cycles"], rtl["cycles"])
    if name == "lif":   # the NIR paper's trace
        assert list(np.flatnonzero(on_board["output"][0].ravel())) == [460, 510, 710, 760]


@pytest.mark.slow
def test_a_host_faster_than_the_accelerator_loses_no_word(board):
    """3,000 STEP commands of 8 timesteps each, sent as fast as the line takes them: each takes
    the accelerator ~350 cycles, 4 bytes take the line 160, so the board's 8 KiB buffer fills
    and the host waits for it. Every STEP is answered, and the timestep counter has counted
    every one; then the LIF sample still runs bit-exact."""
    network = quantized(frontend.load(shared_case(CASES["lif"][0])), CompileOptions())
    image = program_image.build_image(map_network(network, CONFIG))
    counts = np.swapaxes(_input("lif"), 0, 1)
    steps, repeats = 8, 3000
    with board_runtime.open(board.port) as session:
        session.load(image, progress=False)
        commands = [Command(protocol.encode_step(steps), 1)] * repeats
        commands.append(Command(protocol.encode_read_counters(), len(protocol.COUNTER_NAMES)))
        answers = session.link.transact(commands)
        statistics = session.link.statistics
        result = session.run_counts(counts, progress=False)
    depth = session.identity.fifo_depth
    assert statistics.most_in_flight == depth and statistics.buffer_waits > 0
    assert [protocol.decode_step(answer) for answer in answers[:-1]] == \
        [protocol.StepStatus(steps=steps, flags=0)] * repeats
    assert protocol.decode_counters(answers[-1])["timestep"] == steps * repeats
    assert np.array_equal(result.output, golden.simulate(network, counts).output)


@pytest.mark.slow
@pytest.mark.parametrize("fault, parts", [
    ({"corrupt_to_board": [[300, 3]]}, ["reports a link error: bad checksum"]),
    ({"corrupt_to_board": [[300, 8]]}, ["reports a link error: framing error"]),
    ({"corrupt_to_host": [[60, 0x10]]}, ["failed its checksum"]),
    ({"unplug_after": 2000}, ["went away in the middle of the run", "reconnect the board"]),
], ids=["byte-to-board", "stop-bit", "byte-to-host", "unplugged"])
def test_link_faults_end_in_one_line(tmp_path, capsys, fault, parts):
    out, inputs = _compile(tmp_path, "lif")
    with simulated_board(CONFIG, faults=fault) as simulated:
        status, message = _run(capsys, out, inputs, "board", tmp_path / "o.npz", "--port",
                               simulated.port)
    _one_line_error(status, message, *parts)
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.slow
def test_a_program_for_another_config_is_refused(board, tmp_path, capsys):
    other = HWConfig.from_dict({**json.loads(json.dumps(CONFIG.to_dict())),
                                "neurons_per_core": 32})
    out, inputs = _compile(tmp_path, "lif", other)
    status, message = _run(capsys, out, inputs, "board", tmp_path / "o.npz", "--port",
                           board.port)
    _one_line_error(status, message, "was built for another HWConfig",
                    "codesign hw build --hw OUT/hw.yaml")
