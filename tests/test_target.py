"""Summing that matches the movie to analyze: target density, min emitters auto, the comparison."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imagesumming import write_locs, write_tif
from imagesumming.cli import main
from imagesumming.errors import InputError
from imagesumming.io import Movie
from imagesumming.summing import sum_patches
from imagesumming.synthetic import simulate_movie
from imagesumming.target import sum_matching

PS = 107.0
SIZE = 64


@pytest.fixture(scope="module")
def low():
    return simulate_movie(n_frames=300, height=SIZE, width=SIZE, pixel_size=PS, density=0.3, seed=1)


@pytest.fixture(scope="module")
def dense():
    movie, locs = simulate_movie(n_frames=16, height=SIZE, width=SIZE, pixel_size=PS, density=3.0, seed=2)
    return movie, len(locs) / (16 * (SIZE * PS / 1000.0) ** 2)


def _run(low, dense, **kw):
    movie, locs = low
    kw = {"n_patches": 200, "n_summed": 60, "seed": 3, "progress": False, **kw}
    return sum_matching(Movie(movie, pixel_size=PS), locs, Movie(dense[0], pixel_size=PS), **kw)


def test_match_targets_the_dense_movie_and_compares(low, dense):
    r = _run(low, dense, min_emitters=2)
    m = r.params["match"]
    assert abs(m["target"]["density"] / dense[1] - 1) < 0.15
    assert r.params["target_density"] == pytest.approx(m["target"]["density"])
    assert abs(m["summed"]["density"] / m["target"]["density"] - 1) < 0.2
    k = r.params["bin_size"]
    assert k >= 6  # patches of ~0.35 /µm² need about 9 of them for 3 /µm²
    # k backgrounds of ~20 ADU above the offset against one in the dense movie
    assert m["ratios"]["background_above_offset"] == pytest.approx(k, rel=0.25)
    assert m["ratios"]["background_noise"] == pytest.approx(np.sqrt(k), rel=0.25)
    assert any(n.startswith(f"background {m['ratios']['background_above_offset']:.1f}x the target's") and
               f"k = {k}" in n for n in m["differences"])
    text = r.summary()
    assert "match: target" in text and "differs: background" in text
    assert len(r.plot_match().axes) == 4


def test_fixed_min_emitters_draws_as_sum_patches_with_that_target(low, dense):
    """The match only sets the target: the same seed gives the frames sum_patches gives for it."""
    r = _run(low, dense, min_emitters=2)
    movie, locs = low
    plain = sum_patches(Movie(movie, pixel_size=PS), locs, n_patches=200, n_summed=60, seed=3, progress=False,
                        target_density=r.params["target_density"], min_emitters=2)
    assert np.array_equal(plain.frames, r.frames)


def test_min_emitters_auto_lowers_k_and_keeps_the_density(low, dense):
    fixed = _run(low, dense, min_emitters=2)
    auto = _run(low, dense, min_emitters="auto")
    m = auto.params["match"]
    assert m["min_emitters"] == "auto" and m["min_emitters_chosen"] > 2
    assert auto.params["min_emitters"] == m["min_emitters_chosen"]
    assert auto.params["bin_size"] < fixed.params["bin_size"]
    assert abs(m["summed"]["density"] / m["target"]["density"] - 1) < 0.2
    assert m["ratios"]["background_above_offset"] < fixed.params["match"]["ratios"]["background_above_offset"]
    table = m["min_emitters_auto"]
    chosen = table["min_emitters"][table["chosen"].index(True)]
    assert chosen == m["min_emitters_chosen"]
    # no possible choice within 15 % of the target has a smaller k
    for mm, k, d, ok in zip(table["min_emitters"], table["k"], table["density"], table["possible"]):
        if ok and abs(d / m["target"]["density"] - 1) <= 0.15:
            assert k >= auto.params["bin_size"] - 1  # k is re-chosen from the accepted patches (±1)
    again = _run(low, dense, min_emitters="auto")
    assert np.array_equal(again.frames, auto.frames)


def test_match_errors(low, dense):
    movie, locs = low
    with pytest.raises(InputError, match="pixel sizes disagree"):
        sum_matching(Movie(movie, pixel_size=PS), locs, Movie(dense[0], pixel_size=100.0), progress=False)
    empty, _ = simulate_movie(n_frames=4, height=SIZE, width=SIZE, pixel_size=PS, density=0.0, seed=5)
    with pytest.raises(InputError, match="nothing to match"):
        sum_matching(Movie(movie, pixel_size=PS), locs, Movie(empty, pixel_size=PS), progress=False, seed=1)
    with pytest.raises(InputError, match="'auto'"):
        sum_matching(Movie(movie, pixel_size=PS), locs, dense[0], min_emitters="most", progress=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory, low, dense):
    d = tmp_path_factory.mktemp("match")
    write_tif(d / "low.tif", low[0], PS)
    write_locs(d / "low.csv", low[1], "deepstorm")
    write_tif(d / "dense.tif", dense[0], PS)
    return d


def _cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_sum_match_auto_writes_the_comparison(files, tmp_path, capsys):
    d = files
    rc, out, err = _cli(capsys, "sum", "--movie", d / "low.tif", "--locs", d / "low.csv", "--match", d / "dense.tif",
                        "--min-emitters", "auto", "--patches", 200, "--summed", 40, "--seed", 1, "--plots",
                        "-o", tmp_path / "out")
    assert rc == 0, err
    assert "match: target dense.tif" in out and "background noise ADU" in out
    params = json.loads((tmp_path / "out" / "summed_params.json").read_text())
    assert params["match"]["min_emitters"] == "auto" and params["match"]["differences"]
    assert (tmp_path / "out" / "summed_match.png").stat().st_size > 0


@pytest.mark.parametrize("extra, message", [
    (("--min-emitters", "auto"), "needs --match"),
    (("--match", "dense.tif", "--target-density", "2"), "drop --target-density"),
    (("--match", "dense.tif", "--bin-size", "10"), "drop --bin-size"),  # even at the default value
    (("--min-emitters", "many"), "whole number or 'auto'"),
])
def test_cli_sum_match_bad_options(files, tmp_path, capsys, extra, message):
    d = files
    extra = [d / a if a.endswith(".tif") else a for a in extra]
    with pytest.raises(SystemExit) if message.startswith("whole") else _no_raise():
        rc, out, err = _cli(capsys, "sum", "--movie", d / "low.tif", "--locs", d / "low.csv", "-o", tmp_path / "o",
                            *extra)
    if message.startswith("whole"):
        err = capsys.readouterr().err
        assert message in err
        return
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
