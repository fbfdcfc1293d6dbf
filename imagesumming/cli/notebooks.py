"""CLI command ``notebooks``: copy the companion notebooks out of the installed package."""

from __future__ import annotations

import argparse

from . import options as o


def register(sub) -> None:
    p = sub.add_parser("notebooks", help="copy the companion notebooks (summing, add-ons, prediction viewer)",
                       description="Write ImageSumming.ipynb, DeepSTORM2DAddOns.ipynb and "
                                   "VisualizeDeepSTORM2DLocs.ipynb into DIR. Open them in JupyterLab, "
                                   "Notebook 7, VS Code or Google Colab: their setup cell installs this "
                                   "imagesumming, stored in the notebook (no package index needed).")
    o.add_output(p, "folder", "where the notebooks land (default: the current folder)", required=False, old=())
    p.add_argument("dir", nargs="?", metavar="DIR", help="the same as -o DIR")
    o.add_force(p)
    p.add_argument("--install-spec", metavar="SPEC",
                   help="what the setup cell has pip install instead of the imagesumming stored in the notebook: "
                        "a release (imagesumming==0.1.0), a wheel path or a git URL")
    p.add_argument("--wheel", metavar="WHEEL", help="store this imagesumming wheel file instead of the running one")
    p.set_defaults(func=cmd_notebooks)


def cmd_notebooks(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..widgets._templates import copy_notebooks

    if args.dir is not None and args.output is not None:
        raise InputError(f"give the folder once: -o {args.output} or {args.dir}")
    out = args.output or args.dir or "."
    for path in copy_notebooks(out, force=args.force, install_spec=args.install_spec, wheel=args.wheel):
        o.say(args, f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB)")
    o.say(args, "open them with `jupyter lab`, in VS Code, or upload them to Google Colab")
    return 0
