"""Random source patches: which localizations belong to a window, the bounded search, and the
eight symmetries of the square.

Everything here works on plain numpy arrays and is vectorised: the localizations are indexed by
frame once (sorted, with the start of each frame found by ``searchsorted``), and the emitters of
thousands of candidate windows are counted in one pass.

Conventions: frames are 0-based array indices here (the table's 1-based frame minus 1); rows and
columns are camera pixels, 0-based; a localization at ``(x, y)`` nm lies in camera pixel column
``floor(x / pixel_size)`` and row ``floor(y / pixel_size)``, and belongs to the window of
``size`` pixels at ``(row, col)`` when ``row <= its row < row + size`` and ``col <= its column
< col + size`` (half-open).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .errors import InputError

__all__ = [
    "TRANSFORMS",
    "LocIndex",
    "choose_bins",
    "expand_ranges",
    "find_patches",
    "index_locs",
    "transform_patches",
    "transform_xy",
    "window_members",
]

#: The 8 symmetries of the square. Code bits: 4 = transpose, 2 = flip up-down (rows),
#: 1 = flip left-right (columns), applied in that order. ``rot90`` is ``numpy.rot90(a, 1)``
#: (counter-clockwise as displayed with row 0 at the top), ``rot270`` is ``numpy.rot90(a, -1)``.
TRANSFORMS = ("identity", "flip_lr", "flip_ud", "rot180", "transpose", "rot270", "rot90", "antitranspose")

# loc entries examined per vectorised step of the search (bounds its temporary memory)
_ENTRIES_PER_STEP = 500_000
# largest frames x rows table of LocIndex.row_start (4 bytes each: 16 MB)
_ROW_TABLE_MAX = 1 << 22


@dataclasses.dataclass
class LocIndex:
    """Localizations of one or more movies, sorted by (movie, frame, pixel row).

    ``key = global_frame * row_stride + row`` is sorted, so the entries of a frame whose rows lie in
    ``[r0, r1)`` are one contiguous range found with ``searchsorted``. The global frame of frame
    ``f`` (0-based) of movie ``m`` is ``frame_offset[m] + f``. ``cols`` are the camera pixel columns
    of the entries and ``source`` their rows in the concatenated input tables (entries of one frame
    and pixel row keep their table order).
    """

    key: np.ndarray
    row_stride: int
    frame_offset: np.ndarray
    cols: np.ndarray
    source: np.ndarray
    #: ``row_start[v]`` = first entry with ``key >= v`` for every ``v`` up to frames x row_stride
    #: (a gather instead of a binary search), when that table is small; else None
    row_start: np.ndarray | None = None


def _cat(parts, dtype):
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def index_locs(tables, n_frames, pixel_size: float, heights=None) -> LocIndex:
    """Index canonical tables (one per movie) by frame and pixel row.

    Parameters
    ----------
    tables : list of DataFrame
        Canonical tables, already checked: frames ``1..n_frames[m]``, finite non-negative x/y in nm
        inside the image.
    n_frames : list of int
        Frames of each movie.
    pixel_size : float
        Camera pixel size in nm.
    heights : list of int, optional
        Image heights in px (default: from the localizations).
    """
    n_frames = np.asarray(n_frames, dtype=np.int64)
    frame_offset = np.concatenate([[0], np.cumsum(n_frames)[:-1]]).astype(np.int64)
    stride = max([1] + [int(h) for h in heights or []])
    for t in tables:
        if heights is None and len(t):
            stride = max(stride, int(t["y"].max() // pixel_size) + 1)
    keys, sources, cols = [], [], []
    row0 = 0
    for m, t in enumerate(tables):
        n = len(t)
        key = np.floor(t["y"].to_numpy(dtype=np.float64) / pixel_size).astype(np.int64)
        key += (t["frame"].to_numpy(dtype=np.int64) - 1 + frame_offset[m]) * stride
        if n and int(key.max()) < (2**62) // n:
            # sort (key, table row) pairs in one fast sort: equal keys keep their table order
            key *= n
            key += np.arange(n, dtype=np.int64)
            key.sort()
            order = key % n
            key //= n
        else:
            order = np.argsort(key, kind="stable")
            key = key[order]
        x = t["x"].to_numpy(dtype=np.float64)
        cols.append(np.floor(x[order] / pixel_size).astype(np.int32))
        keys.append(key)
        order += row0
        sources.append(order)
        row0 += n
    key = _cat(keys, np.int64)
    n_keys = int(n_frames.sum()) * stride
    row_start = None
    if n_keys <= _ROW_TABLE_MAX:
        row_start = np.zeros(n_keys + 1, np.int32 if len(key) < 2**31 else np.int64)
        np.cumsum(np.bincount(key, minlength=n_keys)[:n_keys], out=row_start[1:])
    return LocIndex(key=key, row_stride=stride, frame_offset=frame_offset, cols=_cat(cols, np.int32),
                    source=_cat(sources, np.int64), row_start=row_start)


def expand_ranges(starts, counts) -> np.ndarray:
    """Indices ``starts[i], ..., starts[i] + counts[i] - 1`` of every range, concatenated (vectorised)."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts - starts, counts)


