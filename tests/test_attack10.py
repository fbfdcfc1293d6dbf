"""Findings of a newcomer's attack on output sets, movies and the notebook cell (each failed before its fix)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from imagesumming._files import output_set
from imagesumming.cli import main
from imagesumming.io import write_locs, write_tif


def test_a_failed_run_removes_only_the_empty_folders_it_made(tmp_path):
    """A run into results/a that fails (or is interrupted with Ctrl-C) must not delete what another
    command wrote meanwhile into results/, a folder the failed run had made."""
    results = tmp_path / "results"
    with pytest.raises(RuntimeError, match="boom"):
        with output_set([results / "a" / "x.txt"]) as stage:
            (results / "b").mkdir()
            (results / "b" / "other_run.tif").write_text("another command's output")
            (results / "mine.csv").write_text("written by convert meanwhile")
            stage(results / "a" / "x.txt").write_text("x")
            raise RuntimeError("boom")
    assert (results / "b" / "other_run.tif").read_text() == "another command's output"
    assert (results / "mine.csv").exists()
    assert not (results / "a").exists()  # the folder made for the failed run, empty, is gone


def test_a_failed_run_into_new_folders_leaves_nothing(tmp_path):
    deep = tmp_path / "new" / "sub" / "out"
    with pytest.raises(RuntimeError):
        with output_set([deep / "x.txt"]) as stage:
            stage(deep / "x.txt").write_text("x")
            raise RuntimeError("boom")
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process")
def test_ctrl_c_on_sum_keeps_files_another_command_wrote_beside_it(tmp_path, small_movie):
    movie, truth = small_movie
    tif = write_tif(tmp_path / "m.tif", movie, 100.0)
    csv = write_locs(tmp_path / "m.csv", truth, "deepstorm")
    results = tmp_path / "results"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # a run long enough to be interrupted while it sums (it holds its folder from the start)
    cmd = [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
           "from imagesumming.cli import main; sys.exit(main(sys.argv[1:]))",
           "-q", "sum", "--movie", str(tif), "--locs", str(csv), "-o", str(results / "run1"),
           "--patch-size", "16", "--patches", "30", "--summed", "400000", "--bin-size", "3", "--min-emitters", "1"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (results / "run1" / ".imagesumming").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        assert main(["-q", "convert", str(csv), "-o", str(results / "mine.csv"), "--to", "thunderstorm"]) == 0
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert (results / "mine.csv").exists(), "the interrupted sum removed a file another command wrote"
    assert not (results / "run1").exists()


# -------------------------------------------------------------------------------------------------
# pixel sizes from tif tags that are no microscope's
# -------------------------------------------------------------------------------------------------

def _movie_array():
    return np.random.default_rng(0).integers(90, 400, (6, 32, 40), dtype=np.uint16)


@pytest.mark.parametrize("dpi", [1 / 0.107, 9.0, 150.0, 600.0])
def test_resolution_tags_at_print_resolution_are_no_pixel_size(tmp_path, dpi):
    """``tifffile.imwrite(path, movie, resolution=(1/0.107, 1/0.107))`` (pixels per µm meant) stores
    TIFF's default unit, inch: that is a 2.7 mm pixel, and was used silently (every localization in
    pixel 0, exit 0). Resolution tags coarser than 10 µm per pixel are a print resolution: unknown."""
    import tifffile

    from imagesumming.io import open_movie

    path = tmp_path / "m.tif"
    tifffile.imwrite(path, _movie_array(), resolution=(dpi, dpi))  # tifffile's default unit: inch
    with open_movie(path) as m:
        assert m.pixel_size is None, m.pixel_size_source


def test_a_python_written_tif_with_a_print_resolution_is_refused_by_sum(tmp_path, small_movie, capsys):
    import tifffile

    movie, truth = small_movie
    tifffile.imwrite(tmp_path / "m.tif", np.asarray(movie), resolution=(10.0, 10.0))  # 10 px per µm meant
    write_locs(tmp_path / "m.csv", truth, "deepstorm")
    code = main(["-q", "sum", "--movie", str(tmp_path / "m.tif"), "--locs", str(tmp_path / "m.csv"),
                 "-o", str(tmp_path / "out"), "--patch-size", "16", "--patches", "10", "--summed", "4",
                 "--min-emitters", "1"])
    assert code == 2
    assert "pixel size unknown" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("size", ["0", "-0.1", "inf", "nan"])
def test_an_ome_pixel_size_that_is_no_length_is_unknown(tmp_path, size):
    """OME PhysicalSizeX="0" gave a 0 nm pixel size, and sum then blamed the localizations
    ("outside the image")."""
    import tifffile

    from imagesumming.io import open_movie

    first = tmp_path / "first.ome.tif"
    tifffile.imwrite(first, _movie_array(), ome=True, metadata={"axes": "TYX", "PhysicalSizeX": 0.5})
    with tifffile.TiffFile(first) as t:
        xml = t.ome_metadata.replace('PhysicalSizeX="0.5"', f'PhysicalSizeX="{size}"')
    path = tmp_path / "m.ome.tif"  # as a damaged or careless writer leaves it
    tifffile.imwrite(path, _movie_array(), description=xml, metadata=None)
    with tifffile.TiffFile(path) as t:
        assert t.is_ome and f'PhysicalSizeX="{size}"' in t.ome_metadata
    with open_movie(path) as m:
        assert m.pixel_size is None


def test_an_output_name_too_long_is_named(tmp_path, small_movie, capsys):
    """``sum --name`` of 248 bytes: NAME_provenance.csv is 263 bytes; the error named only the folder."""
    movie, truth = small_movie
    tif = write_tif(tmp_path / "m.tif", movie, 100.0)
    csv = write_locs(tmp_path / "m.csv", truth, "deepstorm")
    name = "n" * 248
    code = main(["-q", "sum", "--movie", str(tif), "--locs", str(csv), "-o", str(tmp_path / "out"), "--name", name])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"{name}_provenance.csv: cannot write here (File name too long)" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [
    ["convert", "{csv}", "-o", "{out}/"],
    ["merge", "--movie", "{tif}", "--locs", "{csv}", "-o", "{out}/"],
    ["sum-frames", "{tif}", "--locs", "{csv}", "-n", "2", "-o", "{out}/"],
    ["filter", "{csv}", "-t", "0", "-o", "{out}/"],
    ["convert", "{csv}", "-o", ""],
    ["sum", "--movie", "{tif}", "--locs", "{csv}", "-o", ""],
    ["split", "{tif}", "{csv}", "--at", "2", "-o", " "],
])
def test_an_output_file_given_as_a_folder_or_empty_is_refused(tmp_path, small_movie, capsys, argv, monkeypatch):
    """``merge -o out/`` wrote out.tif and out.csv beside the folder out/, ``convert -o x/`` a file named x,
    and ``sum -o ""`` wrote into the current folder: each is refused before any work."""
    movie, truth = small_movie
    tif = write_tif(tmp_path / "m.tif", movie, 100.0)
    csv = write_locs(tmp_path / "m.csv", truth, "deepstorm")
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [a.format(tif=tif, csv=csv, out=tmp_path / "out") for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(["-q", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument -o: " in err and ("names a folder" in err or "empty; give the output" in err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# -------------------------------------------------------------------------------------------------
# Picasso .raw whose yaml does not describe it
# -------------------------------------------------------------------------------------------------

_RAW_YAML = "Byte Order: <\nData Type: {dtype}\nFrames: {frames}\nHeight: 8\nWidth: 6\nPixelsize: 130\n"


@pytest.mark.parametrize("written, described", [
    ((np.float32, 5), ("uint16", 5)),   # every pixel misread as two halves of a float
    ((np.uint16, 10), ("uint16", 5)),   # half of the frames silently left out
    ((np.uint16, 5), ("uint8", 5)),
])
def test_a_raw_movie_larger_than_its_yaml_says_is_refused(tmp_path, capsys, written, described):
    from imagesumming.errors import InputError
    from imagesumming.io import open_movie

    dtype, frames = written
    (np.arange(frames * 8 * 6) % 400 + 100).astype(dtype).tofile(tmp_path / "m.raw")
    (tmp_path / "m.yaml").write_text(_RAW_YAML.format(dtype=described[0], frames=described[1]))
    with pytest.raises(InputError, match=r"m\.raw.*bytes.*yaml"):
        open_movie(tmp_path / "m.raw")
    assert main(["info", str(tmp_path / "m.raw")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_raw_movie_that_its_yaml_describes_is_read(tmp_path):
    from imagesumming.io import open_movie

    data = (np.arange(5 * 8 * 6) % 400 + 100).astype(np.uint16).reshape(5, 8, 6)
    data.tofile(tmp_path / "m.raw")
    (tmp_path / "m.yaml").write_text(_RAW_YAML.format(dtype="uint16", frames=5))
    with open_movie(tmp_path / "m.raw") as m:
        assert m.n_frames == 5 and np.array_equal(np.asarray(m[4]), data[4])


# -------------------------------------------------------------------------------------------------
# the notebook cell's check (check_summed_set) on sets copied in part
# -------------------------------------------------------------------------------------------------

def _sum(tmp_path, small_movie, out, seed, *extra):
    movie, truth = small_movie
    tif = tmp_path / "m.tif"
    if not tif.exists():
        write_tif(tif, movie, 100.0)
        write_locs(tmp_path / "m.csv", truth, "deepstorm")
    assert main(["-q", "sum", "--movie", str(tif), "--locs", str(tmp_path / "m.csv"), "-o", str(out),
                 "--seed", str(seed), "--patch-size", "16", "--patches", "30", "--summed", "12",
                 "--bin-size", "3", "--min-emitters", "1", *extra]) == 0
    return out


def test_a_set_uploaded_without_its_figures_and_provenance_loads(tmp_path, small_movie):
    """Uploading summed.tif, summed.csv and summed_params.json to Colab (not the PNGs nor the
    provenance csv) made the notebook cell refuse them as 'files of different runs'."""
    import shutil

    from imagesumming._files import set_problems
    from imagesumming.errors import InputError
    from imagesumming.summing import check_summed_set

    out = _sum(tmp_path, small_movie, tmp_path / "out", 1, "--plots")
    up = tmp_path / "uploaded"
    up.mkdir()
    for name in ("summed.tif", "summed.csv", "summed_params.json"):
        shutil.copy(out / name, up / name)
    check_summed_set(up / "summed.tif", up / "summed.csv")  # one run: loads
    assert set_problems(up / "summed.tif")  # info still says the set is not whole here
    # and a csv of another run beside them is still refused
    other = _sum(tmp_path, small_movie, tmp_path / "other", 2)
    shutil.copy(other / "summed.csv", up / "summed.csv")
    with pytest.raises(InputError, match="summed.csv differs"):
        check_summed_set(up / "summed.tif", up / "summed.csv")


def test_a_tifffile_imagej_stack_without_axes_says_how_to_write_it_as_frames(tmp_path):
    """``tifffile.imwrite(path, movie, imagej=True)`` stores channels=N: refused (channels are not
    frames), with the tifffile way to say they are frames, not only Fiji's."""
    import tifffile

    from imagesumming.errors import InputError
    from imagesumming.io import open_movie

    tifffile.imwrite(tmp_path / "m.tif", _movie_array(), imagej=True)
    with pytest.raises(InputError, match=r"6 channels and no frames.*metadata=\{'axes': 'TYX'\}"):
        open_movie(tmp_path / "m.tif")
    tifffile.imwrite(tmp_path / "t.tif", _movie_array(), imagej=True, metadata={"axes": "TYX"})
    with open_movie(tmp_path / "t.tif") as m:
        assert m.n_frames == 6 and np.array_equal(np.asarray(m[5]), _movie_array()[5])


def test_the_notebook_cell_follows_links_to_the_files_of_a_run(tmp_path, small_movie):
    """train.tif -> out/summed.tif with out/summed.csv was refused as 'not the outputs of one run';
    a link to another run's tif is still refused."""
    from imagesumming.errors import InputError
    from imagesumming.summing import check_summed_set

    out = _sum(tmp_path, small_movie, tmp_path / "out", 1)
    other = _sum(tmp_path, small_movie, tmp_path / "other", 2)
    (tmp_path / "train.tif").symlink_to(out / "summed.tif")
    (tmp_path / "train.csv").symlink_to(out / "summed.csv")
    check_summed_set(tmp_path / "train.tif", out / "summed.csv")
    check_summed_set(tmp_path / "train.tif", tmp_path / "train.csv")
    (tmp_path / "mixed.tif").symlink_to(other / "summed.tif")
    with pytest.raises(InputError, match="not the outputs of one run"):
        check_summed_set(tmp_path / "mixed.tif", tmp_path / "train.csv")
