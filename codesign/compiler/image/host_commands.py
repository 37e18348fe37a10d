"""Running a program image through the host protocol: the commands of a sample and the decoding
of their answers, for every target that talks to the accelerator (``--target rtl``: cocotb
driving the Verilator model's host streams; ``--target board``: the serial link).

Per sample: INPUT (the step's input spikes as source-id counts), STEP, READ_OUTPUT and
READ_COUNTERS every timestep (and READ_STATE of the read-out neurons when the output layer does
not spike), then READ_STATE of every mapped neuron. :class:`AnswerReader` splits the response
fields into the answers of the commands that have one; :func:`decode_sample` turns them into
events, cycles, flags and states; :func:`decode_run` into output arrays.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from codesign import arithmetic
from codesign.arch import protocol
from codesign.arch.layout import AcceleratorSizes, CoreLayout, MemorySelect
from codesign.compiler.image.program_image import ProgramImage
from codesign.errors import CodesignError

#: ``Command.answer`` of READ_OUTPUT: fields up to and including the end marker.
UNTIL_END_MARKER = -1


@dataclass(frozen=True)
class Command:
    """Command fields and the length of their answer (0: none; ``UNTIL_END_MARKER``)."""

    fields: list[int]
    answer: int = 0


def segments(image: ProgramImage) -> dict:
    """``name -> [(core, local_first, start, size, base_id)]`` from the manifest."""
    return {p["name"]: p["segments"] for p in image.manifest["populations"]}


def load_commands(image: ProgramImage) -> list[Command]:
    """The image's WRITE records, one command each."""
    fields = image.fields.tolist()
    commands, position = [], 0
    while position < len(fields):
        end = position + 3 + fields[position + 2] * (fields[position] & 0xFF)
        commands.append(Command(fields[position:end]))
        position = end
    return commands


def restart_fields(image: ProgramImage) -> list[int]:
    """The image's record of the sequencer registers (phase count, timestep 0, slot 0, clear:
    docs/program-format.md): sent again, it starts the loaded program afresh (the neuron
    states and accumulators cleared, the timestep at 0) without reloading the rest."""
    for command in load_commands(image):
        head = command.fields[0]
        if (head >> 16) & 0xFF == protocol.SEQUENCER_UNIT \
                and (head >> 8) & 0xFF == protocol.SEQUENCER_REGISTERS:
            return command.fields
    raise CodesignError("the program image has no sequencer registers record",
                        "recompile the program with this codesign version")


def sample_inputs(image: ProgramImage, counts: np.ndarray) -> list[tuple[list[int], list[int]]]:
    """Per sample of ``counts`` ``[T, B, input_size]``: the INPUT fields of all its steps and
    the offset where each step's fields start (``T + 1`` offsets)."""
    manifest = image.manifest
    steps, batch = counts.shape[:2]
    counts = counts.reshape(steps, batch, -1)
    sizes = AcceleratorSizes.from_config(image.config)
    input_ids = np.zeros(counts.shape[2], dtype=np.int64)
    for start, stop, base in manifest["input"]["chunks"]:
        input_ids[start:stop] = base + np.arange(stop - start)
    result = []
    for sample in range(batch):
        fields, offsets = [], [0]
        for step in range(steps):
            active = np.flatnonzero(counts[step, sample])
            if active.size > sizes.input_buffer_depth:
                raise CodesignError(
                    f"step {step} has {active.size} distinct input sources, more than the "
                    f"{sizes.input_buffer_depth}-entry input buffer",
                    "use an HWConfig with a larger source_table_depth")
            if active.size:
                fields += protocol.encode_input({int(input_ids[i]): int(counts[step, sample, i])
                                                 for i in active})
            offsets.append(len(fields))
        result.append((fields, offsets))
    return result


def readback_plan(image: ProgramImage, steps: int, batch: int) -> dict:
    """What a run of ``steps`` x ``batch`` reads back (JSON-ready: the RTL job file holds it)."""
    config, manifest = image.config, image.manifest
    entries = segments(image)
    output_name = manifest["output"]["name"]
    output_entry = next(p for p in manifest["populations"] if p["name"] == output_name)
    return {"host_width": config.host_width, "samples": batch, "steps": steps,
            "state_bits": CoreLayout.from_config(config).words[MemorySelect.STATE].width,
            "state_memory": int(MemorySelect.STATE),
            "final_state": [(core, local, size) for parts in entries.values()
                            for core, _, _, local, size, _ in parts],
            "readout": [] if output_entry["spiking"] else
            [(core, local, size) for core, _, _, local, size, _ in entries[output_name]]}


def sample_commands(plan: dict, input_fields: Sequence[int], offsets: Sequence[int]
                    ) -> list[Command]:
    """The commands of one sample after its program is loaded (see the module docstring)."""
    per_word = protocol.fields_per_word(plan["state_bits"])

    def read_state(core: int, first: int, count: int) -> Command:
        return Command(protocol.encode_read_state(core, first, count, plan["state_bits"],
                                                  plan["state_memory"]), count * per_word)

    commands = []
    for step in range(plan["steps"]):
        if offsets[step + 1] > offsets[step]:
            commands.append(Command(list(input_fields[offsets[step]:offsets[step + 1]])))
        commands += [Command(protocol.encode_step(1), 1),
                     Command(protocol.encode_read_output(), UNTIL_END_MARKER),
                     Command(protocol.encode_read_counters(), len(protocol.COUNTER_NAMES))]
        commands += [read_state(*entry) for entry in plan["readout"]]
    commands += [read_state(*entry) for entry in plan["final_state"]]
    return commands


