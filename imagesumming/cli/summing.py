"""CLI command ``imagesumming sum``: dense training frames from low-density movies and their localizations."""

from __future__ import annotations

import argparse

from .._defaults import DEFAULTS
from . import options as o
from .options import add_locs_options, locs_files


def register(sub) -> None:
    p = sub.add_parser(
        "sum", help="sum random low-density patches into dense Deep-STORM training frames",
        description="Cut random patches (each with at least --min-emitters localizations) from low-density "
                    "movies, sum k of them per frame (minus k-1 camera offsets) and concatenate their "
                    "localizations. Writes NAME.tif, NAME.csv (Deep-STORM csv), NAME_provenance.csv and "
                    "NAME_params.json into the output folder, and prints the notebook settings.")
    p.add_argument("--movie", action="append", required=True, metavar="TIF",
                   help="low-density movie (.tif or Picasso .raw); repeat for several movies")
    p.add_argument("--locs", action="append", required=True, metavar="FILE",
                   help="its localizations (Picasso hdf5/csv, ThunderSTORM or Deep-STORM csv); one per --movie, same order")
    add_locs_options(p)
    o.add_output(p, "folder", "NAME.tif, NAME.csv, NAME_provenance.csv, NAME_params.json (and the PNGs)")
    p.add_argument("--name", default="summed", help="output file name stem (default: %(default)s)")
    o.add_pixel_size(p)
    o.add_camera_offset(p, "subtracted k-1 times from each sum of k patches")
    p.add_argument("--patch-size", type=int, default=DEFAULTS["patch_size"], metavar="P",
                   help="patch and summed frame size in camera pixels (default: %(default)s)")
    p.add_argument("--patches", type=int, default=DEFAULTS["n_patches"], metavar="N",
                   help="source patches to cut (default: %(default)s)")
    p.add_argument("--summed", type=int, default=DEFAULTS["n_summed"], metavar="N",
                   help="summed frames to write (default: %(default)s)")
    k = p.add_mutually_exclusive_group()
    k.add_argument("--bin-size", type=int, metavar="K",  # None: not given (DEFAULTS, or --match chooses)
                   help=f"patches summed per frame (default: {DEFAULTS['bin_size']})")
    k.add_argument("--target-density", type=float, metavar="D",
                   help="emitters/µm² wanted per summed frame: chooses K from the patches' mean density")
    p.add_argument("--min-emitters", type=_min_emitters, default=DEFAULTS["min_emitters"], metavar="N|auto",
                   help="minimum localizations in a source patch (default: %(default)s); 'auto' with --match: "
                        "the one reaching the target density with the smallest k")
    p.add_argument("--match", action="append", metavar="DENSE.tif",
                   help="a movie you will analyze (no localizations needed): its estimated density becomes the "
                        "target density (replaces --bin-size/--target-density), the inputs are the calibration, "
                        "and the summary compares the summed frames with it; repeat for several")
    p.add_argument("--unique", action="store_true", help="use each source patch at most once")
    p.add_argument("--augment", action="store_true",
                   help="flip/rotate each source patch (8 symmetries), localizations moved alike")
    o.add_seed(p, recorded="NAME_params.json")
    o.add_drop_invalid(p)
    p.add_argument("--plots", action="store_true", help="also write PNG figures (density, frame, single, background)")
    o.add_force(p)
    p.set_defaults(func=cmd_sum)


def _min_emitters(text: str):
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'auto', got {text!r}") from None


def cmd_sum(args: argparse.Namespace) -> int:
    from .._files import output_set
    from ..errors import InputError
    from ..summing import output_paths, sum_patches

    paths = output_paths(args.output, args.name, plots=args.plots, match=bool(args.match))
    inputs = [*args.movie, *(args.locs or []), *(args.match or [])]
    # the folder is locked and the outputs checked before the work; save() writes into this set
    with output_set(paths.values(), inputs=inputs, force=args.force, command="sum", manifest=paths["params"]):
        if args.match:
            result = _sum_match(args)
        else:
            if args.min_emitters == "auto":
                raise InputError("--min-emitters auto needs --match DENSE.tif (the movie whose density to reach)")
            result = sum_patches(
                args.movie, locs_files(args.locs, args), pixel_size=args.pixel_size,
                camera_offset=o.camera_offset(args), patch_size=args.patch_size, n_patches=args.patches,
                n_summed=args.summed, target_density=args.target_density,
                bin_size=DEFAULTS["bin_size"] if args.bin_size is None and args.target_density is None
                else args.bin_size,
                min_emitters=args.min_emitters, unique=args.unique, augment=args.augment, seed=args.seed,
                on_invalid=o.on_invalid(args), progress=o.progress(args))
        written = result.save(args.output, name=args.name, force=args.force, plots=args.plots)
    o.say(args, result.summary())
    o.detail(args, *input_lines(result.params), *(f"wrote {path}" for path in written.values()))
    return 0


def _sum_match(args: argparse.Namespace):
    """``sum --match``: the target density from the movies to analyze, then the comparison (the result)."""
    from ..errors import InputError
    from ..target import sum_matching

    if args.target_density is not None or args.bin_size is not None:
        given = "--target-density" if args.target_density is not None else "--bin-size"
        raise InputError(f"--match chooses k from the movie to analyze's density: drop {given}")
    return sum_matching(
        args.movie, args.locs, args.match, min_emitters=args.min_emitters, pixel_size=args.pixel_size,
        camera_offset=o.camera_offset(args), patch_size=args.patch_size, n_patches=args.patches,
        n_summed=args.summed, unique=args.unique, augment=args.augment, seed=args.seed,
        on_invalid=o.on_invalid(args), progress=o.progress(args))


def input_lines(params: dict) -> list[str]:
    """``-v``: what was read from each input and how (the params json's ``inputs``), and the versions."""
    lines = []
    for i in params.get("inputs", []):
        shape = "x".join(map(str, i.get("shape", [])))
        lines.append(f"input {i.get('index')}: {i.get('movie')} ({shape} {i.get('dtype', '')}, pixel size "
                     f"{i.get('movie_pixel_size')} nm from {i.get('movie_pixel_size_source')})")
        lines.append(f"  {i.get('locs')}: {i.get('locs_format')}, {i.get('locs_frame_base')}-based frames, "
                     f"{i.get('localizations')} localizations ({i.get('localizations_used')} used)"
                     + "".join(f"; {n}" for n in i.get("locs_notes", [])))
    versions = params.get("versions") or {}
    if versions:
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return lines
