"""Density estimate (#13) and CLI conventions on data that differ from the simulator's defaults."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imagesumming.density import calibrate, estimate_density
from imagesumming.io import Movie
from imagesumming.synthetic import simulate_movie

PS = 107.0
SIZE = 64


@pytest.fixture(scope="module")
def cal():
    movie, locs = simulate_movie(n_frames=150, height=SIZE, width=SIZE, pixel_size=PS, density=0.2, seed=1)
    return calibrate(Movie(movie, pixel_size=PS, pixel_size_source="test"), locs, progress=False)


def test_one_frame_uncertainty_is_not_only_the_calibrations(cal):
    """One frame has no spread over frames: its uncertainty must still cover the emitters' counting error."""
    movie, locs = simulate_movie(n_frames=1, height=SIZE, width=SIZE, pixel_size=PS, density=2.0, seed=7)
    r = estimate_density(movie, cal, progress=False)
    inner = (SIZE - 2 * cal.border) ** 2 * (PS / 1000) ** 2
    # Poisson error of ~2 /µm² counted over the inner area; the calibration term alone is ~2 % of the density
    assert r.uncertainty >= np.sqrt(r.density / inner) * 0.99
    assert r.uncertainty > 0.05 * r.density


def test_few_frames_do_not_take_emitters_for_hot_pixels(cal):
    """A median over 1-3 frames still holds emitters: no hot-pixel map then (it removed their peaks)."""
    movie, locs = simulate_movie(n_frames=2, height=SIZE, width=SIZE, pixel_size=PS, density=2.0, seed=4)
    r = estimate_density(movie, cal, progress=False)
    assert r.bad_pixels == 0
    true = len(locs) / (2 * (SIZE * PS / 1000) ** 2)
    assert abs(r.density / true - 1) < 0.15


def test_calibrations_that_disagree_are_reported():
    """A calibration movie at twice the gain pools silently into a wrong signal per localization otherwise."""
    a = simulate_movie(n_frames=80, height=SIZE, width=SIZE, pixel_size=PS, density=0.2, seed=1)
    b = simulate_movie(n_frames=80, height=SIZE, width=SIZE, pixel_size=PS, density=0.2, seed=2, gain=2.0)
    movies = [Movie(m, pixel_size=PS, pixel_size_source="test") for m, _ in (a, b)]
    c = calibrate(movies, [a[1], b[1]], progress=False)
    assert c.warning and "disagree" in c.warning
    same = calibrate(movies[:1] * 2, [a[1], a[1]], progress=False)
    assert not same.warning or "disagree" not in same.warning


def test_calibration_with_almost_no_localizations_is_an_error(tmp_path):
    from imagesumming import write_locs, write_tif
    from imagesumming.errors import InputError

    movie, locs = simulate_movie(n_frames=40, height=SIZE, width=SIZE, pixel_size=PS, density=0.2, seed=1)
    write_tif(tmp_path / "low.tif", movie, PS)
    write_locs(tmp_path / "few.csv", locs.iloc[:3], "thunderstorm")
    with pytest.raises(InputError, match="few.csv.*too few"):
        calibrate(str(tmp_path / "low.tif"), str(tmp_path / "few.csv"), progress=False)


def test_match_summary_names_the_chosen_min_emitters():
    from imagesumming.target import match_lines

    t = {"movies": ["dense.tif"], "frames": 3, "density": 1.0, "background_above_offset": 20.0, "background_noise": 4.0,
         "peak": 100.0, "uncertainty": 0.1}
    s = {"k": 3, "density": 1.0, "background_above_offset": 60.0, "background_noise": 7.0, "peak": 100.0}
    match = {"target": t, "summed": s, "ratios": {"density": 1.0, "background_above_offset": 3.0,
                                                  "background_noise": 1.75, "peak": 1.0},
             "differences": [], "min_emitters": "auto", "min_emitters_chosen": 6, "camera_offset": 100.0}
    assert "min emitters auto: 6)" in match_lines(match)[0]


def test_match_says_when_the_camera_offset_cannot_be_right():
    """Camera baseline 400 ADU but the default offset 100: the comparison must not read as a plain k effect."""
    from imagesumming.target import sum_matching

    low, locs = simulate_movie(n_frames=120, height=SIZE, width=SIZE, pixel_size=PS, density=0.3, seed=1,
                               camera_offset=400.0)
    dense, _ = simulate_movie(n_frames=8, height=SIZE, width=SIZE, pixel_size=PS, density=2.0, seed=2,
                              camera_offset=400.0)
    kw = {"min_emitters": 2, "n_patches": 100, "n_summed": 20, "seed": 3, "progress": False}
    wrong = sum_matching(Movie(low, pixel_size=PS), locs, Movie(dense, pixel_size=PS), **kw)
    assert any("is the camera offset right" in n for n in wrong.params["match"]["differences"])
    right = sum_matching(Movie(low, pixel_size=PS), locs, Movie(dense, pixel_size=PS), camera_offset=400.0, **kw)
    assert not any("camera offset right" in n for n in right.params["match"]["differences"])


