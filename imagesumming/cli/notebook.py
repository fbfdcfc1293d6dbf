"""CLI command ``patch-notebook``: patch the ZeroCostDL4Mic Deep-STORM 2D notebook."""

from __future__ import annotations

import argparse
import sys

from . import options as o


def register(sub) -> None:
    p = sub.add_parser(
        "patch-notebook", help="patch the ZeroCostDL4Mic Deep-STORM 2D notebook for summed training data",
        description="Rewrite the official Deep-STORM 2D notebook: inject cells that make summed training data "
                    "with imagesumming, load them in 3.1 a), set the 3.2 patch defaults, save every frame's "
                    "prediction, and read the QC upsampling factor from the model. Untouched cells keep their "
                    "bytes; running it again on its output changes nothing.",
        epilog="patches: inject-imagesumming, summed-training-data, prediction-stack, training-patch-params, "
               "qc-upsampling-factor. Exit codes: 0 done, 1 a patch could not be placed (nothing written), "
               "2 bad input.")
    p.add_argument("input", metavar="IN.ipynb", help="the notebook to patch (never overwritten unless --in-place)")
    o.add_output(p, "file", "the patched notebook (or --in-place, --check, --diff)", required=False,
                 metavar="OUT.ipynb", old=())
    p.add_argument("--patch-size", type=int, default=30, metavar="P",
                   help="summed patch size in camera pixels; 3.2 gets patch_size = P - 1 (default: %(default)s)")
    p.add_argument("--upsampling-factor", type=int, default=8, metavar="U",
                   help="QC factor used when the model's model_metadata.mat cannot be read (default: %(default)s)")
    p.add_argument("--summed-frames", type=int, metavar="N",
                   help="number of summed frames: max_num_patches in 3.2 becomes at least N")
    p.add_argument("--install-spec", metavar="SPEC",
                   help="what the injected install cell has pip install instead of the imagesumming stored in the "
                        "notebook: a release (imagesumming==0.1.0), a wheel path or a git URL (default: store this "
                        "imagesumming's wheel in the notebook, so it installs without a package index)")
    p.add_argument("--wheel", metavar="WHEEL",
                   help="store this imagesumming wheel file in the notebook instead of the running imagesumming")
    p.add_argument("--only", metavar="ID,...", help="apply only these patches")
    p.add_argument("--skip", metavar="ID,...", help="leave out these patches")
    p.add_argument("--allow-missing", action="store_true",
                   help="write the notebook even when some patches cannot find their place")
    p.add_argument("--check", action="store_true", help="print the table of patches (patch, cell, status); write nothing")
    p.add_argument("--diff", action="store_true", help="print a unified diff of the changed cells")
    p.add_argument("--in-place", action="store_true", help="overwrite the input notebook")
    o.add_force(p)
    p.set_defaults(func=cmd_patch_notebook)


def cmd_patch_notebook(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import InputError
    from ..notebook import check_destination, patch_notebook, write_notebook

    src = Path(args.input)
    dry_run = args.check or (args.diff and not args.output and not args.in_place)
    dst = None
    if not dry_run:
        if not args.output and not args.in_place:
            raise InputError("no output given (use -o OUT.ipynb, --in-place, --check or --diff)", src)
        dst = check_destination(src, args.output, in_place=args.in_place, force=args.force)

    nb, report = patch_notebook(src, patch_size=args.patch_size, upsampling_factor=args.upsampling_factor,
                                summed_frames=args.summed_frames, install_spec=args.install_spec, wheel=args.wheel,
                                only=args.only, skip=args.skip, allow_missing=True)
    quiet = getattr(args, "quiet", False)
    if args.diff and report.changed:
        o.product(args, report.diff(), end="")  # asked for: printed even with -q
    if not quiet or report.missing:
        print(report.table())
    blocked = bool(report.missing) and not args.allow_missing
    for r in report.missing:
        print(f"imagesumming patch-notebook: {r.id} not placed: {r.message}", file=sys.stderr)
    if dry_run:
        return 1 if blocked else 0
    if blocked:
        print(f"imagesumming patch-notebook: {len(report.missing)} patch(es) could not be placed; nothing written "
              "(--allow-missing writes the others)", file=sys.stderr)
        return 1
    if args.in_place and not report.changed:
        if not quiet:
            print(f"nothing to change: {src} left as it is")
        return 0
    write_notebook(nb, dst, style=report.style, force=args.force or args.in_place)
    if not quiet:
        applied = sum(r.status == "applied" for r in report.results)
        size = Path(dst).stat().st_size / 1024
        print(f"wrote {dst} ({applied} patch(es) applied"
              + (f", {len(report.missing)} missing" if report.missing else "") + f"; {size:,.0f} KiB)")
    return 0
