"""Summing: dense Deep-STORM training frames from real low-density frames with known localizations.

Random ``P x P`` patches are cut from low-density frames (each holding at least ``min_emitters``
localizations), ``k`` of them are summed into one dense frame (minus ``k - 1`` camera offsets) and
their localizations, shifted to the patch corner, are concatenated. The result loads in the
ZeroCostDL4Mic Deep-STORM notebook as it is (``patch_size = P - 1``, one patch per frame).

Example
-------
>>> from imagesumming.summing import sum_patches
>>> result = sum_patches("movie.tif", "movie_locs.hdf5", seed=1)  # doctest: +SKIP
>>> print(result.summary())  # doctest: +SKIP
>>> result.save("training", name="summed")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd

from ._defaults import DEFAULTS  # the original notebook's (in a light module, for the CLI)
from ._files import json_ready, output_set, set_problems
from .errors import InputError, worded
from .io import as_movie, read_locs, smallest_dtype, write_deepstorm_csv, write_tif
from .io._csvtext import write_columns
from .sampling import (
    TRANSFORMS,
    LocIndex,
    choose_bins,
    expand_ranges,
    find_patches,
    index_locs,
    transform_patches,
    transform_xy,
    window_members,
)
from .schema import make_locs
from .stats import density_per_frame, emitter_mask, masked_median_noise, median_noise
from .validate import check_locs, check_pixel_size

__all__ = ["DEFAULTS", "SummingResult", "check_summed_set", "output_paths", "sum_patches"]

log = logging.getLogger("imagesumming")


_PNGS = ("density", "frame", "single", "background")
_SUM_CHUNK = 1024  # summed frames per step (bounds the int64 temporaries)


def check_summed_set(tif, csv) -> None:
    """Refuse a tif and csv that are not one complete output set of one run (one line, InputError).

    What the notebook cell that loads summed data calls before it loads them: a run killed while
    moving its files in, two runs into one folder, or a file replaced since would otherwise give
    frames of one run with the localizations of another. Files that no imagesumming manifest
    describes (the user's own data) pass, and so do a tif and csv copied with ``NAME_params.json``
    but without the set's other files (provenance, figures).
    """
    tif, csv = (Path(os.path.realpath(p)) for p in (tif, csv))  # a link names the file the run wrote
    problems = set_problems(tif, csv, only_these=True)  # other files of the set may stay behind when copying
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise InputError(problems[0] + more, tif)


def output_paths(out_dir, name: str = "summed", *, plots: bool = False, match: bool = False) -> dict:
    """The files :meth:`SummingResult.save` writes into ``out_dir`` (keys: tif, csv, provenance, params, png_*).

    ``match``: the run compared its frames with a movie to analyze (``NAME_match.png`` with ``plots``).
    """
    if not name or "/" in str(name) or str(name) in (".", ".."):
        raise InputError(f"output name must be a plain file name stem, got {name!r}")
    d = Path(out_dir)
    paths = {"tif": d / f"{name}.tif", "csv": d / f"{name}.csv",
             "provenance": d / f"{name}_provenance.csv", "params": d / f"{name}_params.json"}
    if plots:
        paths.update({f"png_{p}": d / f"{name}_{p}.png" for p in _PNGS + (("match",) if match else ())})
    return paths


# ---------------------------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------------------------


def _as_list(obj, what):
    if isinstance(obj, (list, tuple)):
        if not obj:
            raise InputError(f"no {what} given")
        return list(obj)
    return [obj]


def _count(value, name, minimum=1):
    if isinstance(value, (bool, np.bool_)):
        ok = False
    elif isinstance(value, (int, np.integer)):
        ok = True
    else:
        try:
            ok = float(value).is_integer()
        except (TypeError, ValueError, OverflowError):
            ok = False
    if not ok or int(value) < minimum:
        raise InputError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def _number(value, name, unit, *, positive=False) -> float:
    """A finite number > 0 (``positive``) or >= 0, else a one-line InputError."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number of {unit}, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (positive and v == 0):
        raise InputError(f"{name} must be a {'positive' if positive else 'non-negative'} number of {unit}, got {value}")
    return v


def _input_name(obj, i, what):
    if isinstance(obj, (str, os.PathLike)):
        return Path(obj).name
    path = getattr(obj, "path", None)
    return Path(path).name if path is not None else f"{what}{i}"


def _check_k(k, n_patches, n_summed, unique, target=""):
    """``k`` when ``n_patches`` serve it (distinct within a frame; each used once with ``unique``).

    ``target`` names where ``k`` came from when it was chosen from a target density.
    """
    what = f"target density {target} emitters/µm² needs k = {k}" if target else f"bin size {k}"
    if k > n_patches:
        raise InputError(f"{what} is larger than the number of patches {n_patches}: each summed frame needs "
                         "k distinct patches", hint="raise {n_patches}" + (" or lower {target_density}" if target else ""))
    if unique and n_patches < n_summed * k:
        raise InputError(f"unique patches need at least summed x bin size = {n_summed} x {k} = {n_summed * k} "
                         f"patches ({what}), got {n_patches}", hint="raise {n_patches} or {unique}")
    return k


@dataclasses.dataclass
class _Inputs:
    """Opened movies and read tables, one per input, with the pixel size settled for all."""

    sources: list  # the movies as given (paths, arrays, Movie objects)
    loc_sources: list  # the localizations as given (paths or tables)
    opened: list  # Movie objects
    tables: list  # canonical tables as read
    reports: list  # reader reports (None for tables given)
    pixel_size: float
    pixel_size_source: str

    @property
    def names(self) -> list:
        return [_input_name(s, i, "movie") for i, s in enumerate(self.sources)]

    def loc_name(self, i: int) -> str:
        src = self.loc_sources[i]
        return src if isinstance(src, (str, os.PathLike)) else f"localization table {i}"

    def close(self) -> None:
        _close(self.sources, self.opened)


def _open_inputs(movies, locs, pixel_size) -> _Inputs:
    """Open movies, read localization tables, settle the pixel size (flag, else files, else error)."""
    movies = _as_list(movies, "movie")
    locs = _as_list(locs, "localization table")
    if len(movies) != len(locs):
        raise InputError(f"{len(movies)} movie(s) but {len(locs)} localization file(s): give one "
                         "localization file per movie, in the same order")
    if pixel_size is not None:
        pixel_size = check_pixel_size(pixel_size)
    opened = []
    try:
        for m in movies:
            opened.append(as_movie(m))
        return _Inputs(movies, locs, opened, *_read_tables(movies, locs, opened, pixel_size))
    except BaseException:
        _close(movies, opened)
        raise


def _close(sources, opened):
    """Close the movies this module opened from paths (not those the caller passed open)."""
    for src, m in zip(sources, opened):
        if isinstance(src, (str, os.PathLike)):
            m.close()


def _read_tables(movies, locs, opened, pixel_size):
    candidates = []  # (pixel size, where it came from)
    for i, (src, m) in enumerate(zip(movies, opened)):
        if m.pixel_size is not None:
            candidates.append((m.pixel_size, f"{_input_name(src, i, 'movie')} ({m.pixel_size_source})"))
    tables, reports = [], []
    for i, src in enumerate(locs):
        if isinstance(src, pd.DataFrame):
            try:
                table = make_locs(src)
            except (KeyError, ValueError, TypeError) as exc:
                raise InputError(f"localization table {i} is not a canonical table ({exc})") from None
            rep = None
        else:
            # a file in camera pixels without metadata: the movies' pixel size, when they agree on one
            one = candidates[0] if len({round(p, 6) for p, _ in candidates}) == 1 else (None, None)
            table, rep = read_locs(src, pixel_size=pixel_size, fallback_pixel_size=one[0],
                                   fallback_source=f"movie {one[1]}")
            if rep.pixel_size is not None and rep.pixel_size_source != "given by the caller" \
                    and not str(rep.pixel_size_source).startswith("movie "):
                candidates.append((rep.pixel_size, f"{Path(src).name} ({rep.pixel_size_source})"))
        tables.append(table)
        reports.append(rep)
    if pixel_size is not None:
        ps, source = pixel_size, "given by the caller"
        for p, where in candidates:
            if not np.isclose(p, ps, rtol=1e-4):
                log.warning("pixel size %g nm given overrides %g nm in %s", ps, p, where)
    else:
        if not candidates:
            raise InputError("pixel size unknown: no movie tags or localization metadata give it",
                             hint="give the camera pixel size in nm with {pixel_size}")
        ps, source = candidates[0]
        for p, where in candidates[1:]:
            if not np.isclose(p, ps, rtol=1e-4):
                raise InputError(f"pixel sizes disagree: {ps:g} nm in {source} but {p:g} nm in {where}",
                                 hint="give the right one with {pixel_size}")
    return tables, reports, float(ps), source


def _exact_sums(pool: np.ndarray, bins: np.ndarray, camera_offset: float, progress=None) -> np.ndarray:
    """``pool[bins[s]].sum(axis=0) - (k - 1) * camera_offset`` for every summed frame ``s``.

    Integer pools with a whole-number offset are summed exactly: in int32 when no partial sum can
    leave its range (half the memory), else in int64 (an error when even that could overflow);
    float pools or a fractional offset in float64. Returns the sums in the smallest dtype that
    holds them (uint16, int32, int64; float32), negative values kept. ``progress(n)`` is called
    after each chunk of ``n`` summed frames.
    """
    n_summed, k = bins.shape
    exact = pool.dtype.kind in "iu" and float(camera_offset).is_integer()
    acc_dtype = np.int64 if exact else np.float64
    if exact and pool.size:
        bound = k * max(abs(int(pool.min())), abs(int(pool.max()))) + (k - 1) * int(camera_offset)
        if bound >= 2**63:
            raise InputError(f"sums of k = {k} patches may exceed 64-bit integers (pixel values "
                             f"{int(pool.min())}..{int(pool.max())})", hint="lower {bin_size}")
        if bound < 2**31:
            acc_dtype = np.int32
        if pool.dtype == np.uint64:  # numpy mixes uint64 with signed integers as float64
            pool = pool.astype(np.int64)
    offset = acc_dtype(camera_offset) * (k - 1)
    sums = np.empty((n_summed,) + pool.shape[1:], acc_dtype)
    for s in range(0, n_summed, _SUM_CHUNK):
        b = bins[s:s + _SUM_CHUNK]
        acc = pool[b[:, 0]].astype(acc_dtype)
        for j in range(1, k):
            acc += pool[b[:, j]]
        acc -= offset
        sums[s:s + len(b)] = acc
        if progress is not None:
            progress(len(b))
    if not exact:
        return sums.astype(np.float32)
    lo, hi = (int(sums.min()), int(sums.max())) if sums.size else (0, 0)
    return sums.astype(smallest_dtype(lo, hi), copy=False)


def _versions() -> dict:
    """Versions of what decides the output bytes (random streams, csv and tif writers)."""
    import tifffile

    from . import __version__

    return {"imagesumming": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__, "tifffile": tifffile.__version__}


def _progress(progress, **kw):
    from ._progress import progress_bar  # only where a person watches, only for work that lasts

    return progress_bar(show=progress, **kw)


# ---------------------------------------------------------------------------------------------
# the pipeline
# ---------------------------------------------------------------------------------------------


def sum_patches(movies, locs, *, pixel_size=None, camera_offset=100.0, patch_size=30, n_patches=200,
                n_summed=100, bin_size=10, target_density=None, min_emitters=2, unique=False, augment=False,
                seed=None, on_invalid="error", progress=True, max_attempts=None) -> SummingResult:
    """Sum random low-density patches into dense training frames with exact ground truth.

    Parameters
    ----------
    movies : path, array, Movie, or a list of them
        Low-density movies ``(frames, height, width)``; paths are opened lazily (only the frames
        holding chosen patches are read).
    locs : path, DataFrame, or a list of them (one per movie, same order)
        Localizations of each movie: any format :func:`imagesumming.io.read_locs` reads, or a
        canonical table (frames 1-based, x/y in nm from the pixel corner).
    pixel_size : float, optional
        Camera pixel size in nm. Default: from the files (tif tags, Picasso yaml); an error when
        they give none or disagree.
    camera_offset : float
        Camera offset (ADU) subtracted ``k - 1`` times from each sum. A whole number keeps the
        sums of integer movies exact integers; any other value makes them float (float32 output).
    patch_size : int
        Side ``P`` of the patches and of the summed frames (camera pixels).
    n_patches : int
        Source patches to cut (each with at least ``min_emitters`` localizations).
    n_summed : int
        Summed frames to make.
    bin_size : int
        ``k``, patches summed per frame (distinct within a frame).
    target_density : float, optional
        Emitters per µm² wanted in the summed frames: chooses ``k`` from the mean density of the
        accepted patches (overrides ``bin_size``).
    min_emitters : int
        Minimum localizations in a source patch (0 accepts every window).
    unique : bool
        Use each source patch at most once (needs ``n_patches >= n_summed * k``).
    augment : bool
        Flip/rotate each source patch by a random symmetry of the square; its localizations move
        with it.
    seed : int, optional
        Seed of every random choice; drawn (and recorded in ``params``) when None.
    on_invalid : {"error", "drop"}
        Localizations outside their movie or in frames beyond it: raise (default, with counts) or
        drop them (counts go into ``params``).
    progress : bool, default True
        Show progress bars where a person watches (a terminal or a notebook) and the work lasts.
    max_attempts : int, optional
        Candidate windows tried before giving up (default ``max(100_000, 500 * n_patches)``).

    Returns
    -------
    SummingResult
        ``frames`` (n_summed, P, P) in the smallest dtype that holds the values (uint16, int32 or
        int64 for integer movies; float32 for float movies or a fractional offset), ``locs`` (canonical table, frames
        1..n_summed, x/y nm from the summed frame's corner), ``provenance``, ``params``,
        ``notebook_settings``.

    Raises
    ------
    InputError
        Bad parameters or inputs (one-line message; nothing is written).
    """
    settings = check_settings(patch_size=patch_size, n_patches=n_patches, n_summed=n_summed, bin_size=bin_size,
                              target_density=target_density, min_emitters=min_emitters, unique=unique,
                              augment=augment, seed=seed, on_invalid=on_invalid, max_attempts=max_attempts,
                              camera_offset=camera_offset)

    inputs = _open_inputs(movies, locs, pixel_size)
    try:
        return _run(inputs, settings, progress=progress)
    finally:
        inputs.close()


def check_settings(*, patch_size, n_patches, n_summed, bin_size, target_density, min_emitters, unique, augment,
                   seed, on_invalid, max_attempts, camera_offset) -> "SumSettings":
    """The parameters of a summing run checked (one-line InputErrors), the seed drawn when None."""
    P = _count(patch_size, "patch size", 2)
    n_patches = _count(n_patches, "number of patches")
    n_summed = _count(n_summed, "number of summed frames")
    min_emitters = _count(min_emitters, "minimum emitters per patch", 0)
    if target_density is None:
        k = _check_k(_count(bin_size, "bin size"), n_patches, n_summed, unique)
    else:
        target_density = _number(target_density, "target density", "emitters/µm²", positive=True)
        k = None  # chosen from the accepted patches
    camera_offset = _number(camera_offset, "camera offset", "ADU")
    if on_invalid not in ("error", "drop"):
        raise InputError(f"on_invalid must be 'error' or 'drop', not {on_invalid!r}")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)  # short enough to type back in
    seed = _count(seed, "seed", 0)
    max_attempts = max(100_000, 500 * n_patches) if max_attempts is None else _count(max_attempts, "max_attempts")
    return SumSettings(patch_size=P, n_patches=n_patches, n_summed=n_summed, bin_size=k,
                       target_density=target_density, min_emitters=min_emitters, unique=bool(unique),
                       augment=bool(augment), seed=seed, on_invalid=on_invalid, max_attempts=max_attempts,
                       camera_offset=camera_offset)