class AnswerReader:
    """Splits response fields into the answers of ``commands`` (those that have one), in order.
    ``need()`` is how many fields to read next (0 once every answer is in)."""

    def __init__(self, commands: Sequence[Command]):
        self._lengths = deque(command.answer for command in commands if command.answer)
        self._current: list[int] = []
        self.answers: list[list[int]] = []

    def need(self) -> int:
        if not self._lengths:
            return 0
        length = self._lengths[0]
        return 1 if length == UNTIL_END_MARKER else length - len(self._current)

    def feed(self, fields: Sequence[int]) -> int:
        """Take response fields; returns how many answers they completed."""
        completed = 0
        for field in fields:
            if not self._lengths:
                raise CodesignError(f"the accelerator sent field 0x{field:08x} that no command "
                                    "asked for", "reset the accelerator (reload its bitstream)")
            self._current.append(int(field))
            length = self._lengths[0]
            done = (field & protocol.END_MARKER) if length == UNTIL_END_MARKER \
                else len(self._current) == length
            if done:
                self.answers.append(self._current)
                self._current = []
                self._lengths.popleft()
                completed += 1
        return completed


def decode_sample(answers: Sequence[Sequence[int]], plan: dict) -> dict:
    """The answers of one sample's commands -> ``events`` (step, source id), ``cycles`` and
    ``flags`` per step, ``readout`` and ``state`` words per read."""
    answers = iter(answers)
    result = {"events": [], "cycles": [], "flags": [], "state": [], "readout": []}
    for step in range(plan["steps"]):
        status = protocol.decode_step(next(answers))
        output = protocol.decode_output(next(answers))
        result["flags"].append(status.flags
                               | (protocol.FLAG_OUTPUT_OVERFLOW if output.overflow else 0))
        result["events"] += [(step, source) for _, source in output.events]
        result["cycles"].append(protocol.decode_counters(next(answers))["last_step_cycles"])
        for _ in plan["readout"]:
            result["readout"].append(protocol.decode_words(next(answers), plan["state_bits"]))
    for _ in plan["final_state"]:
        result["state"].append(protocol.decode_words(next(answers), plan["state_bits"]))
    return result


@dataclass
class RunAnswers:
    """``output`` ``[T, B, *output_shape]``; ``final_state[population]`` a NeuronState of
    ``[B, size]`` arrays; ``cycles`` ``[B, T]`` measured ``last_step_cycles``; ``flags``
    ``[B, T]`` STEP flags."""

    output: np.ndarray
    final_state: dict[str, arithmetic.NeuronState]
    cycles: np.ndarray
    flags: np.ndarray


def decode_run(image: ProgramImage, samples: Sequence[dict], plan: dict) -> RunAnswers:
    """Every sample's :func:`decode_sample` -> arrays."""
    manifest = image.manifest
    steps, batch, readout = plan["steps"], plan["samples"], plan["readout"]
    state_fields = CoreLayout.from_config(image.config).words[MemorySelect.STATE]
    entries = segments(image)
    output_name = manifest["output"]["name"]
    output_entry = next(p for p in manifest["populations"] if p["name"] == output_name)
    neuron_of_id = {}
    for _, _, start, _, size, base in entries[output_name]:
        for offset in range(size):
            neuron_of_id[base + offset] = start + offset
    output = np.zeros((steps, batch, int(np.prod(output_entry["shape"]))))
    final_state = {entry["name"]: arithmetic.NeuronState(
        *(np.zeros((batch, int(np.prod(entry["shape"]))), dtype=np.int64) for _ in range(3)))
        for entry in manifest["populations"]}
    for sample, answer in enumerate(samples):
        if output_entry["spiking"]:
            for step, source in answer["events"]:
                output[step, sample, neuron_of_id[source]] += 1
        else:
            for step in range(steps):
                reads = answer["readout"][step * len(readout):(step + 1) * len(readout)]
                for words, (_, _, start, _, size, _) in zip(reads, entries[output_name]):
                    voltage = [state_fields.unpack(word)["voltage"] for word in words]
                    output[step, sample, start:start + size] = \
                        np.asarray(voltage) * output_entry["voltage_scale"]
        words_of = iter(answer["state"])
        for name, parts in entries.items():
            state = final_state[name]
            for _, _, start, _, size, _ in parts:
                for offset, word in enumerate(next(words_of)):
                    values = state_fields.unpack(word)
                    state.voltage[sample, start + offset] = values["voltage"]
                    state.current[sample, start + offset] = values["current"]
                    state.adaptation[sample, start + offset] = values["adaptation"]
    return RunAnswers(output=output.reshape(steps, batch, *manifest["output"]["shape"]),
                      final_state=final_state,
                      cycles=np.asarray([a["cycles"] for a in samples], dtype=np.int64),
                      flags=np.asarray([a["flags"] for a in samples], dtype=np.int64))
