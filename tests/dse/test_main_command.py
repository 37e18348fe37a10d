"""The main job end to end: the DSE on the digits example under ``luts=50k``, through its library
entry point (``codesign.dse.flow.run``, which ``codesign dse`` calls; the subprocess tests in
test_failures.py and test_resume.py run the command itself).

Every design on the reported front must be within budget by real synthesis (Yosys + nextpnr), the
chosen design's Verilog must synthesise to the reported LUTs when Yosys runs on it afresh, and
its program must run bit-exactly on the Verilator-built RTL with the cycle model within 5%.
"""

import csv
import os
import re

import pytest
import yaml

from codesign.dse import cli, flow, search
from codesign.dse.budget import parse_budget, within_device
from codesign.flows.synthesis import synthesize

BUDGET_LUTS = 50_000


@pytest.mark.slow
def test_main_command_returns_a_front_real_synthesis_confirms(digits, tmp_path):
    model, inputs = digits
    out = tmp_path / "out"
    budget, _ = within_device(parse_budget("luts=50k"), "ecp5")
    settings = search.SearchSettings(
        model=str(model), input=str(inputs), budget=budget, family="ecp5",
        objectives=("latency", "energy", "fidelity"), trials=20,
        storage=flow.default_storage(out), study="dse", sampler=search.DEFAULT_SAMPLER, seed=0,
        synthesis="final", synthesis_timeout_s=2400, timeout_s=None, samples=40)
    lines: list[str] = []
    # --prefer luts confirms the smallest design first: the test stays at one small synthesis
    result = flow.run(settings, flow.FlowSettings(out=out, pruning_samples=20, baseline=False,
                                                  max_synthesis=1,
                                                  synthesis_jobs=os.cpu_count() or 1,
                                                  rtl_samples=3, prefer="luts"),
                      log=lines.append)
    log = "\n".join(lines)
    assert result.front and result.chosen in result.front, log

    with (out / "pareto.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows, log
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

    printed = "\n".join(cli.summary_lines(result, out, "luts"))
    chosen = re.search(r"chosen design \(--prefer luts: best luts on the front\): trial "
                       r"(\d+), accuracy ([0-9.]+)%, .* latency ([0-9.]+) "
                       r"us at ([0-9.]+) MHz, (\d+) LUTs \(real synthesis\)", printed)
    assert chosen is not None, printed
    assert int(chosen.group(1)) == best["trial"] == result.chosen.number
    assert int(chosen.group(5)) == fresh.luts
    assert "bit-exact with the golden model" in log
    # the chosen design is the front's smallest, and the run says how its time was spent
    assert result.chosen.values["luts"] == min(c.values["luts"] for c in result.front)
    assert any(reason.startswith("not synthesised") for _, reason in result.skipped)
    assert set(result.phases) == {"search", "synthesis", "rtl", "report"}
    assert "hypervolume.png" in (out / "report.html").read_text()
