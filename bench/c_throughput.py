"""Generated C (fixed point, ``-O2``) vs the golden model, in synaptic operations per second.

Both run the same quantised graphs on the same inputs in one run, side by side; the ratio is
what to read (the machine is shared and noisy). A synaptic operation is one weight added for one
spike, counted by the golden model. The C time is the wall time of the ``main.c`` driver process,
from start to exit (start-up and stdin/stdout included, the Python encoding of the input not); the
batch is repeated until one run takes >= 0.3 s so that start-up does not dominate. Building the C
(cached) is not timed. Both outputs are checked equal. The last column is the same ratio in CPU
seconds (this process for the golden model, the child process for C), which a loaded machine
disturbs less than wall time.

    python bench/c_throughput.py
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from codesign.compiler import frontend, golden
from codesign.compiler.backends import c_runner
from codesign.compiler.backends.c_backend import generate_fixed
from codesign.compiler.pipeline import quantized
from throughput_cases import CASES, cases

MINIMUM_SECONDS = 0.3


def _children_cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def _golden(network, inputs, runs: int = 3):
    """Best wall and CPU seconds of the golden model, and its result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = golden.simulate(network, inputs)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def _c_program(out: Path, executable: Path, inputs, runs: int = 3):
    """Best wall seconds of the C process (start to exit) and its best CPU seconds."""
    walls, cpus = [], []
    for _ in range(runs):
        cpu = _children_cpu_seconds()
        walls.append(c_runner.execute(out, inputs, executable=executable).seconds)
        cpus.append(_children_cpu_seconds() - cpu)
    return min(walls), min(cpus)


def main() -> None:
    compiler = c_runner.compiler()
    print(f"C compiler: {c_runner._compiler_version(compiler)}, flags "
          f"{' '.join(c_runner.DEFAULT_FLAGS)}")
    print(f"{'case':<42} {'events':>10} {'golden SOP/s':>13} {'C SOP/s':>10} {'C/golden':>9} "
          f"{'(CPU time)':>9}")
    with tempfile.TemporaryDirectory() as work:
        for number, (label, relative, options, inputs) in enumerate(cases()):
            network = quantized(frontend.load(CASES / relative), options)
            out = Path(work) / str(number)
            generate_fixed(network, label).write(out, with_main=True)
            executable = c_runner.build(out)
            golden_wall, golden_cpu, expected = _golden(network, inputs)
            check = c_runner.execute(out, inputs, executable=executable)
            if not np.array_equal(check.output, expected.output):
                raise SystemExit(f"{label}: the C output differs from the golden model")
            repeats = max(1, int(np.ceil(MINIMUM_SECONDS / max(check.seconds, 1e-4))))
            batch = np.concatenate([inputs] * repeats, axis=1)
            c_wall, c_cpu = _c_program(out, executable, batch)
            events = expected.synaptic_events
            golden_rate, c_rate = events / golden_wall, events * repeats / c_wall
            cpu_ratio = (events * repeats / c_cpu) / (events / golden_cpu)
            print(f"{label:<42} {events:>10} {golden_rate:>13.3g} {c_rate:>10.3g} "
                  f"{c_rate / golden_rate:>9.1f} {cpu_ratio:>9.1f}")


if __name__ == "__main__":
    main()
