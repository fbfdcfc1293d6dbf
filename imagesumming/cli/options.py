"""Options several commands share: one spelling, one meaning, one help text each.

A command module adds them with the ``add_*`` functions (``add_output(p, "folder", "...")``,
``add_force(p)``, ...) and prints through :func:`say`, :func:`note` and :func:`detail`, which
follow ``-q`` (only errors) and ``-v`` (more detail). Nothing heavy is imported here:
``imagesumming --help`` builds every parser.

Conventions (README, "Command line"):

* ``-o/--output`` on every command that writes: a folder or a file, as its help says. Old
  spellings (``--out``) still work, hidden from the help, with a note that they are deprecated.
* ``--force`` overwrites existing outputs (never an input). ``--pixel-size`` is the camera pixel
  size in nm and overrides the files. ``--frame-base`` says how the localization file numbers its
  frames. ``--drop-invalid`` drops (and counts) localizations outside the image, NaN or beyond the
  movie instead of stopping. ``--seed`` seeds every random choice and is recorded in the outputs.
* ``--camera-offset`` defaults to 100 ADU wherever it is used (see :func:`add_camera_offset`).
"""

from __future__ import annotations

import argparse
import os
import sys

from .._defaults import DEFAULTS

#: formats ``--to`` writes (aliases such as ``picasso-hdf5``, ``ts`` are accepted too)
WRITE_FORMATS = ("deepstorm", "thunderstorm", "picasso", "prediction")
#: the reader's names of the formats above (:data:`imagesumming.io.FORMATS`)
_WRITABLE = {"deepstorm": "deepstorm", "thunderstorm": "thunderstorm", "picasso-hdf5": "picasso",
             "deepstorm-prediction": "prediction"}

#: camera offset (ADU) when ``--camera-offset`` is not given: Picasso's default baseline and the
#: original ImageSumming notebook's (the commands say when they use it)
CAMERA_OFFSET = DEFAULTS["camera_offset"]

#: how the CLI words an error's hint (:meth:`imagesumming.errors.ImageSummingError.render`); any
#: other parameter is worded as its option (:func:`option_name`)
CLI_WORDS = {
    "force": "use --force",
    "on_invalid": "drop them with --drop-invalid",
    "unique": "leave out --unique",
}
#: API parameters whose option is not simply their name with dashes
_OPTIONS = {"n_patches": "--patches", "n_summed": "--summed"}


def option_name(parameter: str) -> str:
    """The option of an API parameter: ``patch_size`` -> ``--patch-size``, ``n_patches`` -> ``--patches``."""
    return _OPTIONS.get(parameter) or "--" + parameter.replace("_", "-")


def error_text(exc) -> str:
    """An :class:`~imagesumming.errors.ImageSummingError` in the CLI's words."""
    return exc.render(CLI_WORDS, option_name) if hasattr(exc, "render") else str(exc)


# ---------------------------------------------------------------------------------------------
# options
# ---------------------------------------------------------------------------------------------

class _Store(argparse.Action):
    """Store the value; an old spelling also leaves a deprecation note for :func:`deprecation_notes`."""

    def __init__(self, *args, deprecated=(), kind=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.deprecated = tuple(deprecated)
        self.kind = kind

    def __call__(self, parser, namespace, values, option_string=None):
        # "" would be the current folder, and "out/" a file named "out": never what was meant
        if self.kind is not None and not str(values).strip():
            parser.error(f"argument {option_string}: empty; give the output {self.kind}")
        if self.kind == "file" and str(values).endswith(("/", os.sep)):
            parser.error(f"argument {option_string}: {values!r} names a folder; give the output file's name")
        setattr(namespace, self.dest, values)
        if option_string in self.deprecated:
            shown = "/".join(self.option_strings)
            notes = list(getattr(namespace, "deprecated_options", None) or [])
            notes.append(f"{option_string} is deprecated and will go: use {shown}")
            namespace.deprecated_options = notes


def add_output(p: argparse.ArgumentParser, kind: str, help: str, *, required: bool = True,
               default=None, metavar: str | None = None, old: tuple = ("--out",)) -> argparse.Action:
    """``-o/--output``: where the command writes.

    Parameters
    ----------
    kind : {"folder", "file"}
        What ``-o`` names; the help starts with it.
    help : str
        What lands there.
    old : tuple of str
        Earlier spellings that still parse (hidden from ``--help``, with a deprecation note).
    """
    if kind not in ("folder", "file"):
        raise ValueError(f"kind must be 'folder' or 'file', got {kind!r}")
    metavar = metavar or ("DIR" if kind == "folder" else "OUT")
    action = p.add_argument("-o", "--output", *old, action=_Store, deprecated=old, kind=kind, dest="output",
                            required=required, default=default, metavar=metavar,
                            help=f"output {kind}: {help}")
    # old spellings stay in the parser's table (they parse) but not in the help or usage
    action.option_strings = ["-o", "--output"]
    return action


def deprecation_notes(args) -> list[str]:
    """Notes about old option spellings used on this command line."""
    return list(getattr(args, "deprecated_options", None) or [])


def add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="overwrite existing outputs (never an input)")


