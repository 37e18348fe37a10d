"""CLI fuzz test: hypothesis mutates valid NIR graphs, input arrays, an HWConfig YAML, budgets
and output paths, and runs each through every subcommand that reads it, in-process.

Cases: ``CODESIGN_FUZZ_EXAMPLES`` (default 320) spread over the input kinds; with the variable
set, hypothesis draws new cases on every run (without it, the same derandomised ones in CI).
The outcome counts print in the test summary (``tests/conftest.py``). How each run is judged:
``fuzz_harness``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fuzz_inputs
from fuzz_harness import Expect, Run, Tally, invoke, judge, leftovers, snapshot
from fuzz_inputs import Case, build_cases

TOTAL = int(os.environ.get("CODESIGN_FUZZ_EXAMPLES", "320"))
#: Share of the cases per input kind.
SHARES = {"graph": 0.40, "input": 0.23, "config": 0.14, "budget": 0.10, "compiled": 0.07,
          "paths": 0.06}


def _settings(kind: str):
    return settings(max_examples=max(1, round(TOTAL * SHARES[kind])), deadline=None,
                    database=None, derandomize="CODESIGN_FUZZ_EXAMPLES" not in os.environ,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck))


# -- the commands that read each input ----------------------------------------------------------
def graph_commands(case: Case, model: Path, inputs: Path, work: Path) -> dict:
    """Command name -> (argv, output paths relative to ``work``)."""
    dt = ["--dt", case.dt]
    return {
        "info": (["info", str(model), *dt], ()),
        "simulate float": (["simulate", str(model), "--input", str(inputs), *dt,
                            "-o", str(work / "float.npz")], ("float.npz",)),
        "simulate golden": (["simulate", str(model), "--input", str(inputs), "--mode", "golden",
                             *dt, "-o", str(work / "golden.npz")], ("golden.npz",)),
        "compile hw": (["compile", str(model), "--hw", str(case.config), *dt,
                        "-o", str(work / "program")], ("program",)),
        "compile c": (["compile", str(model), "--target", "c", *dt, "-o", str(work / "c")],
                      ("c",)),
        "dse dry-run": (["dse", str(model), "--budget", fuzz_inputs.BUDGET, "--input",
                         str(inputs), "--dry-run", "-o", str(work / "dse")], ("dse",)),
    }


def input_commands(case: Case, inputs: Path, work: Path, compiled: Path) -> dict:
    dt = ["--dt", case.dt]
    return {
        "simulate float": (["simulate", str(case.model), "--input", str(inputs), *dt,
                            "-o", str(work / "float.npz")], ("float.npz",)),
        "simulate golden": (["simulate", str(case.model), "--input", str(inputs), "--mode",
                             "golden", *dt, "-o", str(work / "golden.npz")], ("golden.npz",)),
        "run golden": (["run", str(compiled / "program"), "--input", str(inputs),
                        "-o", str(work / "run.npz")], ("run.npz",)),
        "run c": (["run", str(compiled / "c"), "--target", "c", "--input", str(inputs),
                   "-o", str(work / "run_c.npz")], ("run_c.npz",)),
        "dse dry-run": (["dse", str(case.model), "--budget", fuzz_inputs.BUDGET, "--input",
                         str(inputs), "--dry-run", "-o", str(work / "dse")], ("dse",)),
    }


def config_commands(case: Case, config: Path, work: Path, verilog: bool) -> dict:
    commands = {
        "compile hw": (["compile", str(case.model), "--hw", str(config), "--dt", case.dt,
                        "-o", str(work / "program")], ("program",)),
        "hw synth": (["hw", "synth", "--hw", str(config), "--family", "ice40", "--pnr",
                      "--seed", "1-2", "--dry-run"], ()),
    }
    if verilog:
        commands["hw verilog"] = (["hw", "verilog", "--hw", str(config),
                                   "-o", str(work / "verilog")], ("verilog",))
    return commands


def budget_commands(case: Case, budget: str, work: Path) -> dict:
    return {"dse dry-run": (["dse", str(case.model), f"--budget={budget}", "--dry-run",
                             "-o", str(work / "dse")], ("dse",))}


def _run(command: str, argv: list[str], work: Path, outputs: tuple[str, ...]) -> Run:
    run = invoke(argv, work, outputs)
    if command == "dse dry-run" and run.status == 0:
        # The dry run's result is the settings it validated (the budget as parsed).
        run.stdout = "\n".join(line for line in run.stdout.splitlines()
                               if line.startswith("dry run:"))
    return run


def _seed_outputs(work: Path, previous: Path | None) -> None:
    """Put an earlier run's outputs (and a DSE study) where the command will write, so a
    rejected run can be checked for leaving them as they were."""
    for name in ("float.npz", "golden.npz", "run.npz", "program", "c") if previous else ():
        source = previous / name
        if source.is_dir():
            shutil.copytree(source, work / name, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy(source, work / name)
    (work / "dse").mkdir(exist_ok=True)
    (work / "dse" / "study.db").write_bytes(b"SQLite format 3\x00 earlier study")
    (work / "dse" / "pareto.csv").write_text("trial,luts\n3,1200\n")


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cases(tmp_path_factory, digits_example):
    from nir_cases import SHARED

    folder = tmp_path_factory.mktemp("fuzz_cases")
    lif = SHARED / "NIR_paper" / "01_lif" / "lif_norse.nir"
    return build_cases(folder, digits_example, lif if lif.exists() else None)


@pytest.fixture(scope="module")
def baselines(cases, tmp_path_factory):
    """Per case: the folder of its unmutated runs, and every command's run on it."""
    result = {}
    for case in cases:
        work = tmp_path_factory.mktemp(f"base_{case.name}")
        model = work / "model.nir"
        shutil.copy(case.model, model)
        inputs = work / case.input.name
        shutil.copy(case.input, inputs)
        _seed_outputs(work, None)
        runs = {}
        commands = {**graph_commands(case, model, inputs, work),
                    **{f"input {name}": command for name, command in
                       input_commands(case, inputs, work, work).items()},
                    **{f"budget {name}": command for name, command in
                       budget_commands(case, fuzz_inputs.BUDGET, work).items()}}
        shutil.copy(case.config, work / "hw.yaml")   # the config tests' file name
        commands.update({f"config {name}": command for name, command in
                         config_commands(case, work / "hw.yaml", work, verilog=False).items()})
        for name, (argv, outputs) in commands.items():
            runs[name] = _run(name.split(" ", 1)[1] if name.split(" ")[0] in
                              ("input", "config", "budget") else name, argv, work, outputs)
        result[case.name] = (work, runs)
    return result


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_runs")


