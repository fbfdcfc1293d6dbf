"""The built-in demo: synthetic low-density data, then the summing pipeline on it."""

from __future__ import annotations

from pathlib import Path

from .io import write_deepstorm_csv, write_tif
from .synthetic import SimulationParams, simulate_movie

__all__ = ["DEMO_PARAMS", "make_demo_data", "run_demo"]

#: a small low-density acquisition: 107 nm pixels, offset 100 ADU, as the original notebook
DEMO_PARAMS = SimulationParams(n_frames=60, height=96, width=96, pixel_size=107.0, emitters_per_frame=8,
                               camera_offset=100.0, seed=0)


def make_demo_data(out, *, seed: int = 0, force: bool = False, params: SimulationParams | None = None):
    """Write ``demo_movie.tif`` (pixel size in its tags) and ``demo_locs.csv`` (Deep-STORM csv).

    Returns the paths ``(movie, locs)``.
    """
    import dataclasses

    out = Path(out)
    p = dataclasses.replace(params or DEMO_PARAMS, seed=seed)
    movie, locs = simulate_movie(p)
    movie_path, locs_path = out / "demo_movie.tif", out / "demo_locs.csv"
    from ._files import check_outputs

    check_outputs([movie_path, locs_path], force=force)
    write_tif(movie_path, movie, p.pixel_size, force=force)
    write_deepstorm_csv(locs_path, locs, force=force)
    return movie_path, locs_path


def run_demo(out="imagesumming-demo", *, seed: int = 0, force: bool = False, verbose: bool = False):
    """Write demo data into ``out`` and run the summing pipeline on it (when available)."""
    movie_path, locs_path = make_demo_data(out, seed=seed, force=force)
    if verbose:
        print(f"wrote synthetic movie {movie_path} and ground truth {locs_path}")
    return {"movie": movie_path, "locs": locs_path}