@dataclasses.dataclass(frozen=True)
class SumSettings:
    """The checked parameters of one :func:`sum_patches` run (``P`` = ``patch_size``).

    ``bin_size`` is ``k``, or None when ``target_density`` chooses it from the accepted patches.
    """

    patch_size: int
    n_patches: int
    n_summed: int
    bin_size: int | None
    target_density: float | None
    min_emitters: int
    unique: bool
    augment: bool
    seed: int
    on_invalid: str
    max_attempts: int
    camera_offset: float


def _run(inputs: _Inputs, s: SumSettings, *, progress) -> SummingResult:
    """The stages in order; ``rng`` is drawn from in the search, augmentation and binning, in that order."""
    rng = np.random.default_rng(s.seed)
    ps, names = inputs.pixel_size, inputs.names
    checked, invalid = _check_tables(inputs, s)
    shapes = [m.shape for m in inputs.opened]
    index = index_locs(checked, [sh[0] for sh in shapes], ps, heights=[sh[1] for sh in shapes])
    found = _search(index, shapes, s, ps, rng, progress)
    patch_density = found["n_emitters"] / _area_um2(s.patch_size, ps)
    k = s.bin_size if s.bin_size is not None else _k_for_target(patch_density, s)
    pool, codes = _read_patches(inputs.opened, found, s, rng, progress)
    source = pd.concat(checked, ignore_index=True) if len(checked) > 1 else checked[0]
    members = _patch_members(index, found, source, codes if s.augment else None, s.patch_size, ps)
    bins = choose_bins(rng, s.n_patches, s.n_summed, k, unique=s.unique)
    with _progress(progress, total=s.n_summed, desc="summing", unit="frame") as bar:
        frames = _exact_sums(pool, bins, s.camera_offset, progress=bar.update)
    out = _output_table(source, members, bins)
    patch_columns, provenance = _provenance(found, codes, bins, names)
    densities = {"inputs": [density_per_frame(t, m.n_frames, width=m.width, height=m.height, pixel_size=ps)
                            for t, m in zip(checked, inputs.opened)],
                 "output": density_per_frame(out, s.n_summed, width=s.patch_size, height=s.patch_size, pixel_size=ps),
                 "patches": patch_density}
    params = _params(inputs, s, k, checked, invalid, found, frames, out, densities)
    # the background statistics cost as much as the summing: computed when something shows them
    stats_inputs = _StatsInputs(
        patch_columns=patch_columns, bins=bins, codes=codes if s.augment else None, camera_offset=s.camera_offset,
        pixel_size=ps, index=index, heights=[sh[1] for sh in shapes], x=source["x"].to_numpy(dtype=np.float64),
        y=source["y"].to_numpy(dtype=np.float64), sigma=_psf_sigmas(source))
    return SummingResult(frames=frames, locs=out, provenance=provenance, params=params, densities=densities,
                         patches=pool, names=names, stats_inputs=stats_inputs,
                         movie_sources=[src if isinstance(src, (str, os.PathLike)) else m
                                        for src, m in zip(inputs.sources, inputs.opened)])


