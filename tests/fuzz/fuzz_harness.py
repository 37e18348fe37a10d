"""The CLI fuzz test's machinery: run ``codesign`` in-process, classify each run against the
unmutated input's run, and count the outcomes.

A case is one mutated input run through one subcommand. Every mutation says what a correct
command line must do with it (:class:`Expect`); :func:`judge` holds the run to that:

* ``REJECT``: exit 2 with one line, ``codesign: error: ...``, on stderr;
* ``SAME``: accepted with the unmutated input's result, or rejected / accepted with a warning
  the unmutated input does not raise;
* ``WARN``: rejected, or accepted with a new warning;
* ``VARIANT``: a different but valid input (a negative weight, a recurrent edge removed): any
  result, as long as the run is clean.

Always: no traceback (any exception but ``SystemExit`` escaping ``main``), a rejection is
exactly one stderr line with exit status 2, and a rejected run leaves its output path as it was.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from codesign.cli import main

#: What the fuzz summary counts, in the order it prints them.
OUTCOMES = ("tried", "rejected", "warned", "identical", "valid variant", "traceback",
            "silent wrong", "bad rejection", "lost state")
FAILURES = ("traceback", "silent wrong", "bad rejection", "lost state")


class Expect(enum.Enum):
    REJECT = "reject"
    SAME = "same"
    WARN = "warn"
    VARIANT = "variant"


@dataclass
class Run:
    status: int | None
    stdout: str
    stderr: str
    traceback: str = ""
    outputs: dict[str, str] = field(default_factory=dict)   # file -> sha256 of what it wrote

    @property
    def warnings(self) -> set[str]:
        return {line for line in self.stderr.splitlines()
                if line.startswith("codesign: warning:")}


def invoke(argv: list[str], workdir: Path, outputs: tuple[str, ...] = ()) -> Run:
    """``codesign ARGV`` in-process; ``outputs`` are the files and folders (relative to
    ``workdir``) whose content is its result. Paths under ``workdir`` print as ``<dir>``."""
    out, err = io.StringIO(), io.StringIO()
    status, trace = None, ""
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    except Exception as error:  # noqa: BLE001 - every escaping exception is the finding
        import traceback

        trace = "".join(traceback.format_exception(error))
    clean = lambda text: text.replace(str(workdir), "<dir>")
    run = Run(status, clean(out.getvalue()), clean(err.getvalue()), trace)
    if status == 0:
        run.outputs = snapshot(workdir, outputs)
    return run


def snapshot(workdir: Path, names: tuple[str, ...]) -> dict[str, str]:
    """sha256 of every file under ``names`` (files or folders) in ``workdir``."""
    digests = {}
    for name in names:
        path = workdir / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else \
            [path] if path.is_file() else []
        for file in files:
            digests[str(file.relative_to(workdir))] = hashlib.sha256(file.read_bytes()).hexdigest()
    return digests


def leftovers(workdir: Path) -> list[str]:
    """Staging files or folders an interrupted write would leave behind."""
    return [str(p.relative_to(workdir)) for p in workdir.rglob("*.partial")]


_NUMBER = re.compile(r"\d+\.\d+ s\b|\(\d+ s\)|in \d+\.\d+ s")


def result_of(run: Run) -> tuple:
    """What must be equal for an accepted run to count as "the same result": status, stdout
    (timings masked) and every output file's content."""
    return run.status, _NUMBER.sub("<t>", run.stdout), tuple(sorted(run.outputs.items()))


@dataclass
class Verdict:
    outcome: str
    detail: str = ""


def judge(run: Run, baseline: Run, expect: Expect, state_before: dict[str, str] | None = None,
          state_after: dict[str, str] | None = None) -> Verdict:
    """Classify ``run`` of a mutated input against ``baseline``, the unmutated input's run."""
    if run.traceback:
        return Verdict("traceback", run.traceback.strip().splitlines()[-1])
    lines = run.stderr.strip().splitlines()
    if run.status != 0:
        if run.status != 2 or len(lines) != 1 or not lines[0].startswith("codesign: error: "):
            return Verdict("bad rejection", f"status {run.status}, stderr {run.stderr[:300]!r}")
        if state_before is not None and state_before != state_after:
            return Verdict("lost state", "a rejected run changed its output path")
        return Verdict("rejected", lines[0])
    if state_after is not None and any(name.endswith(".partial") for name in state_after):
        return Verdict("lost state", "staging files left behind")
    if expect is Expect.REJECT:
        return Verdict("silent wrong", "accepted an input that must be rejected: "
                       f"{run.stderr[:200]!r}")
    new_warnings = run.warnings - baseline.warnings
    if new_warnings:
        return Verdict("warned", sorted(new_warnings)[0])
    if expect is Expect.VARIANT:
        return Verdict("valid variant")
    if expect is Expect.WARN:
        return Verdict("silent wrong", "accepted without a warning")
    if result_of(run) != result_of(baseline):
        return Verdict("silent wrong", "accepted without a warning, result differs from the "
                       "unmutated input's")
    return Verdict("identical")


class Tally:
    """Outcome counts of one test (reported through pytest's ``user_properties``)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.failures: list[str] = []

    def add(self, verdict: Verdict, case: str) -> None:
        self.counts["tried"] += 1
        self.counts[verdict.outcome] += 1
        if verdict.outcome in FAILURES:
            self.failures.append(f"{verdict.outcome}: {case}: {verdict.detail}")
