"""Where the hardware flows keep content-addressed results (synthesis reports, Verilator builds).

The root is ``$CODESIGN_CACHE_DIR`` if set, else ``~/.cache/codesign``; every flow gets its own
sub-directory. Entries are named by a sha256 of everything that determines them, so they never go
stale and concurrent writers (pytest-xdist, DSE workers) at worst compute the same entry twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def cache_dir(flow: str) -> Path:
    """The cache directory of ``flow`` (e.g. ``"synth"``), created if missing."""
    root = Path(os.environ.get("CODESIGN_CACHE_DIR") or Path.home() / ".cache" / "codesign")
    path = root / flow
    path.mkdir(parents=True, exist_ok=True)
    return path


def content_key(*parts: bytes | str | dict[str, Any]) -> str:
    """sha256 over byte strings, strings and JSON-able dicts (keys sorted)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, dict):
            part = json.dumps(part, sort_keys=True)
        if isinstance(part, str):
            part = part.encode()
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that readers see either nothing or the whole file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
