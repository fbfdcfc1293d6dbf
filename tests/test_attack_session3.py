"""Attack session 3 on the day's changes (--origin, output printed when a command ends, convert's
format from the name, front-end wording): each test failed before its fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imagesumming.cli import EXIT_BROKEN_PIPE, main
from imagesumming.errors import InputError
from imagesumming.io import write_tif

NOTEBOOK = Path(__file__).parent / "fixtures" / "deepstorm2d_anchors.ipynb"
PX_MAP = ["frame=Frame,x=X,y=Y"]


def run(capsys, *argv):
    code = main([*map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def run_closed_stdout(*argv, cwd):
    """The installed CLI with a stdout whose reader is gone (`| head -0`): every write fails."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "imagesumming", *map(str, argv)], stdout=write,
                              stderr=subprocess.PIPE, text=True, cwd=cwd, timeout=300)
    finally:
        os.close(write)


@pytest.fixture
def px_files(tmp_path):
    """A 100 nm movie, and a csv of camera pixels (Picasso's convention: pixel k's centre at k)."""
    movie = np.full((4, 16, 16), 100, np.uint16)
    tif = write_tif(tmp_path / "m.tif", movie, 100.0)
    csv = tmp_path / "px.csv"
    csv.write_text("Frame,X,Y\n1,2.5,3.0\n2,10,0.25\n")
    return tif, csv


# --- what a command says is printed when it ends ----------------------------------------------

def test_a_command_that_fails_with_stdout_closed_still_says_its_error(px_files, tmp_path):
    """`info ... | head -0` on a movie that fails after the file's lines were said: the buffered lines
    hit the closed pipe in a `finally`, the BrokenPipeError replaced the InputError: exit 141 and
    no error at all (a failure that looked like a closed pipe)."""
    tif, csv = px_files
    bad = tmp_path / "bad.tif"
    bad.write_bytes(tif.read_bytes()[:300])
    proc = run_closed_stdout("info", csv, "--movie", bad, "--pixel-size", 100, "--columns", *PX_MAP,
                             "--frame-base", 1, "--unit", "px", "--origin", "centre", cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "imagesumming info: error: " in proc.stderr and "bad.tif" in proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr


def test_quiet_patch_notebook_diff_writes_the_notebook_when_the_reader_is_gone(tmp_path):
    """`patch-notebook NB --diff -o OUT -q | head -0`: with -q the diff went straight to stdout, before
    the notebook was written; the closed pipe ended the command with nothing written (without -q it
    is written: what a command says waits for its end)."""
    out = tmp_path / "p.ipynb"
    proc = run_closed_stdout("patch-notebook", NOTEBOOK, "--diff", "-o", out, "-q", cwd=tmp_path)
    assert proc.returncode in (0, EXIT_BROKEN_PIPE) and "Traceback" not in proc.stderr, proc.stderr
    assert out.exists(), "nothing written after the closed pipe with -q"


def test_quiet_patch_notebook_diff_still_prints_the_diff(tmp_path, capsys):
    code, out, err = run(capsys, "patch-notebook", NOTEBOOK, "--diff", "-o", tmp_path / "p.ipynb", "-q")
    assert code == 0 and out.startswith("--- ") and "+++ " in out and err == ""


# --- evaluate's ground-truth options are prefixed: its hints must name them so ------------------

def test_evaluate_hints_name_the_gt_options(px_files, tmp_path, capsys):
    """The hints said `--origin` and `--frame-base`, options evaluate does not have (`--gt-origin`)."""
    tif, csv = px_files
    pred = tmp_path / "pred.csv"
    pred.write_text(",frame,x [nm],y [nm]\n1,1,300.0,350.0\n")
    code, _, err = run(capsys, "evaluate", pred, "--gt", csv, "--gt-columns", *PX_MAP, "--gt-frame-base", 1,
                       "--gt-unit", "px", "--movie", tif, "-o", tmp_path / "ev")
    assert code == 2 and "--gt-origin" in err and "--origin:" not in err, err
    code, _, err = run(capsys, "evaluate", pred, "--gt", csv, "--gt-columns", *PX_MAP, "--gt-unit", "px",
                       "--gt-origin", "centre", "--movie", tif, "-o", tmp_path / "ev")
    assert code == 2 and "--gt-frame-base" in err and " --frame-base" not in err, err
    ts = tmp_path / "ts.csv"
    ts.write_text('"id","frame","x [nm]","y [nm]"\n1,1,300.0,350.0\n')
    code, _, err = run(capsys, "evaluate", pred, "--gt", ts, "--gt-origin", "centre", "--movie", tif,
                       "-o", tmp_path / "ev")
    assert code == 2 and "--gt-origin" in err and "--gt-columns" in err, err
    # and the right words still lead to the right numbers: centre + half a pixel = the prediction
    code, out, err = run(capsys, "evaluate", pred, "--gt", csv, "--gt-columns", *PX_MAP, "--gt-frame-base", 1,
                         "--gt-unit", "px", "--gt-origin", "centre", "--movie", tif, "--radius", 1,
                         "-o", tmp_path / "ev")
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.split()[:1] == ["1"])
    # TP FP FN at a 1 nm radius, RMSE, dx, dy (frame 2's ground truth has no prediction)
    assert row.split()[1:4] == ["1", "0", "1"] and row.split()[8:11] == ["0.0", "+0.0", "+0.0"], out


