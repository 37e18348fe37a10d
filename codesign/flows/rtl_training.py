"""The workload a profile-guided Verilator build of the Accelerator is trained on.

gcc's profile-guided optimisation compiles the model once instrumented, runs it, and compiles it
again knowing which branches the simulation takes. The training program depends on the
HWConfig only (never on the program the user runs next, so one cached build serves every program
of a config): a seeded random recurrent LIF chain over a quarter of the chip's neurons (at most
256), at most 64 inputs spiking at a 20 % rate for :data:`TRAINING_STEPS` timesteps, every
synapse on the digital engines and, when the config has tiles, a second copy with crossbar tiles
preferred. A config too small for it shrinks it (halving the layers) until it fits.
"""

from __future__ import annotations

import numpy as np

from codesign.arch.config import HWConfig
from codesign.compiler import frontend
from codesign.compiler.image import program_image
from codesign.compiler.image.program_image import ProgramImage
from codesign.compiler.pipeline import CompileOptions, map_network, quantized
from codesign.compiler.program import MappingOptions
from codesign.compiler.synthetic import chain_graph
from codesign.errors import CodesignError

TRAINING_STEPS = 500
#: Part of the build's cache key: change it when the workload above changes.
TRAINING_NAME = f"recurrent-lif-chain-v1-{TRAINING_STEPS}"


def training_runs(config: HWConfig) -> list[tuple[ProgramImage, np.ndarray]]:
    """(program image, input counts ``[T, 1, inputs]``) pairs for one simulation."""
    hidden = min(256, config.cores * config.neurons_per_core // 4)
    policies = ["never", "prefer"] if config.crossbar.tiles else ["never"]
    while hidden >= 4:
        sizes = [min(64, hidden), hidden, max(2, hidden // 4)]
        network = quantized(frontend.nir_to_ir(chain_graph(sizes, seed=1, recurrent=True,
                                                           density=0.3)),
                            CompileOptions(dt=1e-3))
        try:
            images = [program_image.build_image(map_network(
                network, config, MappingOptions(crossbar=policy))) for policy in policies]
        except CodesignError:
            hidden //= 2
            continue
        counts = (np.random.default_rng(2).random((TRAINING_STEPS, 1, sizes[0])) < 0.2)
        return [(image, counts.astype(np.int64)) for image in images]
    raise CodesignError(f"no training network fits {config.cores} x {config.neurons_per_core} "
                        "neurons", "run without the profile-guided build")
