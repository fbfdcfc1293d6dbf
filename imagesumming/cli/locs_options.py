"""How to read a localization file, as options every command that reads one has.

``--columns frame=Frame,x=X (nm),y=Y (nm)`` describes a csv of another layout (vendor exports),
``--frame-base`` gives the number of the movie's first frame in the file (overrides the
format's), ``--unit`` the unit of length columns whose labels state none. The paths are wrapped
in :class:`~imagesumming.io.locs.LocsFile`, which carries these options to ``read_locs`` through
the Python API unchanged.
"""

from __future__ import annotations

import argparse

_UNITS = ("nm", "um", "px")


def add_locs_options(p: argparse.ArgumentParser, prefix: str = "", what: str = "the localization file(s)") -> None:
    """Add ``--[prefix]columns``, ``--[prefix]frame-base`` and ``--[prefix]unit`` to a parser.

    ``--frame-base`` itself is :func:`options.add_frame_base` (one help text); it is added only
    when the parser lacks it.
    """
    from . import options as o

    dest = prefix.replace("-", "_")
    p.add_argument(f"--{prefix}columns", dest=f"{dest}columns", metavar="MAP",
                   help=f"read {what} by this column mapping, e.g. 'frame=Frame,x=X (nm),y=Y (nm)' "
                        "(for csv files of other tools; needs --frame-base, and --unit unless the labels state it)")
    if not prefix:
        if "--frame-base" not in p._option_string_actions:
            o.add_frame_base(p)
    else:
        p.add_argument(f"--{prefix}frame-base", dest=f"{dest}frame_base", type=int, choices=(0, 1),
                       help=f"number of the movie's first frame in {what} (default: the format's: Picasso 0, "
                            "ThunderSTORM and Deep-STORM 1)")
    p.add_argument(f"--{prefix}unit", dest=f"{dest}unit", choices=_UNITS,
                   help=f"unit of the length columns of {what} whose labels state none (px needs --pixel-size)")


def locs_file(path, args: argparse.Namespace, prefix: str = "", format: str = "auto"):
    """``path`` wrapped with the reading options of ``args`` (None stays None)."""
    if path is None:
        return None
    from ..io.locs import LocsFile, parse_columns  # here, not at import: `imagesumming --help` stays fast

    dest = prefix.replace("-", "_")
    columns = getattr(args, f"{dest}columns", None)
    return LocsFile(path, format=format or "auto", frame_base=getattr(args, f"{dest}frame_base", None),
                    columns=parse_columns(columns) if columns else None, unit=getattr(args, f"{dest}unit", None))


def locs_files(paths, args: argparse.Namespace, prefix: str = ""):
    """Several paths wrapped alike (None stays None)."""
    return None if paths is None else [locs_file(p, args, prefix) for p in paths]
