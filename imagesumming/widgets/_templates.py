"""The companion notebooks shipped in ``imagesumming.templates`` and copying them out."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from .._files import atomic_path, check_outputs

__all__ = ["NOTEBOOKS", "copy_notebooks", "notebook_text", "self_installing"]

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


#: the end of every setup cell: Colab shows ipywidgets only with its custom widget manager
_WIDGET_MANAGER = """

try:  # Google Colab: turn on its widget manager (the forms below are ipywidgets)
  from google.colab import output
  output.enable_custom_widget_manager()
except ImportError:
  pass  # JupyterLab, Notebook 7, VS Code, Voila: nothing to do"""


def shipped_setup_source() -> str:
    """The setup cell as shipped in the templates: installs the PyPI release when imagesumming is missing.
    (``imagesumming notebooks`` replaces it, see :func:`self_installing`; the tests check the shipped
    cell is this text, so re-render the templates after changing the install cell.)"""
    from ..notebook import install_cells

    return install_cells("imagesumming")[1] + _WIDGET_MANAGER


def self_installing(text: str, *, install_spec: str | None = None, wheel=None) -> str:
    """A companion notebook (its JSON text) whose setup cell (the first code cell) installs
    imagesumming like the patched Deep-STORM notebook: the wheel of the running imagesumming stored
    in a cell of its own just before it (no package index needed), or ``install_spec``."""
    from ..notebook import NotebookStyle, _new_cell, _new_cell_id, _set_source, install_cells

    nb = json.loads(text)
    style = NotebookStyle.detect(text, nb)
    cells = nb["cells"]
    index = next(i for i, c in enumerate(cells) if c.get("cell_type") == "code")
    payload, install, _ = install_cells(install_spec, wheel)
    setup = cells[index]
    _set_source(setup, install + _WIDGET_MANAGER)
    if payload is not None:
        taken = {c.get("id") for c in cells} | {(c.get("metadata") or {}).get("id") for c in cells}
        cell = _new_cell(nb, "code", payload, _new_cell_id("companion-wheel", 0, taken),
                         isinstance(setup.get("source"), list), hidden=True)
        cells.insert(index, cell)
    return style.dumps(nb)


def copy_notebooks(dest: str | os.PathLike = ".", *, force: bool = False, install_spec: str | None = None,
                   wheel=None) -> list[Path]:
    """Write the companion notebooks into ``dest`` (created if needed), ready to upload to Colab.

    Their setup cell installs the imagesumming that wrote them, stored in the notebook (see
    :func:`self_installing`), unless ``install_spec`` says what pip should install instead.

    Parameters
    ----------
    dest : path
        Target folder.
    force : bool
        Overwrite notebooks that exist already (otherwise nothing is written and
        :class:`~imagesumming.errors.OutputExistsError` names the first one).
    install_spec : str, optional
        A release (``imagesumming==0.1.0``), a wheel path or a git URL for the setup cell.
    wheel : path, optional
        An imagesumming wheel file to store instead of the running one.

    Returns
    -------
    list of Path
        The notebooks written.
    """
    dest = Path(dest).expanduser()
    targets = check_outputs([dest / n for n in NOTEBOOKS], force=force)
    texts = [self_installing(notebook_text(n), install_spec=install_spec, wheel=wheel) for n in NOTEBOOKS]
    for target, content in zip(targets, texts):
        with atomic_path(target, force=force) as tmp:
            tmp.write_text(content, encoding="utf-8")
    return targets
