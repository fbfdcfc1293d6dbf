"""The foundation's CLI commands (info, convert, demo) through ``imagesumming.cli.main``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imagesumming.cli import main
from imagesumming.io import open_movie, read_locs, write_picasso_hdf5, write_tif
from imagesumming.schema import make_locs


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, path):
    assert rc == 2
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "error" in lines[0] and str(path) in lines[0]
    return lines[0]


@pytest.fixture
def picasso_file(tmp_path, small_movie):
    _, truth = small_movie  # 48 x 40 px, 100 nm, 12 frames
    path = tmp_path / "sim_locs.hdf5"
    write_picasso_hdf5(path, truth, pixel_size=100.0, width=48, height=40, frames=12)
    return path, truth


def test_info_localizations(capsys, picasso_file):
    path, truth = picasso_file
    rc, out, err = run(capsys, "info", path)
    assert rc == 0, err
    assert "format: picasso-hdf5" in out
    assert f"localizations: {len(truth)}" in out
    assert "pixel size: 100 nm (yaml sim_locs.yaml)" in out
    assert "image size: 48 x 40 px" in out
    counts = np.bincount(truth["frame"] - 1, minlength=12)
    density = counts / (4.8 * 4.0)
    assert f"mean {density.mean():.4f}, median {np.median(density):.4f} emitters/µm²" in out
    assert "frames in file: 0-based" in out


def test_info_movie(capsys, tmp_path, small_movie):
    movie, _ = small_movie
    path = write_tif(tmp_path / "m.tif", movie, 100.0)
    rc, out, _ = run(capsys, "info", path)
    assert rc == 0
    assert "frames: 12" in out and "image size: 48 x 40 px" in out
    assert "pixel size: 100 nm (tif resolution tags (cm))" in out


def test_info_real_files(capsys, shared_data):
    rc, out, _ = run(capsys, "info", shared_data / "picasso" / "testdata.raw")
    assert rc == 0 and "frames: 100" in out and "pixel size: 160 nm" in out
    rc, out, _ = run(capsys, "info", shared_data / "deepstorm" / "DNAPAINT_localizations.csv")
    assert rc == 0 and "localizations: 5744" in out and "format: deepstorm" in out
    rc, out, _ = run(capsys, "info", shared_data / "picasso" / "raw_movie_locs.hdf5")
    assert rc == 0 and "pixel size: 130 nm" in out and "image size: 32 x 32 px" in out


def test_convert_picasso_to_deepstorm_and_back(capsys, tmp_path, picasso_file):
    path, truth = picasso_file
    csv = tmp_path / "train.csv"
    rc, out, err = run(capsys, "convert", path, "-o", csv, "--to", "deepstorm")
    assert rc == 0, err
    assert f"wrote {len(truth)} localizations" in out
    df = pd.read_csv(csv, index_col=0)
    assert list(df.index) == list(range(1, len(truth) + 1)) and df["frame"].is_monotonic_increasing
    back = tmp_path / "back_locs.hdf5"
    rc, out, err = run(capsys, "convert", csv, "-o", back, "--to", "picasso", "--pixel-size", 100)
    assert rc == 0, err
    locs, rep = read_locs(back)
    assert rep.pixel_size == 100
    a = truth.sort_values(["frame", "x"]).reset_index(drop=True)
    b = locs.sort_values(["frame", "x"]).reset_index(drop=True)
    np.testing.assert_array_equal(a["frame"], b["frame"])
    np.testing.assert_allclose(b[["x", "y"]], a[["x", "y"]], atol=1e-3)  # float32 pixels in hdf5
    np.testing.assert_allclose(b["photons"], a["photons"], rtol=1e-6)


def test_convert_real_picasso_to_thunderstorm(capsys, tmp_path, shared_data):
    out_csv = tmp_path / "ts.csv"
    rc, out, err = run(capsys, "convert", shared_data / "picasso" / "testdata_locs.hdf5", "-o", out_csv,
                       "--to", "thunderstorm", "--pixel-size", 160)
    assert rc == 0, err
    locs, rep = read_locs(out_csv)
    assert rep.format == "thunderstorm" and len(locs) == 564
    assert abs(np.median(locs["x"][locs["x"] < 1760]) - 960) < 20


def test_existing_output_refused_unless_force(capsys, tmp_path, picasso_file):
    path, _ = picasso_file
    out_csv = tmp_path / "exists.csv"
    out_csv.write_text("keep me")
    rc, _, err = run(capsys, "convert", path, "-o", out_csv)
    assert "exists" in assert_one_line_error(rc, err, out_csv)
    assert out_csv.read_text() == "keep me"
    rc, _, err = run(capsys, "convert", path, "-o", out_csv, "--force")
    assert rc == 0, err
    assert out_csv.read_text().startswith(",frame,x [nm]")


def test_errors_print_one_line_and_exit_2(capsys, tmp_path):
    missing = tmp_path / "missing.csv"
    rc, _, err = run(capsys, "info", missing)
    assert "no such file" in assert_one_line_error(rc, err, missing)
    rc, _, err = run(capsys, "convert", missing, "-o", tmp_path / "o.csv")
    assert_one_line_error(rc, err, missing)
    assert not (tmp_path / "o.csv").exists()
    bad_tif = tmp_path / "bad.tif"
    bad_tif.write_bytes(b"garbage")
    rc, _, err = run(capsys, "info", bad_tif)
    assert_one_line_error(rc, err, bad_tif)
    good = write_tif(tmp_path / "good.tif", np.ones((6, 8, 8), np.uint16), 100)
    trunc = tmp_path / "trunc.tif"
    trunc.write_bytes(good.read_bytes()[:500])
    rc, _, err = run(capsys, "info", trunc)  # tifffile's own warnings must not leak out
    assert "truncated" in assert_one_line_error(rc, err, trunc)
    px = tmp_path / "px.csv"
    px.write_text('"frame","x [px]","y [px]"\n1,1,2\n')
    rc, _, err = run(capsys, "convert", px, "-o", tmp_path / "o.csv")
    assert "pixel size" in assert_one_line_error(rc, err, px)
    with pytest.raises(SystemExit) as exc:  # --to is checked when the command line is read
        run(capsys, "convert", px, "-o", tmp_path / "o.csv", "--pixel-size", 100, "--to", "nonsense")
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "cannot write 'nonsense'" in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


def test_convert_refuses_invalid_rows_unless_told(capsys, tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("frame,x [nm],y [nm]\n1,10,20\n2,NaN,30\n3,-4,5\n")
    out_csv = tmp_path / "out.csv"
    rc, _, err = run(capsys, "convert", src, "-o", out_csv)
    msg = assert_one_line_error(rc, err, src)
    assert "1 NaN or infinite x/y" in msg and "1 negative x/y" in msg
    assert not out_csv.exists()
    rc, out, err = run(capsys, "convert", src, "-o", out_csv, "--drop-invalid")
    assert rc == 0, err
    assert "dropped invalid localizations: 1 NaN or infinite x/y, 1 negative x/y" in out
    assert len(pd.read_csv(out_csv, index_col=0)) == 1
    rc, out, err = run(capsys, "convert", src, "-o", out_csv, "--keep-invalid", "--force")
    assert rc == 0 and "kept invalid localizations" in out
    assert len(pd.read_csv(out_csv, index_col=0)) == 3


def test_convert_checks_picasso_image_size_and_frames(capsys, tmp_path):
    locs = make_locs({"frame": [1, 2, 9], "x": [50.0, 3950.0, 100.0], "y": [50.0, 4100.0, 100.0]})
    path = tmp_path / "b_locs.hdf5"
    write_picasso_hdf5(path, locs, pixel_size=100, width=40, height=40, frames=5)
    rc, _, err = run(capsys, "convert", path, "-o", tmp_path / "o.csv")
    msg = assert_one_line_error(rc, err, path)
    assert "1 outside the 40x40 px image" in msg and "1 in a frame beyond the movie's 5 frames" in msg


def test_demo_data_and_refusal(capsys, tmp_path):
    """The demo's input data (the whole ``demo`` pipeline runs in test_cli_sum.py)."""
    from imagesumming.demo import make_demo_data

    out_dir = tmp_path / "demo"
    movie_path, locs_path = make_demo_data(out_dir, seed=3)
    with open_movie(movie_path) as m:
        assert m.pixel_size == pytest.approx(107.0) and m.n_frames >= 10
        n_frames, height, width = m.shape
    locs, rep = read_locs(locs_path)
    assert rep.format == "deepstorm" and len(locs) > 0
    assert locs["frame"].between(1, n_frames).all()
    assert locs["x"].between(0, width * 107.0).all() and locs["y"].between(0, height * 107.0).all()
    before = movie_path.read_bytes()
    rc, _, err = run(capsys, "demo", "-o", out_dir, "--seed", 4)
    assert "exists" in assert_one_line_error(rc, err, out_dir)
    assert movie_path.read_bytes() == before  # refused before anything was written