def test_origin_on_another_format_is_refused_in_the_apis_words(tmp_path):
    """The API said `--origin describes a csv read with --columns` (the CLI's options)."""
    from imagesumming.io import read_locs

    ts = tmp_path / "ts.csv"
    ts.write_text('"id","frame","x [nm]","y [nm]"\n1,1,300.0,350.0\n')
    with pytest.raises(InputError) as exc:
        read_locs(ts, origin="centre")
    assert "--" not in str(exc.value) and "origin" in str(exc.value) and "columns" in str(exc.value)


# --- a csv is not written into an .hdf5 name (the CLI refused it; the API and the form wrote it) ----

@pytest.mark.parametrize("name", ["a.hdf5", "b.H5", "c.csv.HDF5"])
def test_the_api_does_not_write_a_csv_into_an_hdf5_name(tmp_path, name):
    from imagesumming.io import write_locs
    from imagesumming.schema import make_locs

    locs = make_locs({"frame": [1], "x": [10.0], "y": [20.0]})
    for fmt in ("deepstorm", "thunderstorm"):
        with pytest.raises(InputError, match="hdf5"):
            write_locs(tmp_path / name, locs, fmt)
        assert not (tmp_path / name).exists()


def test_the_addons_convert_form_does_not_write_a_csv_into_an_hdf5_name(px_files, tmp_path):
    from imagesumming.widgets import AddOnsUI
    from imagesumming.widgets import _common as c

    tif, csv = px_files
    ui = AddOnsUI(locs=csv, out_dir=tmp_path / "out")
    ui.convert_columns.value, ui.convert_frame_base.value, ui.convert_unit.value = PX_MAP[0], 1, "px"
    ui.convert_origin.value = "centre"
    ui.convert_form.pixel_size.value = 100
    ui.convert_output.value = str(tmp_path / "x.hdf5")
    assert ui.convert() is None
    assert "hdf5" in c.message_text(ui.convert_form.status)
    assert not (tmp_path / "x.hdf5").exists()


def test_convert_refuses_a_movie_name_for_localizations(tmp_path, capsys):
    """`convert locs.csv -o locs.tif` wrote a csv into a .tif (which every reader then takes for a movie)."""
    src = tmp_path / "in.csv"
    src.write_text(",frame,x [nm],y [nm]\n1,1,300.0,350.0\n")
    for name in ("z.tif", "z.TIFF"):
        code, _, err = run(capsys, "convert", src, "-o", tmp_path / name)
        assert code == 2 and err.count("\n") == 1 and name in err, err
        assert not (tmp_path / name).exists()


def test_the_addons_form_refuses_an_origin_it_would_not_use(tmp_path):
    """The form dropped its 'pixel centre' choice when no column mapping was given (the CLI refuses
    `--origin` for such a file): a user's choice silently ignored."""
    from imagesumming.widgets import AddOnsUI
    from imagesumming.widgets import _common as c

    ts = tmp_path / "ts.csv"
    ts.write_text('"id","frame","x [nm]","y [nm]"\n1,1,300.0,350.0\n')
    ui = AddOnsUI(locs=ts, out_dir=tmp_path / "out")
    ui.convert_origin.value = "centre"
    assert ui.convert() is None
    status = c.message_text(ui.convert_form.status)
    assert "the 'pixel centre (columns)' field" in status and "--" not in status, status
    ui.convert_origin.value = None
    assert ui.convert() is not None
