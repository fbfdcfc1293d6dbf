"""One exception family for problems with what the user gave us.

Every message is one line that names the file (when there is one) and the problem, so the CLI and
the widgets can show it as it is, without a traceback.
"""

from __future__ import annotations

import os

__all__ = ["ImageSummingError", "InputError", "OutputExistsError"]


class ImageSummingError(ValueError):
    """Base class: a problem with the user's input or request (shown without a traceback)."""

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        message = " ".join(str(message).split())  # always one line
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(ImageSummingError):
    """An input file or value is missing, malformed or inconsistent."""


class OutputExistsError(ImageSummingError):
    """An output exists already and overwriting was not asked for (``force=True`` / ``--force``)."""
