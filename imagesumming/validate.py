"""Checks of a localization table against its movie: nothing a user gave is silently dropped."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["check_locs", "check_pixel_size", "ON_INVALID"]

ON_INVALID = ("error", "drop", "keep")


def check_locs(locs: pd.DataFrame, *, pixel_size: float | None = None, width: int | None = None,
               height: int | None = None, n_frames: int | None = None, on_invalid: str = "error",
               source=None) -> tuple[pd.DataFrame, dict]:
    """Find localizations that cannot belong to the movie and report them with counts.

    Parameters
    ----------
    locs : DataFrame
        Canonical table (frames 1-based, x/y in nm from the corner).
    pixel_size, width, height, n_frames : optional
        The movie's pixel size (nm), size (px) and frame count. Checks needing a missing value
        are skipped.
    on_invalid : {"error", "drop", "keep"}
        What to do with invalid rows: raise an :class:`InputError` naming the counts (default),
        drop them, or keep them. Counts are returned in every case.
    source : str or Path, optional
        File name used in messages.

    Returns
    -------
    table : DataFrame
        ``locs`` itself when nothing was dropped, else a new table without the invalid rows.
    counts : dict
        Reason -> number of rows (only reasons with at least one row).
    """
    if on_invalid not in ON_INVALID:
        raise InputError(f"on_invalid must be one of {ON_INVALID}, not {on_invalid!r}", source)
    x = locs["x"].to_numpy(dtype=np.float64)
    y = locs["y"].to_numpy(dtype=np.float64)
    f = locs["frame"].to_numpy()
    reasons = {}
    nan = ~(np.isfinite(x) & np.isfinite(y))
    reasons["NaN or infinite x/y"] = nan
    reasons["negative x/y"] = ~nan & ((x < 0) | (y < 0))
    reasons["in a frame below 1"] = f < 1
    if pixel_size is not None and width is not None and height is not None:
        with np.errstate(invalid="ignore"):
            outside = ~nan & ((x >= width * pixel_size) | (y >= height * pixel_size))
        reasons[f"outside the {width}x{height} px image"] = outside
    if n_frames is not None:
        reasons[f"in a frame beyond the movie's {n_frames} frames"] = f > n_frames
    counts = {k: int(v.sum()) for k, v in reasons.items() if v.any()}
    if not counts:
        return locs, counts
    if on_invalid == "error":
        detail = ", ".join(f"{n} {k}" for k, n in counts.items())
        raise InputError(f"{detail} (of {len(locs)} localizations)", source, hint="{on_invalid} or fix the file")
    if on_invalid == "drop":
        bad = np.zeros(len(locs), bool)
        for v in reasons.values():
            bad |= v
        return locs.loc[~bad].reset_index(drop=True), counts
    return locs, counts


def check_pixel_size(ps, path=None) -> float:
    """A camera pixel size in nm as a positive finite float, else a one-line InputError."""
    try:
        ps = float(ps)
    except (TypeError, ValueError):
        raise InputError(f"pixel size must be a number in nm, got {ps!r}", path) from None
    if not np.isfinite(ps) or ps <= 0:
        raise InputError(f"pixel size must be a positive number of nm, got {ps}", path)
    return ps
