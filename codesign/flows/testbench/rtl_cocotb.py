"""cocotb side of ``codesign run --target rtl`` (run by :mod:`codesign.flows.rtl_target`,
never imported by it).

Reads the job (``CODESIGN_RTL_JOB``: an .npz with, per program, the program image file, the
per-step INPUT commands and what to read back), drives the Accelerator only through its host
streams, and writes the answers to ``CODESIGN_RTL_RESULT``. Like a board's host driver, it
validates every image (magic, version, length, checksums: ``program_image.parse_image``) before
it sends any record; a refused image is reported as ``{"rejected": message}``. Every sample
starts with the image load (which clears the neuron state and the timestep), and all its
commands are sent as one bulk stream while the answers are collected concurrently, so Python
never paces the design.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np

from codesign.compiler.image import host_commands, program_image
from codesign.compiler.image.host_commands import AnswerReader, Command
from codesign.errors import CodesignError
from codesign.flows.testbench.host_stream import HostStream


def _image_fields(job, index: int) -> list[int]:
    """The WRITE fields of program ``index``'s image, after checking the image."""
    image = program_image.parse_image(job[f"p{index}_image"].tobytes(), f"p{index}")
    return image.fields.tolist()


async def _run_sample(host: HostStream, job, image_fields: list[int], key: str, sample: int,
                      plan: dict) -> dict:
    commands = [Command(image_fields)] + host_commands.sample_commands(
        plan, job[f"{key}_inputs_{sample}"].tolist(), job[f"{key}_offsets_{sample}"])
    sender = cocotb.start_soon(host.send([f for command in commands for f in command.fields]))
    reader = AnswerReader(commands)
    while wanted := reader.need():
        reader.feed(await host.receive(wanted))
    await sender
    return host_commands.decode_sample(reader.answers, plan)


@cocotb.test()
async def run_programs(dut):
    job = np.load(os.environ["CODESIGN_RTL_JOB"])
    plans = json.loads(str(job["plans"]))
    try:
        images = [_image_fields(job, index) for index in range(len(plans))]
    except CodesignError as error:
        with open(os.environ["CODESIGN_RTL_RESULT"], "w") as handle:
            json.dump({"rejected": f"the RTL host driver refused a program: {error}"}, handle)
        return
    host = HostStream(dut, plans[0]["host_width"])
    await host.start(clock=False)  # the model makes its clock
    results = []
    for index, (plan, fields) in enumerate(zip(plans, images)):
        results.append([await _run_sample(host, job, fields, f"p{index}", sample, plan)
                        for sample in range(plan["samples"])])
    with open(os.environ["CODESIGN_RTL_RESULT"], "w") as handle:
        json.dump(results, handle)


@cocotb.test(skip="CODESIGN_RTL_FREE_RUN" not in os.environ)
async def free_run_speed(dut):
    """Load the first program, then one STEP of ``CODESIGN_RTL_FREE_RUN`` timesteps with no host
    traffic: the simulator's own speed in accelerator cycles per wall-clock second."""
    import time

    job = np.load(os.environ["CODESIGN_RTL_JOB"])
    plans = json.loads(str(job["plans"]))
    host = HostStream(dut, plans[0]["host_width"])
    await host.start(clock=False)  # the model makes its clock
    await host.send(_image_fields(job, 0))
    steps = int(os.environ["CODESIGN_RTL_FREE_RUN"])
    start, cpu_start = time.perf_counter(), time.process_time()
    status = await host.step(steps)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    counters = await host.read_counters()
    with open(os.environ["CODESIGN_RTL_RESULT"], "w") as handle:
        json.dump({"steps": status.steps, "seconds": seconds, "cpu_seconds": cpu_seconds,
                   "cycles": counters["total_cycles"]}, handle)
