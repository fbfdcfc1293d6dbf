"""CLI command ``imagesumming sum``: dense training frames from low-density movies and their localizations."""

from __future__ import annotations

import argparse

from .._defaults import DEFAULTS
from . import options as o


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
    k.add_argument("--bin-size", type=int, default=DEFAULTS["bin_size"], metavar="K",
                   help="patches summed per frame (default: %(default)s)")
    k.add_argument("--target-density", type=float, metavar="D",
                   help="emitters/µm² wanted per summed frame: chooses K from the patches' mean density")
    p.add_argument("--min-emitters", type=int, default=DEFAULTS["min_emitters"], metavar="N",
                   help="minimum localizations in a source patch (default: %(default)s)")
    p.add_argument("--unique", action="store_true", help="use each source patch at most once")
    p.add_argument("--augment", action="store_true",
                   help="flip/rotate each source patch (8 symmetries), localizations moved alike")
    o.add_seed(p, recorded="NAME_params.json")
    o.add_drop_invalid(p)
    p.add_argument("--plots", action="store_true", help="also write PNG figures (density, frame, single, background)")
    o.add_force(p)
    p.set_defaults(func=cmd_sum)


def cmd_sum(args: argparse.Namespace) -> int:
    from .._files import check_outputs
    from ..summing import output_paths, sum_patches

    check_outputs(output_paths(args.output, args.name, plots=args.plots).values(), force=args.force)
    result = sum_patches(
        args.movie, args.locs, pixel_size=args.pixel_size, camera_offset=o.camera_offset(args),
        patch_size=args.patch_size, n_patches=args.patches, n_summed=args.summed, bin_size=args.bin_size,
        target_density=args.target_density, min_emitters=args.min_emitters, unique=args.unique,
        augment=args.augment, seed=args.seed, on_invalid=o.on_invalid(args), progress=o.progress(args))
    written = result.save(args.output, name=args.name, force=args.force, plots=args.plots)
    o.say(args, result.summary())
    o.detail(args, *(f"wrote {path}" for path in written.values()))
    return 0
