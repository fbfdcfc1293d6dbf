"""Density of a movie without localizations, calibrated on low-density movies of the same simulator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imagesumming import write_locs, write_tif
from imagesumming.cli import main
from imagesumming.density import DensityResult, calibrate, estimate_density, frame_measures
from imagesumming.errors import InputError
from imagesumming.io import Movie
from imagesumming.synthetic import simulate_movie

PS = 107.0
SIZE = 64  # px: small frames keep the suite fast; the estimate's accuracy is over frames x area


def _true_density(locs, n_frames, size=SIZE):
    return len(locs) / (n_frames * (size * PS / 1000.0) ** 2)


@pytest.fixture(scope="module")
def low():
    """A low-density movie (0.2 emitters/µm², ~8 per frame) with its localizations."""
    return simulate_movie(n_frames=150, height=SIZE, width=SIZE, pixel_size=PS, density=0.2, seed=1)


@pytest.fixture(scope="module")
def cal(low):
    movie, locs = low
    return calibrate(Movie(movie, pixel_size=PS, pixel_size_source="test"), locs, progress=False)


@pytest.mark.parametrize("background, tolerance", [(20.0, 0.15), (30.0, 0.20)])  # 30 = 1.5x the calibration's
@pytest.mark.parametrize("density", [0.5, 1.0, 2.0, 4.0, 6.0])
def test_estimate_matches_true_density(cal, density, background, tolerance):
    n = 16
    movie, locs = simulate_movie(n_frames=n, height=SIZE, width=SIZE, pixel_size=PS, density=density,
                                 background=background, seed=int(10 * density + background))
    r = estimate_density(movie, cal, progress=False)
    true = _true_density(locs, n)
    assert abs(r.density / true - 1) < tolerance, (r.density, true)
    assert r.uncertainty > 0 and len(r.density_per_frame) == n
    # the background follows the dense movie, not the calibration (offset 100 + background photons)
    assert abs(r.background - (100 + background)) < 0.1 * background + 0.05 * density * 23


def test_no_emitters_estimates_zero(cal):
    movie, locs = simulate_movie(n_frames=10, height=SIZE, width=SIZE, pixel_size=PS, density=0.0, seed=3)
    assert len(locs) == 0
    r = estimate_density(movie, cal, progress=False)
    assert abs(r.density) < 0.03
    assert abs(r.background - 120) < 0.5
    # noise of one pixel: shot noise of 20 photons and 1.5 ADU read noise (gain 1)
    assert r.background_noise == pytest.approx(np.sqrt(20 + 1.5 ** 2), rel=0.08)


@pytest.mark.parametrize("profile", ["ramp", "dome"])
def test_background_varying_across_the_frame(cal, profile, monkeypatch):
    """An illumination profile (20 to 40 photons/px) is the background, not signal."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    bg = 20 + 20 * (xx if profile == "ramp" else np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.18))
    movie, locs = simulate_movie(n_frames=16, height=SIZE, width=SIZE, pixel_size=PS, density=1.0, background=bg,
                                 seed=12)
    true = _true_density(locs, 16)
    r = estimate_density(movie, cal, progress=False)
    assert abs(r.density / true - 1) < 0.15, (r.density, true)
    assert abs(r.background - (100 + bg[4:-4, 4:-4].mean())) < 2
    import imagesumming.density as D

    monkeypatch.setattr(D, "_TILE", 10 ** 6)  # a flat background: the profile counts as emitters
    assert D.estimate_density(movie, cal, progress=False).density / true - 1 > 0.2


def test_camera_offset_cancels_and_is_in_the_background(cal):
    movie, locs = simulate_movie(n_frames=12, height=SIZE, width=SIZE, pixel_size=PS, density=2.0,
                                 camera_offset=400.0, seed=5)
    r = estimate_density(movie, cal, camera_offset=400.0, progress=False)
    assert abs(r.density / _true_density(locs, 12) - 1) < 0.15
    d = r.to_dict()
    assert d["background_includes_camera_offset"] is True
    assert abs(d["background"] - 420) < 3 and abs(d["background_above_offset"] - 20) < 3


