"""Density of a movie without localizations: emitters per µm² from its signal above background.

A dense movie (the one Deep-STORM will analyze) has no localizations, but its frames hold the
signal of every emitter. Low-density movies of the same sample, camera and settings, whose
localizations are known, tell how much signal one localization brings. The dense movie's density
per frame is then its signal per µm² divided by that signal per localization, in the same unit as
the training ground truth: **localizations as the calibration files count them**.

How each frame is measured (:func:`frame_measures`)
---------------------------------------------------
``background``
    A low percentile (0.5 %) of the frame smoothed by a 3 x 3 mean, corrected for the noise that
    pulls a low percentile down (+ 2.58 x the smoothed noise). A median would sit on the tails of
    overlapping emitters in a dense frame (at 6 emitters/µm² with a 130 nm PSF, 1 pixel in 3 has
    no emitter within 3 px); the darkest pixels still see almost pure background there. In ADU as
    in the file, **camera offset included**.
``background_noise``
    Noise (ADU rms) of one pixel where the frame is darkest: 1.4826 x the median absolute deviation
    of ``pixel - mean of its 4 neighbours`` over the darkest 10 % of the (smoothed) frame, divided
    by sqrt(1.25). Neighbour differences cancel the slow background and the PSF-wide emitter
    tails; in dense frames it includes the shot noise of the faint tails that are left.
``signal``
    Mean of ``pixel - background`` over the frame's inner region (a ``border`` of 3 PSF sigma, at
    least 4 px, left out), in ADU per pixel. Emitters just outside the inner region shine into it
    as much as emitters just inside shine out of it, so emitters cut by the frame edge cancel
    (when the density is uniform across the border).
``peak``
    Median height above background of the bright local maxima (3 x 3 mean above 5 noise sigma):
    how bright an emitter looks; overlapping emitters in dense frames raise it.

Two maps per movie come from up to 32 frames spread over it (at most ~32 MB of them), before the
frames are streamed: hot and dead pixels (a pixel whose median over the sample differs from the
median of its 8 neighbours by more than 10 robust standard deviations of that difference), left
out of the signal; and the background's *shape* across the frame (an illumination profile): the
background of each ~16 px tile, measured as above in every sampled frame, median over the frames,
interpolated between the tile centres and refined on the flattened frames (3 passes). Each frame
has the shape subtracted before its background *level* is measured, so ``background`` is the mean
level over the inner region, not the darkest corner.

Calibration (:func:`calibrate`)
-------------------------------
For each frame of the low-density movies: signal (ADU/px) and density of its localizations in the
same inner region (locs/µm²). The signal per localization is the ratio of the sums over all
frames (``sum signal / sum density``, the least-squares slope through the origin when the
signal's variance grows with the number of emitters); its standard error comes from the frames'
residuals. A straight-line fit with intercept is reported beside it: an intercept far from 0 means
signal the localizations do not explain (missed dim emitters, a background error).

What the estimate assumes (and what biases it)
----------------------------------------------
* The same camera (gain, EM gain, exposure), dye, illumination and PSF in the calibration and the
  dense movies: the photons per emitter must be the same. The background may differ (it is
  measured per frame) and so may the camera offset (signal above background cancels it).
* Undetected dim emitters in the calibration frames: their signal is attributed to the detected
  localizations, so the dense estimate counts *what the localizer detects at low density*, which is
  the unit of the training ground truth; it is not the number of fluorophores.
* Background under dense emitters: the low-percentile background still sits slightly on faint
  tails at high density (+5 ADU at 6 emitters/µm², 2000 photons, 20 photons background in the
  package's simulator, i.e. about 3 % of the signal); the estimate is therefore a little low there.
* A background whose shape across the frame is the same in every frame and smooth on the scale
  of 3 tiles (~48 px); only its level may change from frame to frame. A profile that changes
  faster (a narrow illumination spot, small frames) is partly counted as signal: +20 % at
  0.5 emitters/µm² for a 20 -> 40 photons dome of ~20 px sigma on 64 px frames, within 5 % on
  128 px frames (benchmarks/bench_density.py). A density uniform across the frame border.
* Blinking emitters that stay on over several frames count once per frame, as the localizer
  counts them.

Uncertainty
-----------
``uncertainty`` is one standard deviation of the mean density from two statistical sources
combined: the calibration slope's standard error (relative) and the standard error of the mean
over the dense frames (their spread / sqrt(frames)). Systematic errors above are not in it.

Example
-------
>>> from imagesumming.density import calibrate, estimate_density
>>> cal = calibrate(["low.tif"], ["low_locs.hdf5"])  # doctest: +SKIP
>>> result = estimate_density("dense.tif", cal)  # doctest: +SKIP
>>> result.to_dict()["density"], result.uncertainty  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .io import as_movie
from .validate import check_locs, check_pixel_size

__all__ = ["Calibration", "DensityResult", "FrameMeasures", "calibrate", "estimate_density", "frame_measures",
           "measure_density", "measure_frames"]

log = logging.getLogger("imagesumming")

_PERCENTILE = 0.5  # % of the smoothed frame taken as background (before the noise correction)
_Z = 2.5758293035489004  # -norm.ppf(_PERCENTILE / 100): how far noise pulls that percentile down
_SMOOTH_NOISE = 1.0 / 3.0  # noise of a 3 x 3 mean relative to one pixel's (white noise)
_DARK_FRACTION = 10.0  # % darkest pixels where the background noise is measured
_PEAK_SIGMA = 5.0  # local maxima this many smoothed-noise sigmas above background count as emitters
_MIN_BORDER = 4  # px
_HOT_FRAMES = 32  # frames sampled to find hot/dead pixels
_HOT_SIGMAS = 10.0
_HOT_MIN_FRAMES = 8  # fewer frames: no hot/dead pixel map (emitters would be taken for hot pixels)
_SAMPLE_BYTES = 32 * 2**20
_TILE = 16  # px: tiles of the background's shape across the frame
_SHAPE_PASSES = 3
_NOISE_RATIO = 2.0  # dense vs calibration background noise beyond this: different units or gain?
_MIN_CAL_LOCS = 20  # fewer localizations: the signal per localization is noise (and mostly unexplained signal)
_MIN_INNER = 8  # px: the inner region must be at least this wide


# ---------------------------------------------------------------------------------------------
# one frame
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class FrameMeasures:
    """What :func:`frame_measures` measures in one frame (all in ADU)."""

    background: float
    background_noise: float
    signal: float  # mean ADU above background per pixel of the inner region
    peak: float  # median height of emitter peaks above background (NaN when none)


def frame_measures(frame, *, border: int = _MIN_BORDER, valid=None, shape=None) -> FrameMeasures:
    """Background, background noise, signal and emitter peak height of one frame.

    Parameters
    ----------
    frame : 2-D array
        One frame in ADU as stored (camera offset included).
    border : int
        Pixels left out at each edge for the signal (emitters cut by the edge).
    valid : 2-D bool array, optional
        Pixels to use (False for hot or dead pixels).
    shape : 2-D array, optional
        How the background varies across the frame (ADU, mean 0 over the inner region), e.g. an
        illumination profile; subtracted before the background level is measured.

    Returns
    -------
    FrameMeasures
        See the module docstring for how each value is defined; ``background`` is the mean level
        over the inner region.
    """
    from scipy.ndimage import maximum_filter, uniform_filter

    x = np.asarray(frame, dtype=np.float64)
    h, w = x.shape
    b = int(border)
    if h - 2 * b < _MIN_INNER or w - 2 * b < _MIN_INNER:
        raise InputError(f"a {w}x{h} px frame is too small: its inner region without a {b} px border must be "
                         f"at least {_MIN_INNER} px wide")
    if shape is not None:
        x = x - shape
    ok = np.ones_like(x, bool) if valid is None else np.asarray(valid, bool)
    y = uniform_filter(x, 3, mode="nearest")
    noise = _dark_noise(x, y, ok)
    inner = (slice(b, h - b), slice(b, w - b))
    ok_in = ok[inner]
    background = float(np.percentile(y[inner][ok_in], _PERCENTILE)) + _Z * _SMOOTH_NOISE * noise
    signal = float(x[inner][ok_in].mean()) - background
    peaks = (y == maximum_filter(y, 3, mode="nearest")) & ok
    peaks &= y > background + _PEAK_SIGMA * _SMOOTH_NOISE * max(noise, 1e-12)
    heights = y[inner][peaks[inner]] - background
    return FrameMeasures(background, noise, signal, float(np.median(heights)) if heights.size else np.nan)


def _dark_noise(x, y, ok) -> float:
    """Noise of one pixel where the frame is darkest: pixel minus the mean of its 4 neighbours."""
    d = x[1:-1, 1:-1] - 0.25 * (x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:])
    ok_d = ok[1:-1, 1:-1] & ok[:-2, 1:-1] & ok[2:, 1:-1] & ok[1:-1, :-2] & ok[1:-1, 2:]
    yi = y[1:-1, 1:-1][ok_d]
    dark = d[ok_d][yi <= np.percentile(yi, _DARK_FRACTION)]
    return 1.4826 * float(np.median(np.abs(dark - np.median(dark)))) / np.sqrt(1.25)


def _mask_fiducials(valid, border: int):
    """Widen clusters of bad pixels (a bead or fiducial in every frame) by ``border`` px.

    A lone hot pixel is one pixel; a fiducial is a cluster whose PSF tails are below the threshold
    but still bright: left in, they count as signal (-35 % on the estimate with a 3000 photon bead
    in both the calibration and the dense movie).
    """
    from scipy.ndimage import binary_dilation, label

    lab, n = label(~valid)
    if n == 0:
        return valid
    big = (lab > 0) & (np.bincount(lab.ravel())[lab] >= 3)
    if not big.any():
        return valid
    r = min(max(int(border), 2), 16)  # a wide --border must not make the dilation quadratic
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return valid & ~binary_dilation(big, structure=(yy ** 2 + xx ** 2) <= r * r)


def _movie_maps(movie, border: int, progress: bool = False, desc: str = "measuring"):
    """Hot/dead pixel mask and the background's shape across the frame, from up to 32 sampled frames.

    ``valid``: False for a pixel whose median over the sample differs from the median of its 8
    neighbours by more than 10 robust standard deviations of that difference. ``shape``: the
    background level of every tile (~16 px) of the inner region (measured in each sampled frame as
    :func:`frame_measures` measures a frame, then the median over the frames), minus their mean,
    interpolated bilinearly between the tile centres; None when the inner region holds fewer than
    2 tiles. The sample is at most 32 frames and ~32 MB (at least 4 frames). A bar (``progress``)
    counts the sampled frames read and measured (3 passes).
    """
    n = len(movie)
    # at most 32 frames and ~32 MB of them (4 frames at least): large sCMOS frames stay cheap
    per_frame = 4 * movie.shape[1] * movie.shape[2]
    n_sample = int(np.clip(_SAMPLE_BYTES // max(per_frame, 1), 4, _HOT_FRAMES))
    idx = np.unique(np.linspace(0, n - 1, min(n, n_sample)).round().astype(int))
    with _progress(progress, total=len(idx) * (1 + _SHAPE_PASSES), desc=f"{desc}: background shape",
                   unit="frame") as bar:
        return _maps_of_sample(movie, idx, border, bar)


def _maps_of_sample(movie, idx, border: int, bar):
    """:func:`_movie_maps` of the sampled frames ``idx``."""
    from scipy.ndimage import map_coordinates, median_filter, uniform_filter

    sample = np.empty((len(idx),) + tuple(movie.shape[1:]), np.float32)
    for f, i in enumerate(idx):
        sample[f] = np.asarray(movie[int(i)], dtype=np.float32)
        bar.update(1)
    med = np.median(sample, axis=0)
    footprint = np.ones((3, 3), bool)
    footprint[1, 1] = False
    diff = med - median_filter(med, footprint=footprint, mode="nearest")
    spread = 1.4826 * np.median(np.abs(diff - np.median(diff)))
    if spread <= 0:  # flat frames (a constant background): any deviation stands out
        spread = max(float(np.std(diff)), 1e-6)
    valid = np.abs(diff - np.median(diff)) <= _HOT_SIGMAS * spread
    if len(idx) < _HOT_MIN_FRAMES:  # a median over so few frames still holds emitters: their peaks look hot
        valid[:] = True
    else:
        valid = _mask_fiducials(valid, border)
    h, w = med.shape
    b = int(border)
    ny, nx = max(1, (h - 2 * b) // _TILE), max(1, (w - 2 * b) // _TILE)
    if ny * nx < 2:
        return valid, None
    ey = np.linspace(b, h - b, ny + 1).round().astype(int)
    ex = np.linspace(b, w - b, nx + 1).round().astype(int)
    # tile centres -> pixel coordinates; constant beyond the outer centres
    cy, cx = (ey[:-1] + ey[1:] - 1) / 2, (ex[:-1] + ex[1:] - 1) / 2
    gy = np.interp(np.arange(h), cy, np.arange(ny)) if ny > 1 else np.zeros(h)
    gx = np.interp(np.arange(w), cx, np.arange(nx)) if nx > 1 else np.zeros(w)
    yy, xx = np.meshgrid(gy, gx, indexing="ij")
    shape = np.zeros((h, w))
    tiles = _Tiles(ey, ex, valid)
    # a tile's low percentile sits on its darkest part: measuring again on the flattened frames
    # refines the profile where it changes within a tile
    for _ in range(_SHAPE_PASSES):
        levels = np.empty((len(sample), ny, nx))
        for f, frame in enumerate(sample):  # each tile measured as frame_measures measures a frame
            x = frame.astype(np.float64) - shape
            y = uniform_filter(x, 3, mode="nearest")
            noise = _dark_noise(x, y, valid)
            levels[f] = tiles.percentile(y) + _Z * _SMOOTH_NOISE * noise
            bar.update(1)
        level = np.median(levels, axis=0)
        shape = shape + map_coordinates(level - level.mean(), [yy, xx], order=1, mode="nearest")
    del sample
    return valid, shape - shape[b:h - b, b:w - b].mean()


class _Tiles:
    """``np.percentile(y[tile][valid[tile]], _PERCENTILE)`` of every tile at once (one partition per frame).

    Tiles (rows ``ey[i]:ey[i+1]``, columns ``ex[j]:ex[j+1]``) differ by a pixel in size at most;
    each is gathered into a row padded with +inf, as are its invalid pixels, so a tile's valid
    values come first when partitioned; its percentile is numpy's default (linear) one of them.
    """

    def __init__(self, ey, ex, valid):
        hy, wx = np.diff(ey), np.diff(ex)
        ra, ca = np.arange(hy.max()), np.arange(wx.max())
        rows = np.minimum(ey[:-1, None] + ra, ey[-1] - 1)  # (ny, hmax); padding points at a real pixel ...
        cols = np.minimum(ex[:-1, None] + ca, ex[-1] - 1)
        inside = (ra < hy[:, None])[:, None, :, None] & (ca < wx[:, None])[None, :, None, :]
        self.rows, self.cols = rows[:, None, :, None], cols[None, :, None, :]
        # ... and is masked out with the invalid pixels
        self.keep = (inside & valid[self.rows, self.cols]).reshape(len(hy), len(wx), -1)
        n = self.keep.sum(axis=2)
        pos = (_PERCENTILE / 100.0) * np.maximum(n - 1, 0)
        self.lo = np.floor(pos).astype(np.int64)
        self.hi = np.minimum(self.lo + 1, np.maximum(n - 1, 0))
        self.t = pos - self.lo
        self.empty = n == 0
        self.kth = np.unique(np.concatenate([self.lo.ravel(), self.hi.ravel()]))

    def percentile(self, y) -> np.ndarray:
        v = np.where(self.keep, y[self.rows, self.cols].reshape(self.keep.shape), np.inf)
        v = np.partition(v, self.kth, axis=2)
        a = np.take_along_axis(v, self.lo[..., None], axis=2)[..., 0]
        b = np.take_along_axis(v, self.hi[..., None], axis=2)[..., 0]
        d = b - a  # numpy's lerp: exact at both ends
        out = np.where(self.t >= 0.5, b - d * (1 - self.t), a + d * self.t)
        out[self.empty] = np.nan
        return out


def _progress(progress, **kw):
    from ._progress import progress_bar  # only where a person watches, only for work that lasts

    return progress_bar(show=progress, **kw)


def measure_frames(movie, *, border: int = _MIN_BORDER, progress: bool = False, desc: str = "measuring",
                   frames=None) -> pd.DataFrame:
    """:func:`frame_measures` of every frame, streamed frame by frame.

    Parameters
    ----------
    movie : path, Movie or array
    border : int
    progress : bool
        Show a tqdm progress bar.
    frames : array of int, optional
        0-based frames to measure (default: all).

    Returns
    -------
    DataFrame
        One row per measured frame: ``frame`` (1-based), ``background``, ``background_noise``, ``signal``,
        ``peak``; ``attrs["bad_pixels"]`` is the number of hot or dead pixels left out.
    """
    movie = as_movie(movie)
    n = len(movie)
    if n == 0:
        raise InputError("the movie has no frames", movie.path)
    h, w = movie.shape[1], movie.shape[2]
    if h - 2 * border < _MIN_INNER or w - 2 * border < _MIN_INNER:  # checked here to name the file
        raise InputError(f"its {w}x{h} px frames less a {border} px border at each edge leave less than "
                         f"{_MIN_INNER} px to measure: give a smaller --border (default: 3 PSF sigma, at least 4 px) "
                         "or larger frames", movie.path)
    valid, shape = _movie_maps(movie, border, progress=progress, desc=desc)
    which = np.arange(n) if frames is None else np.asarray(frames, dtype=np.int64)
    out = np.empty((len(which), 4))
    with _progress(progress, total=len(which), desc=desc, unit="frame") as bar:
        for j, i in enumerate(which):
            m = frame_measures(movie[int(i)], border=border, valid=valid, shape=shape)
            out[j] = (m.background, m.background_noise, m.signal, m.peak)
            bar.update(1)
    table = pd.DataFrame(out, columns=["background", "background_noise", "signal", "peak"])
    table.insert(0, "frame", which + 1)
    table.attrs["bad_pixels"] = int((~valid).sum())
    table.attrs["valid"] = valid  # popped by the calibration: localizations on left-out pixels do not count
    table.attrs["background_range"] = 0.0 if shape is None else float(np.ptp(shape[border:-border or None,
                                                                                  border:-border or None]))
    return table


# ---------------------------------------------------------------------------------------------
# calibration: signal per localization
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Calibration:
    """Signal per localization measured on low-density movies (see :func:`calibrate`).

    Attributes
    ----------
    signal_per_loc : float
        ADU per pixel of signal for one localization per µm² (``signal_per_loc_adu`` is the same
        as ADU per localization).
    signal_per_loc_se : float
        Its standard error (frames' residuals).
    intercept : float
        Intercept of the straight-line fit, in localizations/µm² (0 when the localizations explain
        all the signal); ``intercept_se`` its standard error, ``warning`` a sentence when it is
        significant (beyond 3 standard errors and 10 % of the calibration's mean density).
    frames : DataFrame
        One row per calibration frame: ``movie`` (0-based), ``frame`` (1-based), ``density``
        (localizations/µm² in the inner region), ``signal`` (ADU/px), ``background``,
        ``background_noise``, ``peak``.
    pixel_size : float
        nm.
    pixel_size_source : str
    border : int
        px left out at each edge.
    movies : list of str
        Names of the calibration movies.
    per_movie : list of dict
        Signal per localization (ADU/px per loc/µm²), localizations and frames of each movie.
    bad_pixels : list of int
        Hot or dead pixels left out, per movie.
    """

    signal_per_loc: float
    signal_per_loc_se: float
    intercept: float
    frames: pd.DataFrame
    pixel_size: float
    pixel_size_source: str
    border: int
    movies: list
    per_movie: list
    bad_pixels: list
    intercept_se: float = float("nan")

    @property
    def warning(self) -> str | None:
        """A sentence when the fit's intercept says the localizations leave signal unexplained."""
        notes = [n for n in (self._disagreement(), self._intercept_warning()) if n]
        return "; ".join(notes) if notes else None

    def _disagreement(self) -> str | None:
        """A sentence when calibration movies give signals per localization that differ beyond their errors."""
        if len(self.movies) < 2:
            return None
        f = self.frames
        vals = []
        for i in range(len(self.movies)):
            rho, sig = f.loc[f["movie"] == i, "density"].to_numpy(), f.loc[f["movie"] == i, "signal"].to_numpy()
            s = sig.sum() / rho.sum()
            vals.append((s, np.sqrt(np.sum((sig - s * rho) ** 2)) / rho.sum()))
        (lo, lo_se), (hi, hi_se) = min(vals), max(vals)
        if hi <= 1.2 * lo or hi - lo <= 3 * np.hypot(lo_se, hi_se):
            return None
        each = ", ".join(f"{name} {s / self.pixel_area:.4g}" for name, (s, _) in zip(self.movies, vals))
        return (f"the calibration movies disagree: ADU per localization {each} ({hi / lo:.2f}x apart, beyond their "
                "errors): different camera gain, laser power or localizer settings? Their pooled value is used; "
                "calibrate with the movies whose settings match the dense movie's")

    def _intercept_warning(self) -> str | None:
        mean = float(self.frames["density"].mean())
        c, se = self.intercept, self.intercept_se
        if not (np.isfinite(c) and np.isfinite(se)) or abs(c) <= 3 * se or abs(c) <= 0.1 * mean:
            return None
        return (f"the calibration's localizations leave signal unexplained (fit intercept {c:.2g} ± {se:.2g} "
                f"/µm², {100 * c / mean:.0f} % of their mean density): dim emitters the localizer missed (the "
                "estimate then counts what it detects, the training unit) or a background error in the calibration "
                "frames (the estimate is then off by about as much); check the localizer's detection threshold")

    @property
    def pixel_area(self) -> float:
        """µm² of one pixel."""
        return (self.pixel_size / 1000.0) ** 2

    @property
    def signal_per_loc_adu(self) -> float:
        """ADU (summed over the pixels) that one localization brings."""
        return self.signal_per_loc / self.pixel_area

    def to_dict(self) -> dict:
        return {
            "signal_per_localization_adu": self.signal_per_loc_adu,
            "signal_per_localization_se_adu": self.signal_per_loc_se / self.pixel_area,
            "intercept_per_um2": self.intercept, "intercept_se_per_um2": self.intercept_se,
            "warning": self.warning,
            "pixel_size_nm": self.pixel_size, "pixel_size_source": self.pixel_size_source,
            "border_px": self.border, "movies": list(self.movies),
            "per_movie": [{**m, "signal_per_localization_adu": m["signal_per_loc"] / self.pixel_area}
                          for m in self.per_movie],
            "frames": int(len(self.frames)), "localizations": int(sum(m["localizations"] for m in self.per_movie)),
            "bad_pixels": list(self.bad_pixels),
        }


def _name(obj, i, what) -> str:
    if isinstance(obj, (str, os.PathLike)):
        return Path(obj).name
    path = getattr(obj, "path", None)
    return Path(path).name if path is not None else f"{what} {i}"


def _as_list(obj) -> list:
    if obj is None:
        return []
    return list(obj) if isinstance(obj, (list, tuple)) else [obj]


def _same_pixel_size(ps: float, where: str, inputs) -> None:
    """An InputError unless a movie's pixel size is the calibration inputs' (a calibration only holds for it)."""
    if not np.isclose(ps, inputs.pixel_size, rtol=1e-4):
        raise InputError(f"pixel sizes disagree: {ps:g} nm in {where} but {inputs.pixel_size:g} nm in the calibration "
                         f"({inputs.pixel_size_source}): a calibration only holds for the same camera pixel size")


def _border(tables, pixel_size, border) -> int:
    if border is not None:
        if int(border) != border or border < 0:
            raise InputError(f"border must be a whole number of pixels >= 0, got {border!r}")
        return int(border)
    sig = [t["sigma"].to_numpy(dtype=float) for t in tables if "sigma" in t.columns]
    sig = np.concatenate(sig) if sig else np.zeros(0)
    sig = sig[np.isfinite(sig) & (sig > 0)]
    # 3 PSF sigmas hold 99.9 % of an emitter's light along one axis
    return max(_MIN_BORDER, int(np.ceil(3 * np.median(sig) / pixel_size))) if sig.size else _MIN_BORDER


def calibrate(movies, locs, *, pixel_size=None, border=None, on_invalid="error", progress=True) -> Calibration:
    """Measure the signal per localization on low-density movies with known localizations.

    Parameters
    ----------
    movies : path, Movie, array, or a list of them
        Low-density movies, in ADU as stored.
    locs : path, DataFrame, or a list of them (one per movie, same order)
        Their localizations: any format :func:`imagesumming.io.read_locs` reads, or a canonical
        table (frames 1-based, x/y in nm from the pixel corner).
    pixel_size : float, optional
        Camera pixel size in nm; by default from the files (they must agree).
    border : int, optional
        Pixels left out at each frame edge; default 3 PSF sigma from the localizations' ``sigma``
        column (at least 4 px), else 4 px.
    on_invalid : {"error", "drop", "keep"}
        Localizations outside the movie or beyond its frames: stop (default), drop or keep them
        (counts are logged).
    progress : bool
        Show tqdm progress bars.

    Returns
    -------
    Calibration

    Raises
    ------
    InputError
        No calibration movie, a movie/localization count mismatch, pixel sizes that disagree, a
        calibration without localizations.
    """
    from .summing import _open_inputs

    movies, locs = _as_list(movies), _as_list(locs)
    if not movies:
        raise InputError("no calibration given: a low-density movie with its localizations is needed",
                         hint="give one with {calibrate}")
    inputs = _open_inputs(movies, locs, pixel_size)
    try:
        return _calibrate_inputs(inputs, border=border, on_invalid=on_invalid, progress=progress)
    finally:
        inputs.close()


def _calibrate_inputs(inputs, *, border=None, on_invalid="error", progress=True, tables=None,
                      max_frames=None) -> Calibration:
    """:func:`calibrate` on opened inputs (``imagesumming.summing._open_inputs``); ``tables`` replace theirs.

    ``max_frames``: at most this many frames of each movie, evenly spread over it, are measured.
    """
    ps, ps_source = inputs.pixel_size, inputs.pixel_size_source
    tables = inputs.tables if tables is None else tables
    b = _border(tables, ps, border)
    names = inputs.names
    rows, per_movie, bad = [], [], []
    for i, (m, table) in enumerate(zip(inputs.opened, tables)):
        src = inputs.loc_sources[i]
        where = src if isinstance(src, (str, os.PathLike)) else names[i]
        if not len(table):
            raise InputError("the calibration movie has no localizations: its signal per localization "
                             "cannot be measured", where)
        table, counts = check_locs(table, pixel_size=ps, width=m.width, height=m.height, n_frames=len(m),
                                   on_invalid=on_invalid, source=where)
        for reason, n in counts.items():
            log.warning("%s: %d localizations %s (%s)", where, n, reason, "dropped" if on_invalid == "drop" else "kept")
        which = None
        if max_frames is not None and len(m) > max_frames:
            which = np.unique(np.linspace(0, len(m) - 1, int(max_frames)).round().astype(np.int64))
        meas = measure_frames(m, border=b, progress=progress, desc=f"calibration {i + 1}", frames=which)
        valid = meas.attrs.pop("valid")
        cx = np.floor(table["x"].to_numpy(float) / ps)
        cy = np.floor(table["y"].to_numpy(float) / ps)
        inside = (cx >= b) & (cx < m.width - b) & (cy >= b) & (cy < m.height - b)
        # a bead's localizations: its pixels are left out of the signal, so its localizations too
        inside[inside] = valid[cy[inside].astype(np.int64), cx[inside].astype(np.int64)]
        f = table["frame"].to_numpy()[inside]
        f = f[(f >= 1) & (f <= len(m))]
        area = (m.width - 2 * b) * (m.height - 2 * b) * (ps / 1000.0) ** 2
        meas.insert(0, "movie", i)
        counts = np.bincount(f - 1, minlength=len(m))[:len(m)]
        meas.insert(2, "density", counts[meas["frame"].to_numpy() - 1] / area)
        if meas["density"].sum() == 0:
            raise InputError(f"no localization of the calibration lies inside its frames' inner region "
                             f"({b} px from the edges): its signal per localization cannot be measured", where)
        used = int(counts[meas["frame"].to_numpy() - 1].sum())
        if used < _MIN_CAL_LOCS:
            raise InputError(f"only {used} localizations of the calibration lie inside its frames' inner region "
                             f"({b} px from the edges): too few to measure the signal per localization (at least "
                             f"{_MIN_CAL_LOCS}); give a longer low-density movie or its complete localization file",
                             where)
        per_movie.append({"movie": names[i], "frames": int(len(meas)), "localizations": used,
                          "signal_per_loc": float(meas["signal"].sum() / meas["density"].sum())})
        bad.append(meas.attrs["bad_pixels"])
        rows.append(meas)
    frames = pd.concat(rows, ignore_index=True)
    frames.attrs = {}
    rho, sig = frames["density"].to_numpy(), frames["signal"].to_numpy()
    s = float(sig.sum() / rho.sum())
    se = float(np.sqrt(np.sum((sig - s * rho) ** 2)) / rho.sum())
    intercept = intercept_se = np.nan
    if len(frames) > 3 and np.ptp(rho) > 0:
        (slope, icpt), cov = np.polyfit(rho, sig, 1, cov=True)
        if slope > 0:
            intercept, intercept_se = float(icpt / slope), float(np.sqrt(cov[1, 1]) / slope)
    if s <= 0:
        raise InputError(f"the calibration's signal per localization is {s:.3g} ADU (not positive): the "
                         "localizations do not match the movie's signal")
    return Calibration(s, se, intercept, frames, ps, ps_source, b, names, per_movie, bad, intercept_se)


# ---------------------------------------------------------------------------------------------
# the dense movie
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class DensityResult:
    """Density, background and noise of a dense movie (see :func:`estimate_density`).

    Attributes
    ----------
    frames : DataFrame
        One row per frame: ``frame`` (1-based), ``density`` (emitters/µm²), ``background``,
        ``background_noise``, ``signal``, ``peak`` (ADU).
    calibration : Calibration
    pixel_size : float
    movie : str
        Name of the dense movie.
    camera_offset : float or None
        When given, ``to_dict()`` also reports the background above it.
    bad_pixels : int
        Hot or dead pixels left out of the dense movie's signal.
    """

    frames: pd.DataFrame
    calibration: Calibration
    pixel_size: float
    movie: str
    shape: tuple
    camera_offset: float | None = None
    bad_pixels: int = 0

    @property
    def density_per_frame(self) -> np.ndarray:
        return self.frames["density"].to_numpy()

    @property
    def density(self) -> float:
        """Mean emitters/µm² over the frames."""
        return float(self.density_per_frame.mean())

    @property
    def uncertainty(self) -> float:
        """One standard deviation of :attr:`density`: calibration slope and the frames' standard error."""
        d = self.density_per_frame
        if len(d) > 1:
            sem = float(d.std(ddof=1) / np.sqrt(len(d)))
        else:  # one frame has no spread to measure: at least the emitters' counting (Poisson) error of its area
            b = self.calibration.border
            area = (self.shape[1] - 2 * b) * (self.shape[2] - 2 * b) * self.calibration.pixel_area
            sem = float(np.sqrt(max(self.density, 0.0) / area))
        rel = self.calibration.signal_per_loc_se / self.calibration.signal_per_loc
        return float(np.hypot(rel * self.density, sem))

    @property
    def background(self) -> float:
        """Median background over the frames (ADU, camera offset included)."""
        return float(self.frames["background"].median())

    @property
    def background_noise(self) -> float:
        """Median background noise over the frames (ADU rms of one pixel)."""
        return float(self.frames["background_noise"].median())

    @property
    def peak(self) -> float:
        """Median emitter peak height above background over the frames (ADU, 3 x 3 mean)."""
        p = self.frames["peak"].to_numpy()
        return float(np.nanmedian(p)) if np.isfinite(p).any() else float("nan")

    @property
    def warnings(self) -> list[str]:
        """Sentences on what makes this estimate doubtful: the calibration's, and units that look different."""
        out = [self.calibration.warning] if self.calibration.warning else []
        cal_noise = float(np.nanmedian(self.calibration.frames["background_noise"]))
        r = self.background_noise / cal_noise if cal_noise > 0 else float("nan")
        if np.isfinite(r) and r > _NOISE_RATIO:
            # a raw movie's noise grows with its background as shot noise does; a sum of k frames (k x the
            # background, sqrt(k) x the noise) or a processed movie does not, and the estimate reads low there
            out.append(f"the background noise is {r:.2g}x the calibration's ({self.background_noise:.3g} vs "
                       f"{cal_noise:.3g} ADU): a movie summed from several frames (or background-subtracted, "
                       "rescaled) relates its noise to its level otherwise than a raw movie, and in a much noisier "
                       "background the estimate reads low (its background sits on more emitter tails: about -10 % "
                       "for frames summed from k = 10); is it a raw movie at the calibration's gain (same gain, "
                       "EM gain, conversion)? Another gain scales the density by as much")
        elif np.isfinite(r) and r < 1 / _NOISE_RATIO:
            out.append(f"the background noise is {r:.2g}x the calibration's ({self.background_noise:.3g} vs "
                       f"{cal_noise:.3g} ADU): are both movies raw camera ADU at the same gain (EM gain, "
                       "conversion)? A movie averaged, rescaled or at another gain scales the density by as much")
        return out

    def to_dict(self) -> dict:
        """Everything as plain JSON-ready values (lists, floats; NaN as None)."""
        f = self.frames

        def spread(col):
            return float(f[col].std(ddof=1)) if len(f) > 1 else 0.0

        out = {
            "movie": self.movie, "frames": int(len(f)), "height": int(self.shape[1]), "width": int(self.shape[2]),
            "pixel_size_nm": self.pixel_size,
            "density": self.density, "uncertainty": self.uncertainty, "density_std": spread("density"),
            "density_per_frame": [float(v) for v in f["density"]],
            "background": self.background, "background_std": spread("background"),
            "background_per_frame": [float(v) for v in f["background"]],
            "background_includes_camera_offset": True,
            "background_noise": self.background_noise, "background_noise_std": spread("background_noise"),
            "background_noise_per_frame": [float(v) for v in f["background_noise"]],
            "peak": self.peak,
            "bad_pixels": self.bad_pixels,
            "unit": "emitters/µm² as the calibration's localizations count them; background and noise in ADU",
            "uncertainty_is": "1 sd of the mean density: calibration slope standard error and the frames' "
                              "standard error combined; systematic errors not included",
            "calibration": self.calibration.to_dict(),
            "warnings": self.warnings,
        }
        if self.camera_offset is not None:
            out["camera_offset"] = float(self.camera_offset)
            out["background_above_offset"] = self.background - float(self.camera_offset)
        from ._files import json_ready

        return json_ready(out)

    def summary(self) -> str:
        """A few lines for people: density ± uncertainty, background, noise, calibration."""
        c = self.calibration
        d = self.density_per_frame
        lines = [
            f"{self.movie}: {len(d)} frames of {self.shape[2]}x{self.shape[1]} px, {self.pixel_size:g} nm pixels",
            f"  density     {self.density:.3g} ± {self.uncertainty:.2g} emitters/µm² (frames {np.min(d):.3g}"
            f"..{np.max(d):.3g}, sd {np.std(d):.2g})",
            f"  background  {self.background:.4g} ADU (camera offset included; sd over frames "
            f"{self.frames['background'].std(ddof=0):.2g})"
            + ("" if self.camera_offset is None else f", {self.background - self.camera_offset:.4g} ADU above the "
               f"offset {self.camera_offset:g}"),
            f"  noise       {self.background_noise:.3g} ADU rms per pixel",
            f"  peaks       {self.peak:.4g} ADU above background (median, 3x3 mean)",
            f"  calibration {c.signal_per_loc_adu:.4g} ± {c.signal_per_loc_se / c.pixel_area:.2g} ADU per localization "
            f"from {int(sum(m['localizations'] for m in c.per_movie))} localizations in {len(c.frames)} frames "
            f"({', '.join(c.movies)}); fit intercept "
            + (f"{c.intercept:.2g} /µm²" if np.isfinite(c.intercept) else "n/a (the calibration frames' densities do "
               "not spread)") + f"; border {c.border} px",
        ]
        lines += [f"  note: {w}" for w in self.warnings]
        if self.bad_pixels or any(c.bad_pixels):
            lines.append(f"  hot/dead pixels left out: {self.bad_pixels} (dense), {c.bad_pixels} (calibration)")
        return "\n".join(lines)

    def plot(self):
        """Figure: density per frame, background and noise per frame, the calibration fit."""
        from .plots import new_figure

        fig, (a, b, c) = new_figure(3, size=(4.2, 3.4))
        f = self.frames
        a.plot(f["frame"], f["density"], ".", ms=3, color="C0")
        a.axhline(self.density, color="C0", lw=1)
        a.axhspan(self.density - self.uncertainty, self.density + self.uncertainty, color="C0", alpha=0.2)
        a.set(xlabel="frame", ylabel="emitters / µm²",
              title=f"density {self.density:.3g} ± {self.uncertainty:.2g} /µm²")
        b.plot(f["frame"], f["background"], ".", ms=3, color="C1", label="background")
        b.set(xlabel="frame", title=f"background {self.background:.4g} ADU")
        b.set_ylabel("background (ADU)", color="C1")
        b2 = b.twinx()
        b2.plot(f["frame"], f["background_noise"], ".", ms=3, color="C2", label="noise")
        b2.set_ylabel("noise (ADU rms)", color="C2")
        cal = self.calibration
        cf = cal.frames
        for i, name in enumerate(cal.movies):
            sel = cf["movie"] == i
            c.plot(cf.loc[sel, "density"], cf.loc[sel, "signal"], ".", ms=3, alpha=0.6, label=name)
        hi = max(float(cf["density"].max()), self.density) * 1.05
        xs = np.array([0.0, hi])
        c.plot(xs, cal.signal_per_loc * xs, "k-", lw=1, label=f"{cal.signal_per_loc_adu:.4g} ADU / loc")
        c.plot([self.density], [self.density * cal.signal_per_loc], "r*", ms=10, label="dense movie (mean)")
        c.set(xlabel="localizations / µm²", ylabel="signal (ADU / px)", title="calibration")
        c.legend(fontsize=7)
        return fig


def estimate_density(movie, calibration: Calibration, *, pixel_size=None, camera_offset=None,
                     progress=True) -> DensityResult:
    """Emitters per µm² in every frame of a movie without localizations.

    Parameters
    ----------
    movie : path, Movie or array
        The dense movie, in ADU as stored; read frame by frame.
    calibration : Calibration
        From :func:`calibrate` on low-density movies of the same sample and camera settings.
    pixel_size : float, optional
        nm; by default the movie's own (tags), else the calibration's. It must agree with the
        calibration's.
    camera_offset : float, optional
        ADU; only reported (the background above it). The density does not need it.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    DensityResult
    """
    if not isinstance(calibration, Calibration):
        raise InputError("no calibration given: make one with calibrate(movies, locs) on low-density movies "
                         "with known localizations")
    m = as_movie(movie)
    try:
        name = _name(movie, 0, "movie")
        if pixel_size is not None:
            ps = check_pixel_size(pixel_size, m.path)
        else:
            ps = m.pixel_size if m.pixel_size is not None else calibration.pixel_size
        if not np.isclose(ps, calibration.pixel_size, rtol=1e-4):
            raise InputError(f"pixel sizes disagree: {ps:g} nm in {name} but the calibration's is "
                             f"{calibration.pixel_size:g} nm ({calibration.pixel_size_source})", m.path)
        meas = measure_frames(m, border=calibration.border, progress=progress, desc="dense movie")
        meas.attrs.pop("valid")
        shape = m.shape
    finally:
        if isinstance(movie, (str, os.PathLike)):
            m.close()
    meas.insert(1, "density", meas["signal"] / calibration.signal_per_loc)
    bad = meas.attrs["bad_pixels"]
    meas.attrs = {}
    if camera_offset is not None:
        camera_offset = float(camera_offset)
    return DensityResult(meas, calibration, float(ps), name, shape, camera_offset, bad)


def measure_density(movie, calibration_movies, calibration_locs, *, pixel_size=None, border=None,
                    camera_offset=None, on_invalid="error", progress=True) -> DensityResult:
    """:func:`calibrate` on the low-density movies, then :func:`estimate_density` of ``movie``.

    The dense movie's pixel size (tags) is checked against the calibration files' before any
    frame is read: when they disagree this stops at once with a one-line error.

    Parameters
    ----------
    movie : path, Movie or array
        The dense movie.
    calibration_movies, calibration_locs
        As ``movies`` and ``locs`` of :func:`calibrate`.
    pixel_size, border, camera_offset, on_invalid, progress
        As in :func:`calibrate` and :func:`estimate_density`.

    Returns
    -------
    DensityResult
    """
    from .summing import _open_inputs

    movies, locs = _as_list(calibration_movies), _as_list(calibration_locs)
    if not movies:
        raise InputError("no calibration given: a low-density movie with its localizations is needed",
                         hint="give one with {calibrate}")
    m = as_movie(movie)
    inputs = None
    try:
        inputs = _open_inputs(movies, locs, pixel_size)  # tables read, no frame yet
        if pixel_size is None and m.pixel_size is not None:
            _same_pixel_size(m.pixel_size, f"{_name(movie, 0, 'movie')} ({m.pixel_size_source})", inputs)
        cal = _calibrate_inputs(inputs, border=border, on_invalid=on_invalid, progress=progress)
        return estimate_density(m, cal, pixel_size=pixel_size, camera_offset=camera_offset, progress=progress)
    finally:
        if inputs is not None:
            inputs.close()
        if isinstance(movie, (str, os.PathLike)):
            m.close()
