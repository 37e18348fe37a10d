"""Locating the external NIR cases: they live in ../shared/nir-cases and are never copied."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "nir-cases"


def shared_case(relative: str) -> Path:
    """Path of an external case, or skip the test with the reason if ../shared is absent."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"external NIR case {relative} not found: needs ../shared/nir-cases "
                    "beside the repository")
    return path
