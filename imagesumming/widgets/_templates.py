"""The companion notebooks shipped in ``imagesumming.templates`` and copying them out."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from .._files import atomic_path, check_outputs

__all__ = ["NOTEBOOKS", "copy_notebooks", "notebook_text"]

#: the companion notebooks, in the order of the workflow
NOTEBOOKS = ("ImageSumming.ipynb", "DeepSTORM2DAddOns.ipynb", "VisualizeDeepSTORM2DLocs.ipynb")


def notebook_text(name: str) -> str:
    """The text of one shipped notebook (read from the installed package)."""
    if name not in NOTEBOOKS:
        raise ValueError(f"unknown notebook {name!r}; choose one of {', '.join(NOTEBOOKS)}")
    try:
        folder = resources.files("imagesumming.templates")
    except ModuleNotFoundError:  # imported from a source checkout: templates/ sits beside the package
        folder = Path(__file__).resolve().parents[2] / "templates"
    return folder.joinpath(name).read_text(encoding="utf-8")


def copy_notebooks(dest: str | os.PathLike = ".", *, force: bool = False) -> list[Path]:
    """Copy the companion notebooks into ``dest`` (created if needed).

    Parameters
    ----------
    dest : path
        Target folder.
    force : bool
        Overwrite notebooks that exist already (otherwise nothing is written and
        :class:`~imagesumming.errors.OutputExistsError` names the first one).

    Returns
    -------
    list of Path
        The notebooks written.
    """
    dest = Path(dest).expanduser()
    targets = check_outputs([dest / n for n in NOTEBOOKS], force=force)
    texts = [notebook_text(n) for n in NOTEBOOKS]
    for target, content in zip(targets, texts):
        with atomic_path(target, force=force) as tmp:
            tmp.write_text(content, encoding="utf-8")
    return targets
