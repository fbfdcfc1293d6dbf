"""One exception family for problems with what the user gave us.

Every message is one line that names the file (when there is one) and the problem, so the CLI and
the widgets can show it as it is, without a traceback.

What the user can do about it is a separate *hint*, written once with the parameters it names as
placeholders (``"{force} to replace it"``, ``"use a smaller {patch_size}"``). Each front end words
them in its own terms: the API (``str(exc)``) says ``pass force=True``, the CLI ``use --force``, the
forms ``tick 'overwrite existing files'``. See :meth:`ImageSummingError.render`.

Warnings, notes and summary lines the API writes while it works carry hints too (a warning sent
through :mod:`logging` cannot be reworded once it is printed). They are written with
:func:`worded`, in the words of the front end running the work: a front end runs the API inside
:func:`front_end` with its words (the CLI ``--plots``, the forms their field names); outside any,
the API's words.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import string
from typing import Mapping

__all__ = ["ImageSummingError", "InputError", "OutputExistsError", "API_WORDS", "front_end", "worded"]

#: How the Python API words a hint's placeholders; a parameter not listed is its own name.
API_WORDS = {
    "force": "pass force=True",
    "on_invalid": "drop them with on_invalid='drop'",
    "unique": "pass unique=False",
    "plots": "plots=True",
    "allow_missing": "allow_missing=True",
}

#: the words of the front end running the API now (:func:`front_end`); None: the API's
_FRONT_END: contextvars.ContextVar = contextvars.ContextVar("imagesumming_front_end", default=None)


class _Words(dict):
    """Placeholder -> words, falling back to another front end's and then to a default wording."""

    def __init__(self, words: Mapping[str, str], fallback):
        super().__init__(words)
        self.fallback = fallback

    def __missing__(self, key: str) -> str:
        return self.fallback(key)


class ImageSummingError(ValueError):
    """Base class: a problem with the user's input or request (shown without a traceback).

    Parameters
    ----------
    message : str
        The problem, on one line.
    path : path-like, optional
        The file it concerns; the message starts with it.
    hint : str, optional
        What to do about it, with ``{parameter}`` placeholders (API parameter names) that each
        front end words itself (:meth:`render`); ``str(exc)`` uses the API's words.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None, *, hint: str | None = None):
        self.path = None if path is None else os.fspath(path)
        self.message = " ".join(str(message).split())  # always one line
        self.hint = None if hint is None else " ".join(str(hint).split())
        super().__init__(self.render())

    @property
    def hint_keys(self) -> tuple[str, ...]:
        """The parameters the hint names (its placeholders)."""
        if not self.hint:
            return ()
        return tuple(f for _, f, _, _ in string.Formatter().parse(self.hint) if f)

    def render(self, words: Mapping[str, str] | None = None, default=None) -> str:
        """The one-line message with its hint worded by a front end.

        Parameters
        ----------
        words : mapping, optional
            Placeholder -> words of this front end (e.g. ``{"force": "use --force"}``); missing
            ones take ``default(name)``, else the API's words.
        default : callable, optional
            Wording of a parameter the mapping lacks (the CLI: ``--patch-size``).
        """
        text = f"{self.path}: {self.message}" if self.path else self.message
        if not self.hint:
            return text
        return f"{text}; {_format_hint(self.hint, words, default)}"


def _format_hint(hint: str, words: Mapping[str, str] | None, default=None) -> str:
    api = _Words(API_WORDS, lambda k: k)
    table = api if words is None else _Words(words, default or api.__getitem__)
    return hint.format_map(table)


@contextlib.contextmanager
def front_end(words: Mapping[str, str], default=None):
    """Run a block of API calls with a front end's words for :func:`worded` hints.

    Parameters
    ----------
    words, default
        As for :meth:`ImageSummingError.render` (the CLI: ``CLI_WORDS`` and ``option_name``).
    """
    token = _FRONT_END.set((words, default))
    try:
        yield
    finally:
        _FRONT_END.reset(token)


def worded(hint: str) -> str:
    """``hint``'s ``{parameter}`` placeholders in the words of the front end running now (:func:`front_end`).

    For what the API says while it works (a logged warning, a note, a summary line): ``worded("write
    them with {plots}")`` is "write them with --plots" under the CLI, "... plots=True" in the API.
    """
    current = _FRONT_END.get()
    return _format_hint(hint, *(current or (None, None)))


class InputError(ImageSummingError):
    """An input file or value is missing, malformed or inconsistent."""


class OutputExistsError(ImageSummingError):
    """An output exists already and overwriting was not asked for (``force=True`` / ``--force``)."""
