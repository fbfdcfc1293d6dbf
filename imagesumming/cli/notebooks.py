"""CLI command ``notebooks``: copy the companion notebooks out of the installed package."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("notebooks", help="copy the companion notebooks (summing, add-ons, prediction viewer)",
                       description="Write ImageSumming.ipynb, DeepSTORM2DAddOns.ipynb and "
                                   "VisualizeDeepSTORM2DLocs.ipynb into DIR. Open them in JupyterLab, "
                                   "Notebook 7, VS Code or Google Colab: their setup cell installs this "
                                   "imagesumming, stored in the notebook (no package index needed).")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="target folder (default: the current folder)")
    p.add_argument("--force", action="store_true", help="overwrite existing notebooks")
    p.add_argument("--install-spec", metavar="SPEC",
                   help="what the setup cell has pip install instead of the imagesumming stored in the notebook: "
                        "a release (imagesumming==0.1.0), a wheel path or a git URL")
    p.add_argument("--wheel", metavar="WHEEL", help="store this imagesumming wheel file instead of the running one")
    p.set_defaults(func=cmd_notebooks)


def cmd_notebooks(args: argparse.Namespace) -> int:
    from ..widgets._templates import copy_notebooks

    for path in copy_notebooks(args.dir, force=args.force, install_spec=args.install_spec, wheel=args.wheel):
        print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB)")
    print("open them with `jupyter lab`, in VS Code, or upload them to Google Colab")
    return 0
