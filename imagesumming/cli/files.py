"""CLI commands of the foundation: demo (try it), info (look at a file), convert."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from . import options as o
from .options import add_locs_options, locs_file


def is_movie_path(path) -> bool:
    return Path(path).suffix.lower() in (".tif", ".tiff", ".raw")


def register(sub) -> None:
    p = sub.add_parser("demo", help="run imagesumming on built-in synthetic data",
                       description="Write a synthetic low-density movie with ground truth and run the "
                                   "summing pipeline on it.")
    o.add_output(p, "folder", "the synthetic movie, its ground truth and the summed training data "
                              "(default: %(default)s)", required=False, default="imagesumming-demo")
    o.add_seed(p, default=0, used="it makes the synthetic movie and draws the patches", recorded="summed_params.json")
    o.add_force(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("info", help="describe a movie or a localization file",
                       description="Format, frames, localizations, pixel size (and where it came from), "
                                   "image size and density per frame of a movie or localization file. "
                                   "Writes nothing.")
    p.add_argument("file", help="movie (.tif, .raw) or localization file (.hdf5, .csv)")
    o.add_pixel_size(p)
    p.add_argument("--movie", metavar="TIF", help="the movie of a localization file (gives image size and frames)")
    p.add_argument("--format", default="auto", metavar="FMT",
                   help="localization format (default: detect): picasso-hdf5, picasso-csv, picasso-plain-csv, "
                        "thunderstorm, deepstorm, deepstorm-prediction (other csv: --columns)")
    o.add_frame_base(p)
    add_locs_options(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("convert", help="convert a localization file (Picasso, ThunderSTORM, Deep-STORM)",
                       description="Convert localizations between Picasso hdf5/csv, ThunderSTORM csv and "
                                   "Deep-STORM csv (the notebook's training format).")
    p.add_argument("input", metavar="IN",
                   help="localization file to convert (Picasso hdf5 + yaml or csv export, ThunderSTORM csv, "
                        "Deep-STORM csv)")
    o.add_output(p, "file", "the converted localizations (Picasso: OUT.hdf5 with its yaml beside it)",
                 old=())
    o.add_to(p, help=f"localization format to write: {', '.join(o.WRITE_FORMATS)} (default: from OUT's name, "
                     ".hdf5 -> picasso, else deepstorm)")
    p.add_argument("--from", dest="from_", default="auto", metavar="FMT", help="input format (default: detect)")
    o.add_pixel_size(p, default="the Picasso yaml")
    o.add_frame_base(p)
    add_locs_options(p, what="the input")
    o.add_drop_invalid(p, keep=True)
    o.add_force(p)
    p.set_defaults(func=cmd_convert)


def cmd_info(args: argparse.Namespace) -> int:
    import numpy as np

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
    with contextlib.ExitStack() as stack:  # the movie, when given, is opened once for both of its uses
        m = stack.enter_context(open_movie(args.movie, pixel_size=args.pixel_size)) if args.movie else None
        # as sum does: a file in camera pixels without metadata takes the movie's pixel size
        locs, rep = read_locs(locs_file(args.file, args, format=args.format), pixel_size=args.pixel_size,
                              fallback_pixel_size=m.pixel_size if m is not None else None,
                              fallback_source=f"movie {args.movie}")
        print(f"file: {args.file}")
        print(rep.summary())
        print(f"localizations: {len(locs)}")
        if len(locs):
            print(f"frames with localizations: {locs['frame'].nunique()} (frame {locs['frame'].min()} .. "
                  f"{locs['frame'].max()}, 1-based)")
        o.detail(args, *_column_lines(locs))
        width = height = n_frames = None
        ps = rep.pixel_size
        size_source = None
        problems = []
        if m is not None:
            width, height, n_frames = m.width, m.height, m.n_frames
            problems += _pixel_size_disagreement(m, rep, args.movie)
            has = {"Frames": n_frames, "Width": width, "Height": height}
            differ = [f"{k} {rep.metadata[k]} (movie: {v})" for k, v in has.items()
                      if k in rep.metadata and str(rep.metadata[k]) != str(v)]
            if differ:  # a Picasso yaml that describes another movie: a wrong pairing?
                print(f"note: the localization file's metadata say {', '.join(differ)}")
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
    return _report_checks(args, locs, problems, ps=ps, width=width, height=height, n_frames=n_frames,
                          size_source=size_source, source=args.file)


def _pixel_size_disagreement(movie, rep, movie_path) -> list[str]:
    """The pixel-size conflict that stops sum and split (none when the user gave the pixel size)."""
    import math

    l_ps = rep.pixel_size
    if movie.pixel_size is None or l_ps is None or rep.pixel_size_source == "given by the caller" \
            or math.isclose(movie.pixel_size, l_ps, rel_tol=1e-6):
        return []
    return [f"pixel size {movie.pixel_size:g} nm of the movie {movie_path} ({movie.pixel_size_source}) differs "
            f"from {l_ps:g} nm of the localizations ({rep.pixel_size_source}); give the right one with --pixel-size"]


def _column_lines(locs) -> list[str]:
    """``-v``: each column of the table as read, its dtype, range and missing values (nm for lengths)."""
    import numpy as np

    from ..schema import NM_COLUMNS

    lines = ["columns as read (canonical names; lengths in nm, frames 1-based):"]
    for c in locs.columns:
        v = locs[c]
        text = f"  {c}: {v.dtype}"
        if v.dtype.kind in "iuf" and len(v):
            finite = v.to_numpy(dtype=np.float64)
            finite = finite[np.isfinite(finite)]
            if len(finite):
                text += f", {finite.min():.6g} .. {finite.max():.6g}" + (" nm" if c in NM_COLUMNS else "")
            missing = len(v) - len(finite)
            if missing:
                text += f", {missing} missing"
        lines.append(text)
    return lines


def _report_checks(args, locs, problems, *, ps, width, height, n_frames, size_source, source) -> int:
    """Run sum's and convert's checks on the table and print every count.

    ``info`` is a report: it exits 0 and says what it found as WARNING lines at the end of the
    report, plus one warning line on stderr (seen even when the report goes to a file).
    """
    import sys

    from ..validate import check_locs

    _, counts = check_locs(locs, pixel_size=ps, width=width, height=height, n_frames=n_frames,
                           on_invalid="keep", source=source)
    problems = problems + [f"{n} of {len(locs)} localizations: {why}" for why, n in counts.items()]
    checked = ["NaN or negative x/y", "frame below 1"]
    if width and height and ps:
        checked.append(f"outside the {width}x{height} px image")
    if n_frames:
        checked.append(f"beyond the {n_frames} frames")
    scope = f" ({size_source})" if size_source else " (give --movie to check image size and frames)"
    if not problems:
        print(f"checks: no localization with {', '.join(checked[:-1])} or {checked[-1]}{scope}")
        return 0
    what = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    print(f"checks: {what} that sum (and convert, for the rows) stop on{scope}:")
    for problem in problems:
        print(f"  WARNING: {problem}")
    print("  fix the files, give --pixel-size, or drop such rows explicitly (--drop-invalid)")
    if not o.quiet(args):  # -q: only errors (the report itself says it)
        print(f"imagesumming info: warning: {source}: {what}, listed in the report (WARNING lines)", file=sys.stderr)
    return 0


def _print_output_set(path) -> None:
    """For files imagesumming wrote: whether they are one complete output set (see _files.output_set)."""
    from .._files import set_report

    report = set_report(path)
    if report:
        print(f"output set: {report}")


def cmd_convert(args: argparse.Namespace) -> int:
    from .._files import output_set
    from ..errors import InputError
    from ..io import read_locs, write_locs
    from ..validate import check_locs

    locs, rep = read_locs(locs_file(args.input, args, format=args.from_), pixel_size=args.pixel_size)
    meta = {k: int(rep.metadata[k]) for k in ("Width", "Height", "Frames") if k in rep.metadata}
    on_invalid = o.on_invalid(args)
    locs, invalid = check_locs(locs, pixel_size=args.pixel_size or rep.pixel_size, width=meta.get("Width"),
                               height=meta.get("Height"), n_frames=meta.get("Frames"), on_invalid=on_invalid,
                               source=args.input)
    out = Path(args.output)
    fmt = _convert_format(args.to, out)
    kwargs = {}
    if fmt == "picasso":
        ps = args.pixel_size or rep.pixel_size
        if ps is None:
            raise InputError("writing Picasso hdf5 needs the camera pixel size, and the input does not give it",
                             args.input, hint="give it in nm with {pixel_size}")
        kwargs["pixel_size"] = ps
        for key, name in (("Width", "width"), ("Height", "height"), ("Frames", "frames")):
            if key in rep.metadata:
                kwargs[name] = int(rep.metadata[key])
    picasso = "pixel_size" in kwargs
    # one set (a Picasso hdf5 with its yaml lands whole); never over the input (or its yaml)
    with output_set([out] + ([out.with_suffix(".yaml")] if picasso else []), force=args.force, command="convert",
                    inputs=[args.input, Path(args.input).with_suffix(".yaml")]) as stage:
        write_locs(stage(out), locs, fmt, **kwargs)
    o.say(args, f"read {rep.rows_read} rows as {rep.format} ({rep.frame_base}-based frames, {rep.units}"
          + (f", pixel size {rep.pixel_size:g} nm" if rep.pixel_size else "") + ")")
    o.detail(args, rep.summary())
    for text in rep.notes:
        o.note(args, text)
    if rep.rows_dropped:
        o.say(args, f"dropped: {rep.rows_dropped}")
    if invalid:
        o.say(args, ("dropped" if on_invalid == "drop" else "kept") + " invalid localizations: "
              + ", ".join(f"{n} {why}" for why, n in invalid.items()))
    o.say(args, f"wrote {len(locs)} localizations to {args.output} ({fmt})")
    return 0


def _convert_format(to, out: Path) -> str:
    """The format to write: ``--to``, else what OUT's name says; a name that contradicts it is refused."""
    from ..errors import InputError

    hdf5 = out.suffix.lower() in (".hdf5", ".h5")
    fmt = to or ("picasso" if hdf5 else "deepstorm")
    if fmt == "picasso" and not hdf5:  # Picasso's dialogs open *.hdf5; an hdf5 under another name misleads
        raise InputError("Picasso hdf5 is written into a .hdf5 file (its yaml beside it)", out,
                         hint="name the output NAME_locs.hdf5, or write a csv format with {to}")
    if fmt != "picasso" and hdf5:
        raise InputError(f"--to {fmt} writes a csv file, but the output is named {out.suffix}", out,
                         hint="name it .csv, or write Picasso hdf5 with {to} picasso")
    if fmt != "picasso":
        from ..io.locs import check_csv_name

        check_csv_name(out)  # not under a movie's name either (every reader would take it for one)
    return fmt


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    demo = run_demo(args.output, seed=args.seed, force=args.force, verbose=o.progress(args))
    o.say(args, f"wrote synthetic movie {demo['movie']} and ground truth {demo['locs']}")
    o.say(args, demo["result"].summary())
    pred = demo["prediction"]
    o.say(args, f"wrote a Deep-STORM-like prediction of the movie in {pred['folder']} (try the prediction "
                f"viewer, or: imagesumming evaluate {pred['locs']} --gt {demo['locs']} --movie {demo['movie']} "
                f"-o {Path(args.output) / 'eval'})")
    from .summing import input_lines

    o.detail(args, *input_lines(demo["result"].params))
    o.detail(args, *(f"wrote {path}" for path in demo["outputs"].values()),
             *(f"wrote {pred[k]}" for k in ("locs", "predicted", "widefield")))
    return 0
