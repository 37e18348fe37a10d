"""Session-wide hooks: the CLI fuzz test's outcome counts in the terminal summary (its tests
report them through ``record_property("fuzz", counts)``, which reaches the controller under
pytest-xdist too)."""

from __future__ import annotations

from collections import Counter

_FUZZ: list[dict] = []


def pytest_runtest_logreport(report) -> None:
    if report.when == "call":
        _FUZZ.extend(value for name, value in report.user_properties if name == "fuzz")


def pytest_terminal_summary(terminalreporter) -> None:
    if not _FUZZ:
        return
    from fuzz.fuzz_harness import OUTCOMES

    total: Counter[str] = Counter()
    write = terminalreporter.write_line
    terminalreporter.section("CLI fuzz outcomes")
    for counts in _FUZZ:
        counts = dict(counts)
        kind = counts.pop("kind")
        total.update(counts)
        write(f"{kind:>13}: " + ", ".join(f"{name} {counts.get(name, 0)}" for name in OUTCOMES))
    write(f"{'all':>13}: " + ", ".join(f"{name} {total.get(name, 0)}" for name in OUTCOMES))