def _expand(index: LocIndex, gframe, row0, row1, col0, col1):
    """Entries of each window's frame that lie in its rows ``[row0, row1)`` and columns ``[col0, col1)``.

    Returns ``(window, entry)``: for every member, the window's position in the inputs and the
    entry in ``index``; grouped by window in input order.
    """
    base = gframe * index.row_stride
    if index.row_start is not None:
        lo = index.row_start[base + row0].astype(np.int64)
        n = index.row_start[base + row1] - lo  # entries in the window's rows
    else:
        lo = np.searchsorted(index.key, base + row0, side="left")
        n = np.searchsorted(index.key, base + row1, side="left") - lo
    window = np.repeat(np.arange(len(gframe)), n)
    entry = expand_ranges(lo, n)
    c = index.cols[entry]
    inside = (c >= col0[window]) & (c < col1[window])
    return window[inside], entry[inside]


def window_members(index: LocIndex, movie, frame, row, col, size: int, *, margin: int = 0, heights=None):
    """Members of windows given by movie index, 0-based frame, top-left row and column (px).

    With ``margin``, the localizations within ``margin`` pixels around each window count too (the
    rows are clipped to the frame, so ``heights``, one per movie, is needed then).

    Returns ``(window, entry)`` as arrays (see :class:`LocIndex` for ``entry``).
    """
    movie = np.asarray(movie)
    gframe = index.frame_offset[movie] + np.asarray(frame, dtype=np.int64)
    row, col = np.asarray(row, np.int64), np.asarray(col, np.int64)
    if not margin:
        return _expand(index, gframe, row, row + size, col, col + size)
    height = np.asarray(heights, dtype=np.int64)[movie]
    return _expand(index, gframe, np.maximum(row - margin, 0), np.minimum(row + size + margin, height),
                   col - margin, col + size + margin)


def find_patches(index: LocIndex, shapes, *, rng, n_patches: int, size: int, min_emitters: int,
                 max_attempts: int, pixel_size: float, progress=None) -> dict:
    """Draw random windows until ``n_patches`` distinct ones hold at least ``min_emitters`` localizations.

    Candidates are drawn in vectorised batches: movie uniformly, then frame uniformly, then the
    top-left corner uniformly (every position that keeps the window inside the frame). They are
    taken in draw order, so the result depends only on ``rng``'s state. A window drawn again
    (same movie, frame and corner) is skipped: two source patches never hold the same pixels.

    Parameters
    ----------
    shapes : list of (frames, height, width)
    progress : tqdm bar, optional
        Updated with the number of patches accepted.

    Returns
    -------
    dict of arrays ``movie``, ``frame`` (0-based), ``row``, ``col``, ``n_emitters`` and the
    numbers ``attempts``, ``best`` (most emitters seen in one window), ``mean_candidate``
    (mean emitters per candidate window) and ``repeats`` (qualifying windows skipped as drawn before).

    Raises
    ------
    InputError
        When fewer than ``n_patches`` windows qualify after ``max_attempts`` candidates.
    """
    shapes = np.asarray(shapes, dtype=np.int64)
    n_movies = len(shapes)
    # entries examined per window: the localizations in its band of rows
    per_window = max(1.0, len(index.cols) / max(1, int(shapes[:, 0].sum())) * size / max(1, int(shapes[:, 1].min())))
    cap = int(np.clip(_ENTRIES_PER_STEP / per_window, 256, 1 << 16))
    found = {k: [] for k in ("movie", "frame", "row", "col", "n_emitters")}
    n_found = attempts = best = repeats = 0
    emitters_seen = 0
    seen = np.zeros(0, np.int64)  # keys of the accepted windows
    height, width = int(shapes[:, 1].max()), int(shapes[:, 2].max())
    while n_found < n_patches and attempts < max_attempts:
        rate = n_found / attempts if n_found else None
        want = (n_patches - n_found) * (1.3 / rate if rate else 4.0)
        batch = int(min(cap, max_attempts - attempts, max(256, want)))
        if n_movies > 1:
            movie = rng.integers(0, n_movies, batch)
            frame = rng.integers(0, shapes[movie, 0])
            row = rng.integers(0, shapes[movie, 1] - size + 1)
            col = rng.integers(0, shapes[movie, 2] - size + 1)
        else:  # scalar bounds: the same draws as the array bounds above, at half the cost
            movie = np.zeros(batch, np.int64)
            frame = rng.integers(0, shapes[0, 0], batch)
            row = rng.integers(0, shapes[0, 1] - size + 1, batch)
            col = rng.integers(0, shapes[0, 2] - size + 1, batch)
        window, _ = window_members(index, movie, frame, row, col, size)
        counts = np.bincount(window, minlength=batch)
        attempts += batch
        emitters_seen += int(counts.sum())
        best = max(best, int(counts.max()))
        ok = np.flatnonzero(counts >= min_emitters)
        key = ((index.frame_offset[movie] + frame) * height + row) * width + col
        fresh = ok[~np.isin(key[ok], seen)] if len(seen) else ok
        fresh = fresh[np.sort(np.unique(key[fresh], return_index=True)[1])]  # first draw of each
        repeats += len(ok) - len(fresh)
        ok = fresh[: n_patches - n_found]
        seen = np.concatenate([seen, key[ok]])
        for key, arr in (("movie", movie), ("frame", frame), ("row", row), ("col", col), ("n_emitters", counts)):
            found[key].append(np.asarray(arr, dtype=np.int64)[ok])
        n_found += len(ok)
        if progress is not None and len(ok):
            progress.update(len(ok))
    area_um2 = (size * pixel_size / 1000.0) ** 2
    if n_found < n_patches:
        raise InputError(
            f"found only {n_found} of {n_patches} patches of {size}x{size} px with at least {min_emitters} "
            f"emitters in {attempts} random windows ({repeats} repeated windows skipped); the best held {best} emitters "
            f"({best / area_um2:.3g} emitters/µm²; mean {emitters_seen / max(attempts, 1) / area_um2:.3g})",
            hint="lower {min_emitters}, use a larger {patch_size}, ask for fewer {n_patches}, "
                 "or give denser localizations")
    out = {k: np.concatenate(v) for k, v in found.items()}
    out.update(attempts=attempts, best=best, mean_candidate=emitters_seen / max(attempts, 1), repeats=repeats)
    return out


