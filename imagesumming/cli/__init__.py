"""Command line: ``imagesumming <command> ...``; a thin layer over the Python API.

One module per command group in this package.

Each command module exposes ``register(subparsers)`` which adds its parser and sets
``func=handler``; handlers return an exit code. Errors from user input
(:class:`~imagesumming.errors.ImageSummingError`) are printed on one line, without a traceback,
and the exit code is 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .. import __version__
from ..errors import ImageSummingError



# Command groups in workflow order (``--help`` lists their commands in this order): look at the
# files, the density of the movie to analyze, sum, the add-ons, train (notebooks), evaluate.
COMMAND_MODULES = ("files", "density", "summing", "addons", "notebook", "notebooks", "evaluate")


def command_modules() -> list[str]:
    """Modules that add subcommands, each with ``register(subparsers)``."""
    return [f"imagesumming.cli.{n}" for n in COMMAND_MODULES]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagesumming",
        description="High-density Deep-STORM training data from real low-density SMLM movies.",
    )
    parser.add_argument("--version", action="version", version=f"imagesumming {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        importlib.import_module(name).register(sub)
    for command in sub.choices.values():  # `imagesumming sum ... -q` works as well as `imagesumming -q sum`
        command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                             help="only print errors")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.WARNING,
                        format="imagesumming: %(levelname)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ImageSummingError as exc:
        print(f"imagesumming {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, no permission, ...: the system's reason, on one line
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"imagesumming {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("imagesumming: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
