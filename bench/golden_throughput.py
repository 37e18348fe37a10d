"""Golden model vs float reference throughput, in synaptic operations per second.

Both run the same graphs on the same input in one process, side by side; the ratio is what to
read (this machine is shared and noisy). A synaptic operation is one weight added for one spike.

    python bench/golden_throughput.py
"""

from __future__ import annotations

import time

import numpy as np

from codesign.compiler import float_reference, frontend, golden
from codesign.compiler.pipeline import discretized, quantized
from throughput_cases import CASES, cases


def _blas() -> str:
    try:
        from threadpoolctl import threadpool_info
        return ", ".join(f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                         for i in threadpool_info() if i["user_api"] == "blas") or "none"
    except ImportError:
        return "unknown (threadpoolctl missing)"


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
    for label, relative, options, inputs in cases():
        graph = frontend.load(CASES / relative)
        network, discrete = quantized(graph, options), discretized(graph, options)
        fixed_time, result = _best_of(3, lambda: golden.simulate(network, inputs))
        float_time, _ = _best_of(3, lambda: float_reference.simulate(discrete, inputs))
        events = result.synaptic_events
        print(f"{label:<42} {events:>10} {events / fixed_time:>13.3g} "
              f"{events / float_time:>12.3g} {float_time / fixed_time:>12.2f}")


if __name__ == "__main__":
    main()