def _check_case(tally: Tally, command: str, argv: list[str], outputs: tuple[str, ...],
                work: Path, baseline: Run, expect: Expect, describe: str) -> None:
    before = snapshot(work, outputs)
    run = _run(command, argv, work, outputs)
    after = snapshot(work, outputs)
    if run.status == 0:
        after = {**after, **{name: "" for name in leftovers(work)}}
    tally.add(judge(run, baseline, expect, before, after), f"{command} <- {describe}")


def _finish(tally: Tally, record_property, kind: str) -> None:
    record_property("fuzz", {"kind": kind, **tally.counts})
    print(f"fuzz {kind}: " + ", ".join(f"{name} {count}" for name, count in
                                       tally.counts.items()))
    assert not tally.failures, f"{len(tally.failures)} failing cases:\n" + \
        "\n".join(tally.failures[:25])


# -- the tests ----------------------------------------------------------------------------------
def test_unmutated_inputs_run_clean(baselines):
    """The oracle's premise: every command accepts every valid case without a warning (else a
    mutated run's warning could be the unmutated input's)."""
    problems = [f"{case} {command}: status {run.status} {run.stderr.strip()[:200]}"
                f"{run.traceback[-300:]}"
                for case, (_, runs) in baselines.items() for command, run in runs.items()
                if run.status != 0 or run.stderr.strip() or run.traceback]
    assert not problems, "\n".join(problems)


def test_fuzz_graphs(cases, baselines, scratch, record_property):
    tally = Tally()

    @_settings("graph")
    @given(st.data())
    def explore(data):
        case = data.draw(st.sampled_from(cases), label="case")
        base_dir, base_runs = baselines[case.name]
        with tempfile.TemporaryDirectory(dir=scratch, ignore_cleanup_errors=True) as folder:
            work = Path(folder)
            model = work / "model.nir"
            mutation = fuzz_inputs.mutate_graph(data, case, model)
            inputs = work / case.input.name
            shutil.copy(case.input, inputs)
            _seed_outputs(work, base_dir)
            for command, (argv, outputs) in graph_commands(case, model, inputs, work).items():
                _check_case(tally, command, argv, outputs, work, base_runs[command],
                            mutation.expected(command), f"{case.name}: {mutation.describe}")

    explore()
    _finish(tally, record_property, "graphs")


def test_fuzz_inputs(cases, baselines, scratch, record_property):
    tally = Tally()

    @_settings("input")
    @given(st.data())
    def explore(data):
        case = data.draw(st.sampled_from(cases), label="case")
        base_dir, base_runs = baselines[case.name]
        with tempfile.TemporaryDirectory(dir=scratch, ignore_cleanup_errors=True) as folder:
            work = Path(folder)
            inputs, mutation = fuzz_inputs.mutate_input(data, case, work)
            _seed_outputs(work, base_dir)
            for command, (argv, outputs) in input_commands(case, inputs, work,
                                                           base_dir).items():
                _check_case(tally, command, argv, outputs, work,
                            base_runs[f"input {command}"], mutation.expected(command),
                            f"{case.name}: {mutation.describe}")

    explore()
    _finish(tally, record_property, "inputs")


