"""UART bridge as Verilog on Verilator under cocotb: a DATA frame in on rx comes out as
little-endian 32-bit command words; response words go out on tx in ANSWER frames (8N1, frames of
codesign.arch.link). Also the Verilator runner's build cache and profile-guided builds,
on this small design."""

from __future__ import annotations

import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from codesign.arch import link

DIVISOR = 8
HOST_WIDTH = 32
IDENTITY = link.Identity(link.LINK_VERSION, 0, 0xC0DE5161, 64)


def _bridge(divisor: int = DIVISOR):
    from codesign.hw.board.uart_bridge import UARTBridge

    return UARTBridge(divisor, HOST_WIDTH, IDENTITY)


async def send_byte(dut, byte: int) -> None:
    for level in [0, *((byte >> bit) & 1 for bit in range(8)), 1]:
        dut.rx.value = level
        await ClockCycles(dut.clk, DIVISOR)


async def receive_byte(dut) -> int:
    while int(dut.tx.value) != 0:
        await RisingEdge(dut.clk)
    await ClockCycles(dut.clk, DIVISOR // 2)
    assert int(dut.tx.value) == 0, "start bit too short"
    value = 0
    for bit in range(8):
        await ClockCycles(dut.clk, DIVISOR)
        value |= int(dut.tx.value) << bit
    await ClockCycles(dut.clk, DIVISOR)
    assert int(dut.tx.value) == 1, "stop bit missing"
    return value


async def reset(dut) -> None:
    Clock(dut.clk, 10, unit="ns").start()
    dut.rx.value = 1
    dut.commands__ready.value = 1
    dut.responses__valid.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)


@cocotb.test()
async def bytes_to_words_and_back(dut):
    await reset(dut)
    rng = random.Random(3)
    data = [rng.randrange(256) for _ in range(4 * 6)]
    expected_words = [int.from_bytes(bytes(data[i:i + 4]), "little") for i in range(0, len(data), 4)]
    words = []
    received = []

    async def listen():
        while True:
            received.append(await receive_byte(dut))

    listener = cocotb.start_soon(listen())

    async def collect():
        while len(words) < len(expected_words):
            await FallingEdge(dut.clk)
            if int(dut.commands__valid.value) and int(dut.commands__ready.value):
                words.append(int(dut.commands__payload.value))

    collector = cocotb.start_soon(collect())
    for byte in link.encode_frame(link.RESET) + link.encode_frame(link.DATA, bytes(data)):
        await send_byte(dut, byte)
    await ClockCycles(dut.clk, 40 * DIVISOR)
    assert words == expected_words
    collector.cancel()
    assert int(dut.status.value) == 0

    responses = [rng.randrange(1 << HOST_WIDTH) for _ in range(3)]
    for word in responses:
        dut.responses__payload.value = word
        dut.responses__valid.value = 1
        await RisingEdge(dut.clk)
        while not int(dut.responses__ready.value):
            await RisingEdge(dut.clk)
    dut.responses__valid.value = 0
    await ClockCycles(dut.clk, 25 * 10 * DIVISOR)
    listener.cancel()
    frames = link.FrameDecoder().feed(bytes(received))
    assert [f.kind for f in frames] == [link.LINK, link.ANSWER]
    assert all(f.intact for f in frames)
    assert frames[1].payload == b"".join(w.to_bytes(4, "little") for w in responses)


def test_uart_bridge_on_verilator():
    from codesign.flows.verilator import run_cocotb

    result = run_cocotb(_bridge(), "uart_bridge", Path(__file__).stem,
                        Path(__file__).parent)
    assert result.tests == 1 and result.failures == 0


def test_runner_reuses_its_build_and_fails_when_no_test_runs():
    import pytest

    from codesign.flows.verilator import CocotbFailure, build, run_cocotb

    first = build(_bridge(), "uart_bridge")
    modified_before = (first / "uart_bridge").stat().st_mtime_ns
    assert build(_bridge(), "uart_bridge") == first
    assert (first / "uart_bridge").stat().st_mtime_ns == modified_before
    assert build(_bridge(DIVISOR + 1), "uart_bridge") != first
    with pytest.raises(CocotbFailure):
        run_cocotb(_bridge(), "uart_bridge", Path(__file__).stem,
                   Path(__file__).parent, testcase="no_such_test")


def test_profile_guided_build_trains_on_its_workload_and_needs_a_profile():
    import pytest

    from codesign.flows.verilator import (ProfileTraining, VerilatorBuildError, build, run_built,
                                       run_cocotb)

    def exercise(build_dir: Path) -> None:
        run_built(build_dir, "uart_bridge", Path(__file__).stem, Path(__file__).parent)

    training = ProfileTraining("uart-bridge-test", exercise)
    result = run_cocotb(_bridge(), "uart_bridge", Path(__file__).stem,
                        Path(__file__).parent, training=training)
    assert result.passed
    guided = build(_bridge(), "uart_bridge", training=training)
    assert guided != build(_bridge(), "uart_bridge")
    assert any(guided.glob("*.gcda")), "the training run left no profile"
    assert "-fprofile-use" in (guided / "build.log").read_text()
    with pytest.raises(VerilatorBuildError, match="left no profile"):
        build(_bridge(DIVISOR + 2), "uart_bridge",
              training=ProfileTraining("does-nothing", lambda build_dir: None))