def _area_um2(P: int, ps: float) -> float:
    return (P * ps / 1000.0) ** 2


# stage: check the tables against their movies ---------------------------------------------------
def _check_tables(inputs: _Inputs, s: SumSettings):
    """Each table checked against its movie: ``(checked tables, invalid counts)`` (dropped or refused)."""
    checked, invalid = [], []
    for i, (m, t, name) in enumerate(zip(inputs.opened, inputs.tables, inputs.names)):
        if m.n_frames == 0:
            raise InputError(f"movie {name} holds no frames")
        if s.patch_size > min(m.height, m.width):
            raise InputError(f"patch size {s.patch_size} px is larger than the {m.width}x{m.height} px frames "
                             f"of {name}", hint="use a smaller {patch_size}")
        src = inputs.loc_name(i)
        t2, counts = check_locs(t, pixel_size=inputs.pixel_size, width=m.width, height=m.height,
                                n_frames=m.n_frames, on_invalid=s.on_invalid, source=src)
        if counts:
            log.warning("%s: dropped %s", src, ", ".join(f"{n} {r}" for r, n in counts.items()))
        checked.append(t2)
        invalid.append(counts)
    return checked, invalid


# stage: search ------------------------------------------------------------------------------------
def _search(index, shapes, s: SumSettings, ps: float, rng, progress) -> dict:
    """The accepted windows (see :func:`imagesumming.sampling.find_patches`)."""
    with _progress(progress, total=s.n_patches, desc="finding patches", unit="patch") as bar:
        return find_patches(index, shapes, rng=rng, n_patches=s.n_patches, size=s.patch_size,
                            min_emitters=s.min_emitters, max_attempts=s.max_attempts, pixel_size=ps, progress=bar)


def _k_for_target(patch_density: np.ndarray, s: SumSettings) -> int:
    """``k`` that brings the accepted patches' mean density closest to the target density."""
    mean = float(patch_density.mean())
    if mean == 0:
        raise InputError(f"target density {s.target_density:g} emitters/µm² cannot be reached: the source "
                         "patches hold no localizations", hint="raise {min_emitters} or give {bin_size}")
    return _check_k(max(1, int(round(s.target_density / mean))), s.n_patches, s.n_summed, s.unique,
                    target=f"{s.target_density:g} (patches average {mean:.3g})")


