"""The built-in demo: synthetic low-density data, then the summing pipeline on it."""

from __future__ import annotations

from pathlib import Path

from .io import write_deepstorm_csv, write_tif
from .synthetic import SimulationParams, simulate_movie

__all__ = ["DEMO_PARAMS", "make_demo_data", "make_demo_prediction", "prediction_paths", "run_demo"]

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


def run_demo(out="imagesumming-demo", *, seed: int = 0, force: bool = False, verbose: bool = False,
             plots: bool = True) -> dict:
    """Write demo data into ``out`` and run the whole summing pipeline on it.

    Writes ``demo_movie.tif`` and ``demo_locs.csv`` (synthetic low-density data with exact ground
    truth), then sums patches with the original notebook's defaults (200 patches of 30 px, 100
    summed frames, k = 10, at least 2 emitters) and saves ``summed.tif``, ``summed.csv``,
    ``summed_provenance.csv``, ``summed_params.json`` and, with ``plots``, the PNG figures.
    Finally it writes ``prediction/``, a Deep-STORM-like prediction of the demo movie
    (:func:`make_demo_prediction`: ``Localizations_demo_movie_avg.csv`` with confidences,
    ``Predicted_demo_movie.tif``, ``Widefield_demo_movie.tif``, named as the Deep-STORM notebook
    names them) to try the prediction viewer and ``imagesumming evaluate`` with ``demo_locs.csv``
    as ground truth. Every output is checked before anything is written. ``verbose`` shows
    progress bars (the caller prints ``result.summary()``).

    Returns
    -------
    dict
        ``movie``, ``locs`` (input paths), ``result`` (:class:`~imagesumming.summing.SummingResult`),
        ``outputs`` (paths written by :meth:`~imagesumming.summing.SummingResult.save`) and
        ``prediction`` (what :func:`make_demo_prediction` returns: ``folder``, ``locs``,
        ``predicted``, ``widefield`` and the counts).
    """
    import numpy as np

    from ._files import check_outputs
    from .io import open_movie, read_locs
    from .summing import output_paths, sum_patches

    outputs = output_paths(out, "summed", plots=plots)
    pred_paths = prediction_paths(Path(out) / "prediction", "demo_movie")
    check_outputs([Path(out) / "demo_movie.tif", Path(out) / "demo_locs.csv", *outputs.values(),
                   *pred_paths.values()], force=force)
    movie_path, locs_path = make_demo_data(out, seed=seed, force=force)
    result = sum_patches(movie_path, locs_path, seed=seed, progress=verbose)
    written = result.save(out, name="summed", force=force, plots=plots)
    truth, _ = read_locs(locs_path)
    with open_movie(movie_path) as movie:
        prediction = make_demo_prediction(Path(out) / "prediction", truth, pixel_size=movie.pixel_size,
                                          height=movie.height, width=movie.width, movie=np.asarray(movie),
                                          name="demo_movie", seed=seed, force=force)
    return {"movie": movie_path, "locs": locs_path, "result": result, "outputs": written,
            "prediction": prediction}


def prediction_paths(folder, name: str) -> dict:
    """The files of a Deep-STORM prediction of ``name`` (the movie's stem) in ``folder``, as the notebook names them."""
    folder = Path(folder)
    return {"locs": folder / f"Localizations_{name}_avg.csv", "predicted": folder / f"Predicted_{name}.tif",
            "widefield": folder / f"Widefield_{name}.tif"}


def make_demo_prediction(out, truth, *, pixel_size: float, height: int, width: int, movie=None,
                         name: str = "demo", upsampling: int = 8, seed: int = 0, jitter_nm: float = 25.0,
                         miss_fraction: float = 0.15, false_per_frame: float = 1.0, force: bool = False) -> dict:
    """Write a fake Deep-STORM prediction folder made from a ground truth (for demos and tests).

    Files as the ZeroCostDL4Mic notebook writes them (NOTEBOOK.md): ``Localizations_<name>_avg.csv``
    (``frame,x [nm],y [nm],confidence [a.u]``, frames 1-based, positions on the high-res grid),
    ``Predicted_<name>.tif`` and ``Widefield_<name>.tif`` (2-D float32 at ``pixel_size / upsampling``
    nm in their resolution tags). Each true emitter is detected with probability
    ``1 - miss_fraction``, moved by Gaussian noise of ``jitter_nm`` per axis and given a confidence in
    [0.35, 1); ``Poisson(false_per_frame)`` false detections per frame get a confidence in [0, 0.5).

    Parameters
    ----------
    out : path
        The prediction folder (created).
    truth : DataFrame
        Canonical ground truth (frames 1-based, nm).
    pixel_size, height, width :
        Camera pixel size (nm) and image size (camera pixels) of the predicted movie.
    movie : array (frames, height, width), optional
        Summed into the widefield image; without it the widefield image is rendered from ``truth``.

    Returns
    -------
    dict
        ``folder``, ``locs``, ``predicted``, ``widefield`` (paths) and the counts ``detected``,
        ``missed``, ``false``.
    """
    import numpy as np
    from scipy.ndimage import gaussian_filter

    from ._files import check_outputs
    from .io import write_prediction_csv
    from .schema import make_locs
    from .synthetic import render_emitters

    out = Path(out)
    rng = np.random.default_rng(seed)
    hr = pixel_size / upsampling
    big_h, big_w = height * upsampling, width * upsampling
    n_frames = int(truth["frame"].max()) if len(truth) else 1
    keep = rng.random(len(truth)) >= miss_fraction
    det = truth.loc[keep, ["frame", "x", "y"]]
    n_false = rng.poisson(false_per_frame, n_frames)
    frames = np.concatenate([det["frame"].to_numpy(np.int64), np.repeat(np.arange(1, n_frames + 1), n_false)])
    x = np.concatenate([det["x"].to_numpy(float) + rng.normal(0, jitter_nm, len(det)),
                        rng.uniform(0, width * pixel_size, n_false.sum())])
    y = np.concatenate([det["y"].to_numpy(float) + rng.normal(0, jitter_nm, len(det)),
                        rng.uniform(0, height * pixel_size, n_false.sum())])
    conf = np.concatenate([rng.uniform(0.35, 1.0, len(det)), rng.uniform(0.0, 0.5, n_false.sum())])
    # Deep-STORM reports the high-res pixel index times its size
    col = np.clip(np.round(x / hr), 0, big_w - 1).astype(np.int64)
    row = np.clip(np.round(y / hr), 0, big_h - 1).astype(np.int64)
    pred = make_locs({"frame": frames, "x": col * hr, "y": row * hr, "confidence": conf})
    predicted = np.zeros((big_h, big_w), np.float64)
    np.add.at(predicted, (row, col), conf)
    predicted = gaussian_filter(predicted, 1.0).astype(np.float32)
    if movie is not None:
        wide = np.asarray(movie, np.float64).sum(axis=0)
    else:
        wide = render_emitters(truth["x"], truth["y"], np.full(len(truth), 1000.0), height=height, width=width,
                               pixel_size=pixel_size, psf_sigma=130.0)
    wide = np.kron(wide, np.ones((upsampling, upsampling))).astype(np.float32) / upsampling**2
    paths = prediction_paths(out, name)
    check_outputs(paths.values(), force=force)
    write_prediction_csv(paths["locs"], pred, force=force)
    write_tif(paths["predicted"], predicted, hr, force=force)
    write_tif(paths["widefield"], wide, hr, force=force)
    return {"folder": out, **paths, "detected": int(keep.sum()), "missed": int((~keep).sum()),
            "false": int(n_false.sum())}
