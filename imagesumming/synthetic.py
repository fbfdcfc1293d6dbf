"""Synthetic low-density SMLM movies with exact ground truth (for the demo and the tests).

Emitters sit at uniform random sub-pixel positions in nm from the image corner (camera pixel
``k`` spans ``[k, k+1)`` pixels, the ThunderSTORM / Deep-STORM convention). Each emitter is
imaged with a Gaussian PSF integrated over every pixel (error functions), on a constant
background, with Poisson shot noise, then converted to ADU with a gain, a camera offset and
Gaussian read noise.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from .schema import make_locs

__all__ = ["SimulationParams", "simulate_movie", "render_emitters"]


@dataclasses.dataclass
class SimulationParams:
    """Parameters of :func:`simulate_movie` (all lengths in nm, intensities in photons)."""

    n_frames: int = 50
    height: int = 64
    width: int = 64
    pixel_size: float = 107.0
    emitters_per_frame: float = 6.0  # Poisson mean
    density: float | None = None  # emitters/µm²: when given, the Poisson mean is density x frame area
    photons: float = 2000.0  # mean photons per emitter (exponentially distributed around it)
    min_photons: float = 300.0
    psf_sigma: float = 130.0  # nm
    # photons per pixel; a (height, width) array is a background that varies across the frame
    # (an illumination profile); 0 gives frames of offset + read noise only
    background: float | np.ndarray = 20.0
    camera_offset: float = 100.0  # ADU
    gain: float = 1.0  # ADU per photon
    read_noise: float = 1.5  # ADU (rms)
    margin: float = 0.0  # px kept free of emitters at the border
    blinking: float = 0.0  # probability that an emitter is on again in the next frame
    dtype: str = "uint16"
    seed: int | None = 0


def render_emitters(x_nm, y_nm, photons, *, height, width, pixel_size, psf_sigma) -> np.ndarray:
    """Expected photons per pixel of emitters with a pixel-integrated Gaussian PSF."""
    from scipy.special import erf  # imported here: scipy.special takes ~0.2 s to import

    image = np.zeros((height, width), np.float64)
    s = np.sqrt(2.0) * psf_sigma / pixel_size
    edges_x = np.arange(width + 1, dtype=np.float64)
    edges_y = np.arange(height + 1, dtype=np.float64)
    for x, y, n in zip(np.asarray(x_nm) / pixel_size, np.asarray(y_nm) / pixel_size, photons):
        # a window of +-5 sigma is enough; outside the PSF contributes < 1e-6 of the photons
        r = int(np.ceil(5 * psf_sigma / pixel_size)) + 1
        c0, c1 = max(int(x) - r, 0), min(int(x) + r + 1, width)
        r0, r1 = max(int(y) - r, 0), min(int(y) + r + 1, height)
        if c0 >= c1 or r0 >= r1:
            continue
        px = 0.5 * np.diff(erf((edges_x[c0:c1 + 1] - x) / s))
        py = 0.5 * np.diff(erf((edges_y[r0:r1 + 1] - y) / s))
        image[r0:r1, c0:c1] += n * np.outer(py, px)
    return image


def simulate_movie(params: SimulationParams | None = None, **overrides) -> tuple[np.ndarray, pd.DataFrame]:
    """Simulate an SMLM movie and its ground truth (low density by default; ``density=`` for dense ones).

    Parameters
    ----------
    params : SimulationParams, optional
    **overrides
        Any field of :class:`SimulationParams` (e.g. ``n_frames=10, seed=3``).

    Returns
    -------
    movie : ndarray, shape (n_frames, height, width), dtype ``params.dtype``
    locs : DataFrame
        Canonical table: ``frame`` (1-based), ``x``, ``y`` (nm from the corner), ``photons``,
        ``sigma`` (nm), ``emitter`` (emitter id, stable across frames when blinking).

    Examples
    --------
    >>> movie, locs = simulate_movie(n_frames=5, height=32, width=32, seed=1)
    >>> movie.shape
    (5, 32, 32)
    """
    p = dataclasses.replace(params or SimulationParams(), **overrides)
    per_frame = p.emitters_per_frame
    if p.density is not None:  # dense frames: the same PSF, photon and background model as low-density ones
        per_frame = p.density * p.width * p.height * (p.pixel_size / 1000.0) ** 2
    rng = np.random.default_rng(p.seed)
    movie = np.empty((p.n_frames, p.height, p.width), dtype=p.dtype)
    rows = []
    active = np.zeros((0, 3))  # x, y, photons of emitters on in the previous frame
    active_id = np.zeros(0, int)
    next_id = 0
    lo_x, hi_x = p.margin * p.pixel_size, (p.width - p.margin) * p.pixel_size
    lo_y, hi_y = p.margin * p.pixel_size, (p.height - p.margin) * p.pixel_size
    for f in range(p.n_frames):
        keep = rng.random(len(active)) < p.blinking if p.blinking > 0 else np.zeros(len(active), bool)
        n_new = rng.poisson(per_frame)
        new = np.column_stack([
            rng.uniform(lo_x, hi_x, n_new),
            rng.uniform(lo_y, hi_y, n_new),
            p.min_photons + rng.exponential(max(p.photons - p.min_photons, 1.0), n_new),
        ]) if n_new else np.zeros((0, 3))
        active = np.vstack([active[keep], new])
        active_id = np.concatenate([active_id[keep], np.arange(next_id, next_id + n_new)])
        next_id += n_new
        expected = p.background + render_emitters(active[:, 0], active[:, 1], active[:, 2], height=p.height,
                                                   width=p.width, pixel_size=p.pixel_size,
                                                   psf_sigma=p.psf_sigma)
        counts = rng.poisson(expected)
        adu = counts * p.gain + p.camera_offset + rng.normal(0.0, p.read_noise, counts.shape)
        if np.dtype(p.dtype).kind in "iu":
            info = np.iinfo(p.dtype)
            adu = np.clip(np.rint(adu), info.min, info.max)
        movie[f] = adu
        for (x, y, n), eid in zip(active, active_id):
            rows.append((f + 1, x, y, n, p.psf_sigma, eid))
    locs = pd.DataFrame(rows, columns=["frame", "x", "y", "photons", "sigma", "emitter"])
    if not len(locs):
        locs = locs.astype({"frame": np.int64, "emitter": np.int64})
    return movie, make_locs(locs)
