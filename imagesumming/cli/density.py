"""CLI command ``imagesumming density``: emitters/µm², background and noise of a movie without localizations."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import options as o
from .options import add_locs_options, locs_files


def register(sub) -> None:
    p = sub.add_parser(
        "density", help="estimate the emitter density of a dense movie without localizations",
        description="Estimate, per frame of DENSE, the emitters per µm² (as the calibration's localizations count "
                    "them) from its signal above background, calibrated on low-density movies with known "
                    "localizations (their signal per localization); also its background and background noise "
                    "(ADU, camera offset included) and an uncertainty (1 sd: calibration slope and the frames' "
                    "standard error).")
    p.add_argument("movie", metavar="DENSE.tif", help="the dense movie to analyze (.tif or Picasso .raw)")
    p.add_argument("--calibrate", nargs=2, action="append", metavar=("LOW.tif", "LOW_LOCS"), default=[],
                   help="a low-density movie of the same sample and camera settings and its localizations "
                        "(Picasso hdf5/csv, ThunderSTORM or Deep-STORM csv); repeat for several")
    o.add_pixel_size(p)
    add_locs_options(p, what="the calibration localizations")
    p.add_argument("--camera-offset", type=o.finite_float, metavar="ADU",
                   help="camera offset (baseline): also report the background above it (the density does not "
                        "need it; default: not reported)")
    p.add_argument("--border", type=int, metavar="PX",
                   help="pixels left out at each frame edge (default: 3 PSF sigma from the localizations, >= 4)")
    o.add_drop_invalid(p)
    p.add_argument("--json", action="store_true", help="print the result as one JSON object (also with -q)")
    p.add_argument("--plots", action="store_true",
                   help="write a figure (density per frame, background, calibration fit): DIR/<stem>_density.png")
    o.add_output(p, "folder", "where the figure goes (implies --plots; default with --plots: the current folder)",
                 required=False)
    o.add_force(p)
    p.set_defaults(func=cmd_density)


def cmd_density(args: argparse.Namespace) -> int:
    from .._files import atomic_path, check_outputs
    from ..density import measure_density
    from ..errors import InputError

    if not args.calibrate:
        raise InputError("no calibration given: add --calibrate LOW.tif LOW_LOCS (a low-density movie of the same "
                         "sample and camera settings and its localizations)")
    args.plots = args.plots or args.output is not None  # a folder for the figure asks for the figure
    png = Path(args.output or ".") / f"{Path(args.movie).stem}_density.png"
    if args.plots:
        check_outputs([png], force=args.force)
    result = measure_density(args.movie, [m for m, _ in args.calibrate], locs_files([loc for _, loc in args.calibrate], args),
                             pixel_size=args.pixel_size, border=args.border, camera_offset=args.camera_offset,
                             on_invalid=o.on_invalid(args), progress=o.progress(args))
    if args.plots:
        with atomic_path(png, force=args.force) as tmp:
            result.plot().savefig(tmp, format="png", dpi=110)
    if args.json:
        o.product(args, json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        o.say(args, result.summary(), *([f"figure: {png}"] if args.plots else []))
    return 0