def test_fuzz_configs(cases, baselines, scratch, record_property):
    tally = Tally()
    case = next(c for c in cases if c.name == "chain")
    base_dir, base_runs = baselines[case.name]

    @_settings("config")
    @given(st.data())
    def explore(data):
        with tempfile.TemporaryDirectory(dir=scratch, ignore_cleanup_errors=True) as folder:
            work = Path(folder)
            config = work / "hw.yaml"
            mutation = fuzz_inputs.mutate_config(data, case.config, config)
            _seed_outputs(work, base_dir)
            # hw verilog elaborates the whole accelerator (~2 s): only for configs that must
            # be refused before that.
            verilog = mutation.expect is Expect.REJECT
            for command, (argv, outputs) in config_commands(case, config, work,
                                                            verilog).items():
                baseline = base_runs.get(f"config {command}", Run(0, "", ""))
                expect = mutation.expected(command)
                if command == "hw verilog":
                    expect = Expect.REJECT
                _check_case(tally, command, argv, outputs, work, baseline, expect,
                            f"config: {mutation.describe}")

    explore()
    _finish(tally, record_property, "configs")


def test_fuzz_budgets(cases, baselines, scratch, record_property):
    tally = Tally()
    case = next(c for c in cases if c.name == "chain")
    base_dir, base_runs = baselines[case.name]

    @_settings("budget")
    @given(fuzz_inputs.budget_strategy())
    def explore(drawn):
        budget, expect = drawn
        with tempfile.TemporaryDirectory(dir=scratch, ignore_cleanup_errors=True) as folder:
            work = Path(folder)
            _seed_outputs(work, base_dir)
            for command, (argv, outputs) in budget_commands(case, budget, work).items():
                _check_case(tally, command, argv, outputs, work, base_runs[f"budget {command}"],
                            expect, f"budget {budget!r}")

    explore()
    _finish(tally, record_property, "budgets")


def test_fuzz_compiled_folders(cases, baselines, scratch, record_property):
    """``codesign run`` on a compiled folder whose program image or C sources were damaged."""
    tally = Tally()

    @_settings("compiled")
    @given(st.data())
    def explore(data):
        case = data.draw(st.sampled_from(cases), label="case")
        base_dir, base_runs = baselines[case.name]
        with tempfile.TemporaryDirectory(dir=scratch, ignore_cleanup_errors=True) as folder:
            work = Path(folder)
            for name in ("program", "c"):
                shutil.copytree(base_dir / name, work / "compiled" / name)
            which, mutation = fuzz_inputs.mutate_compiled(data, work / "compiled" / "program",
                                                          work / "compiled" / "c")
            command = "run golden" if which == "program" else "run c"
            argv, outputs = input_commands(case, case.input, work, work / "compiled")[command]
            _check_case(tally, command, argv, outputs, work, base_runs[f"input {command}"],
                        mutation.expected(command), f"{case.name}: {mutation.describe}")

    explore()
    _finish(tally, record_property, "compiled")


def test_fuzz_output_paths(cases, baselines, scratch, record_property):
    """``-o`` where it cannot go: a folder for a file, a file for a folder, a path under a
    file. Each is refused before any work, and what was there stays."""
    tally = Tally()

    @_settings("paths")
    @given(st.data())
    def explore(data):
        case = data.draw(st.sampled_from(cases), label="case")
        base_dir, base_runs = baselines[case.name]
        with tempfile.TemporaryDirectory(dir=scratch, ignore_cleanup_errors=True) as folder:
            work = Path(folder)
            inputs = work / case.input.name
            shutil.copy(case.input, inputs)
            (work / "taken").write_text("not a folder\n")
            (work / "folder.npz").mkdir()
            (work / "folder.npz" / "keep.txt").write_text("kept\n")
            commands = graph_commands(case, case.model, inputs, work)
            command = data.draw(st.sampled_from(sorted(set(commands) - {"info"})),
                                label="command")
            argv, _ = commands[command]
            writes_file = command.startswith("simulate")
            where = data.draw(st.sampled_from(["existing", "under a file"]), label="where")
            target = (work / ("folder.npz" if writes_file else "taken")) \
                if where == "existing" else work / "taken" / "out"
            argv = argv[:argv.index("-o") + 1] + [str(target)]
            outputs = ("taken", "folder.npz")
            _check_case(tally, command, argv, outputs, work, base_runs[command], Expect.REJECT,
                        f"{case.name}: -o {where} ({target.name})")

    explore()
    _finish(tally, record_property, "output paths")
