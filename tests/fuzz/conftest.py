"""Fixtures of the CLI fuzz tests: the bundled digits example (a few seconds to make)."""

from __future__ import annotations

import pytest

from codesign.examples.digits import make_digits


@pytest.fixture(scope="session")
def digits_example(tmp_path_factory):
    """``(model.nir, test.npz)`` of the bundled digits example."""
    result = make_digits(tmp_path_factory.mktemp("digits"), measure_snn=False)
    return result.nir_path, result.test_path
