"""Tests of the ``imagesumming sum`` command and of ``imagesumming demo`` (the whole pipeline)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tifffile

from imagesumming.cli import main
from imagesumming.io import write_deepstorm_csv, write_thunderstorm_csv, write_tif
from imagesumming.schema import make_locs
from imagesumming.synthetic import simulate_movie

PS = 107.0


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("sum_inputs")
    movie, truth = simulate_movie(n_frames=30, height=64, width=64, pixel_size=PS, emitters_per_frame=8, seed=5)
    write_tif(d / "movie.tif", movie, PS)
    write_tif(d / "untagged.tif", movie)
    write_deepstorm_csv(d / "locs.csv", truth)
    write_thunderstorm_csv(d / "locs_ts.csv", truth)
    bad = pd.concat([truth, make_locs({"frame": [1, 31, 31], "x": [64 * PS + 5, 10.0, 20.0], "y": [10.0] * 3,
                                       "photons": [1.0] * 3, "sigma": [1.0] * 3, "emitter": [-1] * 3})],
                    ignore_index=True)
    write_deepstorm_csv(d / "bad.csv", bad)
    return d, movie, truth


def run(args, capsys):
    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


SMALL = ["--patch-size", "20", "--patches", "40", "--summed", "15", "--seed", "3"]


def test_sum_writes_outputs_and_prints_summary(data, tmp_path, capsys):
    d, movie, truth = data
    out = tmp_path / "out"
    rc, stdout, err = run(["sum", "--movie", str(d / "movie.tif"), "--locs", str(d / "locs.csv"), "-o", str(out),
                           "--bin-size", "4", *SMALL], capsys)
    assert rc == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["summed.csv", "summed.tif", "summed_params.json", "summed_provenance.csv"]
    stack = tifffile.imread(out / "summed.tif")
    assert stack.shape == (15, 20, 20) and stack.dtype == np.uint16
    assert "summed frames: 15 of 20x20 px, k = 4" in stdout
    assert "patch_size = 19, num_patches_per_frame = 1, max_num_patches >= 15" in stdout
    assert "output density: mean" in stdout and "wrote:" in stdout
    assert "finding patches" not in err  # no progress bar into captured output (not a terminal)
    params = json.loads((out / "summed_params.json").read_text())
    assert params["seed"] == 3 and params["bin_size"] == 4 and params["pixel_size"] == pytest.approx(PS)
    prov = pd.read_csv(out / "summed_provenance.csv")
    assert len(prov) == 15 * 4
    # same seed again (another name): byte-identical tif and csv
    rc, _, _ = run(["-q", "sum", "--movie", str(d / "movie.tif"), "--locs", str(d / "locs.csv"), "-o", str(out),
                    "--name", "again", "--bin-size", "4", *SMALL], capsys)
    assert rc == 0
    assert (out / "again.tif").read_bytes() == (out / "summed.tif").read_bytes()
    assert (out / "again.csv").read_bytes() == (out / "summed.csv").read_bytes()


def test_sum_options_plots_target_density_augment_unique(data, tmp_path, capsys):
    d, _, _ = data
    out = tmp_path / "o"
    rc, stdout, err = run(["sum", "--movie", str(d / "movie.tif"), "--locs", str(d / "locs_ts.csv"), "-o", str(out),
                           "--name", "dense", "--target-density", "2", "--augment", "--unique", "--patches", "300",
                           "--summed", "10", "--patch-size", "16", "--min-emitters", "1", "--camera-offset", "90",
                           "--plots", "--seed", "1"], capsys)
    assert rc == 0, err
    params = json.loads((out / "dense_params.json").read_text())
    assert params["target_density"] == 2 and params["augment"] and params["unique"]
    assert params["camera_offset"] == 90 and params["min_emitters"] == 1
    assert "(target 2)" in stdout
    for fig in ("density", "frame", "single", "background"):
        assert (out / f"dense_{fig}.png").stat().st_size > 1000
    prov = pd.read_csv(out / "dense_provenance.csv")
    assert prov["patch"].is_unique and prov["transform"].nunique() > 1


def test_several_movies(data, tmp_path, capsys):
    d, _, _ = data
    rc, _, err = run(["sum", "--movie", str(d / "movie.tif"), "--movie", str(d / "movie.tif"),
                      "--locs", str(d / "locs.csv"), "--locs", str(d / "locs_ts.csv"), "-o", str(tmp_path), *SMALL],
                     capsys)
    assert rc == 0, err
    prov = pd.read_csv(tmp_path / "summed_provenance.csv")
    assert set(prov["movie"]) == {0, 1}


@pytest.mark.parametrize("extra,pattern", [
    (["--patch-size", "80"], "patch size 80 px is larger than the 64x64 px frames.*; use a smaller --patch-size"),
    (["--bin-size", "50", "--patches", "20"], "bin size 50 is larger than the number of patches 20"),
    (["--unique", "--patches", "20", "--summed", "10"], "unique patches need at least .*; raise --patches or leave out --unique"),
    (["--summed", "0"], "number of summed frames must be a whole number >= 1"),
    (["--patches", "-1"], "number of patches must be a whole number >= 1"),
    (["--min-emitters", "500"], "found only 0 of 200 patches"),
    (["--locs", "LOCS2"], "1 movie\\(s\\) but 2 localization file"),
])
def test_bad_input_is_one_line_and_writes_nothing(data, tmp_path, capsys, extra, pattern):
    d, _, _ = data
    extra = [str(d / "locs.csv") if a == "LOCS2" else a for a in extra]
    out = tmp_path / "out"
    rc, stdout, err = run(["sum", "--movie", str(d / "movie.tif"), "--locs", str(d / "locs.csv"), "-o", str(out),
                           "--seed", "0", *extra], capsys)
    assert rc == 2
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1 and "Traceback" not in err
    import re

    assert re.search(pattern, lines[0]), lines[0]
    assert not out.exists() or not any(out.iterdir())


def test_pixel_size_missing_then_given(data, tmp_path, capsys):
    d, _, _ = data
    args = ["sum", "--movie", str(d / "untagged.tif"), "--locs", str(d / "locs.csv"), "-o", str(tmp_path / "o"),
            *SMALL]
    rc, _, err = run(args, capsys)
    assert rc == 2 and "pixel size unknown" in err and "--pixel-size" in err
    rc, stdout, err = run(args + ["--pixel-size", "107"], capsys)
    assert rc == 0, err
    assert "pixel size 107 nm from --pixel-size;" in stdout  # in the CLI's words


def test_invalid_localizations_need_drop_invalid(data, tmp_path, capsys):
    d, _, _ = data
    args = ["sum", "--movie", str(d / "movie.tif"), "--locs", str(d / "bad.csv"), "-o", str(tmp_path / "o"), *SMALL]
    rc, _, err = run(args, capsys)
    assert rc == 2
    assert "1 outside the 64x64 px image, 2 in a frame beyond the movie's 30 frames" in err and "--drop-invalid" in err
    assert not (tmp_path / "o").exists()
    rc, stdout, err = run(args + ["--drop-invalid"], capsys)
    assert rc == 0, err
    assert "dropped 1 outside the 64x64 px image, 2 in a frame beyond the movie's 30 frames" in stdout


def test_existing_outputs_are_refused_before_any_work(data, tmp_path, capsys):
    d, _, _ = data
    (tmp_path / "summed.csv").write_text("keep me")
    args = ["sum", "--movie", str(d / "movie.tif"), "--locs", str(d / "locs.csv"), "-o", str(tmp_path), *SMALL]
    rc, _, err = run(args, capsys)
    assert rc == 2 and "exists already" in err and "finding patches" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summed.csv"]
    assert (tmp_path / "summed.csv").read_text() == "keep me"
    rc, _, _ = run(args + ["--force"], capsys)
    assert rc == 0 and (tmp_path / "summed.tif").exists()


def test_bin_size_and_target_density_exclude_each_other(data, tmp_path, capsys):
    d, _, _ = data
    with pytest.raises(SystemExit) as exc:
        main(["sum", "--movie", str(d / "movie.tif"), "--locs", str(d / "locs.csv"), "-o", str(tmp_path),
              "--bin-size", "3", "--target-density", "2"])
    assert exc.value.code == 2


def test_demo_runs_the_whole_pipeline(tmp_path, capsys):
    rc, stdout, err = run(["demo", "-o", str(tmp_path), "--seed", "2"], capsys)
    assert rc == 0, err
    names = {p.name for p in tmp_path.iterdir()}
    assert {"demo_movie.tif", "demo_locs.csv", "summed.tif", "summed.csv", "summed_provenance.csv",
            "summed_params.json", "summed_density.png", "summed_frame.png", "summed_single.png",
            "summed_background.png"} <= names
    assert "Deep-STORM notebook settings" in stdout
    assert tifffile.imread(tmp_path / "summed.tif").shape == (100, 30, 30)
    rc, _, err = run(["demo", "-o", str(tmp_path)], capsys)
    assert rc == 2 and "exists already" in err