def test_hot_pixels_are_left_out(low, cal):
    movie, locs = simulate_movie(n_frames=12, height=SIZE, width=SIZE, pixel_size=PS, density=1.0, seed=8)
    clean = estimate_density(movie, cal, progress=False).density
    hot = movie.copy()
    hot[:, 20, 30] = 60000  # a saturated hot pixel would add ~15 ADU per pixel of signal on its own
    hot[:, 40, 10] += 2000
    r = estimate_density(hot, cal, progress=False)
    assert r.bad_pixels >= 2
    assert r.density == pytest.approx(clean, rel=0.02)
    lm, ll = low
    lm = lm.copy()
    lm[:, 30, 30] = 60000
    cal_hot = calibrate(Movie(lm, pixel_size=PS), ll, progress=False)
    assert cal_hot.bad_pixels[0] >= 1
    assert cal_hot.signal_per_loc == pytest.approx(cal.signal_per_loc, rel=0.02)


def test_calibration_fit_and_result_dict(cal):
    c = cal.to_dict()
    # 2000 mean photons per emitter at gain 1, minus what the 4 px border leaves outside: ~2000 ADU
    assert 1700 < c["signal_per_localization_adu"] < 2300
    assert abs(cal.intercept) < 0.1
    assert c["localizations"] > 500
    movie, _ = simulate_movie(n_frames=5, height=SIZE, width=SIZE, pixel_size=PS, density=1.0, seed=2)
    r = estimate_density(movie, cal, progress=False)
    d = json.loads(json.dumps(r.to_dict()))
    for key in ("density", "density_per_frame", "background", "background_noise", "uncertainty", "calibration"):
        assert key in d
    assert len(d["density_per_frame"]) == 5 and d["density"] == pytest.approx(np.mean(d["density_per_frame"]))
    fig = r.plot()
    assert len(fig.axes) >= 3
    assert "emitters/µm²" in r.summary()


def test_calibration_on_spread_frames(low, cal):
    """sum --match calibrates on at most N frames of each input, evenly spread (frames keep their numbers)."""
    from imagesumming.density import _calibrate_inputs
    from imagesumming.summing import _open_inputs

    movie, locs = low
    inputs = _open_inputs([Movie(movie, pixel_size=PS)], [locs], None)
    part = _calibrate_inputs(inputs, progress=False, max_frames=50)
    assert len(part.frames) == 50 and part.frames["frame"].iloc[-1] == 150
    assert part.per_movie[0]["localizations"] == int(part.frames["density"].sum() * (56 * PS / 1000) ** 2 + 0.5)
    assert part.signal_per_loc == pytest.approx(cal.signal_per_loc, rel=0.1)


def test_missed_dim_emitters_are_flagged(low, cal):
    movie, locs = low
    assert cal.warning is None
    bright = locs[locs["photons"] > locs["photons"].median()]  # a localizer that misses the dim half
    half = calibrate(Movie(movie, pixel_size=PS), bright, progress=False)
    assert half.signal_per_loc == pytest.approx(2 * cal.signal_per_loc, rel=0.25)
    assert half.warning and "missed" in half.warning and half.intercept > 0
    assert half.to_dict()["warning"] == half.warning


def test_streams_frames(cal):
    """Each frame is read once (plus at most 32 sampled for hot pixels), never the movie as a block."""
    data, _ = simulate_movie(n_frames=40, height=SIZE, width=SIZE, pixel_size=PS, density=1.0, seed=4)
    reads = []

    def reader(i):
        reads.append(i)
        return data[i]

    movie = Movie(reader=reader, shape=data.shape, dtype=data.dtype, pixel_size=PS)
    r = estimate_density(movie, cal, progress=False)
    assert len(r.density_per_frame) == 40
    assert len(reads) <= 40 + 32 and sorted(set(reads)) == list(range(40))


def test_frame_measures_small_frame_is_an_error():
    with pytest.raises(InputError, match="too small"):
        frame_measures(np.zeros((12, 12)), border=4)


