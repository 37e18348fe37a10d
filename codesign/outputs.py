"""Writing user outputs: the paths are checked before any work, and what is written appears
whole or not at all.

* :func:`check_file` / :func:`check_folder`: a one-line :class:`CodesignError` for an output
  path that cannot be written (a folder where a file goes, a file where a folder goes, a
  read-only folder), raised before a command spends time on its work.
* :func:`save_npz`: ``OUT.npz`` written to a temporary name beside it and renamed into place.
* :func:`staged_folder`: the files of an ``-o`` folder are written into a staging folder beside
  it and moved in when the block ends without an error, with ``last`` moved last (the file a
  later command checks first, e.g. ``program.img``); a failure leaves the folder as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from codesign.errors import CodesignError


def _writable_ancestor(path: Path, option: str) -> None:
    """The nearest existing ancestor of ``path`` is a folder we may write in."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CodesignError(f"{option} {path}: {ancestor} is a file, not a folder",
                            "choose a path under a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise CodesignError(f"{option} {path}: the folder {ancestor} is not writable",
                            "choose a folder you can write to")


def check_file(path: str | Path, option: str = "-o") -> Path:
    """``path`` can be written as a file (it may exist and is then replaced)."""
    path = Path(path)
    if path.is_dir():
        raise CodesignError(f"{option} {path} is a folder", "pass a file name such as OUT.npz")
    if path.exists() and not os.access(path, os.W_OK):
        raise CodesignError(f"{option} {path} is read-only", "choose another file name")
    _writable_ancestor(path, option)
    return path


def check_folder(path: str | Path, option: str = "-o") -> Path:
    """``path`` can be used as an output folder (it may exist and then keeps other files)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CodesignError(f"{option} {path} is a file, not a folder",
                            "pass a folder name (it is created if missing)")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise CodesignError(f"{option} {path}: the folder is not writable",
                                "choose a folder you can write to")
    else:
        _writable_ancestor(path, option)
    return path


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """``numpy.savez`` to exactly ``path``, atomically (temporary file + rename)."""
    path = check_file(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("wb") as stream:
            np.savez(stream, **arrays)
        os.replace(temporary, path)
    except OSError as error:
        raise CodesignError(f"cannot write {path}: {error.strerror or error}",
                            "choose a path on a writable disk with free space") from None
    finally:
        temporary.unlink(missing_ok=True)
    return path


@contextlib.contextmanager
def staged_folder(path: str | Path, remove: Sequence[str] = (),
                  last: Sequence[str] = ()) -> Iterator[Path]:
    """Yield a staging folder; on success move its files into ``path`` (created if missing),
    after deleting the files named in ``remove`` (stale outputs of an earlier run), with the
    names in ``last`` moved last. On an error ``path`` is left as it was."""
    path = check_folder(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial",
                                        dir=path.parent))
    except OSError as error:
        raise CodesignError(f"cannot write into {path.parent}: {error.strerror or error}",
                            "choose a folder on a writable disk with free space") from None
    try:
        try:
            yield staging
        except OSError as error:   # e.g. the disk filled up while writing
            raise CodesignError(f"cannot write {path}: {error.strerror or error}",
                                "free some space or choose another folder") from None
        path.mkdir(exist_ok=True)
        names = sorted(entry.name for entry in staging.iterdir())
        for name in names:
            if (path / name).is_dir() and not (staging / name).is_dir():
                raise CodesignError(f"{path / name} is a folder",
                                    f"remove it: the output file {name} goes there")
        for name in remove:
            if (path / name).is_file() and name not in names:
                (path / name).unlink()
        for name in [n for n in names if n not in last] + [n for n in last if n in names]:
            if (path / name).is_dir():
                shutil.rmtree(path / name)
            os.replace(staging / name, path / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
