"""Notebook user interfaces (ipywidgets 7.7 and 8.x), thin over the Python API.

- :class:`SummingUI`: movie/localization pairs, parameters, input view, Run, result view, Save.
- :class:`AddOnsUI`: convert, split, merge, single frames, sum frames.
- :class:`PredictionViewerUI`: a Deep-STORM prediction folder, ground truth, threshold and metrics.

Each UI is displayed by leaving it as the last expression of a cell (or ``display(ui)``); its
buttons can also be pressed from code (``ui.run()``, ``ui.save()``, ...). Errors are shown as a
message in the UI, never as a traceback. :func:`copy_notebooks` copies the companion notebooks.

The UI classes are imported on first use so that ``imagesumming notebooks`` starts fast.
"""

from ._templates import NOTEBOOKS, copy_notebooks, notebook_text

__all__ = ["NOTEBOOKS", "AddOnsUI", "PredictionViewerUI", "SummingUI", "copy_notebooks", "notebook_text"]

_LAZY = {"SummingUI": "._summing", "AddOnsUI": "._addons", "PredictionViewerUI": "._viewer"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
