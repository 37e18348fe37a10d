"""The main job end to end: ``codesign dse`` on the digits example under ``luts=50k``.

Every design on the reported front must be within budget by real synthesis (Yosys + nextpnr), the
chosen design's Verilog must synthesise to the reported LUTs when Yosys runs on it afresh, and
its program must run bit-exactly on the Verilator-built RTL with the cycle model within 5%.
"""

import csv
import re

import pytest
import yaml

from codesign.flows.synthesis import synthesize
from dse_helpers import dse_command, run_dse

BUDGET_LUTS = 50_000


@pytest.mark.slow
def test_main_command_returns_a_front_real_synthesis_confirms(digits, tmp_path):
    model, inputs = digits
    out = tmp_path / "out"
    result = run_dse(*dse_command(model, inputs, out, "--budget", "luts=50k", "--trials", "20",
                                  "--max-synthesis", "2", "--rtl-samples", "3",
                                  "--synthesis-timeout-s", "2400"), timeout=3600)
    assert result.returncode == 0, result.stdout + result.stderr

    with (out / "pareto.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows, result.stdout
    for row in rows:
        assert 0 < int(row["luts"]) <= BUDGET_LUTS
        assert float(row["fmax_mhz"]) > 0 and float(row["accuracy"]) > 0.5
        assert float(row["latency_us"]) > 0

    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best["sources"]["luts"] == "synthesis" and best["sources"]["fmax_mhz"] == "nextpnr"
    assert best["sources"]["cycles_per_sample"].startswith("RTL (Verilator)")
    assert abs(best["metrics"]["cycle_model_error"]) <= 0.05
    assert any(int(row["trial"]) == best["trial"] for row in rows)

    # The chosen design's Verilog, synthesised again without the cache, gives the reported LUTs.
    fresh = synthesize(out / "best" / "accelerator.v", "ecp5", top="top", use_cache=False)
    assert fresh.luts == best["metrics"]["luts"]
    for name in ("program.img", "mapping_report.txt", "hw.yaml"):
        assert (out / "best" / name).is_file()
    assert "<img" in (out / "report.html").read_text()
    assert list(out.glob("pareto_*.png"))

    chosen = re.search(r"chosen design: trial (\d+), accuracy ([0-9.]+)%, .* latency ([0-9.]+) "
                       r"us at ([0-9.]+) MHz, (\d+) LUTs \(real synthesis\)", result.stdout)
    assert chosen is not None, result.stdout
    assert int(chosen.group(1)) == best["trial"] and int(chosen.group(5)) == fresh.luts
    assert "bit-exact with the golden model" in result.stdout
