"""CLI command ``imagesumming density``: emitters/µm², background and noise of a movie without localizations."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


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
    p.add_argument("--pixel-size", type=float, metavar="NM", help="camera pixel size in nm (default: from the files)")
    p.add_argument("--camera-offset", type=float, metavar="ADU",
                   help="camera offset: also report the background above it (the density does not need it)")
    p.add_argument("--border", type=int, metavar="PX",
                   help="pixels left out at each frame edge (default: 3 PSF sigma from the localizations, >= 4)")
    p.add_argument("--drop-invalid", action="store_true",
                   help="drop calibration localizations outside their movie or beyond its frames (counts are reported)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--plots", action="store_true",
                   help="write a figure (density per frame, background, calibration fit): OUT/<stem>_density.png")
    p.add_argument("-o", "--output", default=".", metavar="DIR", help="folder for --plots (default: current folder)")
    p.add_argument("--force", action="store_true", help="overwrite an existing figure")
    p.set_defaults(func=cmd_density)


def cmd_density(args: argparse.Namespace) -> int:
    from .._files import atomic_path, check_outputs
    from ..density import measure_density
    from ..errors import InputError

    quiet = getattr(args, "quiet", False)
    if not args.calibrate:
        raise InputError("no calibration given: add --calibrate LOW.tif LOW_LOCS (a low-density movie of the same "
                         "sample and camera settings and its localizations)")
    png = Path(args.output) / f"{Path(args.movie).stem}_density.png"
    if args.plots:
        check_outputs([png], force=args.force)
    result = measure_density(args.movie, [m for m, _ in args.calibrate], [loc for _, loc in args.calibrate],
                             pixel_size=args.pixel_size, border=args.border, camera_offset=args.camera_offset,
                             on_invalid="drop" if args.drop_invalid else "error", progress=not quiet and not args.json)
    if args.plots:
        with atomic_path(png, force=args.force) as tmp:
            result.plot().savefig(tmp, format="png", dpi=110)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    elif not quiet:
        print(result.summary())
        if args.plots:
            print(f"figure: {png}")
    return 0
