"""Event-camera recordings -> spike-count frames (the input format of codesign's simulators)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.errors import CodesignError

NMNIST_SENSOR = (34, 34)


def read_nmnist(path: str | Path) -> np.ndarray:
    """Decode an N-MNIST ``.bin`` file (5 bytes per event: x, y, polarity bit + 23-bit timestamp
    in microseconds, big-endian), as tonic's ``read_mnist_file`` does. Returns a structured array
    with fields ``x``, ``y``, ``p``, ``t``."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 5:
        raise CodesignError(f"{path} holds {raw.size} bytes, not a whole number of 5-byte events",
                            "pass an uncorrupted N-MNIST .bin file")
    raw = raw.reshape(-1, 5).astype(np.int64)
    events = np.zeros(len(raw), dtype=[("x", np.int64), ("y", np.int64), ("p", np.int64),
                                       ("t", np.int64)])
    events["x"], events["y"] = raw[:, 0], raw[:, 1]
    events["p"] = raw[:, 2] >> 7
    events["t"] = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    return events


def bin_events(events: np.ndarray, bin_us: int = 1000,
               sensor: tuple[int, int] = NMNIST_SENSOR) -> np.ndarray:
    """Count events into frames ``[T, 2, height, width]`` (polarity, y, x) of ``bin_us`` each."""
    width, height = sensor
    steps = int(events["t"].max() // bin_us) + 1 if len(events) else 0
    frames = np.zeros((steps, 2, height, width), dtype=np.int64)
    np.add.at(frames, (events["t"] // bin_us, events["p"], events["y"], events["x"]), 1)
    return frames
