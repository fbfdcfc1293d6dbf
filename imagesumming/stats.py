"""Numbers that describe the data: densities per frame of a localization table; background level
and noise of image stacks (all pixels, or the pixels away from every localization)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["counts_per_frame", "density_per_frame", "emitter_mask", "masked_median_noise", "median_noise"]


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


# ---------------------------------------------------------------------------------------------
# pixel statistics: background level and noise of image stacks
# ---------------------------------------------------------------------------------------------

_STENCIL_ELEMENTS = 1 << 20  # stencil pixels examined per step of emitter_mask

#: 1.4826 x the median absolute deviation estimates the standard deviation of Gaussian noise.
MAD_TO_SIGMA = 1.4826


def median_noise(stack: np.ndarray, chunk: int = 1024):
    """Median and noise (1.4826 x median absolute deviation) of each image of an (n, H, W) stack.

    Exact for integer images (the median of an even count may be a half-integer). Full sorts
    along each image: for images of a few thousand pixels numpy's vectorised sort beats
    ``np.partition``, which selects row by row.
    """
    n = len(stack)
    flat = stack.reshape(n, -1)
    m = flat.shape[1]
    med, noise = np.empty(n), np.empty(n)
    lo, hi = (m - 1) // 2, m // 2
    small_int = flat.dtype.kind in "iu" and flat.dtype.itemsize <= 2
    for s in range(0, n, chunk):  # chunks bound the temporaries
        block = flat[s:s + chunk]
        if small_int:  # exact in int32 with doubled values: 2|x - median| = |2x - (a + b)|
            srt = np.sort(block, axis=1)
            twice = srt[:, lo].astype(np.int32) + srt[:, hi]
            dev = np.abs(block.astype(np.int32) * 2 - twice[:, None])
            if dev.size and int(dev.max()) < 2**16:
                dev = dev.astype(np.uint16)  # sorts about twice as fast as int32
            scale = 0.5
        else:
            block = block.astype(np.float64)
            srt = np.sort(block, axis=1)
            twice = srt[:, lo] + srt[:, hi]
            dev = np.abs(block - twice[:, None] / 2).astype(np.float32)
            scale = 1.0
        dev.sort(axis=1)
        med[s:s + len(block)] = twice / 2
        noise[s:s + len(block)] = MAD_TO_SIGMA * scale * (dev[:, lo].astype(np.float64) + dev[:, hi]) / 2
    return med, noise


def _sort_kept(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``values`` sorted along rows with the pixels not kept last (a sentinel above every value).

    Non-negative integers below 65535 sort as uint16 (numpy's vectorised sort is fastest there).
    """
    if values.dtype.kind in "iu":
        if values.size and int(values.max()) < 2**16 - 1:
            return np.sort(np.where(keep, values.astype(np.uint16), np.uint16(2**16 - 1)), axis=1)
        return np.sort(np.where(keep, values.astype(np.int64), np.iinfo(np.int64).max), axis=1)
    return np.sort(np.where(keep, values, np.inf), axis=1)


def masked_median_noise(stack: np.ndarray, mask: np.ndarray, *, min_pixels: int = 20, chunk: int = 1024):
    """Median and noise (1.4826 x MAD) of the pixels where ``mask`` is True, per image.

    Returns ``(median, noise, n_pixels)``; median and noise are NaN for an image with fewer than
    ``min_pixels`` such pixels (too few to say). Exact for integer images (in integers, with
    doubled values as in :func:`median_noise`).
    """
    n = len(stack)
    flat, keep = stack.reshape(n, -1), np.asarray(mask, bool).reshape(n, -1)
    count = keep.sum(axis=1)
    med, noise = np.full(n, np.nan), np.full(n, np.nan)
    rows = np.arange(min(n, chunk))[:, None]
    integer = flat.dtype.kind in "iu" and flat.dtype.itemsize <= 4
    for s in range(0, n, chunk):
        block, k, c = flat[s:s + chunk], keep[s:s + chunk], count[s:s + chunk]
        r = rows[:len(block)]
        lo, hi = np.maximum((c - 1) // 2, 0)[:, None], np.maximum(c // 2, 0)[:, None]
        if integer:  # shifted to start at 0; twice the median and 2|x - median| are integers
            base = int(block.min()) if block.size else 0
            vals = block.astype(np.int64) - base
            srt = _sort_kept(vals, k)
            twice = (srt[r, lo].astype(np.int64) + srt[r, hi])[:, 0]
            dev = _sort_kept(np.abs(2 * vals - twice[:, None]), k)
            centre, spread = twice / 2 + base, MAD_TO_SIGMA * (dev[r, lo].astype(np.float64) + dev[r, hi])[:, 0] / 4
        else:
            vals = block.astype(np.float64)
            srt = _sort_kept(vals, k)
            centre = (srt[r, lo] + srt[r, hi])[:, 0] / 2
            dev = _sort_kept(np.abs(vals - centre[:, None]), k)
            spread = MAD_TO_SIGMA * (dev[r, lo] + dev[r, hi])[:, 0] / 2
        ok = c >= max(1, min_pixels)
        med[s:s + len(block)] = np.where(ok, centre, np.nan)
        noise[s:s + len(block)] = np.where(ok, spread, np.nan)
    return med, noise, count


def emitter_mask(x, y, owner, rows, cols, size: int, *, pixel_size: float, radius: float) -> np.ndarray:
    """Pixels of ``size`` x ``size`` windows whose centre lies within ``radius`` nm of a localization.

    Parameters
    ----------
    x, y : arrays
        Localizations in nm in their frame's coordinates (pixel ``k`` spans ``[k, k+1) * pixel_size``).
    owner : int array
        The window each localization is tested against (it may lie outside it, near its edge).
    rows, cols : int arrays
        Top-left pixel of each window in its frame.

    Returns
    -------
    bool ndarray (n_windows, size, size), True near a localization.
    """
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    mask = np.zeros((len(rows), size, size), bool)
    owner = np.asarray(owner, np.int64)
    if not len(owner):
        return mask
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    reach = int(np.ceil(radius / pixel_size)) + 1
    d = np.arange(-reach, reach + 1)
    step = max(1, _STENCIL_ELEMENTS // len(d) ** 2)  # members per step: bounds the temporaries
    for s in range(0, len(owner), step):
        xs, ys, w = x[s:s + step, None, None], y[s:s + step, None, None], owner[s:s + step, None, None]
        # every pixel of a (2 reach + 1)^2 stencil around each localization's pixel, as (member, dy, dx)
        py = np.floor(ys / pixel_size).astype(np.int64) + d[None, :, None]
        px = np.floor(xs / pixel_size).astype(np.int64) + d[None, None, :]
        near = ((px + 0.5) * pixel_size - xs) ** 2 + ((py + 0.5) * pixel_size - ys) ** 2 < radius ** 2
        i, j = py - rows[w], px - cols[w]
        near &= (i >= 0) & (i < size) & (j >= 0) & (j < size)
        w, i, j = (np.broadcast_to(a, near.shape) for a in (w, i, j))
        mask[w[near], i[near], j[near]] = True
    return mask
