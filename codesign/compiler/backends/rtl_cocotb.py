"""cocotb side of ``codesign run --target rtl`` (run by :mod:`rtl_runner`, never imported by it).

Reads the job (``CODESIGN_RTL_JOB``: an .npz with the image's WRITE fields, the per-step INPUT
commands and what to read back), drives the Accelerator only through its host streams, and
writes the answers to ``CODESIGN_RTL_RESULT``. All commands of a sample are sent as one bulk
stream while a concurrent reader collects the answers, so Python never paces the design.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np

from codesign.hw import host_driver as protocol
from codesign.hw.host_stream import HostStream


@cocotb.test()
async def run_program(dut):
    job = np.load(os.environ["CODESIGN_RTL_JOB"])
    plan = json.loads(str(job["plan"]))
    host = HostStream(dut, plan["host_width"])
    await host.start()
    results = {"events": [], "cycles": [], "flags": [], "state": [], "readout": []}
    for sample in range(plan["samples"]):
        commands = [*job["image"].tolist()]
        offsets = job[f"input_offsets_{sample}"]
        fields = job[f"input_fields_{sample}"].tolist()
        for step in range(plan["steps"]):
            commands += fields[offsets[step]:offsets[step + 1]]
            commands += protocol.encode_step(1) + protocol.encode_read_output() \
                + protocol.encode_read_counters()
            for core, first, count in plan["readout"]:
                commands += protocol.encode_read_state(core, first, count, plan["state_bits"],
                                                       plan["state_memory"])
        for core, first, count in plan["final_state"]:
            commands += protocol.encode_read_state(core, first, count, plan["state_bits"],
                                                   plan["state_memory"])
        sender = cocotb.start_soon(host.send(commands))
        events, cycles, flags, readout = [], [], [], []
        per_word = protocol.fields_per_word(plan["state_bits"])
        for step in range(plan["steps"]):
            status = protocol.decode_step(await host.receive(1))
            flags.append(status.flags)
            output = await host.receive_output()
            events += [(step, source) for _, source in output.events]
            if output.overflow:
                flags[-1] |= protocol.FLAG_OUTPUT_OVERFLOW
            cycles.append(protocol.decode_counters(
                await host.receive(len(protocol.COUNTER_NAMES)))["last_step_cycles"])
            for core, first, count in plan["readout"]:
                readout.append(protocol.decode_words(await host.receive(count * per_word),
                                                     plan["state_bits"]))
        state = []
        for core, first, count in plan["final_state"]:
            state.append(protocol.decode_words(await host.receive(count * per_word),
                                               plan["state_bits"]))
        await sender
        results["events"].append(events)
        results["cycles"].append(cycles)
        results["flags"].append(flags)
        results["state"].append(state)
        results["readout"].append(readout)
    with open(os.environ["CODESIGN_RTL_RESULT"], "w") as handle:
        json.dump(results, handle)
