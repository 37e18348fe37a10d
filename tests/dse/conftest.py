"""Fixtures of the DSE tests: the bundled digits example."""

from __future__ import annotations

import pytest

from codesign.examples.digits import make_digits


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    """``(model.nir, test.npz)`` of the digits example (a few seconds to make)."""
    result = make_digits(tmp_path_factory.mktemp("digits"), measure_snn=False)
    return result.nir_path, result.test_path