def add_pixel_size(p: argparse.ArgumentParser, default: str = "the tif tags or the Picasso yaml") -> None:
    p.add_argument("--pixel-size", type=float, metavar="NM",
                   help=f"camera pixel size in nm; overrides the files (default: from {default})")


def add_frame_base(p: argparse.ArgumentParser) -> None:
    p.add_argument("--frame-base", type=int, choices=(0, 1),
                   help="first frame number of the localization file: 0 (Picasso) or 1 (ThunderSTORM, "
                        "Deep-STORM); default: the format's own")


_DROP_HELP = ("drop (and count) localizations with NaN or negative x/y, outside the image or beyond the last "
              "frame instead of stopping")


def add_drop_invalid(p: argparse.ArgumentParser, *, keep: bool = False) -> None:
    """``--drop-invalid`` (and, for commands that can keep them, ``--keep-invalid``)."""
    if not keep:
        p.add_argument("--drop-invalid", action="store_true", help=_DROP_HELP)
        return
    g = p.add_mutually_exclusive_group()
    g.add_argument("--drop-invalid", action="store_true", help=_DROP_HELP)
    g.add_argument("--keep-invalid", action="store_true", help="keep such localizations (counts are printed)")


def on_invalid(args) -> str:
    """``on_invalid=`` of the API from ``--drop-invalid`` / ``--keep-invalid``."""
    if getattr(args, "drop_invalid", False):
        return "drop"
    return "keep" if getattr(args, "keep_invalid", False) else "error"


def add_seed(p: argparse.ArgumentParser, *, default=None, recorded: str = "the outputs",
             used: str | None = None) -> None:
    """``--seed N``: seeds every random choice of the command; recorded in ``recorded``."""
    when = "drawn at random" if default is None else str(default)
    what = f"; {used}" if used else ""
    p.add_argument("--seed", type=int, default=default, metavar="N",
                   help="seed of every random choice; the same seed and inputs give the same outputs "
                        f"(default: {when}; recorded in {recorded}{what})")


