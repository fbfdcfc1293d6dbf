"""CLI command ``notebooks``: copy the companion notebooks out of the installed package."""

from __future__ import annotations

import argparse

from . import options as o


def register(sub) -> None:
    p = sub.add_parser("notebooks", help="copy the companion notebooks (summing, add-ons, prediction viewer)",
                       description="Copy ImageSumming.ipynb, DeepSTORM2DAddOns.ipynb and "
                                   "VisualizeDeepSTORM2DLocs.ipynb into DIR. Open them in JupyterLab, "
                                   "Notebook 7, VS Code or Google Colab.")
    o.add_output(p, "folder", "where the notebooks land (default: the current folder)", required=False, old=())
    p.add_argument("dir", nargs="?", help=argparse.SUPPRESS)  # the earlier spelling `notebooks DIR`
    o.add_force(p)
    p.set_defaults(func=cmd_notebooks)


def cmd_notebooks(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..widgets._templates import copy_notebooks

    if args.dir is not None and args.output is not None:
        raise InputError(f"give the folder once: -o {args.output} or {args.dir}")
    if args.dir is not None:
        o.deprecated(args, "`notebooks DIR` is deprecated and will go: use -o/--output DIR")
    for path in copy_notebooks(args.output or args.dir or ".", force=args.force):
        o.say(args, f"wrote {path}")
    o.say(args, "open them with `jupyter lab`, in VS Code, or upload them to Google Colab")
    return 0
