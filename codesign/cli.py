"""The ``codesign`` command line. User errors print one line and exit with status 2; warnings
(legal input that is almost surely a mistake) print one line each, once, when the command
succeeds (or earlier, at :func:`flush_warnings`), and ``--strict`` turns them into errors."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from codesign import __version__
from codesign.errors import CodesignError, InputWarning

#: Modules that add subcommands through ``register(subparsers)``.
COMMAND_MODULES = (
    "codesign.compiler.cli",
    "codesign.examples.cli",
    "codesign.flows.cli",
    "codesign.dse.cli",
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line with exit status 2."""

    def error(self, message: str):
        self.exit(2, f"codesign: error: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="codesign", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"codesign {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    _add_strict(subparsers)
    return parser


def _add_strict(subparsers: argparse._SubParsersAction) -> None:
    """Give every command (``hw verilog`` and the like included) the ``--strict`` flag."""
    for command in subparsers.choices.values():
        nested = [action for action in command._actions
                  if isinstance(action, argparse._SubParsersAction)]
        if nested:
            _add_strict(nested[0])
        else:
            command.add_argument("--strict", action="store_true",
                                 help="treat warnings (input that is legal but almost surely a "
                                      "mistake) as errors: exit 2")


#: InputWarnings of the running command not printed yet, and every one seen (printed once).
_pending: list[str] = []
_seen: set[str] = set()


def _collect(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` while a command runs: keep each InputWarning once."""
    if not issubclass(category, InputWarning):
        print(warnings.formatwarning(message, category, filename, lineno, line), end="",
              file=sys.stderr)
    elif str(message) not in _seen:
        _seen.add(str(message))
        _pending.append(str(message))


def flush_warnings() -> None:
    """Print the warnings collected so far (a long command calls this once its input is read;
    a rejected command prints only its one-line error)."""
    for message in _pending:
        print(f"codesign: warning: {message}", file=sys.stderr)
    _pending.clear()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    strict = getattr(args, "strict", False)
    _pending.clear()
    _seen.clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error" if strict else "always", InputWarning)
            warnings.showwarning = _collect
            status = args.handler(args)
        flush_warnings()
        return status
    except InputWarning as warning:   # --strict
        print(f"codesign: error: {warning} (--strict)", file=sys.stderr)
        return 2
    except CodesignError as error:
        print(f"codesign: error: {error.one_line()}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `codesign info m.nir | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("codesign: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
