"""Host-link time per Braille sample on a ULX3S at 115,200 baud and 3 Mbaud, against compute
time, for BENCHMARKS.md.

The ULX3S's board core (UART bridge, flow control, accelerator of the HWConfig) runs in
Verilator at the board's real bit period (25 MHz clock: 217.01 cycles per bit at 115,200 baud,
8 1/3 at 3 Mbaud) behind a pseudo-terminal; the host runtime sends the Braille SRNN's program
once, then runs ``--samples`` samples of 256 random input steps (20 % spike rate per channel per
step). For each sample after the first (which runs on the freshly loaded program; later ones
first re-send the sequencer registers):

* link time: simulated cycles from the first byte of the sample on the wire to the last byte of
  its answers, at 25 MHz (the host side answers at once: no USB latency in it);
* compute time: the accelerator's measured cycles of the sample's timesteps, at 25 MHz;
* the bound the link sets: bytes each way x 10 bits / baud (8N1), for the host-protocol fields
  alone (fields x 40 / baud) and for the frames actually sent (framing, checksums, escapes and
  the flow control's READ_COUNTERS included); the link is full duplex, so the larger direction
  bounds it. The board runs a DATA frame only once its closing flag has committed it (checksum
  verified), so the first answer waits for the sample's whole first frame: the link time is
  about that frame plus the larger direction.

    python bench/board_link.py [--hw configs/default.yaml] [--samples 2] [--baud 115200 3000000]
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np

from codesign.arch.config import load_config
from codesign.compiler import frontend
from codesign.compiler.image import host_commands, program_image
from codesign.compiler.pipeline import CompileOptions, map_network, quantized
from codesign.flows import board_runtime
from codesign.flows.board_simulation import simulated_board

ROOT = Path(__file__).resolve().parents[1]
BRAILLE = ROOT.parent / "shared/nir-cases/NIR_paper/03_rnn/braille_noDelay_bias_zero.nir"
CLOCK_HZ = 25_000_000     # the ULX3S's clock, which the board design runs on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hw", default=str(ROOT / "configs/default.yaml"))
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--baud", type=int, nargs="+", default=[115_200, 3_000_000])
    args = parser.parse_args()

    config = load_config(args.hw)
    program = map_network(quantized(frontend.load(BRAILLE), CompileOptions()), config)
    image = program_image.build_image(program)
    rng = np.random.default_rng(0)
    counts = (rng.random((args.steps, args.samples, 12)) < 0.2).astype(np.int64)
    plan = host_commands.readback_plan(image, args.steps, 1)
    fields_in, fields_answered = _fields(image, counts[:, 1:2], plan)
    print(f"{args.hw}: Braille SRNN, {args.steps} steps per sample; per sample the host sends "
          f"{fields_in} protocol fields and reads {fields_answered} + one per output spike")
    print("| baud | link time per sample | compute time | link bound, protocol fields "
          "(fields x 40 / baud) | link bound, frames sent (bytes x 10 / baud) | bytes to board "
          "/ to host | program load |")
    print("|---|---|---|---|---|---|---|")
    for baud in args.baud:
        cycles_per_bit = Fraction(CLOCK_HZ, baud)
        marks = []
        with simulated_board(config, "ulx3s", cycles_per_bit) as board:
            with board_runtime.open(board.port, baud=baud, timeout=600) as session:
                load_start = _marks(session)
                session.load(image, progress=False)
                load_bytes = _marks(session)[0] - load_start[0]
                session.run_counts(counts[:, :1], progress=False)   # sample 0, fresh program
                for sample in range(1, args.samples):
                    before = _marks(session)
                    result = session.run_counts(counts[:, sample:sample + 1], progress=False)
                    marks.append((before, _marks(session), int(result.cycles.sum()),
                                  int(result.output.sum())))
        timeline = board.timeline
        for (sent0, received0), (sent1, received1), compute, events in marks:
            fields_out = fields_answered + events
            cycles = timeline["to_host"][received1 - 1] - timeline["to_board"][sent0]
            to_board, to_host = sent1 - sent0, received1 - received0
            bound_fields = max(fields_in, fields_out) * 40 / baud
            bound_frames = max(to_board, to_host) * 10 / baud
            print(f"| {baud:,} | {1e3 * cycles / CLOCK_HZ:.2f} ms | "
                  f"{1e3 * compute / CLOCK_HZ:.3f} ms ({compute:,} cycles) | "
                  f"{1e3 * bound_fields:.2f} ms | {1e3 * bound_frames:.2f} ms | "
                  f"{to_board:,} / {to_host:,} | {load_bytes:,} bytes, "
                  f"{1e3 * load_bytes * 10 / baud:.1f} ms at line rate |", flush=True)


def _marks(session) -> tuple[int, int]:
    statistics = session.link.statistics
    return statistics.bytes_sent, statistics.bytes_received


def _fields(image, counts, plan) -> tuple[int, int]:
    """Protocol fields of one restarted sample: sent, and answered (output events as run)."""
    fields, offsets = host_commands.sample_inputs(image, counts)[0]
    commands = [host_commands.Command(host_commands.restart_fields(image))]
    commands += host_commands.sample_commands(plan, fields, offsets)
    sent = sum(len(c.fields) for c in commands)
    fixed = sum(c.answer for c in commands if c.answer > 0)
    outputs = sum(1 for c in commands if c.answer == host_commands.UNTIL_END_MARKER)
    return sent, fixed + outputs    # + one field per output event


if __name__ == "__main__":
    main()
