import pytest

from roundtrip import write_digits


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    """The spike-coded digits every framework script trains on and runs."""
    return write_digits(tmp_path_factory.mktemp("interop") / "digits.npz")
