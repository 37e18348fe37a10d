"""Budget parsing: suffixes, limits, and one-line errors for bad input."""

import pytest

from codesign.dse.budget import Budget, parse_budget, within_device
from codesign.errors import CodesignError


@pytest.mark.parametrize("text, expected", [
    ("luts=50k", Budget(luts=50_000)),
    ("luts=50K,ffs=80k,bram=64,dsp=28", Budget(luts=50_000, ffs=80_000, bram=64, dsp=28)),
    ("LUTS=1.5M", Budget(luts=1_500_000)),
    (" luts = 12.5k , dsp=8 ", Budget(luts=12_500, dsp=8)),
    ("bram=3", Budget(bram=3)),
])
def test_parses_budgets(text, expected):
    assert parse_budget(text) == expected


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("luts", "no '='"),
    ("luts=lots", "not a number"),
    ("luts=-5", "not a number"),
    ("luts=0", "positive"),
    ("luts=1.2345k", "whole"),
    ("gates=5k", "unknown budget resource 'gates'"),
    ("luts=5k,luts=6k", "twice"),
    ("luts=5G", "not a number"),
])
def test_bad_budgets_are_one_line_errors(text, words):
    with pytest.raises(CodesignError) as error:
        parse_budget(text)
    message = error.value.one_line()
    assert words in message and "\n" not in message


def test_fits_and_ratio():
    budget = parse_budget("luts=1k,bram=10")
    assert budget.fits({"luts": 1000, "ffs": 10**9, "bram": 10, "dsp": 3})
    assert not budget.fits({"luts": 1001, "ffs": 0, "bram": 0, "dsp": 0})
    assert budget.worst_ratio({"luts": 500, "bram": 20}) == pytest.approx(2.0)
    assert str(budget) == "luts=1000,bram=10"


def test_cli_rejects_a_bad_budget_on_one_line(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "codesign", "dse", "model.nir", "--budget",
                             "luts=lots", "-o", str(tmp_path / "out")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "luts=50k" in result.stderr


def test_the_device_caps_the_budget():
    """The DSE holds designs to the placement device too: the ECP5-85k's 208 block RAMs, 156
    DSPs and 83,640 LUTs / FFs; the iCE40 UP5K's 5,280 / 30 / 8; xc7 has no device."""
    budget, note = within_device(parse_budget("luts=50k,bram=500"), "ecp5")
    assert budget == Budget(luts=50_000, ffs=83_640, bram=208, dsp=156)
    assert note == ("the ecp5-85k's capacity adds ffs<=83640, dsp<=156 and lowers bram=500 to "
                    "the device's 208")
    assert within_device(parse_budget("luts=5k"), "ice40")[0] == Budget(luts=5000, ffs=5280,
                                                                        bram=30, dsp=8)
    full = parse_budget("luts=1k,ffs=1k,bram=1,dsp=1")
    assert within_device(full, "ecp5") == (full, "")
    assert within_device(parse_budget("luts=50k"), "xc7") == (Budget(luts=50_000), "")
