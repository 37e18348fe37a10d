"""User-facing errors and warnings: one line that names the cause and the fix (DESIGN contract
6)."""

import warnings


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


class InputWarning(UserWarning):
    """Input that is legal but almost surely a mistake (a threshold <= 0, weights that saturate
    the chosen bits, a layer that never spikes, an implied recurrent delay). The CLI prints each
    once as ``codesign: warning: <cause>; <fix>``; ``--strict`` turns it into an error (exit 2).
    """


def warn(cause: str, fix: str = "") -> None:
    """Raise an :class:`InputWarning` through :mod:`warnings` (one line, like CodesignError)."""
    warnings.warn(InputWarning(CodesignError(cause, fix).one_line()), stacklevel=2)
