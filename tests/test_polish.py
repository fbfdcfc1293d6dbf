"""A newcomer's findings: front-end wording, the noise block, density on summed frames, the density
bar, sum-frames' dtype and seed, and text nits (each test failed before its fix)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from imagesumming import write_locs, write_tif
from imagesumming.cli import main
from imagesumming.io import Movie
from imagesumming.synthetic import simulate_movie

PS = 107.0


def run(capsys, *argv):
    code = main([*map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path, small_movie):
    movie, truth = small_movie
    return movie, truth, write_tif(tmp_path / "m.tif", movie, 100.0), write_locs(tmp_path / "m.csv", truth, "deepstorm")


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --- front-end wording (item 3) ----------------------------------------------------------------

def test_worded_hints_follow_the_front_end_running():
    from imagesumming.errors import front_end, worded

    hint = "write new ones with {plots}, or delete them; give it with {pixel_size}"
    assert worded(hint) == "write new ones with plots=True, or delete them; give it with pixel_size"
    from imagesumming.cli.options import CLI_WORDS, option_name

    with front_end(CLI_WORDS, option_name):
        assert worded(hint) == "write new ones with --plots, or delete them; give it with --pixel-size"
    from imagesumming.widgets._common import reporting

    import ipywidgets as w

    with reporting(w.HTML()):
        text = worded(hint)
    assert "'also save the figures (PNG)' ticked" in text and "the pixel size field" in text and "--" not in text
    assert worded("{plots}") == "plots=True"  # the context ended


def test_stale_figures_warning_in_each_front_ends_words(tmp_path, capsys, caplog, files):
    movie, truth, tif, csv = files
    common = ["sum", "--movie", tif, "--locs", csv, "-o", tmp_path / "o", "--patch-size", 16, "--patches", 20,
              "--summed", 4, "--bin-size", 2, "--seed", 1]
    assert run(capsys, *common, "--plots")[0] == 0
    caplog.clear()
    code, out, err = run(capsys, *common, "--force")
    stale = [m for m in warnings_of(caplog) if "earlier run" in m]
    assert code == 0 and len(stale) == 1
    assert "write new ones with --plots, or delete them" in stale[0] and "plots=True" not in stale[0]
    assert "pixel size 100 nm from m.tif (" in out  # one level of parentheses less
    # the API keeps its own words
    from imagesumming.summing import sum_patches

    res = sum_patches(str(tif), str(csv), patch_size=16, n_patches=20, n_summed=4, bin_size=2, seed=1,
                      progress=False, pixel_size=100.0)
    caplog.clear()
    res.save(tmp_path / "o", force=True)
    stale = [m for m in warnings_of(caplog) if "earlier run" in m]
    assert "with plots=True" in stale[0] and "--plots" not in stale[0]
    assert "pixel size 100 nm from pixel_size;" in res.summary()
    from imagesumming.errors import front_end

    with front_end({"pixel_size": "the pixel size field"}):
        assert "pixel size 100 nm from the pixel size field;" in res.summary()


def test_addons_pixel_size_note_in_the_cli_words(tmp_path, capsys):
    tif = tmp_path / "nops.tif"
    import tifffile

    tifffile.imwrite(tif, np.zeros((6, 40, 40), np.uint16))
    code, out, err = run(capsys, "split", tif, "--at", 2, "-o", tmp_path / "s")
    note = next(ln for ln in out.splitlines() if ln.startswith("note: pixel size unknown"))
    assert code == 0 and note.endswith("give it with --pixel-size") and "pixel_size" not in note
    from imagesumming.addons import split_movie

    notes = split_movie(tif, at=2, out_dir=tmp_path / "s2", progress=False).notes
    assert any(n.endswith("give it with pixel_size") for n in notes) and not any("--pixel-size" in n for n in notes)


def test_patch_error_hint_is_worded_per_front_end():
    from imagesumming.cli.options import error_text
    from imagesumming.notebook import PatchError

    e = PatchError("2 patch(es) could not be placed (a; b); nothing was written", "nb.ipynb",
                   hint="{allow_missing} applies the others")
    assert str(e).endswith("nothing was written; allow_missing=True applies the others")
    assert error_text(e).endswith("nothing was written; --allow-missing applies the others")


# --- the summary's noise block and the match table (item 5) ------------------------------------

@pytest.fixture(scope="module")
def summed():
    from imagesumming.summing import sum_patches

    movie, locs = simulate_movie(n_frames=20, height=64, width=64, pixel_size=PS, density=0.2, seed=4)
    return sum_patches(Movie(movie, pixel_size=PS), locs, patch_size=24, n_patches=40, n_summed=10, bin_size=3,
                       seed=2, progress=False)


def test_noise_block_shows_all_pixel_medians_above_the_offset_and_one_noise_name(summed):
    text = summed.summary()
    line = next(ln for ln in text.splitlines() if "all pixels, emitters included" in ln)
    assert "noise (MAD)" not in text and "noise 1.4826 x MAD" in line
    nums = [float(v) for v in line.split("median above the camera offset source patches ")[1].split(";")[0]
            .replace("summed", "").split(",")]
    # background 20 photons above the 100 ADU offset: a source patch's median is ~20, a sum of 3 ~60 (not 120/160)
    assert 15 < nums[0] < 40 and 50 < nums[1] < 110


def test_match_table_labels_its_background_method():
    from imagesumming.target import match_lines

    t = {"movies": ["d.tif"], "frames": 4, "density": 2.0, "uncertainty": 0.1, "background_above_offset": 20.0,
         "background_noise": 4.5, "peak": 200.0}
    s = {"k": 3, "density": 2.1, "background_above_offset": 60.0, "background_noise": 7.8, "peak": 210.0}
    match = {"target": t, "summed": s, "ratios": {"density": 1.05, "background_above_offset": 3.0,
                                                  "background_noise": 1.7, "peak": 1.05},
             "differences": [], "min_emitters": 2, "camera_offset": 100.0, "target_warnings": ["a note"]}
    lines = match_lines(match)
    assert any(ln.startswith("  background ADU* †") for ln in lines)
    assert any(ln.startswith("  † measured as the density estimate") and "emitter-free median" in ln for ln in lines)
    assert lines[-1] == "  note: the target's estimate may be off itself (beyond its ±): a note"


# --- density on summed frames (item 6) -----------------------------------------------------------

@pytest.fixture(scope="module")
def calibration():
    from imagesumming.density import calibrate

    low, locs = simulate_movie(n_frames=60, height=64, width=64, pixel_size=PS, density=0.3, seed=1)
    return calibrate(Movie(low, pixel_size=PS), locs, progress=False)


def test_noisier_background_note_names_summed_movies_not_only_gain(calibration):
    from imagesumming.density import estimate_density

    # a sum of 10 frames: 10 x the background, sqrt(10) x its noise
    dense, _ = simulate_movie(n_frames=6, height=64, width=64, pixel_size=PS, density=2.0, background=200.0, seed=5)
    r = estimate_density(Movie(dense, pixel_size=PS), calibration, progress=False)
    note = [w for w in r.warnings if "background noise is" in w]
    assert len(note) == 1 and "summed" in note[0] and "reads low" in note[0] and "same gain" in note[0]


def test_match_claim_names_the_estimate_and_its_doubts(calibration):
    from imagesumming.density import estimate_density
    from imagesumming.target import _comparison

    dense, _ = simulate_movie(n_frames=6, height=64, width=64, pixel_size=PS, density=2.0, background=200.0, seed=5)
    r = estimate_density(Movie(dense, pixel_size=PS), calibration, camera_offset=100.0, progress=False)
    f = r.frames
    summed = pd.DataFrame({"background": f["background"], "background_noise": f["background_noise"],
                           "density_measured": f["density"], "peak": f["peak"]})
    rec = _comparison([r], summed, np.full(6, r.density), k=10, camera_offset=100.0, min_emitters=2, auto_table=None)
    claim = rec["differences"][0]
    assert claim.startswith("the summed frames match the target: density within 15 % of the target's estimate (")
    assert "statistical error only" in claim
    assert rec["target_warnings"] and "summed" in rec["target_warnings"][0]


# --- density's progress and speed (item 7) ------------------------------------------------------

def test_tile_percentiles_equal_numpys_per_tile():
    from imagesumming.density import _PERCENTILE, _Tiles

    rng = np.random.default_rng(0)
    for h, w in ((50, 70), (97, 64)):
        y = rng.normal(100, 5, (h, w))
        valid = rng.random((h, w)) > 0.05
        ey, ex = np.linspace(4, h - 4, 4).round().astype(int), np.linspace(4, w - 4, 5).round().astype(int)
        got = _Tiles(ey, ex, valid).percentile(y)
        want = [[np.percentile(y[ey[i]:ey[i + 1], ex[j]:ex[j + 1]][valid[ey[i]:ey[i + 1], ex[j]:ex[j + 1]]],
                               _PERCENTILE) for j in range(4)] for i in range(3)]
        assert np.array_equal(got, np.array(want))


def test_background_shape_work_has_a_progress_bar(monkeypatch):
    from imagesumming import _progress
    from imagesumming.density import measure_frames

    bars = []

    class Bar:  # what the helper returns: a context manager with update(n)
        def __init__(self, desc, total):
            self.desc, self.total, self.n = desc, total, 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n=1):
            self.n += n

    def recording(iterable=None, **kw):
        assert iterable is None
        bars.append(Bar(kw.get("desc"), kw.get("total")))
        return bars[-1]

    monkeypatch.setattr(_progress, "progress_bar", recording)
    movie, _ = simulate_movie(n_frames=10, height=48, width=48, pixel_size=PS, density=0.5, seed=3)
    measure_frames(Movie(movie, pixel_size=PS), progress=True)
    shape_bar = [b for b in bars if "background shape" in (b.desc or "")]
    assert len(shape_bar) == 1 and shape_bar[0].total == shape_bar[0].n == 10 * 4  # 10 frames read, 3 passes


# --- sum-frames: one dtype rule (item 8) --------------------------------------------------------

def test_sum_frames_writes_the_smallest_dtype_of_the_values(tmp_path):
    import tifffile

    from imagesumming.addons import sum_frames

    movie = np.full((6, 8, 8), 300, np.uint16)
    r = sum_frames(movie, n=3, camera_offset=100, output=tmp_path / "a", pixel_size=PS, progress=False)
    out = tifffile.imread(tmp_path / "a.tif")
    assert r.dtype == "uint16" and out.dtype == np.uint16 and (out == 700).all()
    assert json.loads((tmp_path / "a_groups.json").read_text())["Output dtype"] == "uint16"
    movie[4, 0, 0] = 65535  # one sum beyond uint16
    r = sum_frames(movie, n=3, camera_offset=100, output=tmp_path / "b", pixel_size=PS, progress=False)
    out = tifffile.imread(tmp_path / "b.tif")
    assert r.dtype == "int32" and out.dtype == np.int32 and out[1, 0, 0] == 65535 + 300 + 300 - 200
    r = sum_frames(movie.astype(np.int16) - 200, n=2, camera_offset=0, output=tmp_path / "c", pixel_size=PS,
                   progress=False)
    assert r.dtype == "int32" and r.negative_pixels > 0  # negative sums: int32, as sum writes them


# --- text nits (item 11) ------------------------------------------------------------------------

def test_summary_grammar_and_rounding():
    from imagesumming.summing import sum_patches

    movie, locs = simulate_movie(n_frames=20, height=64, width=64, pixel_size=PS, density=0.2, seed=4)
    kw = {"patch_size": 24, "n_patches": 40, "n_summed": 5, "seed": 2, "progress": False}
    one = sum_patches(Movie(movie, pixel_size=PS), locs, bin_size=1, **kw).summary()
    assert "k = 1 patch each" in one and "subtracted 0 times" not in one and "no offset subtracted" in one
    two = sum_patches(Movie(movie, pixel_size=PS), locs, bin_size=2, **kw).summary()
    assert "k = 2 patches each" in two and "offset 100 subtracted once" in two
    target = sum_patches(Movie(movie, pixel_size=PS), locs, target_density=1.86452, **kw).summary()
    assert "(target 1.86)" in target


def test_invalid_counts_read_as_plurals():
    from imagesumming.validate import check_locs

    t = pd.DataFrame({"frame": [1, 9, 9, 0], "x": [1.0, 1.0, 2.0, 3.0], "y": [1.0, 1.0, 2.0, 3.0]})
    _, counts = check_locs(t, n_frames=5, on_invalid="keep")
    text = ", ".join(f"{n} {r}" for r, n in counts.items())
    assert text == "1 in a frame below 1, 2 in a frame beyond the movie's 5 frames"


def test_density_summary_says_na_for_an_intercept_without_spread(calibration):
    import dataclasses

    from imagesumming.density import estimate_density

    dense, _ = simulate_movie(n_frames=4, height=64, width=64, pixel_size=PS, density=1.0, seed=6)
    cal = dataclasses.replace(calibration, intercept=float("nan"))
    text = estimate_density(Movie(dense, pixel_size=PS), cal, progress=False).summary()
    assert "nan" not in text and "fit intercept n/a" in text


def test_filter_names_no_pandas_placeholder_column(tmp_path, capsys):
    csv = tmp_path / "p.csv"
    csv.write_text(",frame,x [nm],y [nm]\n1,1,10,10\n")
    code, out, err = run(capsys, "filter", csv, "--threshold", 0.5, "-o", tmp_path / "f.csv")
    assert code == 2 and "no confidence column" in err and "Unnamed" not in err and "frame, x [nm], y [nm]" in err


def test_addons_report_dropped_localizations_as_sum_does(tmp_path, capsys, caplog, files):
    movie, truth, tif, csv = files
    short = write_tif(tmp_path / "short.tif", movie[:10], 100.0)
    caplog.clear()
    code, out, err = run(capsys, "split", short, csv, "--at", 5, "-o", tmp_path / "o", "--drop-invalid")
    beyond = int((truth["frame"] > 10).sum())
    assert code == 0 and "note:" not in out  # not a stdout note ...
    assert [m for m in warnings_of(caplog) if m.endswith(f"dropped {beyond} in a frame beyond the movie's 10 frames")]
    assert f"dropped {beyond} in a frame beyond" in out  # ... the summary still counts them, as sum's does
