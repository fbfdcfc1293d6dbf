"""Bad input (issue item 10): every case gives one InputError line naming the file; nothing is written."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from imagesumming import check_locs
from imagesumming._files import atomic_path, check_input_file, check_outputs
from imagesumming.errors import ImageSummingError, InputError, OutputExistsError
from imagesumming.io import (open_movie, read_locs, write_deepstorm_csv, write_picasso_hdf5, write_thunderstorm_csv,
                             write_tif)
from imagesumming.schema import make_locs


def one_line(exc_info, path) -> str:
    """The message of a caught error: one line that names ``path``."""
    msg = str(exc_info.value)
    assert "\n" not in msg
    assert str(path) in msg, msg
    assert isinstance(exc_info.value, ImageSummingError) and isinstance(exc_info.value, ValueError)
    return msg


def _table():
    return make_locs({"frame": [1, 2], "x": [100.0, 200.0], "y": [300.0, 400.0]})


def test_error_message_is_one_line_with_path():
    err = InputError("first line\nsecond   line", "/some/file.csv")
    assert str(err) == "/some/file.csv: first line second line"
    assert err.path == "/some/file.csv"
    assert str(InputError("no file here")) == "no file here"
    assert issubclass(OutputExistsError, ImageSummingError)


# ---------------------------------------------------------------------------------------------
# columns and units
# ---------------------------------------------------------------------------------------------


def test_unknown_columns(tmp_path):
    path = tmp_path / "what.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(InputError) as exc:
        read_locs(path)
    assert "unknown localization format" in one_line(exc, path)


def test_missing_column(tmp_path):
    path = tmp_path / "noy.csv"
    path.write_text('"id","frame","x [nm]","intensity [photon]"\n1,1,10,100\n')
    with pytest.raises(InputError) as exc:
        read_locs(path)
    assert "missing column" in one_line(exc, path) and "'y'" in str(exc.value)
    h5 = tmp_path / "noy_locs.hdf5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("locs", data=np.zeros(2, dtype=[("frame", "u4"), ("x", "f4")]))
    with pytest.raises(InputError) as exc:
        read_locs(h5, pixel_size=100)
    assert "lacks field" in one_line(exc, h5)


def test_unknown_length_unit_and_non_numbers(tmp_path):
    path = tmp_path / "unit.csv"
    path.write_text('"frame","x [furlong]","y [nm]"\n1,1,2\n')
    with pytest.raises(InputError) as exc:
        read_locs(path)
    assert "unknown length unit" in one_line(exc, path)
    path = tmp_path / "text.csv"
    path.write_text("frame,x [nm],y [nm]\n1,ten,2\n")
    with pytest.raises(InputError) as exc:
        read_locs(path)
    assert "not numbers" in one_line(exc, path)
    path = tmp_path / "half.csv"
    path.write_text("frame,x [nm],y [nm]\n1.5,1,2\n")
    with pytest.raises(InputError) as exc:
        read_locs(path)
    assert "whole numbers" in one_line(exc, path)


def test_pixel_units_without_pixel_size(tmp_path):
    path = tmp_path / "px.csv"
    path.write_text('"frame","x [px]","y [px]"\n1,2,3\n')
    with pytest.raises(InputError) as exc:
        read_locs(path)
    assert "pixel size" in one_line(exc, path)
    h5 = tmp_path / "p_locs.hdf5"
    write_picasso_hdf5(h5, _table(), pixel_size=100)
    (tmp_path / "p_locs.yaml").unlink()
    assert read_locs(h5)[1].pixel_size_source == "hdf5 /metadata"  # the hdf5 alone carries it
    import h5py

    with h5py.File(h5, "a") as f:
        del f["metadata"]
    with pytest.raises(InputError) as exc:
        read_locs(h5)
    assert "pixel size" in one_line(exc, h5)
    with pytest.raises(InputError) as exc:
        read_locs(h5, pixel_size=-5)
    assert "positive" in one_line(exc, h5)


# ---------------------------------------------------------------------------------------------
# invalid rows: check_locs reports counts; error unless the caller chooses drop or keep
# ---------------------------------------------------------------------------------------------


def _bad_table():
    return make_locs({
        "frame": [1, 2, 3, 4, 5, 9, 1],
        "x": [100.0, np.nan, -5.0, 5000.0, 200.0, 300.0, np.inf],
        "y": [100.0, 100.0, 100.0, 100.0, 3500.0, 300.0, 100.0],
    })


def test_nan_inf_and_negative_coordinates_error_with_counts(tmp_path):
    src = tmp_path / "locs.csv"
    with pytest.raises(InputError) as exc:
        check_locs(_bad_table(), source=src)
    msg = one_line(exc, src)
    assert "2 NaN or infinite x/y" in msg and "1 negative x/y" in msg and "of 7 localizations" in msg


def test_rows_outside_image_and_frames_beyond_movie_error_drop_keep(tmp_path):
    src = tmp_path / "locs.csv"
    kw = dict(pixel_size=100.0, width=40, height=30, n_frames=8, source=src)
    with pytest.raises(InputError) as exc:
        check_locs(_bad_table(), **kw)
    msg = one_line(exc, src)
    assert "2 outside the 40x30 px image" in msg  # x = 5000 >= 4000 nm, y = 3500 >= 3000 nm
    assert "1 in a frame beyond the movie's 8 frames" in msg
    expected = {"NaN or infinite x/y": 2, "negative x/y": 1, "outside the 40x30 px image": 2,
                "in a frame beyond the movie's 8 frames": 1}
    dropped, counts = check_locs(_bad_table(), on_invalid="drop", **kw)
    assert counts == expected
    assert list(dropped["frame"]) == [1] and dropped.index.equals(pd.RangeIndex(1))
    kept, counts = check_locs(_bad_table(), on_invalid="keep", **kw)
    assert counts == expected and len(kept) == 7
    good = _table()
    same, counts = check_locs(good, **kw)
    assert counts == {} and same is good
    with pytest.raises(InputError, match="on_invalid"):
        check_locs(good, on_invalid="ignore")


def test_edge_of_image_is_outside():
    locs = make_locs({"frame": [1, 1], "x": [3999.999, 4000.0], "y": [0.0, 0.0]})
    _, counts = check_locs(locs, pixel_size=100, width=40, height=30, on_invalid="keep")
    assert counts == {"outside the 40x30 px image": 1}  # pixel 39 spans [3900, 4000)


# ---------------------------------------------------------------------------------------------
# corrupt, truncated, empty files; folders
# ---------------------------------------------------------------------------------------------


def test_corrupt_and_truncated_hdf5(tmp_path):
    good = write_picasso_hdf5(tmp_path / "g_locs.hdf5", _table(), pixel_size=100)
    blob = good.read_bytes()
    trunc = tmp_path / "t_locs.hdf5"
    trunc.write_bytes(blob[: len(blob) // 2])
    (tmp_path / "t_locs.yaml").write_text("Pixelsize: 100\n")
    with pytest.raises(InputError) as exc:
        read_locs(trunc)
    assert "HDF5" in one_line(exc, trunc)
    fake = tmp_path / "fake.hdf5"
    fake.write_bytes(b"not hdf5 at all, just text")
    with pytest.raises(InputError) as exc:
        read_locs(fake)
    assert "not an HDF5 file" in one_line(exc, fake)
    nolocs = tmp_path / "nolocs.hdf5"
    with h5py.File(nolocs, "w") as f:
        f.create_dataset("other", data=[1, 2])
    with pytest.raises(InputError) as exc:
        read_locs(nolocs, pixel_size=100)
    assert "no '/locs'" in one_line(exc, nolocs)
    flat = tmp_path / "flat.hdf5"
    with h5py.File(flat, "w") as f:
        f.create_dataset("locs", data=np.arange(4.0))
    with pytest.raises(InputError) as exc:
        read_locs(flat, pixel_size=100)
    assert "compound" in one_line(exc, flat)


def test_corrupt_and_truncated_csv(tmp_path):
    good = write_deepstorm_csv(tmp_path / "good.csv", _table())
    text = good.read_text()
    trunc = tmp_path / "trunc.csv"
    trunc.write_text(text[: text.rindex(",") - 3])  # cut inside the last row
    with pytest.raises(InputError) as exc:
        read_locs(trunc)
    assert "truncated" in one_line(exc, trunc)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError) as exc:
        read_locs(binary)
    assert "binary" in one_line(exc, binary)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("frame,x [nm],y [nm]\n1,2,3\n1,2,3,4,5\n")
    with pytest.raises(InputError) as exc:
        read_locs(ragged)
    assert "line 3 has 5 fields where the header has 3" in one_line(exc, ragged)
    ragged_ids = tmp_path / "ragged_ids.csv"
    ragged_ids.write_text('"id","frame","x [nm]","y [nm]"\n1,1,2,3\n2,1,2,3,4,5\n')
    with pytest.raises(InputError) as exc:
        read_locs(ragged_ids)
    assert "line 3 has 6 fields where the header has 4" in one_line(exc, ragged_ids)
    header_only = tmp_path / "header.csv"
    header_only.write_text("\n\n")
    with pytest.raises(InputError) as exc:
        read_locs(header_only)
    assert "no header" in one_line(exc, header_only)


def test_corrupt_and_truncated_tif(tmp_path):
    good = write_tif(tmp_path / "g.tif", np.ones((5, 8, 8), np.uint16), 100)
    blob = good.read_bytes()
    trunc = tmp_path / "t.tif"
    trunc.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(InputError) as exc:
        open_movie(trunc)
    assert "truncated" in one_line(exc, trunc)
    junk = tmp_path / "j.tif"
    junk.write_bytes(b"II*\x00garbage" * 3)
    with pytest.raises(InputError) as exc:
        open_movie(junk)
    one_line(exc, junk)


@pytest.mark.parametrize("name", ["e.csv", "e_locs.hdf5", "e.tif", "e.raw"])
def test_empty_files(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    reader = open_movie if name.endswith((".tif", ".raw")) else read_locs
    with pytest.raises(InputError) as exc:
        reader(path)
    assert "empty" in one_line(exc, path)


def test_empty_table_is_fine(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(",frame,x [nm],y [nm],Photon #,Sigma [nm]\n")
    locs, rep = read_locs(path)
    assert len(locs) == 0 and rep.rows_read == 0 and list(locs.columns[:3]) == ["frame", "x", "y"]


def test_directory_where_a_file_is_expected(tmp_path):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    for reader in (read_locs, open_movie, check_input_file):
        with pytest.raises(InputError) as exc:
            reader(folder)
        assert "directory" in one_line(exc, folder)
    with pytest.raises(OutputExistsError) as exc:
        write_deepstorm_csv(folder, _table(), force=True)
    assert "directory" in one_line(exc, folder)


def test_missing_file(tmp_path):
    path = tmp_path / "absent.csv"
    for reader in (read_locs, open_movie):
        with pytest.raises(InputError) as exc:
            reader(path)
        assert "no such file" in one_line(exc, path)


# ---------------------------------------------------------------------------------------------
# outputs: refused when they exist, atomic
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("writer", [
    lambda p, t, **k: write_deepstorm_csv(p, t, **k),
    lambda p, t, **k: write_thunderstorm_csv(p, t, **k),
    lambda p, t, **k: write_picasso_hdf5(p, t, pixel_size=100, **k),
    lambda p, t, **k: write_tif(p, np.zeros((2, 4, 4), np.uint16), 100, **k),
])
def test_existing_output_refused_unless_force(tmp_path, writer):
    path = tmp_path / "out.file"
    path.write_text("precious")
    with pytest.raises(OutputExistsError) as exc:
        writer(path, _table())
    assert "exists" in one_line(exc, path)
    assert path.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.file"]  # no temp file, no sidecar
    writer(path, _table(), force=True)
    assert path.read_bytes() != b"precious"


def test_picasso_sidecar_yaml_counts_as_existing_output(tmp_path):
    yml = tmp_path / "out_locs.yaml"
    yml.write_text("mine: 1\n")
    with pytest.raises(OutputExistsError) as exc:
        write_picasso_hdf5(tmp_path / "out_locs.hdf5", _table(), pixel_size=100)
    one_line(exc, yml)
    assert not (tmp_path / "out_locs.hdf5").exists() and yml.read_text() == "mine: 1\n"


def test_atomic_path_leaves_target_untouched_on_error(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target, force=True) as tmp:
            tmp.write_text("half-written")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]
    with atomic_path(target, force=True) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert check_outputs([tmp_path / "free.txt", tmp_path / "free2.txt"]) == [tmp_path / "free.txt",
                                                                             tmp_path / "free2.txt"]


def _damaged_copies(src, tmp_path, name, n=40, width=64):
    """Copies of ``src`` with ``width`` bytes zeroed at ``n`` places spread over the file."""
    blob = src.read_bytes()
    for k, start in enumerate(np.linspace(0, len(blob) - 1, n).astype(int)):
        bad = bytearray(blob)
        bad[start:start + width] = bytes(len(bad[start:start + width]))
        path = tmp_path / f"{k}_{name}"
        path.write_bytes(bytes(bad))
        yield path


def test_damaged_files_give_input_errors_only(tmp_path, small_movie):
    """Whatever part of a file is damaged: it reads, or fails with one InputError line naming it."""
    import tifffile

    movie, truth = small_movie
    sources = {
        "m.tif": write_tif(tmp_path / "src.tif", movie, 100),
        "z.tif": tmp_path / "srcz.tif",
        "l_locs.hdf5": write_picasso_hdf5(tmp_path / "src_locs.hdf5", truth, pixel_size=100),
        "t.csv": write_thunderstorm_csv(tmp_path / "src_ts.csv", truth),
    }
    tifffile.imwrite(sources["z.tif"], movie, compression="zlib", photometric="minisblack")
    outcomes = {"ok": 0, "error": 0}
    for name, src in sources.items():
        for path in _damaged_copies(src, tmp_path, name):
            if name.endswith(".hdf5"):
                path.with_suffix(".yaml").write_text("Pixelsize: 100\n")
            try:
                if name.endswith(".tif"):
                    with open_movie(path) as m:
                        for i in range(len(m)):
                            m[i]
                else:
                    read_locs(path)
                outcomes["ok"] += 1
            except InputError as exc:
                assert "\n" not in str(exc) and str(path) in str(exc)
                outcomes["error"] += 1
    assert outcomes["error"] > 20  # the damage was noticed often enough to mean something


def test_unwritable_output_place_is_one_line(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    target = blocker / "out.csv"
    with pytest.raises(InputError) as exc:
        write_deepstorm_csv(target, _table())
    assert "cannot write here" in one_line(exc, target)
