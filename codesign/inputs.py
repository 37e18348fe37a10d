"""Reading user inputs: ``IN.npy`` (one sample ``[T, *input_shape]``) or ``IN.npz`` (``x``:
``[N, T, *input_shape]``, optional labels ``y``: ``[N]``).

Everything about the file alone is checked here, once, for every command that reads inputs:
the file format, the dtype (real numbers: bool, integer or float), finite values, at least one
timestep and one sample, one whole-number label per sample. What depends on the network (the
per-step shape, spike counts for the golden model) is checked where the network is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import zipfile

import numpy as np

from codesign.errors import CodesignError

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_SAVE_HINT = "save the input with numpy.save (one sample [T, *input_shape]) or numpy.savez " \
             "(x=[N, T, *input_shape], y=[N])"


@dataclass
class Inputs:
    """``steps`` is ``[T, B, *input_shape]``; ``batched`` says whether the file held a batch."""

    steps: np.ndarray
    labels: np.ndarray | None
    batched: bool

    def unbatch(self, array: np.ndarray) -> np.ndarray:
        """``[T, B, ...]`` -> the file's layout: ``[T, ...]`` for .npy, ``[N, T, ...]`` for .npz."""
        return np.swapaxes(array, 0, 1) if self.batched else array[:, 0]


def per_step(shape: tuple[int, ...]) -> str:
    """How an input's per-step shape reads in a message: "shape (2, 3)" or "one value"."""
    return f"shape {tuple(shape)}" if shape else "one value (a 1-D array [T])"


def load_inputs(path: str | Path) -> Inputs:
    """Read and check an input file; raise a one-line :class:`CodesignError` on bad input."""
    path = Path(path)
    if path.is_dir():
        raise CodesignError(f"input {path} is a directory", "pass an .npy or .npz file")
    if not path.is_file():
        raise CodesignError(f"input file {path} does not exist", "pass an existing .npy or .npz")
    with path.open("rb") as handle:
        magic = handle.read(len(_NPY_MAGIC))
    if not (magic.startswith(_NPY_MAGIC) or magic.startswith(_ZIP_MAGIC)):
        raise CodesignError(f"{path} is neither a .npy nor a .npz file", _SAVE_HINT)
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            return _sample(path, data)
        with data:
            if "x" not in data.files:
                raise CodesignError(f"{path} has no array 'x' (it has "
                                    f"{', '.join(data.files) or 'no arrays'})",
                                    "store the samples as x=[N, T, *input_shape] and labels as "
                                    "y=[N]")
            return _batch(path, data["x"], data["y"] if "y" in data.files else None)
    except ValueError as error:
        if "pickled" in str(error) or "allow_pickle" in str(error):
            raise CodesignError(f"{path} holds Python objects (dtype object), not numbers",
                                "save a numeric array (bool, integer or float)") from None
        raise _unreadable(path, error) from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise _unreadable(path, error) from None


def _unreadable(path: Path, error: Exception) -> CodesignError:
    reason = " ".join(str(error).split())[:120] or type(error).__name__
    return CodesignError(f"{path} is truncated or corrupt ({reason})", _SAVE_HINT)


def _sample(path: Path, data: np.ndarray) -> Inputs:
    if data.ndim < 1:
        raise CodesignError(f"{path} holds a scalar", "save an array of [T, *input_shape]")
    return Inputs(steps=_numbers(path, data, "the input")[:, None], labels=None, batched=False)


def _batch(path: Path, samples: np.ndarray, labels: np.ndarray | None) -> Inputs:
    if samples.ndim < 2:
        raise CodesignError(f"{path}: x has shape {samples.shape}, not [N, T, *input_shape]",
                            "store x=[N, T, *input_shape] (N samples of T steps)")
    if samples.shape[0] == 0:
        raise CodesignError(f"{path}: x holds 0 samples", "store at least one sample in x")
    samples = _numbers(path, samples, "x", time_axis=1)
    if labels is not None:
        if labels.shape != (samples.shape[0],):
            raise CodesignError(f"{path}: y has shape {labels.shape} but x holds "
                                f"{samples.shape[0]} samples", "store one label per sample: "
                                "y=[N]")
        if labels.dtype.kind not in "biuf" or not np.all(np.isfinite(labels)) \
                or np.any(labels != np.rint(labels)):
            raise CodesignError(f"{path}: the labels y are not whole numbers "
                                f"(dtype {labels.dtype})", "store class indices 0..C-1 as y")
        labels = labels.astype(np.int64)
    return Inputs(steps=np.swapaxes(samples, 0, 1), labels=labels, batched=True)


def _numbers(path: Path, array: np.ndarray, what: str, time_axis: int = 0) -> np.ndarray:
    """``array`` as int64 (bool, integers) or float64, after checking it holds real, finite
    numbers and at least one timestep."""
    kind = array.dtype.kind
    if kind == "c":
        raise CodesignError(f"{path}: {what} is complex ({array.dtype})",
                            "pass real numbers (spike counts or currents)")
    if kind not in "biuf":
        raise CodesignError(f"{path}: {what} has dtype {array.dtype}, not numbers",
                            "save a bool, integer or float array")
    if array.shape[time_axis] == 0:
        raise CodesignError(f"{path}: {what} has 0 timesteps (shape {array.shape})",
                            "pass at least one timestep")
    if kind == "f":
        if not np.all(np.isfinite(array)):
            raise CodesignError(f"{path}: {what} contains NaN or infinite values",
                                "pass finite inputs")
        return array.astype(np.float64)
    if kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        raise CodesignError(f"{path}: {what} holds values beyond int64",
                            "pass spike counts or currents of a sensible size")
    return array.astype(np.int64)
