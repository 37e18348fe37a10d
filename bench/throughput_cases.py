"""The workloads of the throughput benchmarks (golden model, C back end): the NIR paper's SCNN on
a real N-MNIST sample and both Braille SRNNs on seeded random input, 16 samples of 256 steps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from codesign.compiler.pipeline import CompileOptions
from codesign.events import bin_events, read_nmnist

CASES = Path(__file__).resolve().parents[1].parent / "shared" / "nir-cases"


def cases() -> Iterator[tuple[str, str, CompileOptions, np.ndarray]]:
    """``(label, path under CASES, compile options, input [T, B, ...])`` per workload."""
    frames = bin_events(read_nmnist(CASES / "tonic/sample_nmnist.bin"))[:, None]
    braille = (np.random.default_rng(0).random((256, 16, 12)) < 0.2).astype(np.float64)
    yield "SCNN (N-MNIST, 312 x 1 ms)", "NIR_paper/02_cnn/cnn_sinabs.nir", \
        CompileOptions(dt=1.0), frames
    yield "Braille SRNN bias_zero (256 steps x 16)", \
        "NIR_paper/03_rnn/braille_noDelay_bias_zero.nir", CompileOptions(), braille
    yield "Braille SRNN noBias_subtract (256 x 16)", \
        "NIR_paper/03_rnn/braille_noDelay_noBias_subtract.nir", \
        CompileOptions(reset="subtract"), braille
