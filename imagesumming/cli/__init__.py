"""Command line: ``imagesumming <command> ...``; a thin layer over the Python API.

One module per command group in this package; the options several commands share live in
:mod:`imagesumming.cli.options`.

Each command module exposes ``register(subparsers)`` which adds its parser and sets
``func=handler``; handlers return an exit code. A command module imports only argparse and
:mod:`.options` at its top; the handler imports what it uses, so ``--help`` and ``--version`` load
nothing heavy. Errors from user input (:class:`~imagesumming.errors.ImageSummingError`) are
printed on one line in the CLI's words (``use --force``), without a traceback, and the exit code
is 2. A closed pipe (``imagesumming info f | head -1``) ends the command quietly, as Unix tools do; into
a pipe, what a command says is printed when it ends, so that a closed pipe cannot stop it before its
outputs land (into a terminal or a file, as it comes).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import logging
import os
import re
import stat
import sys

from .. import __version__
from ..errors import ImageSummingError, front_end
from . import options

# Command groups in workflow order (``--help`` lists their commands in this order): look at the
# files, sum, the density of the movie to analyze (sum --match), the add-ons, train (notebooks), evaluate.
COMMAND_MODULES = ("files", "summing", "density", "addons", "notebook", "notebooks", "evaluate")

#: exit status after a closed pipe: 128 + SIGPIPE, what a shell reports for a Unix tool ended by it
EXIT_BROKEN_PIPE = 141


def command_modules() -> list[str]:
    """Modules that add subcommands, each with ``register(subparsers)``."""
    return [f"imagesumming.cli.{n}" for n in COMMAND_MODULES]


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line, as every other error of the CLI (argparse's own
    print the whole usage block first); the line says where the options are listed."""

    def error(self, message):
        import difflib

        choice = re.match(r"argument COMMAND: invalid choice: '([^']*)'", message)
        if choice:  # a mistyped command: the closest ones, not the list of all
            commands = self._subcommands()
            close = difflib.get_close_matches(choice.group(1), commands, n=2, cutoff=0.6)
            message = (f"unknown command '{choice.group(1)}'"
                       + (f": did you mean {' or '.join(close)}?" if close else f"; commands: {', '.join(commands)}"))
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        ns, extras = self.parse_known_args(args, namespace)
        if extras:  # said by the command's parser, which names the command and its help
            parser = self._subcommands().get(getattr(ns, "command", None), self)
            parser.error(f"unrecognized arguments: {' '.join(extras)}{parser._closest(extras)}")
        return ns

    def _closest(self, extras) -> str:
        """``: did you mean --patches?`` for a mistyped option (``--patchs``), else nothing."""
        import difflib

        known = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
        for word in extras:
            if word.startswith("--"):
                close = difflib.get_close_matches(word.split("=")[0], known, n=2, cutoff=0.7)
                if close:
                    return f": did you mean {' or '.join(close)}?"
        return ""

    def _subcommands(self) -> dict:
        action = next((a for a in self._actions if isinstance(a, argparse._SubParsersAction)), None)
        return dict(action.choices) if action else {}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="imagesumming",
        description="High-density Deep-STORM training data from real low-density SMLM movies.",
        epilog="Run `imagesumming COMMAND --help` for a command's options. Errors: one line on stderr, "
               "exit code 2.")
    parser.add_argument("--version", action="version", version=f"imagesumming {__version__}")
    options.add_verbosity(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        importlib.import_module(name).register(sub)
    for command in sub.choices.values():  # `imagesumming sum ... -q` works as well as `imagesumming -q sum`
        options.add_verbosity(command)
    return parser


def _silence_stdout() -> None:
    """After a closed pipe: send what is still buffered nowhere, so exiting does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (a test's capture)
        pass


def main(argv=None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # the reader went away (`| head`): not an error, nothing to print
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _main(argv) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):  # no command: the help, on stderr as every other usage error
        parser.print_help(sys.stderr)
        return 2
    if getattr(args, "quiet", False) and getattr(args, "verbose", False):  # one before, one after the command
        parser._subcommands().get(args.command, parser).error("-q/--quiet and -v/--verbose: choose one")
    for text in options.deprecation_notes(args):
        options.deprecated(args, text)
    level = logging.ERROR if options.quiet(args) else logging.INFO if options.verbose(args) else logging.WARNING
    logging.basicConfig(format="imagesumming: %(levelname)s: %(message)s")
    logger = logging.getLogger("imagesumming")
    saved = logger.level
    logger.setLevel(level)  # for this command only (main may run several times in one process)
    try:
        # what the API says while it works (notes, warnings, the summary) in the CLI's words
        with front_end(options.CLI_WORDS, options.option_name):
            code = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        raise
    except ImageSummingError as exc:
        options.stderr(f"imagesumming {args.command}: error: {options.error_text(exc)}")
        return 2
    except OSError as exc:  # disk full, no permission, ...: the system's reason, on one line
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        options.stderr(f"imagesumming {args.command}: error: {where}{exc.strerror or exc}")
        return 1
    except KeyboardInterrupt:
        options.stderr("imagesumming: interrupted")
        return 130
    finally:
        logger.setLevel(saved)


def _run(args) -> int:
    if options.quiet(args):
        # -q prints only errors, whatever a command forgets; output asked for by name
        # (options.product) still reaches stdout, when the command ends (as what it says otherwise)
        asked = args.stdout = io.StringIO()
        with open(os.devnull, "w") as null:
            return _said_after(args.func, args, said=asked, into=null)
    if not _stdout_is_a_pipe():  # a terminal or a log file: as it comes (a long run under nohup shows its notes)
        return int(args.func(args) or 0)
    return _said_after(args.func, args)


def _stdout_is_a_pipe() -> bool:
    """stdout goes to a pipe or socket (whose reader may leave early), or to a capture without a file."""
    try:
        mode = os.fstat(sys.stdout.fileno()).st_mode
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return True
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _said_after(func, args, said: io.StringIO | None = None, into=None) -> int:
    """Run a command, printing what it says when it ends (also when it fails, before the error line).

    For stdout into a pipe: a reader that goes away early (``| head -1``, ``| grep -m1``) then ends
    the command after its outputs have landed, not halfway; progress bars (stderr) still show while
    it works.
    ``into``: where the command's prints go instead of ``said`` (``-q``: nowhere; ``said`` then
    holds only the output asked for by name).
    """
    said = io.StringIO() if said is None else said
    try:
        with contextlib.redirect_stdout(said if into is None else into):
            code = int(func(args) or 0)
    except BaseException:
        try:  # a reader gone meanwhile must not replace the error (exit 141, no error line)
            sys.stdout.write(said.getvalue())
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
        raise
    sys.stdout.write(said.getvalue())
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