# stage: read ---------------------------------------------------------------------------------------
def _read_patches(opened, found: dict, s: SumSettings, rng, progress):
    """The windows' pixels ``(n_patches, P, P)`` and their symmetry codes (drawn when ``augment``).

    Windows are gathered from memory maps, else each needed frame is read once.
    """
    P, n = s.patch_size, s.n_patches
    mov, frm, row, col = found["movie"], found["frame"], found["row"], found["col"]
    pool = np.empty((n, P, P), np.result_type(*[m.dtype for m in opened]))
    with _progress(progress, total=n, desc="reading patches", unit="patch") as bar:
        for i, m in enumerate(opened):
            sel = np.flatnonzero(mov == i)
            pool[sel] = m.read_windows(frm[sel], row[sel], col[sel], P, progress=bar.update)
    codes = rng.integers(0, 8, n) if s.augment else np.zeros(n, np.int64)
    if s.augment:
        pool = transform_patches(pool, codes)
    return pool, codes


#: Decimals (of a nanometre) that the summed frames' positions keep.
POSITION_DECIMALS = 6


def _patch_members(index, found: dict, source: pd.DataFrame, codes, P: int, ps: float) -> dict:
    """Localizations of each patch in CSR form (patch p owns members ``ptr[p]:ptr[p+1]``).

    Returns ``ptr``, ``rows`` (their rows in ``source``) and ``x``, ``y`` (nm from the patch corner,
    after the patch's symmetry ``codes``, when given).
    """
    mov, frm, row, col = found["movie"], found["frame"], found["row"], found["col"]
    window, entry = window_members(index, mov, frm, row, col, P)
    ptr = np.concatenate([[0], np.cumsum(np.bincount(window, minlength=len(mov)))])
    src_rows = index.source[entry]
    # x / ps (membership) and x - col * ps (shift) round independently: a position within a few ulps
    # of a pixel edge could land a hair outside [0, P * ps); keep it inside the summed frame
    inside = np.nextafter(P * ps, 0)
    mx = source["x"].to_numpy(dtype=np.float64)[src_rows] - col[window] * ps
    my = source["y"].to_numpy(dtype=np.float64)[src_rows] - row[window] * ps
    if codes is not None:
        mx, my = transform_xy(mx, my, codes[window], P * ps)
    # the shift leaves float noise in the 16th digit (3000.48 - 2033 = 967.4800000000032): positions
    # are kept to POSITION_DECIMALS (a femtometre), which gives back the input's digits and halves the csv's cost
    mx = np.clip(np.round(mx, POSITION_DECIMALS), 0, inside)
    my = np.clip(np.round(my, POSITION_DECIMALS), 0, inside)
    return {"ptr": ptr, "rows": src_rows, "x": mx, "y": my}


