"""CLI command ``notebooks``: copy the companion notebooks out of the installed package."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("notebooks", help="copy the companion notebooks (summing, add-ons, prediction viewer)",
                       description="Copy ImageSumming.ipynb, DeepSTORM2DAddOns.ipynb and "
                                   "VisualizeDeepSTORM2DLocs.ipynb into DIR. Open them in JupyterLab, "
                                   "Notebook 7, VS Code or Google Colab.")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="target folder (default: the current folder)")
    p.add_argument("--force", action="store_true", help="overwrite existing notebooks")
    p.set_defaults(func=cmd_notebooks)


def cmd_notebooks(args: argparse.Namespace) -> int:
    from ..widgets._templates import copy_notebooks

    for path in copy_notebooks(args.dir, force=args.force):
        print(f"wrote {path}")
    print("open them with `jupyter lab`, in VS Code, or upload them to Google Colab")
    return 0
