"""Progress bars only where a person watches, and only for work that lasts.

One rule for the CLI, the API and the forms: a bar is drawn when stderr is a terminal or the code
runs in a notebook kernel (Jupyter, Colab, Voilà), and it appears only after :data:`DELAY` seconds,
so quick work shows none. Pipes, log files and captured output never get one (no ``\\r`` junk).
"""

from __future__ import annotations

import sys

__all__ = ["DELAY", "progress_bar", "watched", "in_notebook"]

#: seconds of work before a bar appears (tqdm's ``delay``)
DELAY = 0.5


def in_notebook() -> bool:
    """True inside a notebook kernel (IPython with a kernel: Jupyter, Colab, Voilà)."""
    ipython = sys.modules.get("IPython")  # never imported here: a kernel has it loaded already
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - an odd IPython is not a notebook
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def watched() -> bool:
    """True where a person can see a bar: stderr is a terminal, or a notebook kernel."""
    try:
        tty = bool(sys.stderr is not None and sys.stderr.isatty())
    except (AttributeError, ValueError):  # replaced or closed stderr
        tty = False
    return tty or in_notebook()


def progress_bar(iterable=None, *, show: bool = True, total=None, desc: str | None = None,
                 unit: str = "it", **kwargs):
    """A tqdm bar that follows the rule above (``show=False`` turns it off everywhere).

    Parameters
    ----------
    iterable : iterable, optional
        Wrapped as tqdm does; or call ``update(n)`` on the result.
    show : bool
        The caller's wish (``progress=`` of the API, off with ``-q``); a bar is drawn only when
        also :func:`watched`.
    total, desc, unit, **kwargs
        Passed to tqdm.
    """
    if not (show and watched()):
        from tqdm import tqdm  # the plain class: cheaper than tqdm.auto, and draws nothing

        return tqdm(iterable, total=total, desc=desc, unit=unit, disable=True)
    from tqdm.auto import tqdm

    notebook = in_notebook()
    # In a notebook a finished bar stays (closing a displayed widget inside an Output makes Voilà show
    # "model not found"); on a terminal it is wiped so the summary that follows stands alone.
    kwargs.setdefault("leave", notebook)
    kwargs.setdefault("delay", DELAY)
    return tqdm(iterable, total=total, desc=desc, unit=unit, **kwargs)
