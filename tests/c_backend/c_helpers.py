"""Shared by the C back end tests: generate, build into a private directory, run, compare."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.compiler.backends import c_runner
from codesign.compiler.backends.c_backend import CSources
from codesign.compiler.golden import GoldenResult


def run_sources(sources: CSources, directory: Path, inputs: np.ndarray,
                flags: tuple[str, ...] = c_runner.DEFAULT_FLAGS) -> c_runner.CResult:
    """Write ``sources`` (with main.c) to ``directory``, build them there (no shared cache) and
    run them on ``inputs`` ``[T, B, *input_shape]`` with the state trace."""
    sources.write(directory, with_main=True)
    executable = c_runner.build(directory, flags=flags, cache=directory / "build")
    return c_runner.execute(directory, inputs, trace=True, executable=executable)


def assert_bit_exact(result: c_runner.CResult, golden: GoldenResult) -> None:
    """Output spikes, every population's voltage and current at every step, and the final
    voltage, current and adaptation agree exactly."""
    np.testing.assert_array_equal(result.output, golden.output)
    for name, record in golden.records.items():
        steps, batch = record["v"].shape[:2]
        for key, variable in (("v", "voltage"), ("i", "current")):
            np.testing.assert_array_equal(result.records[name][variable],
                                          record[key].reshape(steps, batch, -1),
                                          err_msg=f"{name} {variable}")
    for name, state in golden.final_state.items():
        for variable in ("voltage", "current", "adaptation"):
            np.testing.assert_array_equal(getattr(result.final_state[name], variable),
                                          getattr(state, variable),
                                          err_msg=f"final {name} {variable}")
