"""Build the generated C with the system compiler (cached by content hash) and run it through the
``main.c`` stream driver: inputs on stdin, output spikes (and, when tracing, every neuron's state)
on stdout, in the binary format of ``docs/c-backend.md``."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codesign import arithmetic
from codesign.cache import cache_dir, content_key
from codesign.compiler.backends.c_backend import FORMAT_VERSION, STATE_VARIABLES, main_source
from codesign.errors import CodesignError

#: Flags of ``codesign run --target c``.
DEFAULT_FLAGS = ("-std=c11", "-O2")
#: The strict build the tests require to pass cleanly.
STRICT_FLAGS = ("-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic")


@dataclass
class CResult:
    """``output``: ``[T, B, *output_shape]`` like the golden model's (spikes, or the read-out
    voltage times its scale in fixed mode). With ``trace``: ``records[population][variable]``
    ``[T, B, size]`` for ``voltage``, ``current``, ``adaptation`` and ``final_state``.
    ``seconds``: wall time of the program (process start to exit)."""

    output: np.ndarray
    records: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    final_state: dict[str, arithmetic.NeuronState] = field(default_factory=dict)
    seconds: float = 0.0


def read_manifest(out_dir: str | Path) -> dict:
    path = Path(out_dir) / "model.json"
    if not path.is_file():
        raise CodesignError(f"{out_dir} holds no model.json, so it is not a C back end output",
                            "run 'codesign compile MODEL.nir --target c -o OUT' first")
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise CodesignError(f"{path} is truncated or corrupt ({error})",
                            "recompile the model with --target c") from None
    version = manifest.get("format") if isinstance(manifest, dict) else None
    if version != FORMAT_VERSION:
        raise CodesignError(f"{path} has format {version}, this codesign reads "
                            f"format {FORMAT_VERSION}", "recompile the model with --target c")
    return manifest


def compiler() -> str:
    """The system C compiler: ``$CC``, else ``cc``, else ``gcc``."""
    for candidate in (os.environ.get("CC"), "cc", "gcc"):
        if candidate and shutil.which(candidate):
            return candidate
    raise CodesignError("no C compiler found (tried $CC, cc and gcc)",
                        "install gcc or clang, or set CC to a C11 compiler")


@functools.cache
def _compiler_version(command: str) -> str:
    result = subprocess.run([command, "--version"], capture_output=True, text=True)
    return result.stdout.splitlines()[0] if result.stdout else command


def build(out_dir: str | Path, flags: tuple[str, ...] = DEFAULT_FLAGS,
          cache: Path | None = None) -> Path:
    """Compile ``OUT/model.c`` with ``OUT/main.c`` (or the generated driver if the model was
    compiled without ``--with-main``) and return the executable, reusing a cached build of the
    same sources, flags and compiler."""
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    missing = [name for name in ("model.c", "model.h") if not (out_dir / name).is_file()]
    if missing:
        raise CodesignError(f"{out_dir} holds no {missing[0]}",
                            "recompile the model with --target c")
    model_c, model_h = (out_dir / "model.c").read_text(), (out_dir / "model.h").read_text()
    main = out_dir / "main.c"
    main_c = main.read_text() if main.is_file() else main_source(manifest["mode"] == "fixed")
    command = compiler()
    key = content_key(model_c, model_h, main_c, {"flags": list(flags),
                                                 "compiler": _compiler_version(command)})
    entry = (cache or cache_dir("c")) / key
    executable = entry / "model"
    if executable.is_file():
        return executable
    entry.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=entry) as work:
        work = Path(work)
        for name, text in (("model.c", model_c), ("model.h", model_h), ("main.c", main_c)):
            (work / name).write_text(text)
        result = subprocess.run([command, *flags, "-o", "model", "model.c", "main.c"],
                                cwd=work, capture_output=True, text=True)
        if result.returncode != 0:
            detail = " ".join(result.stderr.split())[:300]
            raise CodesignError(f"{command} failed on {out_dir}/model.c: {detail}",
                                "regenerate the C files with this codesign version")
        os.replace(work / "model", executable)
    return executable


def encode_inputs(manifest: dict, inputs: np.ndarray) -> np.ndarray:
    """``[T, B, *input_shape]`` -> ``[B, T, input_size]`` in the program's input type."""
    inputs = np.asarray(inputs)
    size = int(np.prod(manifest["input_shape"]))
    if inputs.ndim < 2 or int(np.prod(inputs.shape[2:])) != size:
        raise CodesignError(f"input has shape {inputs.shape[2:]} per step, the model expects "
                            f"{tuple(manifest['input_shape'])}",
                            "pass an array of [T, *input_shape]")
    if not np.all(np.isfinite(inputs)):
        raise CodesignError("the input contains NaN or infinite values", "pass finite inputs")
    flat = np.swapaxes(inputs.reshape(*inputs.shape[:2], size), 0, 1)
    if manifest["mode"] == "float":
        return np.ascontiguousarray(flat, dtype=np.float64)
    if np.any(flat != np.rint(flat)) or np.any(flat < 0) or np.any(flat > 255):
        raise CodesignError("fixed-point C inputs must be spike counts from 0 to 255 (uint8)",
                            "bin events into counts per step, or compile with --mode float")
    return np.ascontiguousarray(flat, dtype=np.uint8)


