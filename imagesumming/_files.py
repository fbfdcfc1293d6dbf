"""Atomic output files: write to a temporary name beside the target, then rename."""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from .errors import InputError, OutputExistsError

__all__ = ["atomic_path", "check_outputs", "check_input_file", "json_ready"]


def check_input_file(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path, or raise InputError if it is missing, a folder or empty."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", p)
    if p.is_dir():
        raise InputError("is a directory, expected a file", p)
    if p.stat().st_size == 0:
        raise InputError("file is empty", p)
    return p


def check_outputs(paths: Iterable[str | os.PathLike], force: bool = False) -> list[Path]:
    """Refuse (before anything is written) when an output exists and ``force`` is False."""
    out = [Path(p) for p in paths]
    for p in out:
        if p.is_dir():
            raise OutputExistsError("is a directory, expected an output file name", p)
        if p.exists() and not force:
            raise OutputExistsError("exists already", p, hint="{force} to overwrite")
    return out


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    check_outputs([target], force=force)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:  # read-only folder, a file where a folder should be, ...
        raise InputError(f"cannot write here ({exc.strerror or exc})", target) from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def json_ready(obj):
    """``obj`` with numpy values as Python ones, paths as text and NaN/inf as None (valid JSON).

    Dicts, lists and tuples are converted recursively; anything else is returned as it is, so
    ``json.dumps`` still names a type it cannot store.
    """
    import numpy as np

    if isinstance(obj, dict):
        return {(k.item() if isinstance(k, np.generic) else k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj
