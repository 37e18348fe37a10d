"""``codesign run --target rtl``: the program image on the generated RTL under Verilator.

1. Verilog for the image's HWConfig (``Accelerator``), cached by the config and the sources of
   codesign/hw; the Verilator build is cached by :func:`codesign.hw.verilator.build`.
2. One cocotb run (:mod:`rtl_cocotb`) per call: per sample, the image's WRITE records, then per
   timestep INPUT (the step's input spikes as source-id counts), STEP, READ_OUTPUT and
   READ_COUNTERS, all sent as one bulk command stream through the host interface; at the end
   READ_STATE of every mapped neuron. No simulator back doors.
3. The answers become output spikes ``[T, B, *output_shape]`` (or the read-out voltage of a
   non-spiking output layer), the final state of every population and the measured cycles of
   every timestep.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codesign import arithmetic
from codesign.compiler.program_image import ProgramImage
from codesign.errors import CodesignError
from codesign.hw import host_driver as protocol
from codesign.hw.cache import cache_dir, write_atomically
from codesign.hw.core_layout import CoreLayout, MemorySelect
from codesign.hw.top import AcceleratorSizes

TOPLEVEL = "accelerator"


@dataclass
class RtlResult:
    """``output`` ``[T, B, *output_shape]``; ``final_state[population]`` a NeuronState of
    ``[B, size]`` arrays; ``cycles`` ``[B, T]`` measured ``last_step_cycles``."""

    output: np.ndarray
    final_state: dict[str, arithmetic.NeuronState]
    cycles: np.ndarray
    work_dir: Path
    waves: Path | None = None
    flags: np.ndarray = field(default_factory=lambda: np.zeros(0))


def verilog_path(config) -> Path:
    """Verilog of the Accelerator for ``config`` (cached on the config and codesign/hw)."""
    from amaranth.back import verilog

    from codesign.hw.top import Accelerator

    sources = sorted((Path(__file__).parents[2] / "hw").glob("*.py"))
    sources.append(Path(__file__).parents[2] / "arithmetic.py")
    digest = hashlib.sha256(config.to_yaml().encode())
    for source in sources:
        digest.update(source.read_bytes())
    path = cache_dir("rtl-verilog") / f"{digest.hexdigest()[:32]}.v"
    if not path.is_file():
        write_atomically(path, verilog.convert(Accelerator(config), name=TOPLEVEL))
    return path


def _segments(image: ProgramImage):
    """``name -> [(core, local_first, start, size, base_id)]`` from the manifest."""
    return {p["name"]: p["segments"] for p in image.manifest["populations"]}


def run_rtl(image: ProgramImage, counts: np.ndarray, waves: bool = False,
            work_dir: Path | None = None) -> RtlResult:
    """Run ``image`` on ``counts`` ``[T, B, input_size]`` (integer spike counts)."""
    from codesign.hw.verilator import run_cocotb

    config, manifest = image.config, image.manifest
    steps, batch = counts.shape[:2]
    counts = counts.reshape(steps, batch, -1)
    layout = CoreLayout.from_config(config)
    sizes = AcceleratorSizes.from_config(config)
    input_ids = np.zeros(counts.shape[2], dtype=np.int64)
    for start, stop, base in manifest["input"]["chunks"]:
        input_ids[start:stop] = base + np.arange(stop - start)
    segments = _segments(image)
    state_bits = layout.words[MemorySelect.STATE].width
    final_reads = [(core, local, size) for entries in segments.values()
                   for core, _, _, local, size, _ in entries]
    output_name = manifest["output"]["name"]
    output_entry = next(p for p in manifest["populations"] if p["name"] == output_name)
    readout = [] if output_entry["spiking"] else \
        [(core, local, size) for core, _, _, local, size, _ in segments[output_name]]
    job = {"image": image.fields.astype(np.uint32)}
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
        job[f"input_fields_{sample}"] = np.asarray(fields, dtype=np.uint32)
        job[f"input_offsets_{sample}"] = np.asarray(offsets, dtype=np.int64)
    job["plan"] = np.array(json.dumps({
        "host_width": config.host_width, "samples": batch, "steps": steps,
        "state_bits": state_bits, "state_memory": int(MemorySelect.STATE),
        "final_state": final_reads, "readout": readout}))
    if work_dir is None:
        runs = cache_dir("verilator") / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        work_dir = Path(tempfile.mkdtemp(prefix="rtl-run-", dir=runs))
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    np.savez(work_dir / "job.npz", **job)
    result_path = work_dir / "result.json"
    run = run_cocotb(verilog_path(config), toplevel=TOPLEVEL, test_module="rtl_cocotb",
                     test_dir=Path(__file__).parent, waves="fst" if waves else False,
                     work_dir=work_dir / "sim",
                     extra_env={"CODESIGN_RTL_JOB": str(work_dir / "job.npz"),
                                "CODESIGN_RTL_RESULT": str(result_path)})
    answers = json.loads(result_path.read_text())
    return _decode(image, answers, steps, batch, state_bits, readout, final_reads, work_dir,
                   run.waves)


def _decode(image: ProgramImage, answers: dict, steps: int, batch: int, state_bits: int,
            readout, final_reads, work_dir: Path, waves: Path | None) -> RtlResult:
    manifest = image.manifest
    layout = CoreLayout.from_config(image.config)
    state_fields = layout.words[MemorySelect.STATE]
    segments = _segments(image)
    output_name = manifest["output"]["name"]
    output_entry = next(p for p in manifest["populations"] if p["name"] == output_name)
    output_size = int(np.prod(output_entry["shape"]))
    neuron_of_id = {}
    for _, _, start, _, size, base in segments[output_name]:
        for offset in range(size):
            neuron_of_id[base + offset] = start + offset
    output = np.zeros((steps, batch, output_size))
    final_state = {}
    for sample in range(batch):
        if output_entry["spiking"]:
            for step, source in answers["events"][sample]:
                output[step, sample, neuron_of_id[source]] += 1
        else:
            reads = answers["readout"][sample]
            per_step = len(readout)
            for step in range(steps):
                for (core, local, size), words, (_, _, start, _, _, _) in zip(
                        readout, reads[step * per_step:(step + 1) * per_step],
                        segments[output_name]):
                    voltage = [state_fields.unpack(word)["voltage"] for word in words]
                    output[step, sample, start:start + size] = \
                        np.asarray(voltage) * output_entry["voltage_scale"]
        words_of = iter(answers["state"][sample])
        states = {}
        for name, entries in segments.items():
            for _, _, start, _, size, _ in entries:
                for offset, word in enumerate(next(words_of)):
                    states[(name, start + offset)] = state_fields.unpack(word)
        for entry in manifest["populations"]:
            size = int(np.prod(entry["shape"]))
            state = final_state.setdefault(entry["name"], arithmetic.NeuronState(
                *(np.zeros((batch, size), dtype=np.int64) for _ in range(3))))
            for index in range(size):
                values = states[(entry["name"], index)]
                state.voltage[sample, index] = values["voltage"]
                state.current[sample, index] = values["current"]
                state.adaptation[sample, index] = values["adaptation"]
    output = output.reshape(steps, batch, *manifest["output"]["shape"])
    if not output_entry["spiking"]:
        output = output.astype(np.float64)
    return RtlResult(output=output, final_state=final_state,
                     cycles=np.asarray(answers["cycles"], dtype=np.int64), work_dir=work_dir,
                     waves=waves, flags=np.asarray(answers["flags"], dtype=np.int64))