def finite_float(text: str) -> float:
    """argparse type: a finite number (``nan`` or ``inf`` would travel silently into every result)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def add_camera_offset(p: argparse.ArgumentParser, what: str) -> None:
    """``--camera-offset ADU``; not given: :data:`CAMERA_OFFSET`, and the command says so.

    One rule for ``sum`` and ``sum-frames``: a default of 100 ADU (the original notebook's, and
    Picasso's default baseline) keeps existing ``sum`` scripts working, and printing a note when it
    is used keeps it from being silent (:func:`camera_offset`).
    """
    p.add_argument("--camera-offset", type=finite_float, metavar="ADU",
                   help=f"camera offset (baseline) in ADU, {what} (default: {CAMERA_OFFSET:g}, with a note)")


def camera_offset(args) -> float:
    """The offset to use; a note when it is the default."""
    if args.camera_offset is not None:
        return args.camera_offset
    note(args, f"camera offset {CAMERA_OFFSET:g} ADU (the default): give --camera-offset when your "
               "camera's baseline differs")
    return CAMERA_OFFSET


def _write_format(value: str) -> str:
    from ..errors import InputError
    from ..io.locs import normalize_format

    try:
        fmt = normalize_format(value)
    except InputError:
        fmt = None
    if fmt not in _WRITABLE:
        if fmt == "picasso-csv":
            why = "Picasso csv is read, not written (Picasso itself exports it); "
        else:
            why = ""
        raise argparse.ArgumentTypeError(f"cannot write {value!r}: {why}choose {', '.join(WRITE_FORMATS)}")
    return _WRITABLE[fmt]


def add_to(p: argparse.ArgumentParser, *, default: str | None = None, help: str | None = None) -> None:
    """``--to FMT``: a format that can be written (checked when the command line is read)."""
    text = help or ("localization format to write: " + ", ".join(WRITE_FORMATS)
                    + (f" (default: {default})" if default else ""))
    p.add_argument("--to", type=_write_format, default=default, metavar="FMT", help=text)


def add_verbosity(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``-q/--quiet`` (only errors) and ``-v/--verbose`` (more detail), before or after the command."""
    kw = {} if top else {"default": argparse.SUPPRESS}  # a command's own flag never resets the global one
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", help="print only errors", **kw)
    g.add_argument("-v", "--verbose", action="store_true", help="print more detail", **kw)


# ---------------------------------------------------------------------------------------------
# printing
# ---------------------------------------------------------------------------------------------

def quiet(args) -> bool:
    return bool(getattr(args, "quiet", False))


def verbose(args) -> bool:
    return bool(getattr(args, "verbose", False)) and not quiet(args)


def say(args, *lines: str) -> None:
    """What the command did (stdout); nothing with ``-q``."""
    if not quiet(args):
        for line in lines:
            print(line)


def note(args, text: str) -> None:
    """Something worth knowing that is not an error (``note: ...``); nothing with ``-q``."""
    say(args, f"note: {text}")


def detail(args, *lines: str) -> None:
    """More detail, only with ``-v``."""
    if verbose(args):
        for line in lines:
            print(line)


def product(args, text: str, end: str = "\n") -> None:
    """Output the user asked for by name (``patch-notebook --diff``): printed even with ``-q``."""
    print(text, end=end, file=getattr(args, "stdout", None) or sys.stdout)


def deprecated(args, text: str) -> None:
    """A note on stderr that an old spelling was used; nothing with ``-q``."""
    if not quiet(args):
        stderr(f"imagesumming {args.command}: note: {text}")


def progress(args) -> bool:
    """``progress=`` for the API: off with ``-q``; otherwise the API's own rule (a terminal or a notebook)."""
    return not quiet(args)


def stderr(text: str) -> None:
    print(text, file=sys.stderr)


# How to read a localization file: options of every command that reads one. ``--columns`` describes a
# csv of another layout (vendor exports), ``--frame-base`` overrides the format's frame base, ``--unit``
# gives the unit of length columns whose labels state none, ``--origin`` where such a csv puts a pixel's
# centre; LocsFile carries them to read_locs.
_UNITS = ("nm", "um", "px")


def add_locs_options(p: argparse.ArgumentParser, prefix: str = "", what: str = "the localization file(s)") -> None:
    """Add ``--[prefix]columns``, ``--[prefix]frame-base``, ``--[prefix]unit`` and ``--[prefix]origin`` to a parser.

    ``--frame-base`` itself is :func:`add_frame_base` (one help text); it is added only
    when the parser lacks it.
    """
    dest = prefix.replace("-", "_")
    p.add_argument(f"--{prefix}columns", dest=f"{dest}columns", metavar="MAP",
                   help=f"read {what} by this column mapping, e.g. 'frame=Frame,x=X (nm),y=Y (nm)' "
                        f"(for csv files of other tools; needs --{prefix}frame-base, and --{prefix}unit unless the "
                        "labels state it)")
    if not prefix:
        if "--frame-base" not in p._option_string_actions:
            add_frame_base(p)
    else:
        p.add_argument(f"--{prefix}frame-base", dest=f"{dest}frame_base", type=int, choices=(0, 1),
                       help=f"number of the movie's first frame in {what} (default: the format's: Picasso 0, "
                            "ThunderSTORM and Deep-STORM 1)")
    p.add_argument(f"--{prefix}unit", dest=f"{dest}unit", choices=_UNITS,
                   help=f"unit of the length columns of {what} whose labels state none (px needs --pixel-size)")
    p.add_argument(f"--{prefix}origin", dest=f"{dest}origin", choices=("corner", "centre"),
                   help=f"with --{prefix}columns: where {what} put a pixel's centre: corner = pixel k spans [k, k+1) "
                        "(ThunderSTORM; the default for nm) or centre = at k (Picasso: moved by half a pixel); "
                        "required for x/y in px")


def locs_file(path, args: argparse.Namespace, prefix: str = "", format: str = "auto"):
    """``path`` wrapped with the reading options of ``args`` (None stays None)."""
    if path is None:
        return None
    from ..io.locs import LocsFile, parse_columns  # here, not at import: `imagesumming --help` stays fast

    dest = prefix.replace("-", "_")
    columns = getattr(args, f"{dest}columns", None)
    return LocsFile(path, format=format or "auto", frame_base=getattr(args, f"{dest}frame_base", None),
                    columns=parse_columns(columns) if columns else None, unit=getattr(args, f"{dest}unit", None),
                    origin=getattr(args, f"{dest}origin", None))


def locs_files(paths, args: argparse.Namespace, prefix: str = ""):
    """Several paths wrapped alike (None stays None)."""
    return None if paths is None else [locs_file(p, args, prefix) for p in paths]
