"""``imagesumming info LOCS [--movie M]`` runs the checks of sum and convert and reports the same counts
(issue 10, item 7): NaN, outside-image and beyond-movie rows, and pixel sizes that disagree."""

from __future__ import annotations

import re

import numpy as np
import pytest

from imagesumming.cli import main
from imagesumming.io import write_picasso_hdf5, write_tif
from imagesumming.schema import make_locs


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def refusal_counts(err: str) -> dict:
    """``{reason: n}`` from a sum/convert refusal: '2 NaN or infinite x/y, 3 frame beyond ... (of N ...'."""
    detail = err.split(": ", 2)[-1].split(" (of ")[0]
    return {m.group(2).strip(): int(m.group(1)) for m in re.finditer(r"(\d+) ([^,]+)", detail)}


def info_counts(out: str) -> dict:
    """``{reason: n}`` from info's 'WARNING: n of N localizations: reason' lines."""
    return {m.group(2).strip(): int(m.group(1))
            for m in re.finditer(r"WARNING: (\d+) of \d+ localizations: (.+)", out)}


@pytest.fixture
def movie_and_bad_csv(tmp_path):
    """A 10-frame 20x16 px movie (100 nm) and a Deep-STORM csv with 2 NaN, 2 outside and 3 beyond rows."""
    movie = write_tif(tmp_path / "m.tif", np.full((10, 16, 20), 100, np.uint16), 100)
    rows = ["1,1,500,600", "2,2,nan,600", "3,3,700,nan", "4,4,2500,100", "5,5,100,1700", "6,6,1999,1599",
            "7,11,500,500", "8,12,500,500", "9,10,300,300", "10,13,300,300"]
    csv = tmp_path / "l.csv"
    csv.write_text(",frame,x [nm],y [nm]\n" + "\n".join(rows) + "\n")
    return movie, csv


def test_info_with_movie_reports_the_counts_sum_stops_on(tmp_path, capsys, movie_and_bad_csv):
    movie, csv = movie_and_bad_csv
    before = csv.read_bytes()
    rc, _, err = run(capsys, "sum", "--movie", movie, "--locs", csv, "-o", tmp_path / "out", "--patches", 2,
                     "--summed", 1, "--patch-size", 8, "--bin-size", 1)
    assert rc == 2
    stopped = refusal_counts(err)
    assert stopped == {"NaN or infinite x/y": 2, "outside the 20x16 px image": 2,
                       "in a frame beyond the movie's 10 frames": 3}
    rc, out, err = run(capsys, "info", csv, "--movie", movie)
    assert rc == 0  # a report: what it found is in it, and the user decides
    assert info_counts(out) == stopped
    assert "checks: 3 problems" in out and out.rstrip().splitlines()[-1].strip().startswith("fix the files")
    assert err.count("\n") == 1 and "warning" in err and str(csv) in err and "3 problems" in err
    assert csv.read_bytes() == before


def test_info_without_movie_reports_what_convert_stops_on(tmp_path, capsys, small_movie):
    _, truth = small_movie  # 12 frames; the yaml says 5 frames: rows in frames 6..12 are beyond it
    path = tmp_path / "sim_locs.hdf5"
    write_picasso_hdf5(path, truth, pixel_size=100.0, width=48, height=40, frames=5)
    beyond = int((truth["frame"] > 5).sum())
    assert beyond > 0
    rc, _, err = run(capsys, "convert", path, "-o", tmp_path / "c.csv")
    assert rc == 2
    stopped = refusal_counts(err)
    assert stopped == {"in a frame beyond the movie's 5 frames": beyond}
    rc, out, err = run(capsys, "info", path)
    assert rc == 0 and info_counts(out) == stopped and "(file metadata)" in out and "warning" in err


def test_info_reports_a_pixel_size_that_disagrees_between_movie_and_locs(tmp_path, capsys):
    movie = write_tif(tmp_path / "m.tif", np.full((4, 16, 20), 100, np.uint16), 160)
    locs = make_locs({"frame": [1, 2], "x": [500.0, 900.0], "y": [300.0, 700.0]})
    path = tmp_path / "p_locs.hdf5"
    write_picasso_hdf5(path, locs, pixel_size=130.0, width=20, height=16, frames=4)
    rc, _, err = run(capsys, "sum", "--movie", movie, "--locs", path, "-o", tmp_path / "out")
    assert rc == 2 and "disagree" in err and "160" in err and "130" in err
    rc, out, err = run(capsys, "info", path, "--movie", movie)
    assert rc == 0
    warning = [ln for ln in out.splitlines() if "WARNING" in ln]
    assert len(warning) == 1 and "160 nm of the movie" in warning[0] and "130 nm of the localizations" in warning[0]
    assert "1 problem " in out and "warning" in err
    # the user says which: no disagreement left, no warning
    rc, out, err = run(capsys, "info", path, "--movie", movie, "--pixel-size", 130)
    assert rc == 0 and "WARNING" not in out and not err
    assert "checks: no localization with NaN" in out and "beyond the 4 frames" in out


def test_info_with_clean_inputs_says_what_it_checked(tmp_path, capsys, small_movie):
    frames, truth = small_movie
    movie = write_tif(tmp_path / "m.tif", frames, 100)
    path = tmp_path / "sim_locs.hdf5"
    write_picasso_hdf5(path, truth, pixel_size=100.0, width=48, height=40, frames=12)
    rc, out, err = run(capsys, "info", path, "--movie", movie)
    assert rc == 0 and not err and "WARNING" not in out
    assert "checks: no localization with NaN or negative x/y, frame below 1, outside the 48x40 px image or " \
           "beyond the 12 frames (movie" in out


def test_info_on_picasso_testdata_with_its_raw_movie(tmp_path, capsys, shared_data):
    locs = shared_data / "picasso" / "testdata_locs.hdf5"
    raw = shared_data / "picasso" / "testdata.raw"
    rc, out, err = run(capsys, "info", locs, "--movie", raw)
    assert rc == 0
    assert info_counts(out) == {"in a frame beyond the movie's 100 frames": 534}
    assert "534 of 564 localizations" in out
    assert any("160 nm of the movie" in ln and "130 nm of the localizations" in ln
               for ln in out.splitlines() if "WARNING" in ln)
    assert "metadata say Frames 1000 (movie: 100)" in out
    assert "2 problems" in err
    # sum stops on the same: the pixel size first, then (once given) the same 534 rows
    rc, _, err = run(capsys, "sum", "--movie", raw, "--locs", locs, "-o", tmp_path / "out")
    assert rc == 2 and "disagree" in err
    rc, _, err = run(capsys, "sum", "--movie", raw, "--locs", locs, "-o", tmp_path / "out", "--pixel-size", 130)
    assert rc == 2 and refusal_counts(err) == {"in a frame beyond the movie's 100 frames": 534}
