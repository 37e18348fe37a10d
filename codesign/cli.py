"""The ``codesign`` command line. User errors print one line and exit with status 2."""

from __future__ import annotations

import argparse
import importlib
import sys

from codesign import __version__
from codesign.errors import CodesignError

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
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
