"""Reading user inputs: ``IN.npy`` (one sample ``[T, *input_shape]``) or ``IN.npz`` (``x``:
``[N, T, *input_shape]``, optional labels ``y``: ``[N]``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import zipfile

import numpy as np

from codesign.errors import CodesignError


@dataclass
class Inputs:
    """``steps`` is ``[T, B, *input_shape]``; ``batched`` says whether the file held a batch."""

    steps: np.ndarray
    labels: np.ndarray | None
    batched: bool

    def unbatch(self, array: np.ndarray) -> np.ndarray:
        """``[T, B, ...]`` -> the file's layout: ``[T, ...]`` for .npy, ``[N, T, ...]`` for .npz."""
        return np.swapaxes(array, 0, 1) if self.batched else array[:, 0]


def load_inputs(path: str | Path) -> Inputs:
    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"input file {path} does not exist", "pass an existing .npy or .npz")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise CodesignError(f"cannot read {path} as numpy data ({error})",
                            "save the input with numpy.save or numpy.savez") from None
    if isinstance(data, np.ndarray):
        if data.ndim < 1:
            raise CodesignError(f"{path} holds a scalar", "save an array of [T, *input_shape]")
        return Inputs(steps=data[:, None], labels=None, batched=False)
    if "x" not in data.files:
        raise CodesignError(f"{path} has no array 'x' (it has {', '.join(data.files)})",
                            "store the samples as x=[N, T, *input_shape] and labels as y=[N]")
    samples = data["x"]
    labels = data["y"] if "y" in data.files else None
    if samples.ndim < 2 or (labels is not None and len(labels) != len(samples)):
        raise CodesignError(f"{path}: x has shape {samples.shape} and y {np.shape(labels)}",
                            "store x=[N, T, *input_shape] and y=[N]")
    return Inputs(steps=np.swapaxes(samples, 0, 1), labels=labels, batched=True)