@pytest.mark.parametrize("gain, rescale, warned", [(1.0, 1.0, False), (2.0, 1.0, True), (1.0, 1 / 3.3, True)])
def test_a_dense_movie_in_other_units_is_flagged(cal, gain, rescale, warned):
    """Twice the gain, or a movie converted to photons, reads as 2-3x the density: say so, with the reason."""
    movie, _ = simulate_movie(n_frames=8, height=SIZE, width=SIZE, pixel_size=PS, density=2.0, seed=3, gain=gain)
    movie = (movie.astype(np.float32) - 100) * rescale + 100
    r = estimate_density(movie, cal, progress=False)
    assert any("same gain" in w for w in r.warnings) is warned
    assert r.to_dict()["warnings"] == r.warnings


def test_a_brighter_background_alone_is_not_flagged(cal):
    movie, _ = simulate_movie(n_frames=8, height=SIZE, width=SIZE, pixel_size=PS, density=6.0, seed=3,
                              background=60.0)
    assert estimate_density(movie, cal, progress=False).warnings == []


def test_small_frames_error_names_the_file_and_the_border(tmp_path, cal):
    from imagesumming import write_tif
    from imagesumming.errors import InputError

    movie, _ = simulate_movie(n_frames=3, height=12, width=30, pixel_size=PS, density=2.0, seed=3)
    write_tif(tmp_path / "tiny.tif", movie, PS)
    with pytest.raises(InputError, match=r"tiny\.tif.*--border"):
        estimate_density(str(tmp_path / "tiny.tif"), cal, progress=False)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_camera_offset_must_be_finite(tmp_path, capsys, value):
    from imagesumming.cli import main

    with pytest.raises(SystemExit) as exc:  # an argparse usage error, as for any malformed number
        main(["density", "dense.tif", "--calibrate", "a.tif", "a.csv", f"--camera-offset={value}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "finite" in err and "Traceback" not in err


def test_a_bead_in_every_frame_is_left_out_with_its_tails():
    """A fiducial in the calibration and the dense movie: its tails above background are not emitters."""
    def bead(m):
        yy, xx = np.mgrid[:SIZE, :SIZE]
        return m.astype(np.float32) + 3000 * np.exp(-((xx - 30) ** 2 + (yy - 30) ** 2) / (2 * 1.5 ** 2))

    low, locs = simulate_movie(n_frames=120, height=SIZE, width=SIZE, pixel_size=PS, density=0.2, seed=1)
    # the localizer found the bead in every frame too: those localizations are not emitters of the sample
    bead_locs = locs.iloc[:1].loc[[locs.index[0]] * 120].assign(frame=np.arange(1, 121), x=30.5 * PS, y=30.5 * PS)
    locs = pd.concat([locs, bead_locs], ignore_index=True)
    c = calibrate(Movie(bead(low), pixel_size=PS, pixel_size_source="test"), locs, progress=False)
    dense, dl = simulate_movie(n_frames=16, height=SIZE, width=SIZE, pixel_size=PS, density=2.0, seed=3)
    r = estimate_density(bead(dense), c, progress=False)
    true = len(dl) / (16 * (SIZE * PS / 1000) ** 2)
    assert abs(r.density / true - 1) < 0.15, (r.density, true)
    assert r.bad_pixels > 20  # the bead and a ring of its tails


def test_density_output_folder_implies_the_figure(tmp_path):
    """`density -o DIR` without --plots wrote nothing and said nothing: a folder asks for the figure."""
    from imagesumming.cli import main
    from imagesumming.io import write_locs, write_tif
    from imagesumming.synthetic import SimulationParams, simulate_movie

    movie, truth = simulate_movie(SimulationParams(n_frames=8, height=48, width=48, density=1.0), seed=3)
    write_tif(tmp_path / "low.tif", movie, pixel_size=107.0)
    write_locs(tmp_path / "low.csv", truth, "deepstorm")
    rc = main(["-q", "density", str(tmp_path / "low.tif"), "--calibrate", str(tmp_path / "low.tif"),
               str(tmp_path / "low.csv"), "-o", str(tmp_path / "figs")])
    assert rc == 0 and (tmp_path / "figs" / "low_density.png").stat().st_size > 0
    rc = main(["-q", "density", str(tmp_path / "low.tif"), "--calibrate", str(tmp_path / "low.tif"),
               str(tmp_path / "low.csv")])  # neither -o nor --plots: no figure written
    assert rc == 0 and not (tmp_path / "low_density.png").exists()
