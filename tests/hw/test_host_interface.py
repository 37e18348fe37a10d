"""HostInterface in Amaranth's simulator, driven with words encoded by host_driver: WRITE
packing, INPUT playback, STEP, READ_OUTPUT, READ_STATE and READ_COUNTERS for every host width,
with random stalls on both streams."""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from codesign.arch import protocol as hd
from codesign.errors import CodesignError
from codesign.hw.rtl.host_interface import HostInterface

WORD_BITS = 70             # wider than two fields: three fields per word
READ_BITS = 48
COUNTERS = [1234, 0xDEADBEEF, 77, 88, 5]


def read_pattern(address: int) -> int:
    return (0xABCD_0000_0000 | address * 0x1_0001) & ((1 << READ_BITS) - 1)


def run_session(host_width: int, commands: list[int], response_fields: int, seed: int,
                outputs_per_step: list[list[int]], output_depth: int = 16):
    dut = HostInterface(host_width=host_width, write_data_bits=WORD_BITS,
                        read_data_bits=READ_BITS, input_buffer_depth=8,
                        output_buffer_depth=output_depth)
    rng = random.Random(seed)
    words = hd.to_words(commands, host_width)
    wanted_words = response_fields * (32 // host_width)
    log = {"writes": [], "responses": [], "inputs": [], "steps": 0}

    async def host(ctx):
        for index, counter in enumerate(COUNTERS):
            ctx.set(dut.counters[index], counter)
        position = 0
        offering = False
        while len(log["responses"]) < wanted_words:
            if not offering and position < len(words) and rng.random() < 0.6:
                offering = True
            ctx.set(dut.command.valid, offering)
            ctx.set(dut.command.payload, words[position] if offering else 0)
            ctx.set(dut.response.ready, rng.random() < 0.5)
            _, _, command_ready, response_valid, response_ready, payload = \
                await ctx.tick().sample(dut.command.ready, dut.response.valid,
                                        dut.response.ready, dut.response.payload)
            if offering and command_ready:
                position += 1
                offering = False
            if response_valid and response_ready:
                log["responses"].append(payload)
        for _ in range(20):
            _, _, response_valid = await ctx.tick().sample(dut.response.valid)
            assert not response_valid, "more response words than the protocol defines"

    async def program_monitor(ctx):
        async for _, _, enable, unit, memory, address, data in ctx.tick().sample(
                dut.program.enable, dut.program.unit, dut.program.memory, dut.program.address,
                dut.program.data):
            if enable:
                log["writes"].append((unit, memory, address, data))

    async def read_responder(ctx):
        while True:
            _, _, enable, address = await ctx.tick().sample(dut.read.enable, dut.read.address)
            if enable:
                await ctx.tick().repeat(1 + rng.randrange(3))
                ctx.set(dut.read.data, read_pattern(address))
                ctx.set(dut.read.valid, 1)
                await ctx.tick()
                ctx.set(dut.read.valid, 0)

    async def sequencer_model(ctx):
        """Acts as the sequencer: play the inputs, emit the step's output events, finish."""
        while True:
            _, _, start = await ctx.tick().sample(dut.step_start)
            if not start:
                continue
            ctx.set(dut.input_play, 1)
            await ctx.tick()
            ctx.set(dut.input_play, 0)
            await ctx.tick()
            played = []
            while True:
                ctx.set(dut.input_events.ready, rng.random() < 0.5)
                _, _, valid, ready, payload, busy = await ctx.tick().sample(
                    dut.input_events.valid, dut.input_events.ready, dut.input_events.payload,
                    dut.input_busy)
                if valid and ready:
                    played.append(payload)
                if not busy:
                    break
            log["inputs"].append(played)
            events = outputs_per_step[log["steps"]] if log["steps"] < len(outputs_per_step) \
                else []
            for event in events:
                ctx.set(dut.output_events.valid, 1)
                ctx.set(dut.output_events.payload, event)
                await ctx.tick()
            ctx.set(dut.output_events.valid, 0)
            ctx.set(dut.step_done, 1)
            await ctx.tick()
            ctx.set(dut.step_done, 0)
            log["steps"] += 1

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(host)
    simulator.add_testbench(program_monitor, background=True)
    simulator.add_testbench(read_responder, background=True)
    simulator.add_testbench(sequencer_model, background=True)
    simulator.run()
    log["fields"] = hd.from_words(log["responses"], host_width)
    return log


@pytest.mark.parametrize("host_width", [8, 16, 32])
def test_full_session(host_width):
    data = [(1 << 69) | 5, 0x3_FFFF_FFFF_FFFF_FFFF, 12345678901234567890]
    commands = (hd.encode_write(hd.core_unit(3), 2, 100, data, WORD_BITS)
                + hd.encode_write(hd.ROUTER_UNIT, 0, 7, [0xFFFF_FFFF, 9], 32)
                + hd.encode_write(hd.SEQUENCER_UNIT, 0, 0, [], 8)   # empty write: no pulse
                + hd.encode_input([40, 41, 40, 7, 40])
                + hd.encode_input({9: 0, 11: 2})
                + hd.encode_step(2)
                + hd.encode_read_output()
                + hd.encode_read_state(1, 20, 3, READ_BITS)
                + hd.encode_read_counters()
                + hd.encode_step(1)
                + hd.encode_read_output())
    response_fields = 1 + (4 + 1) + 3 * 2 + len(COUNTERS) + 1 + 1
    log = run_session(host_width, commands, response_fields, seed=host_width,
                      outputs_per_step=[[3, 4], [4, 65535]])

    assert log["writes"] == [(3, 2, 100, data[0]), (3, 2, 101, data[1]), (3, 2, 102, data[2]),
                             (0x80, 0, 7, 0xFFFF_FFFF), (0x80, 0, 8, 9)]
    # Inputs play once, in the first step (merged per id: 40 x3, 41, 7; 9 x0 skipped; 11 x2).
    assert sorted(log["inputs"][0]) == sorted([40, 40, 40, 41, 7, 11, 11])
    assert log["inputs"][1] == []

    fields = log["fields"]
    status = hd.decode_step(fields[:1])
    assert (status.steps, status.flags) == (2, 0)
    output = hd.decode_output(fields[1:])
    assert output.events == [(0, 3), (0, 4), (1, 4), (1, 65535)]
    assert not output.overflow
    rest = fields[1 + output.fields_used:]
    assert hd.decode_words(rest[:6], READ_BITS) == [read_pattern(20), read_pattern(21),
                                                   read_pattern(22)]
    assert hd.decode_counters(rest[6:11]) == dict(zip(hd.COUNTER_NAMES, COUNTERS))
    assert hd.decode_step(rest[11:12]).steps == 1
    # The output buffer was emptied by the first READ_OUTPUT.
    assert hd.decode_output(rest[12:]).events == []


def test_overflow_and_unknown_opcode_flags():
    commands = (hd.encode_input(range(10))        # 10 entries into an 8-entry buffer
                + [0x7F << 24]                     # unknown opcode: skipped, flagged
                + hd.encode_step(1)
                + hd.encode_read_output()
                + hd.encode_step(1))
    log = run_session(32, commands, 1 + 3 + 1, seed=3, outputs_per_step=[[1, 2, 3, 4]],
                      output_depth=2)
    fields = log["fields"]
    status = hd.decode_step(fields[:1])
    assert status.flags == (hd.FLAG_INPUT_OVERFLOW | hd.FLAG_OUTPUT_OVERFLOW
                            | hd.FLAG_UNKNOWN_OPCODE)
    output = hd.decode_output(fields[1:])
    assert output.events == [(0, 1), (0, 2)] and output.overflow
    assert sorted(log["inputs"][0]) == list(range(8))
    assert hd.decode_step(fields[4:]).flags == 0          # flags are cleared once reported


def test_driver_packing_round_trips():
    value = -123456789012345
    assert hd.join_word(hd.split_word(value, 70), 70, signed=True) == value
    assert hd.to_words([0x11223344], 8) == [0x44, 0x33, 0x22, 0x11]
    assert hd.from_words([0x3344, 0x1122], 16) == [0x11223344]
    assert hd.encode_input({5: 70000}) == [(hd.INPUT << 24) | 2, 0xFFFF_0005,
                                           (70000 - 0xFFFF) << 16 | 5]
    with pytest.raises(CodesignError):
        hd.encode_input([1 << 16])
    with pytest.raises(CodesignError):
        hd.to_words([1], 12)
    with pytest.raises(CodesignError):
        hd.decode_output([0, 1])                          # no end marker


@pytest.mark.parametrize("host_width", [8, 32])
def test_commands_stream_at_one_word_per_cycle(host_width):
    """While the decoder takes fields, ``command.ready`` never falls (one field per cycle on a
    32-bit stream): WRITE, INPUT and the next header back to back."""
    dut = HostInterface(host_width=host_width, write_data_bits=WORD_BITS,
                        read_data_bits=READ_BITS, input_buffer_depth=8, output_buffer_depth=4)
    commands = (hd.encode_write(hd.core_unit(0), 1, 5, [1, 2, 3, 4], 32)
                + hd.encode_write(hd.core_unit(1), 2, 9, [7 << 64, 8], WORD_BITS)
                + hd.encode_input([1, 2, 3]))
    words = hd.to_words(commands, host_width)
    writes = []

    async def host(ctx):
        ctx.set(dut.command.valid, 1)
        for word in words:
            ctx.set(dut.command.payload, word)
            _, _, ready, enable, address, data = await ctx.tick().sample(
                dut.command.ready, dut.program.enable, dut.program.address, dut.program.data)
            assert ready, "the decoder stalled the command stream"
            if enable:
                writes.append((address, data))
        ctx.set(dut.command.valid, 0)
        for _ in range(4):
            _, _, enable, address, data = await ctx.tick().sample(
                dut.program.enable, dut.program.address, dut.program.data)
            if enable:
                writes.append((address, data))

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(host)
    simulator.run()
    assert writes == [(5, 1), (6, 2), (7, 3), (8, 4), (9, 7 << 64), (10, 8)]
