"""UART bridge in Amaranth's simulator: 8N1 framing, little-endian word packing, back-pressure,
overrun and framing errors. The serial waveforms are written out bit by bit here (start bit 0,
data LSB first, stop bit 1), independently of the bridge."""

from __future__ import annotations

import pytest
from amaranth.sim import Simulator

from codesign.errors import CodesignError
from codesign.hw.board.uart_bridge import UARTBridge

DIVISOR = 5


def serial_bits(byte: int, stop: int = 1) -> list[int]:
    return [0, *((byte >> bit) & 1 for bit in range(8)), stop]


async def send_byte(ctx, bridge: UARTBridge, byte: int, stop: int = 1) -> None:
    for level in serial_bits(byte, stop):
        ctx.set(bridge.rx, level)
        await ctx.tick().repeat(DIVISOR)
    ctx.set(bridge.rx, 1)


async def receive_byte(ctx, bridge: UARTBridge, timeout: int = 2000) -> int:
    """Wait for a start bit on tx, then sample each bit in its middle."""
    for _ in range(timeout):
        if ctx.get(bridge.tx) == 0:
            break
        await ctx.tick()
    else:
        raise AssertionError("no start bit on tx")
    await ctx.tick().repeat(DIVISOR // 2)
    assert ctx.get(bridge.tx) == 0, "start bit too short"
    value = 0
    for bit in range(8):
        await ctx.tick().repeat(DIVISOR)
        value |= ctx.get(bridge.tx) << bit
    await ctx.tick().repeat(DIVISOR)
    assert ctx.get(bridge.tx) == 1, "stop bit missing"
    return value


def run(bridge: UARTBridge, *testbenches) -> None:
    simulator = Simulator(bridge)
    simulator.add_clock(1e-6)
    for testbench in testbenches:
        simulator.add_testbench(testbench)
    simulator.run()


@pytest.mark.parametrize("host_width", [8, 16, 32])
def test_receive_packs_bytes_little_endian(host_width: int):
    bridge = UARTBridge(DIVISOR, host_width)
    data = [0x00, 0xFF, 0xA5, 0x3C, 0x81, 0x7E, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC]
    words_per = host_width // 8
    expected = [int.from_bytes(bytes(data[i:i + words_per]), "little")
                for i in range(0, len(data), words_per)]
    received = []

    async def sender(ctx):
        await ctx.tick().repeat(3)
        for byte in data:
            await send_byte(ctx, bridge, byte)
        await ctx.tick().repeat(3 * DIVISOR)
        assert ctx.get(bridge.overrun) == 0 and ctx.get(bridge.framing_error) == 0

    async def collector(ctx):
        ctx.set(bridge.commands.ready, 1)
        while len(received) < len(expected):
            await ctx.tick()
            if ctx.get(bridge.commands.valid):
                received.append(ctx.get(bridge.commands.payload))

    run(bridge, sender, collector)
    assert received == expected


@pytest.mark.parametrize("host_width", [8, 32])
def test_transmit_sends_words_lsb_first(host_width: int):
    bridge = UARTBridge(DIVISOR, host_width)
    words = [0xDEADBEEF & ((1 << host_width) - 1), 0x01234567 & ((1 << host_width) - 1), 0]
    expected = [byte for word in words for byte in word.to_bytes(host_width // 8, "little")]
    received = []

    async def producer(ctx):
        for word in words:
            ctx.set(bridge.responses.payload, word)
            ctx.set(bridge.responses.valid, 1)
            await ctx.tick().until(bridge.responses.ready)
        ctx.set(bridge.responses.valid, 0)

    async def listener(ctx):
        while len(received) < len(expected):
            received.append(await receive_byte(ctx, bridge))

    run(bridge, producer, listener)
    assert received == expected


def test_held_word_waits_for_ready_then_overrun_is_flagged():
    bridge = UARTBridge(DIVISOR, 8)

    async def testbench(ctx):
        ctx.set(bridge.commands.ready, 0)
        await send_byte(ctx, bridge, 0x11)
        await ctx.tick().repeat(DIVISOR)
        assert ctx.get(bridge.commands.valid) == 1
        assert ctx.get(bridge.commands.payload) == 0x11
        assert ctx.get(bridge.overrun) == 0
        await send_byte(ctx, bridge, 0x22)     # nobody took 0x11: 0x22 is lost
        await ctx.tick().repeat(DIVISOR)
        assert ctx.get(bridge.overrun) == 1
        assert ctx.get(bridge.commands.payload) == 0x11
        ctx.set(bridge.commands.ready, 1)
        await ctx.tick()
        assert ctx.get(bridge.commands.valid) == 0

    run(bridge, testbench)


def test_bad_stop_bit_is_a_framing_error_and_the_byte_is_dropped():
    bridge = UARTBridge(DIVISOR, 8)

    async def testbench(ctx):
        ctx.set(bridge.commands.ready, 1)
        await send_byte(ctx, bridge, 0x55, stop=0)
        await ctx.tick().repeat(2 * DIVISOR)
        assert ctx.get(bridge.framing_error) == 1
        assert ctx.get(bridge.commands.valid) == 0

    run(bridge, testbench)


@pytest.mark.parametrize("arguments", [(3, 8), (16, 12)])
def test_bad_parameters_raise_codesign_error(arguments):
    with pytest.raises(CodesignError):
        UARTBridge(*arguments)
