"""Synthetic movies: ground truth in the corner convention, proven by intensity centroids."""

from __future__ import annotations

import numpy as np
import pytest

from imagesumming.schema import CANONICAL
from imagesumming.synthetic import SimulationParams, render_emitters, simulate_movie


def _isolated(truth, min_dist_px, pixel_size, height, width, border_px):
    """Rows of the truth whose nearest neighbour in the same frame is far and that are off the border."""
    keep = []
    for _, group in truth.groupby("frame"):
        xy = group[["x", "y"]].to_numpy() / pixel_size
        d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
        np.fill_diagonal(d, np.inf)
        ok = (d.min(axis=1) > min_dist_px) if len(xy) > 1 else np.ones(len(xy), bool)
        ok &= (xy[:, 0] > border_px) & (xy[:, 0] < width - border_px)
        ok &= (xy[:, 1] > border_px) & (xy[:, 1] < height - border_px)
        keep.extend(group.index[ok])
    return truth.loc[keep]


def test_intensity_centroid_of_isolated_spots_matches_truth_corner_convention():
    p = SimulationParams(n_frames=40, height=48, width=48, pixel_size=100.0, emitters_per_frame=3,
                         photons=20000, min_photons=15000, psf_sigma=130.0, background=10.0,
                         camera_offset=100.0, gain=2.0, read_noise=1.5, seed=11)
    movie, truth = simulate_movie(p)
    half = 5
    spots = _isolated(truth, 2 * half + 2, p.pixel_size, p.height, p.width, half + 1)
    assert len(spots) >= 30
    errors = []
    for _, row in spots.iterrows():
        cx, cy = row["x"] / p.pixel_size, row["y"] / p.pixel_size  # truth in camera pixels
        c0, r0 = int(cx) - half, int(cy) - half
        win = movie[int(row["frame"]) - 1, r0:r0 + 2 * half + 1, c0:c0 + 2 * half + 1].astype(float)
        win -= p.camera_offset + p.background * p.gain  # background-subtract (ADU)
        # pixel k spans [k, k+1): its centre is k + 0.5
        cols = np.arange(c0, c0 + 2 * half + 1) + 0.5
        rows = np.arange(r0, r0 + 2 * half + 1) + 0.5
        total = win.sum()
        errors.append((win.sum(axis=0) @ cols / total - cx, win.sum(axis=1) @ rows / total - cy))
    errors = np.array(errors)
    assert np.abs(errors).max() < 0.05, np.abs(errors).max()
    assert np.abs(errors.mean(axis=0)).max() < 0.01  # no systematic (e.g. half-pixel) offset


def test_render_emitters_integrates_the_psf_over_pixels():
    img = render_emitters([1050.0], [2020.0], [1000.0], height=40, width=40, pixel_size=100.0, psf_sigma=120.0)
    assert img.sum() == pytest.approx(1000.0, rel=1e-6)
    # an emitter at a pixel centre (10.5, 20.2 px) puts its peak in pixel column 10, row 20
    r, c = np.unravel_index(img.argmax(), img.shape)
    assert (r, c) == (20, 10)
    # symmetric around the pixel centre along x
    np.testing.assert_allclose(img[20, 9], img[20, 11], rtol=1e-9)


def test_emitter_on_a_pixel_edge_splits_evenly():
    img = render_emitters([500.0], [505.0], [800.0], height=10, width=10, pixel_size=100.0, psf_sigma=100.0)
    np.testing.assert_allclose(img[5, 4], img[5, 5], rtol=1e-9)  # x = 5.0 px: edge between pixels 4 and 5


def test_truth_table_and_movie_properties():
    movie, truth = simulate_movie(n_frames=15, height=20, width=30, pixel_size=110.0, emitters_per_frame=4,
                                  camera_offset=400.0, background=5.0, seed=3)
    assert movie.shape == (15, 20, 30) and movie.dtype == np.uint16
    assert list(truth.columns[:3]) == ["frame", "x", "y"]
    assert set(truth.columns) - set(CANONICAL) == {"emitter"}
    assert truth["frame"].dtype == np.int64
    assert truth["frame"].between(1, 15).all()
    assert truth["x"].between(0, 30 * 110.0).all() and truth["y"].between(0, 20 * 110.0).all()
    assert (truth["sigma"] == 130.0).all() and (truth["photons"] >= 300).all()
    # the camera offset and background set the level of empty pixels
    assert np.median(movie) == pytest.approx(405, abs=4)


def test_seed_reproducible_and_different_seeds_differ():
    a_movie, a_truth = simulate_movie(n_frames=5, height=16, width=16, seed=5)
    b_movie, b_truth = simulate_movie(n_frames=5, height=16, width=16, seed=5)
    c_movie, c_truth = simulate_movie(n_frames=5, height=16, width=16, seed=6)
    np.testing.assert_array_equal(a_movie, b_movie)
    assert a_truth.equals(b_truth)
    assert not np.array_equal(a_movie, c_movie)


def test_blinking_keeps_emitters_across_frames():
    _, truth = simulate_movie(n_frames=30, height=24, width=24, emitters_per_frame=2, blinking=0.8, seed=2)
    per_emitter = truth.groupby("emitter")
    assert per_emitter.size().max() > 1  # some emitters stay on for several frames
    for _, g in per_emitter:
        assert g["x"].nunique() == 1 and g["y"].nunique() == 1  # same position while on
        assert (np.diff(g["frame"].to_numpy()) == 1).all()  # consecutive frames
    _, no_blink = simulate_movie(n_frames=30, height=24, width=24, emitters_per_frame=2, seed=2)
    assert no_blink.groupby("emitter").size().max() == 1


def test_gain_and_read_noise_and_margin():
    p = dict(n_frames=4, height=32, width=32, emitters_per_frame=0, background=50.0, camera_offset=100.0, seed=1)
    m1, t1 = simulate_movie(gain=1.0, read_noise=0.0, **p)
    m2, _ = simulate_movie(gain=3.0, read_noise=0.0, **p)
    assert len(t1) == 0 and t1["frame"].dtype == np.int64
    assert m1.mean() == pytest.approx(150, abs=1)
    assert m2.mean() == pytest.approx(250, abs=2)
    assert m2.std() == pytest.approx(3 * np.sqrt(50), rel=0.1)  # Poisson noise scaled by the gain
    _, t = simulate_movie(n_frames=20, height=32, width=32, pixel_size=100.0, margin=4, seed=4)
    assert t["x"].between(400, 2800).all() and t["y"].between(400, 2800).all()