def choose_bins(rng, n_patches: int, n_summed: int, k: int, *, unique: bool = False) -> np.ndarray:
    """``(n_summed, k)`` patch indices: k distinct patches per summed frame.

    With ``unique`` every patch is used at most once overall (needs ``n_patches >= n_summed * k``).
    """
    if unique:
        if n_patches < n_summed * k:
            raise InputError(f"unique patches need at least summed x bin size = {n_summed} x {k} = "
                             f"{n_summed * k} source patches, got {n_patches}", hint="raise {n_patches} or {unique}")
        return rng.permutation(n_patches)[: n_summed * k].reshape(n_summed, k)
    if 2 * k > n_patches:
        # k close to n: a partial shuffle per row
        return rng.permuted(np.tile(np.arange(n_patches), (n_summed, 1)), axis=1)[:, :k]
    idx = rng.integers(0, n_patches, (n_summed, k))
    while True:  # redraw rows holding a repeated patch (rare when k << n)
        s = np.sort(idx, axis=1)
        bad = np.flatnonzero((s[:, 1:] == s[:, :-1]).any(axis=1))
        if not len(bad):
            return idx
        idx[bad] = rng.integers(0, n_patches, (len(bad), k))


def transform_patches(patches: np.ndarray, codes) -> np.ndarray:
    """Apply symmetry ``codes[i]`` (see :data:`TRANSFORMS`) to ``patches[i]`` (square, (n, P, P))."""
    out = np.array(patches, copy=True)
    codes = np.asarray(codes)
    for code in np.unique(codes):
        sel = codes == code
        p = patches[sel]
        if code & 4:
            p = p.transpose(0, 2, 1)
        if code & 2:
            p = p[:, ::-1, :]
        if code & 1:
            p = p[:, :, ::-1]
        out[sel] = p
    return out


def transform_xy(x, y, codes, size_nm: float):
    """Move positions (nm from a patch's corner) with the patch's symmetry, as :func:`transform_patches`.

    A position on a pixel edge that a flip would put on the far edge of the patch (outside the
    half-open patch) is kept just inside it.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    codes = np.asarray(codes)
    t = (codes & 4) > 0
    x, y = np.where(t, y, x), np.where(t, x, y)
    y = np.where((codes & 2) > 0, size_nm - y, y)
    x = np.where((codes & 1) > 0, size_nm - x, x)
    inside = np.nextafter(size_nm, 0)
    return np.minimum(x, inside), np.minimum(y, inside)
