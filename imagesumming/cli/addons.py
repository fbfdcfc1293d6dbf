"""CLI commands of the add-ons: split, merge, frames, sum-frames (thin over :mod:`imagesumming.addons`)."""

from __future__ import annotations

import argparse

from . import options as o
from .options import add_locs_options, locs_file, locs_files

_FORMATS_HELP = (f"localization format to write: {', '.join(o.WRITE_FORMATS)} "
                 "(default: the input's; a Picasso csv export is written as ThunderSTORM csv)")


def _common(p: argparse.ArgumentParser) -> None:
    o.add_to(p, help=_FORMATS_HELP)
    o.add_pixel_size(p)
    o.add_drop_invalid(p)
    o.add_force(p)
    add_locs_options(p)


def register(sub) -> None:
    p = sub.add_parser("split", help="split a movie and its localizations in two at a frame",
                       description="Frames 1..F go to DIR/<stem>_part1.tif, the rest to DIR/<stem>_part2.tif "
                                   "(frames renumbered from 1); localizations follow their frames into "
                                   "<stem>_partK.csv (Picasso: <stem>_partK_locs.hdf5 + yaml).")
    p.add_argument("movie", help="movie (.tif, .raw)")
    p.add_argument("locs", nargs="?", help="its localizations (Picasso, ThunderSTORM, Deep-STORM)")
    p.add_argument("--at", type=int, required=True, metavar="F", help="last frame (1-based) of the first part")
    o.add_output(p, "folder", "<stem>_part1.tif, <stem>_part2.tif and their localizations")
    _common(p)
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("merge", help="stack movies (and their localizations) into one",
                       description="Frames stacked in the order given; localization frames offset by the "
                                   "frame counts of the movies before. Image and pixel sizes must agree.")
    p.add_argument("--movie", action="append", required=True, metavar="TIF", help="a movie (repeat, in order)")
    p.add_argument("--locs", action="append", metavar="FILE", help="its localizations (repeat, one per movie)")
    o.add_output(p, "file", "the merged movie OUT.tif (localizations in OUT.csv or OUT_locs.hdf5)", old=())
    _common(p)
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("frames", help="write every frame as its own tif and localization file",
                       description="DIR/<stem>_01.tif and <stem>_01.csv ... (zero-padded to the width of the "
                                   "frame count, so they sort); "
                                   "every frame is frame 1 of its file; empty frames get a csv with the header.")
    p.add_argument("movie", help="movie (.tif, .raw)")
    p.add_argument("locs", nargs="?", help="its localizations")
    o.add_output(p, "folder", "<stem>_01.tif, <stem>_01.csv, ... (one pair per frame)")
    _common(p)
    p.set_defaults(func=cmd_frames)

    p = sub.add_parser("sum-frames", help="sum every N frames into one (offset subtracted N-1 times)",
                       description="Every N consecutive frames (or N frames drawn at random without "
                                   "replacement with --shuffle) are summed exactly in a wide integer type, "
                                   "minus (N-1) x the camera offset; the remainder frames are reported and left "
                                   "out. With --locs the summed movie gets its ground truth. OUT_groups.json "
                                   "records the source frames of every summed frame and the seed.")
    p.add_argument("movie", help="movie (.tif, .raw)")
    p.add_argument("--locs", metavar="FILE", help="its localizations (ground truth of the summed movie)")
    p.add_argument("-n", type=int, required=True, metavar="N", help="frames per sum")
    o.add_camera_offset(p, "subtracted N-1 times from each sum of N frames")
    o.add_output(p, "file", "the summed movie OUT.tif (with OUT.csv or OUT_locs.hdf5 and OUT_groups.json)", old=())
    p.add_argument("--shuffle", action="store_true", help="draw the N frames at random instead of consecutively")
    o.add_seed(p, default=0, used="with --shuffle only, which draws at random; refused without it",
               recorded="OUT_groups.json")
    p.set_defaults(seed=None)  # to tell a --seed given without --shuffle (0 is used when --shuffle comes alone)
    _common(p)
    p.set_defaults(func=cmd_sum_frames)


def _options(args) -> dict:
    return {"to": args.to, "pixel_size": args.pixel_size, "on_invalid": o.on_invalid(args),
            "force": args.force, "progress": o.progress(args)}


def _report(args, result) -> int:
    for text in result.notes:
        o.note(args, text)
    o.say(args, result.summary())
    o.detail(args, *(f"wrote {path}: {n} frames" for path, n in result.movies.items()),
             *(f"wrote {path}: {n} localizations" for path, n in result.locs.items()),
             *(f"wrote {path}" for path in result.sidecars))
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    from ..addons import split_movie

    return _report(args, split_movie(args.movie, locs_file(args.locs, args), at=args.at, out_dir=args.output, **_options(args)))


def cmd_merge(args: argparse.Namespace) -> int:
    from ..addons import merge_movies

    return _report(args, merge_movies(args.movie, locs_files(args.locs, args), output=args.output, **_options(args)))


def cmd_frames(args: argparse.Namespace) -> int:
    from ..addons import split_frames

    return _report(args, split_frames(args.movie, locs_file(args.locs, args), out_dir=args.output, **_options(args)))


def cmd_sum_frames(args: argparse.Namespace) -> int:
    from ..addons import sum_frames

    from ..errors import InputError

    if args.seed is not None and not args.shuffle:  # a seed that would seed nothing, and be recorded as none
        raise InputError("--seed is used only with --shuffle (consecutive frames draw nothing at random): add "
                         "--shuffle, or leave --seed out")
    seed = 0 if args.seed is None else args.seed
    return _report(args, sum_frames(args.movie, locs_file(args.locs, args), n=args.n, camera_offset=o.camera_offset(args),
                                    output=args.output, shuffle=args.shuffle, seed=seed, **_options(args)))
