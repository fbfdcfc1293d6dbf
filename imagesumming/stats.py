"""Numbers that describe a localization table: densities per frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["counts_per_frame", "density_per_frame"]


def counts_per_frame(locs: pd.DataFrame, n_frames: int) -> np.ndarray:
    """Localizations in each frame 1..n_frames (empty frames count as 0)."""
    f = locs["frame"].to_numpy(dtype=np.int64)
    f = f[(f >= 1) & (f <= n_frames)]
    return np.bincount(f - 1, minlength=n_frames)[:n_frames]


def density_per_frame(locs: pd.DataFrame, n_frames: int, *, width: int, height: int, pixel_size: float) -> np.ndarray:
    """Emitters per µm² in each frame 1..n_frames of a ``width`` x ``height`` px image.

    Empty frames count (density 0), so the mean is over all frames of the movie.
    """
    area_um2 = width * height * (pixel_size / 1000.0) ** 2
    return counts_per_frame(locs, n_frames) / area_um2
