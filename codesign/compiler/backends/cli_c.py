"""The C target of ``codesign compile ... --target c`` and ``codesign run OUT/ --target c``.

``codesign.compiler.cli`` calls :func:`compile_c` and :func:`run_c`; :func:`add_compile_arguments`
adds the C-only options (``--mode``, ``--with-main``) to the compile command's parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from codesign.compiler import frontend
from codesign.compiler.backends import c_runner
from codesign.compiler.backends.c_backend import CSources, generate_fixed, generate_float
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.pipeline import CompileOptions, discretized, quantized
from codesign.errors import CodesignError
from codesign.inputs import load_inputs

MODES = ("fixed", "float")
#: ``--record`` array names, as ``codesign simulate`` names them.
RECORD_SUFFIX = {"voltage": "v", "current": "i", "adaptation": "a"}


def add_compile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=MODES, default="fixed",
                        help="C arithmetic: bit-exact fixed point (default) or double precision")
    parser.add_argument("--with-main", action="store_true",
                        help="also write OUT/main.c: a stdin/stdout driver (docs/c-backend.md)")


def generate(model_path: str | Path, options: CompileOptions, mode: str = "fixed") -> CSources:
    """The C sources of a NIR file: fixed mode from the quantised network, float mode from the
    float layer network."""
    if mode not in MODES:
        raise CodesignError(f"unknown C mode '{mode}'", f"use one of {', '.join(MODES)}")
    graph = frontend.load(model_path)
    network = quantized(graph, options) if mode == "fixed" else \
        Fuse().apply(discretized(graph, options))
    title = f"{Path(model_path).name}, dt={network.dt:g}, reset={options.reset}"
    return (generate_fixed if mode == "fixed" else generate_float)(network, title)


def compile_c(model_path: str | Path, options: CompileOptions, mode: str, out_dir: str | Path,
              with_main: bool) -> list[Path]:
    """``codesign compile MODEL --target c``: write ``OUT/model.c``, ``model.h``, ``model.json``
    (and ``main.c``); returns the files written."""
    sources = generate(model_path, options, mode)
    files = sources.write(out_dir, with_main)
    size = sum(path.stat().st_size for path in files)
    print(f"c ({mode}): {sources.manifest['synapses']} synapses, "
          f"{len(sources.manifest['populations'])} populations, {size / 1024:.0f} KiB of source "
          f"-> {', '.join(str(path) for path in files)}")
    return files


def run_c(out_dir: str | Path, input_path: str | Path, output_path: str | Path,
          record: bool = False) -> int:
    """``codesign run OUT/ --target c --input IN -o OUT.npz``: build (cached), run, and save
    ``output`` (``[T, *output_shape]``, or ``[N, T, ...]`` for an ``.npz`` batch); with
    ``record``, also ``<population>.v`` / ``.i`` / ``.a`` (raw integers in fixed mode)."""
    inputs = load_inputs(input_path)
    result = c_runner.execute(out_dir, inputs.steps, trace=record)
    arrays = {"output": inputs.unbatch(result.output)}
    for name, variables in result.records.items():
        for variable, values in variables.items():
            arrays[f"{name}.{RECORD_SUFFIX[variable]}"] = inputs.unbatch(values)
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(output_path, **arrays)
    steps, batch = inputs.steps.shape[:2]
    print(f"c: {steps} steps x {batch} sample(s), {int(np.sum(result.output != 0))} non-zero "
          f"outputs in {result.seconds:.3f} s -> {output_path}")
    return 0