def test_bad_inputs_are_errors(low, cal):
    movie, locs = low
    with pytest.raises(InputError, match="no calibration"):
        calibrate([], [])
    with pytest.raises(InputError, match="no calibration"):
        estimate_density(movie, None)
    with pytest.raises(InputError, match="pixel sizes disagree"):
        estimate_density(Movie(movie[:5], pixel_size=100.0), cal, progress=False)
    with pytest.raises(InputError, match="pixel sizes disagree"):
        calibrate([Movie(movie, pixel_size=PS), Movie(movie, pixel_size=100.0)], [locs, locs], progress=False)
    with pytest.raises(InputError, match="no localizations"):
        calibrate(Movie(movie, pixel_size=PS), locs.iloc[:0], progress=False)
    edge = locs[locs["x"] < 2 * PS]  # only localizations in the left border
    with pytest.raises(InputError, match="inner region"):
        calibrate(Movie(movie, pixel_size=PS), edge, progress=False)
    with pytest.raises(InputError, match="pixel size unknown"):
        calibrate(movie, locs, progress=False)


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def _run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory, low):
    d = tmp_path_factory.mktemp("density")
    movie, locs = low
    write_tif(d / "low.tif", movie[:60], PS)
    write_locs(d / "low.csv", locs[locs["frame"] <= 60], "deepstorm")
    write_locs(d / "empty.csv", locs.iloc[:0], "deepstorm")
    dense, dl = simulate_movie(n_frames=12, height=SIZE, width=SIZE, pixel_size=PS, density=3.0, seed=6)
    write_tif(d / "dense.tif", dense, PS)
    write_tif(d / "dense_100nm.tif", dense, 100.0)
    return d, _true_density(dl, 12)


def test_cli_density_json_and_plots(capsys, files):
    d, true = files
    rc, out, err = _run(capsys, "density", d / "dense.tif", "--calibrate", d / "low.tif", d / "low.csv",
                        "--json", "--plots", "-o", d / "figs")
    assert rc == 0, err
    result = json.loads(out)
    assert abs(result["density"] / true - 1) < 0.2
    assert len(result["density_per_frame"]) == 12
    assert (d / "figs" / "dense_density.png").stat().st_size > 0
    rc, out, err = _run(capsys, "density", d / "dense.tif", "--calibrate", d / "low.tif", d / "low.csv",
                        "--plots", "-o", d / "figs")
    assert rc == 2 and "exists already" in err and len(err.strip().splitlines()) == 1
    rc, out, _ = _run(capsys, "density", d / "dense.tif", "--calibrate", d / "low.tif", d / "low.csv", "-q")
    assert rc == 0 and out == ""
    rc, out, _ = _run(capsys, "density", d / "dense.tif", "--calibrate", d / "low.tif", d / "low.csv")
    assert rc == 0 and "density" in out and "camera offset included" in out


@pytest.mark.parametrize("extra, message", [
    ((), "no calibration given"),
    (("--calibrate", "low.tif", "empty.csv"), "no localizations"),
])
def test_cli_density_errors(capsys, files, extra, message):
    d, _ = files
    argv = ["density", d / "dense.tif"] + [d / a if a.endswith((".tif", ".csv")) else a for a in extra]
    rc, out, err = _run(capsys, *argv)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_density_pixel_sizes_disagree(capsys, files):
    d, _ = files
    rc, _, err = _run(capsys, "density", d / "dense_100nm.tif", "--calibrate", d / "low.tif", d / "low.csv")
    assert rc == 2 and "pixel sizes disagree" in err and len(err.strip().splitlines()) == 1


def test_result_is_a_dataclass_with_frames_table(cal):
    movie, _ = simulate_movie(n_frames=3, height=SIZE, width=SIZE, pixel_size=PS, density=1.0, seed=9)
    r = estimate_density(movie, cal, progress=False)
    assert isinstance(r, DensityResult)
    assert list(r.frames.columns[:2]) == ["frame", "density"] and r.frames["frame"].tolist() == [1, 2, 3]
