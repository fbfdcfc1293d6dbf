"""The add-on subcommands: split, merge, frames, sum-frames (thin over imagesumming.addons)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imagesumming.cli import main
from imagesumming.io import open_movie, read_locs, write_locs, write_tif


@pytest.fixture
def files(tmp_path, small_movie):
    movie, truth = small_movie
    tif = write_tif(tmp_path / "m.tif", movie, 100.0)
    csv = write_locs(tmp_path / "m.csv", truth, "deepstorm")
    return movie, truth, tif, csv


def run(capsys, *argv):
    code = main([*map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_split_merge_frames_sum_frames(tmp_path, capsys, files):
    movie, truth, tif, csv = files
    code, out, err = run(capsys, "split", tif, csv, "--at", 5, "-o", tmp_path / "parts")
    assert code == 0 and out.startswith("split: wrote m_part1.tif (5 frames) + m_part2.tif (7 frames)")
    assert out.count("\n") == 1 and f"({len(truth)} localizations)" in out
    assert run(capsys, "-q", "split", tif, csv, "--at", 6, "-o", tmp_path / "quiet")[1] == ""

    code, out, err = run(capsys, "merge", "--movie", tmp_path / "parts/m_part1.tif", "--locs",
                         tmp_path / "parts/m_part1.csv", "--movie", tmp_path / "parts/m_part2.tif", "--locs",
                         tmp_path / "parts/m_part2.csv", "-o", tmp_path / "merged", "--to", "thunderstorm")
    assert code == 0 and "merged.tif (12 frames)" in out and "thunderstorm" in out
    with open_movie(tmp_path / "merged.tif") as m:
        assert np.array_equal(m[:], movie) and m.pixel_size == pytest.approx(100.0)
    assert read_locs(tmp_path / "merged.csv")[1].format == "thunderstorm"

    code, out, err = run(capsys, "frames", tif, csv, "-o", tmp_path / "frames")
    assert code == 0 and "12 tifs (12 frames)" in out
    assert sorted(p.name for p in (tmp_path / "frames").glob("*.tif"))[0] == "m_01.tif"

    code, out, err = run(capsys, "sum-frames", tif, "--locs", csv, "-n", 5, "--camera-offset", 100,
                         "-o", tmp_path / "dense", "--shuffle", "--seed", 7)
    assert code == 0 and "dense.tif (2 frames) (uint16" in out  # the values fit: as `sum` writes
    assert "2 remainder frame(s) left out" in out and "seed 7" in out
    assert json.loads((tmp_path / "dense_groups.json").read_text())["Seed"] == 7
    for seed in (3, 0):  # a seed without --shuffle seeds nothing (its help says so): refused, nothing written
        code, out, err = run(capsys, "sum-frames", tif, "-n", 5, "--camera-offset", 100, "-o", tmp_path / "x",
                             "--seed", seed)
        assert code == 2 and "--seed is used only with --shuffle" in err and err.count("\n") == 1
        assert not (tmp_path / "x.tif").exists()
    code, out, err = run(capsys, "sum-frames", tif, "-n", 5, "--camera-offset", 100, "-o", tmp_path / "x")
    assert code == 0 and json.loads((tmp_path / "x_groups.json").read_text())["Seed"] is None
    assert run(capsys, "-q", "sum-frames", tif, "-n", 5, "--camera-offset", 100, "-o", tmp_path / "y", "--shuffle")[1:] \
        == ("", "")  # -q: only errors
    assert json.loads((tmp_path / "y_groups.json").read_text())["Seed"] == 0  # --shuffle alone: seed 0
    code, out, err = run(capsys, "sum-frames", tif, "-n", 5, "--camera-offset", 100, "-o", tmp_path / "z",
                         "--shuffle", "--seed", -1)
    assert code == 2 and "seed must be a whole number >= 0" in err and err.count("\n") == 1


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys, files):
    movie, truth, tif, csv = files
    code, out, err = run(capsys, "split", tif, csv, "--at", 12, "-o", tmp_path / "o")
    assert code == 2 and "split frame 12 is out of range" in err and err.count("\n") == 1
    code, out, err = run(capsys, "sum-frames", tif, "-n", 20, "--camera-offset", 0, "-o", tmp_path / "s")
    assert code == 2 and "only 12" in err
    assert not (tmp_path / "o").exists() and not (tmp_path / "s.tif").exists()
    code, out, err = run(capsys, "frames", tif, "-o", tif / "sub")  # below a file: no traceback
    assert code == 2 and "cannot write here" in err and err.count("\n") == 1
    (tmp_path / "folder").mkdir()  # merge / sum-frames -o FOLDER wrote FOLDER.tif beside it
    for argv in (["merge", "--movie", tif, "--movie", tif], ["sum-frames", tif, "-n", 2, "--camera-offset", 100]):
        code, out, err = run(capsys, *argv, "-o", tmp_path / "folder")
        assert code == 2 and "is a folder" in err and err.count("\n") == 1, err
    assert not (tmp_path / "folder.tif").exists() and not any((tmp_path / "folder").iterdir())


def test_force_and_drop_invalid(tmp_path, capsys, files):
    movie, truth, tif, csv = files
    short = write_tif(tmp_path / "short.tif", movie[:10], 100.0)
    code, out, err = run(capsys, "split", short, csv, "--at", 5, "-o", tmp_path / "o")
    assert code == 2 and "beyond the movie's 10 frames" in err and "--drop-invalid" in err
    code, out, err = run(capsys, "split", short, csv, "--at", 5, "-o", tmp_path / "o", "--drop-invalid")
    beyond = int((truth["frame"] > 10).sum())
    assert code == 0 and f"dropped {beyond} in a frame beyond the movie's 10 frames" in out
    code, out, err = run(capsys, "split", short, csv, "--at", 5, "-o", tmp_path / "o", "--drop-invalid")
    assert code == 2 and "exists already" in err
    code, out, err = run(capsys, "split", short, csv, "--at", 4, "-o", tmp_path / "o", "--drop-invalid", "--force")
    assert code == 0 and "(4 frames)" in out


def test_pixel_size_option_goes_into_the_tags(tmp_path, capsys, small_movie):
    movie, truth = small_movie
    tif = write_tif(tmp_path / "plain.tif", movie)  # no pixel size in the tags
    code, out, err = run(capsys, "frames", tif, "-o", tmp_path / "g")
    assert code == 0 and "note: pixel size unknown" in out
    code, out, err = run(capsys, "frames", tif, "-o", tmp_path / "f", "--pixel-size", 65)
    assert "pixel size unknown" not in out
    assert code == 0 and "65 nm pixels" in out
    with open_movie(tmp_path / "f" / "plain_01.tif") as m:
        assert m.pixel_size == pytest.approx(65.0)
