"""CLI command ``imagesumming sum``: dense training frames from low-density movies and their localizations."""

from __future__ import annotations

import argparse

from ..summing import DEFAULTS


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
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--name", default="summed", help="output file name stem (default: %(default)s)")
    p.add_argument("--pixel-size", type=float, metavar="NM", help="camera pixel size in nm (default: from the files)")
    p.add_argument("--camera-offset", type=float, default=DEFAULTS["camera_offset"], metavar="ADU",
                   help="camera offset, subtracted k-1 times from each sum (default: %(default)g)")
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
    p.add_argument("--seed", type=int, help="random seed (default: drawn and recorded in NAME_params.json)")
    p.add_argument("--drop-invalid", action="store_true",
                   help="drop localizations outside the movie or beyond its frames (counts are reported)")
    p.add_argument("--plots", action="store_true", help="also write PNG figures (density, frame, single, background)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(func=cmd_sum)


def cmd_sum(args: argparse.Namespace) -> int:
    from .._files import output_set
    from ..summing import output_paths, sum_patches

    quiet = getattr(args, "quiet", False)
    paths = output_paths(args.out, args.name, plots=args.plots)
    # the folder is locked and the outputs checked before the work; save() writes into this set
    with output_set(paths.values(), inputs=args.movie + args.locs, force=args.force, command="sum",
                    manifest=paths["params"]):
        result = sum_patches(
            args.movie, args.locs, pixel_size=args.pixel_size, camera_offset=args.camera_offset,
            patch_size=args.patch_size, n_patches=args.patches, n_summed=args.summed, bin_size=args.bin_size,
            target_density=args.target_density, min_emitters=args.min_emitters, unique=args.unique,
            augment=args.augment, seed=args.seed, on_invalid="drop" if args.drop_invalid else "error",
            progress=not quiet)
        result.save(args.out, name=args.name, force=args.force, plots=args.plots)
    if not quiet:
        print(result.summary())
    return 0
