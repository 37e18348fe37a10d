"""Golden model vs float reference throughput, in synaptic operations per second.

Both run the same graphs on the same input in one process, side by side; the ratio is what to
read (this machine is shared and noisy). A synaptic operation is one weight added for one spike.

    python bench/golden_throughput.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from codesign.compiler import float_reference, frontend, golden
from codesign.compiler.pipeline import CompileOptions, discretized, quantized
from codesign.events import bin_events, read_nmnist

CASES = Path(__file__).resolve().parents[1].parent / "shared" / "nir-cases"


def _blas() -> str:
    try:
        from threadpoolctl import threadpool_info
        return ", ".join(f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                         for i in threadpool_info() if i["user_api"] == "blas") or "none"
    except ImportError:
        return "unknown (threadpoolctl missing)"


def _cases():
    frames = bin_events(read_nmnist(CASES / "tonic/sample_nmnist.bin"))[:, None]
    braille = (np.random.default_rng(0).random((256, 16, 12)) < 0.2).astype(np.float64)
    yield "SCNN (N-MNIST, 312 x 1 ms)", "NIR_paper/02_cnn/cnn_sinabs.nir", \
        CompileOptions(dt=1.0), frames
    yield "Braille SRNN bias_zero (256 steps x 16)", \
        "NIR_paper/03_rnn/braille_noDelay_bias_zero.nir", CompileOptions(), braille
    yield "Braille SRNN noBias_subtract (256 x 16)", \
        "NIR_paper/03_rnn/braille_noDelay_noBias_subtract.nir", \
        CompileOptions(reset="subtract"), braille


def _best_of(runs: int, function):
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    print(f"numpy {np.__version__}, BLAS: {_blas()}")
    print(f"{'case':<42} {'events':>10} {'golden SOP/s':>13} {'float SOP/s':>12} "
          f"{'golden/float':>12}")
    for label, relative, options, inputs in _cases():
        graph = frontend.load(CASES / relative)
        network, discrete = quantized(graph, options), discretized(graph, options)
        fixed_time, result = _best_of(3, lambda: golden.simulate(network, inputs))
        float_time, _ = _best_of(3, lambda: float_reference.simulate(discrete, inputs))
        events = result.synaptic_events
        print(f"{label:<42} {events:>10} {events / fixed_time:>13.3g} "
              f"{events / float_time:>12.3g} {float_time / fixed_time:>12.2f}")


if __name__ == "__main__":
    main()
