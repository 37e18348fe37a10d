"""UART receiver and transmitter in Amaranth's simulator, at whole and fractional bit periods,
against a serial line written and read from exact bit times (tests/hw/serial_line.py)."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from amaranth.sim import Simulator
from serial_line import decode_levels, line_levels

from codesign.errors import CodesignError
from codesign.hw.board.uart_receiver import MAX_FRAME_DRIFT, BitTiming, UARTReceiver
from codesign.hw.board.uart_transmitter import UARTTransmitter

#: Whole and fractional periods: the simulation's 4, 25 MHz / 3 Mbaud, 12 MHz / 115200.
PERIODS = [Fraction(4), Fraction(25_000_000, 3_000_000), Fraction(12_000_000, 115_200)]


def receive(levels: list[int], cycles_per_bit: Fraction) -> tuple[list[int], int]:
    """Bytes the receiver delivers from ``levels``, and how many framing errors it flagged."""
    receiver = UARTReceiver(cycles_per_bit)
    found, errors = [], []

    async def testbench(ctx):
        for level in levels:
            ctx.set(receiver.rx, level)
            await ctx.tick()
            if ctx.get(receiver.data.valid):
                found.append(ctx.get(receiver.data.payload))
            errors.append(ctx.get(receiver.framing_error))

    simulator = Simulator(receiver)
    simulator.add_clock(1e-6)
    simulator.add_testbench(testbench)
    simulator.run()
    return found, sum(errors)


def transmit(data: bytes, cycles_per_bit: Fraction) -> list[int]:
    """The ``tx`` level in every cycle while the transmitter sends ``data`` back to back."""
    transmitter = UARTTransmitter(cycles_per_bit)
    levels = []

    async def testbench(ctx):
        pending = list(data)
        budget = int((len(data) + 2) * 11 * cycles_per_bit)
        for _ in range(budget):
            if pending:
                ctx.set(transmitter.data.payload, pending[0])
                ctx.set(transmitter.data.valid, 1)
            else:
                ctx.set(transmitter.data.valid, 0)
            ready = ctx.get(transmitter.data.ready)
            await ctx.tick()
            levels.append(ctx.get(transmitter.tx))
            if pending and ready:
                pending.pop(0)

    simulator = Simulator(transmitter)
    simulator.add_clock(1e-6)
    simulator.add_testbench(testbench)
    simulator.run()
    return levels


@pytest.mark.parametrize("period", PERIODS, ids=str)
def test_receiver_decodes_back_to_back_bytes(period: Fraction):
    rng = random.Random(int(period * 3))
    data = bytes([0x00, 0xFF, 0x55, 0xAA] + [rng.randrange(256) for _ in range(4)])
    found, errors = receive(line_levels(data, period), period)
    assert bytes(found) == data and errors == 0


@pytest.mark.parametrize("error", [-0.025, 0.025])
def test_receiver_tolerates_a_sender_off_by_two_and_a_half_percent(error: float):
    """The host's UART runs at its own clock: 25 MHz / 3 Mbaud received from a sender whose bit
    lasts 2.5 % more or less."""
    period = PERIODS[1]
    data = bytes([0x00, 0xFF, 0x0F, 0xF0, 0x5A])
    found, errors = receive(line_levels(data, period * Fraction(1 + error)), period)
    assert bytes(found) == data and errors == 0


def test_missing_stop_bit_is_a_framing_error_and_the_byte_is_dropped():
    found, errors = receive(line_levels(b"\x55", Fraction(5), stop=0, idle=12), Fraction(5))
    assert found == [] and errors == 1


@pytest.mark.parametrize("period", PERIODS, ids=str)
def test_transmitter_bits_keep_exact_time(period: Fraction):
    """Every edge within a byte lies within a cycle (plus the drift the quantised period is
    allowed over a frame, ``MAX_FRAME_DRIFT`` of a bit) of its exact time."""
    data = bytes([0x55, 0xAA, 0x00, 0xFF, 0x3C])
    levels = transmit(data, period)
    starts = []
    assert bytes(decode_levels(levels, period, starts)) == data
    for start in starts:
        end = int(start + 10 * period)
        for cycle in range(start + 1, min(end, len(levels))):
            if levels[cycle] != levels[cycle - 1]:
                bit_time = (cycle - start) / period
                assert abs(bit_time - round(bit_time)) * period <= 1 + MAX_FRAME_DRIFT * period, \
                    (start, cycle)


def test_bit_timing_keeps_whole_periods_whole_and_refuses_fast_rates():
    assert BitTiming.from_cycles(217) == BitTiming(217, 0)
    timing = BitTiming.from_cycles(Fraction(25, 3))
    assert timing.fraction_bits > 0
    assert abs(timing.cycles - Fraction(25, 3)) * 10 <= Fraction(25, 3) * Fraction(2, 100)
    with pytest.raises(CodesignError, match="below 4"):
        BitTiming.from_cycles(3.5)