def execute(out_dir: str | Path, inputs: np.ndarray, trace: bool = False,
            executable: Path | None = None) -> CResult:
    """Run the compiled model on ``inputs`` ``[T, B, *input_shape]``: all samples in one process,
    reset between samples (``--steps T``)."""
    manifest = read_manifest(out_dir)
    executable = executable or build(out_dir)
    stream = encode_inputs(manifest, inputs)
    batch, steps = stream.shape[:2]
    output_size = int(np.prod(manifest["output_shape"]))
    fields = [("output", manifest["output_type"], (output_size,))]
    if trace:
        fields += [(f"population{i}", manifest["state_type"], (len(STATE_VARIABLES), p["size"]))
                   for i, p in enumerate(manifest["populations"])]
    record = np.dtype(fields)
    arguments = [str(executable), "--steps", str(max(steps, 1))] + (["--trace"] if trace else [])
    start = time.perf_counter()
    result = subprocess.run(arguments, input=stream.tobytes(), capture_output=True)
    seconds = time.perf_counter() - start
    if result.returncode == 3:
        raise CodesignError(f"the C model stopped: {result.stderr.decode().strip()}",
                            "lower the input spike counts per step or the layer's fan-in")
    if result.returncode != 0:
        raise CodesignError(f"the C model failed with status {result.returncode}: "
                            f"{result.stderr.decode().strip()[:300]}",
                            "recompile the model with --target c")
    expected = batch * steps * record.itemsize
    if len(result.stdout) != expected:
        raise CodesignError(f"the C model wrote {len(result.stdout)} bytes, expected {expected}",
                            "recompile the model with --target c")
    records = np.frombuffer(result.stdout, dtype=record).reshape(batch, steps)
    output = np.swapaxes(records["output"], 0, 1)
    if manifest["mode"] == "fixed":
        output = output.astype(np.int64)
        if not manifest["output_is_spikes"]:
            output = output * manifest["output_scale"]
    output = output.reshape(steps, batch, *manifest["output_shape"])
    traced, final = {}, {}
    if trace:
        for i, population in enumerate(manifest["populations"]):
            values = np.swapaxes(records[f"population{i}"], 0, 1)  # [T, B, variable, size]
            traced[population["name"]] = {v: values[:, :, n].astype(
                np.int64 if manifest["mode"] == "fixed" else np.float64)
                for n, v in enumerate(STATE_VARIABLES)}
            if steps:
                final[population["name"]] = arithmetic.NeuronState(
                    **{v: traced[population["name"]][v][-1] for v in STATE_VARIABLES})
    return CResult(output=output, records=traced, final_state=final, seconds=seconds)