# stage: table ----------------------------------------------------------------------------------------
def _output_table(source: pd.DataFrame, members: dict, bins: np.ndarray) -> pd.DataFrame:
    """Concatenated localizations of each summed frame's patches, in slot order (frames 1-based)."""
    k = bins.shape[1]
    flat = bins.ravel()
    ptr = members["ptr"]
    n_per = ptr[flat + 1] - ptr[flat]
    take = expand_ranges(ptr[flat], n_per)
    new = {"frame": np.repeat(np.arange(len(flat), dtype=np.int64) // k + 1, n_per),
           "x": members["x"][take], "y": members["y"][take]}
    rows = members["rows"][take]
    # column by column (each keeps its dtype; object stays object, not pandas 3's inferred str):
    # faster than source.iloc[rows] and three assignments
    columns = {}
    for c in source.columns:
        if c in new:
            columns[c] = new[c]
        else:
            values = source[c].array.take(rows)
            columns[c] = pd.Series(values, dtype=object) if source[c].dtype == object else values
    return pd.DataFrame(columns)


def _provenance(found: dict, codes, bins: np.ndarray, names: list):
    """The source patches' columns in draw order (a table only when the statistics need it), and one row
    of them per slot of each summed frame."""
    n_summed, k = bins.shape
    flat = bins.ravel()
    mov = found["movie"]
    patches = {"patch": np.arange(len(mov)), "movie": mov, "frame": found["frame"] + 1, "row": found["row"],
               "col": found["col"], "n_emitters": found["n_emitters"],
               "transform": np.asarray(TRANSFORMS, dtype=object)[codes]}
    # built from the arrays (not a patch table's .iloc[...] plus inserts): a third of the time, same columns and dtypes
    slots = {"summed_frame": np.repeat(np.arange(1, n_summed + 1, dtype=np.int64), k)}
    for name, values in patches.items():
        slots[name] = values[flat]
        if name == "movie":
            slots["movie_name"] = np.asarray(names, dtype=object)[mov[flat]]
    # object columns stay object (pandas 3 would infer its str dtype from plain arrays)
    text = {c: pd.Series(slots[c], dtype=object) for c in ("movie_name", "transform")}
    return patches, pd.DataFrame(dict(slots, **text))


# stage: statistics ---------------------------------------------------------------------------------
def _core_min(out: pd.DataFrame, n_summed: int, P: int, ps: float) -> int:
    """Fewest emitters of a summed frame certainly inside any (P-1)-pixel training patch the notebook cuts.

    Its corner is 0..U-1 high-res px and it rounds x / (ps / U), so [ps, (P - 1.5) ps) is safe for every U.
    """
    xo, yo = out["x"].to_numpy(), out["y"].to_numpy()
    core = (xo >= ps) & (xo < (P - 1.5) * ps) & (yo >= ps) & (yo < (P - 1.5) * ps)
    return int(np.bincount(out["frame"].to_numpy()[core] - 1, minlength=n_summed).min())


#: Pixels whose centre lies farther than this many PSF sigmas from every localization count as background.
BACKGROUND_RADIUS_SIGMAS = 3.0
#: Fewest background pixels for a level and noise figure of one image (NaN below).
MIN_BACKGROUND_PIXELS = 20


@dataclasses.dataclass(frozen=True)
class _StatsInputs:
    """What the background statistics need, kept so that they are computed only when shown."""

    patch_columns: dict  # of the source patches (arrays), without statistics
    bins: np.ndarray  # (n_summed, k) patch indices
    codes: np.ndarray | None  # symmetry of each patch (augment), else None
    camera_offset: float
    pixel_size: float
    index: LocIndex  # every localization of the inputs, by frame and row
    heights: list  # of each movie, px
    x: np.ndarray  # nm, frame coordinates, rows as in index.source
    y: np.ndarray
    sigma: np.ndarray | None  # PSF sigma of each localization (nm), when the tables give it


def _psf_sigmas(source: pd.DataFrame):
    """The localizations' PSF sigma in nm (``sigma``, else the mean of ``sigma_x``/``sigma_y``), or None."""
    if "sigma" in source.columns:
        return source["sigma"].to_numpy(dtype=np.float64)
    if "sigma_x" in source.columns and "sigma_y" in source.columns:
        return (source["sigma_x"].to_numpy(dtype=np.float64) + source["sigma_y"].to_numpy(dtype=np.float64)) / 2
    return None


def _mask_radius(si: _StatsInputs) -> dict:
    """How far from a localization its light counts: ``BACKGROUND_RADIUS_SIGMAS`` x the PSF sigma.

    The PSF sigma is the median of the localizations' sigma; without one (or a non-positive one),
    one camera pixel. The radius is at least one camera pixel.
    """
    sigma = si.sigma[np.isfinite(si.sigma) & (si.sigma > 0)] if si.sigma is not None else np.zeros(0)
    if len(sigma):
        psf, source = float(np.median(sigma)), "median sigma of the localizations"
    else:
        psf, source = si.pixel_size, "one camera pixel: the localizations give no sigma"
    radius = max(BACKGROUND_RADIUS_SIGMAS * psf, si.pixel_size)
    return {"radius_nm": radius, "psf_sigma_nm": psf, "psf_sigma_source": source,
            "radius_sigmas": BACKGROUND_RADIUS_SIGMAS, "min_pixels": MIN_BACKGROUND_PIXELS}


def _emitter_masks(si: _StatsInputs, P: int, radius: float) -> np.ndarray:
    """(n_patches, P, P) bool: the source patches' pixels within ``radius`` nm of a localization.

    Localizations just outside a patch count (their light reaches into it); the masks turn with
    their patches (augmentation).
    """
    pt, ps = si.patch_columns, si.pixel_size
    row, col = pt["row"], pt["col"]
    window, entry = window_members(si.index, pt["movie"], pt["frame"] - 1, row, col, P,
                                   margin=int(np.ceil(radius / ps)), heights=si.heights)
    rows = si.index.source[entry]
    near = emitter_mask(si.x[rows], si.y[rows], window, row, col, P, pixel_size=ps, radius=radius)
    return near if si.codes is None else transform_patches(near, si.codes)


def _background_statistics(frames: np.ndarray, pool: np.ndarray, si: _StatsInputs):
    """Background level and noise of the source patches and the summed frames; all pixels, and emitter-free ones.

    A pixel is emitter-free when its centre lies farther than the mask radius from every
    localization of its frame, those just outside a patch included (their light reaches into it);
    a summed frame's pixel when it is emitter-free in all k sources. What the sources predict for
    a summed frame: levels above the camera offset add, independent noise adds in quadrature (k x
    the level and sqrt(k) x the noise of a source on average).

    Returns ``(background, patch_table, mask)``: a row per summed frame, the source patches with
    their figures, and how the emitter-free pixels were chosen.
    """
    k, off = si.bins.shape[1], si.camera_offset
    P = pool.shape[1]
    pt = pd.DataFrame(dict(si.patch_columns, transform=pd.Series(si.patch_columns["transform"], dtype=object)))
    med, noise = median_noise(frames)
    patch_med, patch_noise = median_noise(pool)
    mask = _mask_radius(si)
    near = _emitter_masks(si, P, mask["radius_nm"])
    summed_near = near[si.bins[:, 0]]
    for j in range(1, k):
        summed_near |= near[si.bins[:, j]]
    p_level, p_noise, p_count = masked_median_noise(pool, ~near, min_pixels=MIN_BACKGROUND_PIXELS)
    f_level, f_noise, f_count = masked_median_noise(frames, ~summed_near, min_pixels=MIN_BACKGROUND_PIXELS)
    p_level, f_level = p_level - off, f_level - off
    figures = pd.DataFrame({"median": patch_med, "noise_mad": patch_noise, "bg_pixels": p_count, "bg_level": p_level,
                            "bg_noise": p_noise}, index=pt.index)
    patch_table = pd.concat([pt, figures], axis=1)
    background = pd.DataFrame({
        "summed_frame": np.arange(1, len(frames) + 1), "median": med, "noise_mad": noise,
        "sources_median": patch_med[si.bins].sum(axis=1) - (k - 1) * off,
        "sources_noise": np.sqrt((patch_noise[si.bins] ** 2).sum(axis=1)),
        "bg_pixels": f_count, "bg_level": f_level, "bg_noise": f_noise,
        "expected_level": p_level[si.bins].sum(axis=1), "expected_noise": np.sqrt((p_noise[si.bins] ** 2).sum(axis=1))})
    return background, patch_table, mask


# stage: parameters ---------------------------------------------------------------------------------
def _input_record(inputs: _Inputs, i: int, checked: pd.DataFrame, invalid: dict, on_invalid: str,
                  density: np.ndarray) -> dict:
    """What ``params["inputs"][i]`` records of input ``i``: files, shape, reader decisions, counts."""
    src, lsrc, m, rep = inputs.sources[i], inputs.loc_sources[i], inputs.opened[i], inputs.reports[i]
    is_path, locs_is_path = isinstance(src, (str, os.PathLike)), isinstance(lsrc, (str, os.PathLike))
    return {"index": i, "movie": str(Path(src).resolve()) if is_path else "array",
            "movie_bytes": os.path.getsize(src) if is_path else int(m.nbytes),
            "shape": [int(v) for v in m.shape], "dtype": str(m.dtype),
            "movie_pixel_size": m.pixel_size, "movie_pixel_size_source": m.pixel_size_source,
            "locs": str(Path(lsrc).resolve()) if locs_is_path else "table",
            "locs_bytes": os.path.getsize(lsrc) if locs_is_path else None,
            "locs_format": rep.format if rep else "table", "locs_frame_base": rep.frame_base if rep else 1,
            "locs_notes": list(rep.notes) if rep else [],
            "locs_rows_dropped": dict(rep.rows_dropped) if rep else {},
            "localizations": len(inputs.tables[i]), "localizations_used": len(checked),
            "invalid": invalid, "invalid_handling": on_invalid,
            "mean_density": float(density.mean())}


def _params(inputs: _Inputs, s: SumSettings, k: int, checked, invalid, found: dict, frames: np.ndarray,
            out: pd.DataFrame, densities: dict) -> dict:
    """Every parameter (incl. the seed), the search and output figures, inputs, notebook settings, versions."""
    ps, P, n_summed = inputs.pixel_size, s.patch_size, s.n_summed
    lo, hi = (frames.min(), frames.max()) if frames.size else (0, 0)
    per_frame = np.bincount(out["frame"].to_numpy() - 1, minlength=n_summed)
    notebook = {"patch_size": P - 1, "num_patches_per_frame": 1, "max_num_patches": int(n_summed),
                "min_number_of_emitters_per_patch": max(1, _core_min(out, n_summed, P, ps)), "pixel_size": ps,
                "get_pixel_size_from_file": True}
    return {
        "command": "sum_patches",
        "pixel_size": ps, "pixel_size_source": inputs.pixel_size_source, "camera_offset": s.camera_offset,
        "patch_size": P, "n_patches": s.n_patches, "n_summed": n_summed, "bin_size": int(k),
        "target_density": s.target_density, "min_emitters": s.min_emitters, "unique": s.unique,
        "augment": s.augment, "seed": s.seed, "on_invalid": s.on_invalid, "max_attempts": s.max_attempts,
        "search": {"attempts": int(found["attempts"]), "accepted": s.n_patches,
                   "best_emitters": int(found["best"]), "repeated_windows_skipped": int(found["repeats"]),
                   "mean_emitters_per_window": float(found["mean_candidate"])},
        "output": {"frames": n_summed, "dtype": str(frames.dtype), "min": float(lo), "max": float(hi),
                   "negative_pixels": int((frames < 0).sum()), "localizations": len(out),
                   "emitters_per_frame_min": int(per_frame.min()), "emitters_per_frame_max": int(per_frame.max()),
                   "mean_density": float(densities["output"].mean()),
                   "mean_patch_density": float(densities["patches"].mean())},
        "inputs": [_input_record(inputs, i, checked[i], invalid[i], s.on_invalid, densities["inputs"][i])
                   for i in range(len(inputs.sources))],
        "notebook_settings": notebook,
        "versions": _versions(),
        "conventions": {"frames": "1-based", "x_y": "nm from the summed frame's corner",
                        "provenance.movie": "0-based input index", "provenance.row_col": "0-based px, top-left"},
    }


def _compact(*axes) -> None:
    """Small titles and ticks, no axis labels: a cell of a figure grid (labels would widen its column)."""
    for ax in axes:
        ax.title.set_fontsize(8)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("")
        ax.set_ylabel("")


# ---------------------------------------------------------------------------------------------
# the result
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class SummingResult:
    """Summed frames, their localizations and where every piece came from.

    Attributes
    ----------
    frames : ndarray (n_summed, P, P)
        Summed frames, dtype uint16 when the values fit, else int32 (int64); float32 for float movies.
    locs : DataFrame
        Canonical table: ``frame`` 1..n_summed, ``x``/``y`` nm from the summed frame's corner,
        other columns carried from the inputs.
    provenance : DataFrame
        One row per source patch of each summed frame: ``summed_frame`` (1-based), ``patch``
        (0-based index of the source patch), ``movie`` (0-based input index), ``movie_name``,
        ``frame`` (1-based), ``row``, ``col`` (top-left corner, 0-based px), ``n_emitters``,
        ``transform`` (see :data:`imagesumming.sampling.TRANSFORMS`).
    params : dict
        Every parameter (incl. the seed), versions, inputs, search and output figures.
    notebook_settings : dict
        Settings for the Deep-STORM notebook's section 3.2.
    densities : dict
        Emitters/µm² per frame: ``inputs`` (list, one array per movie; empty frames count),
        ``output`` (per summed frame), ``patches`` (per source patch).
    background : DataFrame
        Per summed frame (computed on first use, as are the figures of ``patch_table``), in ADU:
        all pixels: ``median``, ``noise_mad`` (1.4826 x MAD), and what its k source patches
        predict, ``sources_median`` (their medians summed minus ``k - 1`` camera offsets) and
        ``sources_noise`` (their noise added in quadrature); emitter-free pixels only (see
        ``background_mask``): ``bg_pixels`` (how many), ``bg_level`` (median above the camera
        offset), ``bg_noise`` (1.4826 x MAD), and what the sources predict, ``expected_level``
        (their levels added) and ``expected_noise`` (in quadrature). NaN where fewer than
        ``background_mask["min_pixels"]`` pixels are emitter-free.
    patch_table : DataFrame
        One row per source patch, in draw order: ``patch``, ``movie``, ``frame`` (1-based),
        ``row``, ``col``, ``n_emitters``, ``transform``, ``median`` and ``noise_mad`` (all pixels),
        ``bg_pixels``, ``bg_level``, ``bg_noise`` (emitter-free pixels; ADU).
    background_mask : dict
        How the emitter-free pixels were chosen: ``radius_nm`` (a pixel centre farther than this
        from every localization), ``psf_sigma_nm`` and its ``psf_sigma_source``, ``radius_sigmas``,
        ``min_pixels``.
    patches : ndarray (n_patches, P, P)
        The source patches (after augmentation).
    """

    frames: np.ndarray
    locs: pd.DataFrame
    provenance: pd.DataFrame
    params: dict
    densities: dict = dataclasses.field(default_factory=dict)
    patches: np.ndarray | None = None
    names: list = dataclasses.field(default_factory=list)
    movie_sources: list = dataclasses.field(default_factory=list, repr=False)
    paths: dict = dataclasses.field(default_factory=dict)
    stats_inputs: _StatsInputs | None = dataclasses.field(default=None, repr=False)

    @functools.cached_property
    def _statistics(self):
        if self.stats_inputs is None or self.patches is None:
            return None, None, None
        return _background_statistics(self.frames, self.patches, self.stats_inputs)

    @property
    def background(self) -> pd.DataFrame | None:
        return self._statistics[0]

    @property
    def patch_table(self) -> pd.DataFrame | None:
        return self._statistics[1]

    @property
    def background_mask(self) -> dict | None:
        return self._statistics[2]

    @property
    def pixel_size(self) -> float:
        return float(self.params["pixel_size"])

    @property
    def n_summed(self) -> int:
        return len(self.frames)

    @property
    def notebook_settings(self) -> dict:
        """Settings for the Deep-STORM notebook's section 3.2 (as stored in ``params``)."""
        return self.params["notebook_settings"]

    def notebook_text(self) -> str:
        """The notebook settings as the lines to type into section 3.2 (and 3.1 a)."""
        nb = self.notebook_settings
        return (f"patch_size = {nb['patch_size']}, num_patches_per_frame = {nb['num_patches_per_frame']}, "
                f"max_num_patches >= {nb['max_num_patches']}, "
                f"min_number_of_emitters_per_patch = {nb['min_number_of_emitters_per_patch']}, "
                f"pixel_size = {nb['pixel_size']:g} (or get_pixel_size_from_file = True)")

    def summary(self) -> str:
        """Several lines: frames written, densities in and out, negative pixels, notebook settings."""
        p, o = self.params, self.params["output"]
        P = p["patch_size"]
        lines = []
        for inp, name in zip(p["inputs"], self.names):
            bad = inp["invalid"]
            lines.append(f"input {name}: {inp['shape'][0]} frames of {inp['shape'][2]}x{inp['shape'][1]} px, "
                         f"{inp['localizations_used']} localizations, mean density {inp['mean_density']:.3g} "
                         "emitters/µm² per frame (empty frames count)"
                         + (f"; dropped {', '.join(f'{n} {r}' for r, n in bad.items())}" if bad else ""))
            # what the reader decided (frame base, half-pixel shift, rows without a frame): worth seeing
            loc_name = Path(inp["locs"]).name if inp["locs"] != "table" else "table"
            lines += [f"  note ({loc_name}): {n}" for n in inp.get("locs_notes", [])]
            lines += [f"  note ({loc_name}): {n} row(s) dropped: {r}"
                      for r, n in inp.get("locs_rows_dropped", {}).items()]
        s = p["search"]
        lines.append(f"source patches: {s['accepted']} of {P}x{P} px with >= {p['min_emitters']} emitters "
                     f"({s['attempts']} windows tried), mean {o['mean_patch_density']:.3g} emitters/µm²")
        target = f" (target {p['target_density']:.3g})" if p["target_density"] else ""
        k = p["bin_size"]
        lines.append(f"summed frames: {o['frames']} of {P}x{P} px, k = {k} patch{'es' if k != 1 else ''} each"
                     + (", each patch used at most once" if p["unique"] else "")
                     + (", augmented (8 symmetries)" if p["augment"] else ""))
        lines.append(f"output density: mean {o['mean_density']:.3g} emitters/µm²{target}, "
                     f"{o['emitters_per_frame_min']}..{o['emitters_per_frame_max']} emitters per frame, "
                     f"{o['localizations']} localizations")
        lines.append(f"pixel values: {o['min']:g}..{o['max']:g} ({o['dtype']}); "
                     f"{o['negative_pixels']} negative pixel value(s) kept ("
                     + (f"offset {p['camera_offset']:g} subtracted " + ("once" if k == 2 else f"{k - 1} times")
                        if k > 1 else "one patch per frame: no offset subtracted") + ")")
        if self.background is not None:
            lines += self._background_lines()
        source = p["pixel_size_source"]  # "FILE (where in it)", not in parentheses again
        if source == "given by the caller":  # the params' record; said in the words of the front end that gave it
            source = worded("{pixel_size}")
        lines.append(f"pixel size {p['pixel_size']:g} nm from {source}; seed {p['seed']}")
        if "match" in p:
            from .target import match_lines

            lines += match_lines(p["match"])
        lines.append("Deep-STORM notebook settings: " + self.notebook_text())
        if self.paths:
            lines.append("wrote: " + ", ".join(str(v) for v in self.paths.values()))
        return "\n".join(lines)

    def _background_lines(self) -> list:
        """Background level and noise, like with like: emitter-free pixels of sources and sums, and k-fold expectations."""
        bg, pt, mask, k = self.background, self.patch_table, self.background_mask, self.params["bin_size"]

        def mean(values) -> float:  # over the images with enough emitter-free pixels (NaN when none has)
            values = np.asarray(values, dtype=np.float64)
            return float(values[np.isfinite(values)].mean()) if np.isfinite(values).any() else np.nan

        def f(value, digits=1) -> str:
            return "n/a" if not np.isfinite(value) else f"{value:.{digits}f}"

        src_level, src_noise = mean(pt["bg_level"]), mean(pt["bg_noise"])
        lines = [
            f"background level, median of emitter-free pixels above the camera offset (ADU): source patches "
            f"{f(src_level)}, summed {f(mean(bg['bg_level']))}, expected from the sources "
            f"{f(mean(bg['expected_level']))} (levels add: k = {k} x {f(src_level, 2)} = {f(k * src_level)})",
            f"background noise, 1.4826 x MAD of emitter-free pixels (ADU): source patches {f(src_noise)}, summed "
            f"{f(mean(bg['bg_noise']))}, expected from the sources {f(mean(bg['expected_noise']))} "
            f"(independent noise adds in quadrature: sqrt(k) x {f(src_noise, 2)} = {f(np.sqrt(k) * src_noise)})",
        ]
        P2 = self.frames.shape[1] * self.frames.shape[2]
        few = int(bg["bg_level"].isna().sum())
        lines.append(
            f"  emitter-free: pixel centre farther than {mask['radius_nm']:.0f} nm ({mask['radius_sigmas']:g} x PSF "
            f"sigma {mask['psf_sigma_nm']:.0f} nm, {mask['psf_sigma_source']}) from every localization, "
            f"{pt['bg_pixels'].mean() / P2:.0%} of a source patch, {bg['bg_pixels'].mean() / P2:.0%} of a summed frame"
            + (f"; {few} summed frame(s) with fewer than {mask['min_pixels']} such pixels left out" if few else ""))
        # above the offset, as the lines above: a source patch and a summed frame each hold one offset
        off = self.params["camera_offset"]
        lines.append(f"  all pixels, emitters included (ADU): median above the camera offset source patches "
                     f"{pt['median'].mean() - off:.1f}, summed {bg['median'].mean() - off:.1f}; noise 1.4826 x MAD "
                     f"source patches {pt['noise_mad'].mean():.1f}, summed {bg['noise_mad'].mean():.1f} "
                     "(a summed frame holds the emitters of k patches)")
        return lines

    # outputs --------------------------------------------------------------------------------
    def save(self, out_dir, name: str = "summed", *, force: bool = False, plots: bool = False) -> dict:
        """Write ``NAME.tif``, ``NAME.csv``, ``NAME_provenance.csv``, ``NAME_params.json`` (and PNGs).

        The files land as one set (see :func:`imagesumming._files.output_set`): staged in
        ``out_dir/.imagesumming``, then moved into place, ``NAME_params.json`` last with the size
        and sha256 of the others (its ``output_set`` record; :func:`check_summed_set` checks it).
        Existing files are refused unless ``force``; an input is never replaced. Returns the paths.
        """
        match = "match" in self.params
        paths = output_paths(out_dir, name, plots=plots, match=match)
        with output_set(paths.values(), inputs=self.input_paths(), force=force, command="sum",
                        manifest=paths["params"]) as stage:
            write_tif(stage(paths["tif"]), self.frames, self.pixel_size)
            write_deepstorm_csv(stage(paths["csv"]), self.locs)
            write_columns(stage(paths["provenance"]), {c: self.provenance[c].to_numpy() for c in self.provenance})
            params = dict(self.params, outputs={k: str(v) for k, v in paths.items()})
            stage.write_text(paths["params"], json.dumps(json_ready(params), indent=2, allow_nan=False))
            if plots:
                figures = {"density": self.plot_density, "frame": lambda: self.plot_frame(1),
                           "single": lambda: self.plot_single(1), "background": self.plot_background}
                if match:
                    figures["match"] = self.plot_match
                for key, make in figures.items():
                    make().savefig(stage(paths[f"png_{key}"]), format="png", dpi=100)
        if not plots:  # figures of an earlier run with --plots would sit beside this set as if they were its own
            stale = [p.name for k, p in output_paths(out_dir, name, plots=True, match=match).items()
                     if k.startswith("png_") and p.exists()]
            if stale:
                log.warning("%s: %s are from an earlier run, not of this set (%s)", Path(out_dir), ", ".join(stale),
                            worded("write new ones with {plots}, or delete them"))
        self.paths = paths
        return paths

    def input_paths(self) -> list:
        """The movie and localization files this result was made from (outputs may never replace them)."""
        files = [s for s in self.movie_sources if isinstance(s, (str, os.PathLike))]
        files += [inp["locs"] for inp in self.params.get("inputs", []) if inp.get("locs") not in (None, "table")]
        return files

    # figures --------------------------------------------------------------------------------
    def _check_frame(self, i) -> int:
        i = int(i)
        if not 1 <= i <= self.n_summed:
            raise IndexError(f"summed frame {i} out of range 1..{self.n_summed} (summed frames are 1-based)")
        return i

    def plot_match(self):
        """Summed frames next to the movie they were made to match (runs of :func:`imagesumming.target.sum_matching`)."""
        from .target import plot_match

        if "match" not in self.params:
            raise ValueError("this result was not made to match a movie (sum_matching / --match)")
        return plot_match(self.params["match"], summed_density=self.densities.get("output"))

    def plot_density(self):
        """Box plots of the density per frame of each input, the source patches and the summed frames."""
        from .plots import new_figure, plot_density_boxes

        data = {f"input: {n}": d for n, d in zip(self.names, self.densities["inputs"])}
        data["source patches"] = self.densities["patches"]
        data["summed"] = self.densities["output"]
        fig, ax = new_figure(1, 1, size=(max(5.0, 1.8 * len(data)), 4.0))
        plot_density_boxes(ax, data)
        ax.set_title("density per frame (empty frames count)")
        return fig

    def plot_frame(self, i: int = 1):
        """A summed frame (1-based) with its localizations as crosses."""
        from .plots import new_figure, plot_frame

        i = self._check_frame(i)
        fig, ax = new_figure(1, 1, size=(5.0, 5.0))
        n = int((self.locs["frame"] == i).sum())
        plot_frame(ax, self.frames[i - 1], self.locs, pixel_size=self.pixel_size, frame=i,
                   title=f"summed frame {i}: {n} emitters", colorbar="ADU")
        return fig

    def plot_single(self, i: int = 1, *, columns: int = 3):
        """Summed frame ``i`` (1-based): its k source windows on their original frames, the patches, the sum.

        A grid of ``columns`` sources per row (each: the source frame with the window marked, then
        the patch with its localizations), the summed frame in the last cell, so the figure stays
        legible at notebook width whatever k. The patches share one intensity scale (ADU).
        """
        from contextlib import ExitStack

        from matplotlib.patches import Rectangle

        from .plots import new_figure, plot_frame

        i = self._check_frame(i)
        prov = self.provenance[self.provenance["summed_frame"] == i]
        k = len(prov)
        ps, P = self.pixel_size, self.frames.shape[1]
        columns = max(1, min(int(columns), k + 1))
        rows = -(-(k + 1) // columns)  # the k sources and the sum
        fig, axes = new_figure(2 * columns, rows, size=(2.0, 2.0))
        axes = np.asarray(axes).reshape(rows, 2 * columns)
        cells = [(axes[r, 2 * c], axes[r, 2 * c + 1]) for r in range(rows) for c in range(columns)]
        with ExitStack() as stack:  # movies given as paths: opened once each, closed at the end
            needed = set(prov["movie"])
            movies = {m: stack.enter_context(as_movie(src, pixel_size=ps)) if isinstance(src, (str, os.PathLike))
                      else src for m, src in enumerate(self.movie_sources) if m in needed}
            images = [movies[rec.movie][rec.frame - 1] for rec in prov.itertuples(index=False)]
        patches = [self.patches[rec.patch] for rec in prov.itertuples(index=False)]
        lo = min((float(np.min(p)) for p in patches), default=0.0)
        hi = max((float(np.max(p)) for p in patches), default=1.0)
        shown = []
        for (ax_frame, ax_patch), rec, image in zip(cells, prov.itertuples(index=False), images):
            plot_frame(ax_frame, image, None, pixel_size=ps, title=f"{rec.movie_name}\nframe {rec.frame}")
            ax_frame.add_patch(Rectangle((rec.col * ps / 1000, rec.row * ps / 1000), P * ps / 1000, P * ps / 1000,
                                         fill=False, edgecolor="yellow", linewidth=1.5))
            plot_frame(ax_patch, self.patches[rec.patch], self._patch_locs(rec.patch), pixel_size=ps, markersize=6,
                       title=f"patch {rec.patch} ({rec.transform})\n{rec.n_emitters} emitters")
            ax_patch.images[-1].set_clim(lo, hi if hi > lo else lo + 1)
            shown.append(ax_patch)
            _compact(ax_frame, ax_patch)
        if shown:
            fig.colorbar(shown[0].images[-1], ax=shown, label="patches [ADU]", shrink=0.6)
        ax_sum, ax_text = cells[k]
        n = int((self.locs["frame"] == i).sum())
        plot_frame(ax_sum, self.frames[i - 1], self.locs, pixel_size=ps, frame=i, markersize=6,
                   title=f"summed frame {i}\nk = {k}, {n} emitters")
        # its colorbar as an inset into the empty cell beside it: the grid's columns stay aligned
        cax = ax_sum.inset_axes([1.06, 0.0, 0.07, 1.0])
        fig.colorbar(ax_sum.images[-1], cax=cax, label="ADU")
        cax.tick_params(labelsize=7)
        cax.set_in_layout(False)
        _compact(ax_sum)
        ax_text.axis("off")
        ax_text.text(0.45, 0.5, "positions in µm\nyellow: the patch's\nwindow on its frame", fontsize=8,
                     va="center")
        for ax_frame, ax_patch in cells[k + 1:]:
            ax_frame.axis("off")
            ax_patch.axis("off")
        fig.suptitle(f"summed frame {i}: its {k} source patches", fontsize=10)
        return fig

    def _patch_locs(self, patch: int) -> pd.DataFrame:
        """Localizations of one source patch (patch coordinates), taken from a summed frame using it."""
        rows = self.provenance.index[self.provenance["patch"] == patch]
        r = int(rows[0])
        summed = int(self.provenance.at[r, "summed_frame"])
        prov = self.provenance[self.provenance["summed_frame"] == summed]
        sel = self.locs[self.locs["frame"] == summed]
        before = int(prov.loc[prov.index < r, "n_emitters"].sum())
        return sel.iloc[before:before + int(self.provenance.at[r, "n_emitters"])]

    def plot_background(self):
        """Background level and noise of the summed frames next to those of their sources (emitter-free pixels).

        Left: boxes of the source patches and of the summed frames. Right: per summed frame, the
        measured value and what its k source patches predict (levels above the camera offset
        added; noise added in quadrature). Pixels near a localization are left out (see
        :attr:`background_mask`), so emitters do not count as background or noise.
        """
        from .plots import new_figure, plot_density_boxes

        fig, axes = new_figure(2, 2, size=(4.5, 3.6))
        axes = np.asarray(axes).reshape(2, 2)
        bg, frames = self.background, self.background["summed_frame"]
        k = self.params["bin_size"]
        for row, (col, exp_col, label, what) in enumerate((
                ("bg_level", "expected_level", "median above offset [ADU]", "background level"),
                ("bg_noise", "expected_noise", "1.4826 x MAD [ADU]", "background noise"))):
            plot_density_boxes(axes[row, 0], {"source patches": self.patch_table[col].dropna(),
                                              "summed": bg[col].dropna()}, ylabel=label)
            axes[row, 0].set_title(f"{what} (emitter-free pixels)")
            ax = axes[row, 1]
            ax.plot(frames, bg[exp_col], "_", color="tab:orange", markersize=8,
                    label=f"from its {k} sources ({'added' if row == 0 else 'in quadrature'})")
            ax.plot(frames, bg[col], ".", color="tab:blue", markersize=4, label="summed frame")
            ax.set_xlabel("summed frame")
            ax.set_ylabel(label)
            ax.set_title(f"{what} per summed frame")
            ax.legend(fontsize=8)
        return fig
