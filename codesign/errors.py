"""User-facing errors: one line that names the cause and the fix (DESIGN contract 6)."""

import sys


class CodesignError(Exception):
    """An error caused by the user's input. The CLI prints it on one line and exits with status 2.

    ``cause`` says what is wrong, ``fix`` says what to do about it.
    """

    def __init__(self, cause: str, fix: str = ""):
        self.cause = cause.rstrip(".")
        self.fix = fix.rstrip(".")
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = self.cause
        if self.fix:
            text += f"; {self.fix}"
        return " ".join(text.split())


class DoesNotFit(CodesignError):
    """A network that does not fit an HWConfig. ``knobs`` are the HWConfig values that lift the
    limit named in ``cause``; other limits may still be in the way, which
    :func:`codesign.compiler.analysis.sizing.fitting_config` finds by mapping again."""

    def __init__(self, cause: str, knobs: dict[str, int], alternative: str = ""):
        self.knobs = dict(knobs)
        fix = "use an HWConfig with " + ", ".join(f"{knob}: {value}"
                                                   for knob, value in self.knobs.items())
        super().__init__(cause, f"{fix} ({alternative})" if alternative else fix)


def warn(text: str) -> None:
    """Print a warning (legal input that is almost surely a mistake) on one line of stderr."""
    print(f"codesign: warning: {' '.join(text.split())}", file=sys.stderr)
