"""User-facing errors: one line that names the cause and the fix (DESIGN contract 6)."""


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
