"""CLI commands of the foundation: info, convert, demo."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import InputError

def is_movie_path(path) -> bool:
    return Path(path).suffix.lower() in (".tif", ".tiff", ".raw")


def register(sub) -> None:
    p = sub.add_parser("info", help="describe a movie or a localization file",
                       description="Format, frames, localizations, pixel size (and where it came from), "
                                   "image size and density per frame of a movie or localization file.")
    p.add_argument("file", help="movie (.tif, .raw) or localization file (.hdf5, .csv)")
    p.add_argument("--pixel-size", type=float, metavar="NM", help="camera pixel size in nm")
    p.add_argument("--movie", metavar="TIF", help="the movie of a localization file (gives image size and frames)")
    p.add_argument("--format", default="auto", help="localization format (default: detect)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("convert", help="convert a localization file (Picasso, ThunderSTORM, Deep-STORM)",
                       description="Convert localizations between Picasso hdf5/csv, ThunderSTORM csv and "
                                   "Deep-STORM csv (the notebook's training format).")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--to", default="deepstorm", help="deepstorm (default), thunderstorm or picasso")
    p.add_argument("--from", dest="from_", default="auto", metavar="FMT", help="input format (default: detect)")
    p.add_argument("--pixel-size", type=float, metavar="NM", help="camera pixel size in nm")
    p.add_argument("--frame-base", type=int, choices=(0, 1), help="override the input's frame base")
    bad = p.add_mutually_exclusive_group()
    bad.add_argument("--drop-invalid", action="store_true",
                     help="drop localizations with NaN/inf or negative x/y, outside the image or beyond the "
                          "last frame (counts are printed); by default they stop the conversion")
    bad.add_argument("--keep-invalid", action="store_true", help="keep such localizations (counts are printed)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("demo", help="run imagesumming on built-in synthetic data",
                       description="Write a synthetic low-density movie with ground truth and run the "
                                   "summing pipeline on it.")
    p.add_argument("--out", default="imagesumming-demo", help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(func=cmd_demo)


def cmd_info(args: argparse.Namespace) -> int:
    from ..io import open_movie, read_locs
    from ..stats import density_per_frame

    if is_movie_path(args.file):
        with open_movie(args.file, pixel_size=args.pixel_size) as m:
            ps = "unknown" if m.pixel_size is None else f"{m.pixel_size:g} nm ({m.pixel_size_source})"
            print(f"file: {args.file}")
            print("format: movie (" + ("memory-mapped" if m.memmapped else "read page by page") + ")")
            print(f"frames: {m.n_frames}")
            print(f"image size: {m.width} x {m.height} px (width x height), dtype {m.dtype}")
            print(f"pixel size: {ps}")
        _print_output_set(args.file)
        return 0
    locs, rep = read_locs(args.file, pixel_size=args.pixel_size, format=args.format)
    print(f"file: {args.file}")
    print(rep.summary())
    print(f"localizations: {len(locs)}")
    if len(locs):
        print(f"frames with localizations: {locs['frame'].nunique()} (frame {locs['frame'].min()} .. {locs['frame'].max()}, 1-based)")
    width = height = n_frames = None
    ps = rep.pixel_size
    size_source = None
    if args.movie:
        with open_movie(args.movie, pixel_size=args.pixel_size) as m:
            width, height, n_frames = m.width, m.height, m.n_frames
            ps = ps or m.pixel_size
            size_source = f"movie {args.movie}"
    elif all(k in rep.metadata for k in ("Width", "Height")):
        width, height = int(rep.metadata["Width"]), int(rep.metadata["Height"])
        n_frames = int(rep.metadata["Frames"]) if "Frames" in rep.metadata else None
        size_source = "file metadata"
    if width and ps:
        print(f"image size: {width} x {height} px = {width * ps / 1000:.2f} x {height * ps / 1000:.2f} µm ({size_source})")
        n = n_frames or (int(locs["frame"].max()) if len(locs) else 1)
        d = density_per_frame(locs, n, width=width, height=height, pixel_size=ps)
        print(f"density per frame over {n} frames (empty frames count): mean {d.mean():.4f}, "
              f"median {np.median(d):.4f} emitters/µm²")
    elif len(locs):
        ext_x, ext_y = locs["x"].max() / 1000, locs["y"].max() / 1000
        print(f"image size: unknown (localizations reach {ext_x:.2f} x {ext_y:.2f} µm; "
              "give --movie for densities)")
    _print_output_set(args.file)
    return 0


def _print_output_set(path) -> None:
    """For files imagesumming wrote: whether they are one complete output set (see _files.output_set)."""
    from .._files import set_report

    report = set_report(path)
    if report:
        print(f"output set: {report}")


def cmd_convert(args: argparse.Namespace) -> int:
    from .._files import output_set
    from ..io import read_locs, write_locs
    from ..validate import check_locs

    locs, rep = read_locs(args.input, pixel_size=args.pixel_size, format=args.from_, frame_base=args.frame_base)
    meta = {k: int(rep.metadata[k]) for k in ("Width", "Height", "Frames") if k in rep.metadata}
    on_invalid = "drop" if args.drop_invalid else "keep" if args.keep_invalid else "error"
    locs, invalid = check_locs(locs, pixel_size=args.pixel_size or rep.pixel_size, width=meta.get("Width"),
                               height=meta.get("Height"), n_frames=meta.get("Frames"), on_invalid=on_invalid,
                               source=args.input)
    kwargs = {}
    if args.to.lower().startswith("picasso") or args.to.lower() in ("hdf5", "h5"):
        ps = args.pixel_size or rep.pixel_size
        if ps is None:
            raise InputError("writing Picasso hdf5 needs the pixel size in nm (--pixel-size)", args.input)
        kwargs["pixel_size"] = ps
        for key, name in (("Width", "width"), ("Height", "height"), ("Frames", "frames")):
            if key in rep.metadata:
                kwargs[name] = int(rep.metadata[key])
    out = Path(args.output)
    picasso = "pixel_size" in kwargs
    # one set (a Picasso hdf5 with its yaml lands whole); never over the input (or its yaml)
    with output_set([out] + ([out.with_suffix(".yaml")] if picasso else []), force=args.force, command="convert",
                    inputs=[args.input, Path(args.input).with_suffix(".yaml")]) as stage:
        write_locs(stage(out), locs, args.to, **kwargs)
    print(f"read {rep.rows_read} rows as {rep.format} ({rep.frame_base}-based frames, {rep.units}"
          + (f", pixel size {rep.pixel_size:g} nm" if rep.pixel_size else "") + ")")
    for note in rep.notes:
        print(f"note: {note}")
    if rep.rows_dropped:
        print(f"dropped: {rep.rows_dropped}")
    if invalid:
        print(("dropped" if on_invalid == "drop" else "kept") + " invalid localizations: "
              + ", ".join(f"{n} {why}" for why, n in invalid.items()))
    print(f"wrote {len(locs)} localizations to {args.output} ({args.to})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    demo = run_demo(args.out, seed=args.seed, force=args.force, verbose=True)
    print(f"wrote synthetic movie {demo['movie']} and ground truth {demo['locs']}")
    print(demo["result"].summary())
    return 0