def test_demo_data_seeded_and_forced(tmp_path):
    from imagesumming.demo import make_demo_data

    a = make_demo_data(tmp_path / "a", seed=5)
    b = make_demo_data(tmp_path / "b", seed=5)
    assert a[0].read_bytes() == b[0].read_bytes() and a[1].read_text() == b[1].read_text()
    make_demo_data(tmp_path / "b", seed=6, force=True)
    assert a[1].read_text() != b[1].read_text()


def test_no_command_prints_help(capsys):
    rc, out, err = run(capsys)
    assert rc == 2 and "usage" in err.lower() and out == ""  # a usage error: stderr


def test_info_with_movie_gives_density(capsys, tmp_path, small_movie):
    movie, truth = small_movie
    movie_path = write_tif(tmp_path / "m.tif", movie, 100.0)
    csv = tmp_path / "truth.csv"
    rc, _, err = run(capsys, "convert", _write_ts(tmp_path, truth), "-o", csv)
    assert rc == 0, err
    rc, out, err = run(capsys, "info", csv, "--movie", movie_path)
    assert rc == 0, err
    density = np.bincount(truth["frame"] - 1, minlength=12) / (4.8 * 4.0)
    assert f"image size: 48 x 40 px = 4.80 x 4.00 µm (movie {movie_path})" in out
    assert f"mean {density.mean():.4f}, median {np.median(density):.4f}" in out
    rc, out, _ = run(capsys, "info", csv)
    assert rc == 0 and "image size: unknown" in out


def _write_ts(tmp_path, truth):
    from imagesumming.io import write_thunderstorm_csv

    return write_thunderstorm_csv(tmp_path / "truth_ts.csv", truth)


def test_system_errors_print_one_line_without_traceback(capsys, tmp_path, monkeypatch):
    """A failing disk or a permission problem: the system's reason on one line, exit 1."""
    import imagesumming.cli.files as core

    def full_disk(args):
        raise OSError(28, "No space left on device", str(tmp_path / "out.csv"))

    monkeypatch.setattr(core, "cmd_convert", full_disk)
    rc, _, err = run(capsys, "convert", tmp_path / "in.csv", "-o", tmp_path / "out.csv")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 1 and len(lines) == 1 and "Traceback" not in err
    assert "No space left on device" in lines[0] and "out.csv" in lines[0]
