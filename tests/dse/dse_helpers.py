"""Helpers of the DSE tests: run ``codesign dse`` as a subprocess, read a study's trial table,
write a design point's knobs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path


def dse_command(model: Path, inputs: Path, out: Path, *options: str) -> list[str]:
    """``codesign dse`` as a subprocess command (through the module's own entry point)."""
    return [sys.executable, "-m", "codesign", "dse", str(model), "--input", str(inputs),
            "--samples", "40", "--quiet", "--no-baseline", "--pruning-samples", "20",
            "-o", str(out), *options]


def run_dse(*command: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Runs ``command``; the default timeout is the DSE's own per-synthesis limit (a run that
    synthesises one design must not be cut off before the tool's limit on a loaded machine)."""
    return subprocess.run(list(command), capture_output=True, text=True, timeout=timeout)


def trial_rows(database: Path) -> list[tuple]:
    """``(trial_id, number, state)`` of every trial, read with plain sqlite3 (none while Optuna
    has not created its tables yet)."""
    with sqlite3.connect(database) as connection:
        try:
            return connection.execute("SELECT trial_id, number, state FROM trials").fetchall()
        except sqlite3.OperationalError:
            return []


def design_params(**changes) -> dict:
    """Every knob of the digits example's space (``space.choices``): a 2-core design at full
    precision, all digital, with ``changes``."""
    values = {"cores": 2, "synapse_lanes": 4, "neurons_per_core": 64,
              "synapse_memory_depth": 2048, "weight_bits": 8, "state_bits": 16,
              "partition": "spread", "prune_threshold": 0.0, "crossbar_tiles": 0,
              "crossbar_rows": 64, "crossbar_cols": 64, "crossbar_cell_bits": 2,
              "crossbar_adc_bits": 6, "crossbar:if2": False}
    return {**values, **changes}
