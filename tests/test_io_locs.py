"""Localization readers and writers: round trips, real files, every format variant of FORMATS.md."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagesumming.errors import InputError
from imagesumming.io import (detect_format, read_locs, read_picasso_yaml, write_deepstorm_csv, write_locs,
                             write_picasso_hdf5, write_prediction_csv, write_thunderstorm_csv)
from imagesumming.schema import make_locs, sort_locs

# ---------------------------------------------------------------------------------------------
# property-based round trips
# ---------------------------------------------------------------------------------------------

_finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def tables(draw, max_rows=25):
    """Random canonical tables: frames 1-based, x/y in nm inside a 1000 x 1000 px field."""
    n = draw(st.integers(0, max_rows))
    col = lambda lo, hi: draw(st.lists(st.floats(lo, hi, **_finite), min_size=n, max_size=n))  # noqa: E731
    return make_locs({
        "frame": draw(st.lists(st.integers(1, 500), min_size=n, max_size=n)),
        "x": col(0, 99_999.0),
        "y": col(0, 99_999.0),
        "photons": col(0, 1e6),
        "sigma": col(1, 500),
        "uncertainty": col(0.1, 100),
        "bg": col(0, 1e4),
        "confidence": col(0, 1e3),
    })


def _same_rows(a: pd.DataFrame, b: pd.DataFrame, columns, rtol=1e-12, atol=1e-9):
    """Compare two tables row by row after a stable sort by frame (writers sort by frame)."""
    a, b = sort_locs(a), sort_locs(b)
    assert len(a) == len(b)
    np.testing.assert_array_equal(b["frame"].to_numpy(), a["frame"].to_numpy())
    assert b["frame"].dtype == np.int64
    for c in columns:
        np.testing.assert_allclose(b[c].to_numpy(float), a[c].to_numpy(float), rtol=rtol, atol=atol, err_msg=c)


_HYP = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_HYP
@given(tables())
def test_deepstorm_csv_round_trip(table):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "locs.csv"
        write_deepstorm_csv(path, table)
        back, rep = read_locs(path)
    assert rep.format == "deepstorm" and rep.frame_base == 1
    _same_rows(table, back, ["x", "y", "photons", "sigma"])


@_HYP
@given(tables())
def test_thunderstorm_csv_round_trip(table):
    table["emitter"] = np.arange(len(table), dtype=np.int64)  # an extra column is carried through
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "locs.csv"
        write_thunderstorm_csv(path, table)
        back, rep = read_locs(path)
    assert rep.format == "thunderstorm" and rep.frame_base == 1
    _same_rows(table, back, ["x", "y", "photons", "sigma", "uncertainty", "bg", "confidence", "emitter"])


@_HYP
@given(tables())
def test_prediction_csv_round_trip(table):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "Localizations_x_avg.csv"
        write_prediction_csv(path, table)
        back, rep = read_locs(path)
        header = path.read_text().splitlines()[0]
    assert header == "frame,x [nm],y [nm],confidence [a.u]"
    assert rep.format == "deepstorm-prediction"
    _same_rows(table, back, ["x", "y", "confidence"])


@_HYP
@given(tables(), st.floats(50, 200, **_finite))
def test_picasso_hdf5_round_trip(table, pixel_size):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "locs_locs.hdf5"
        write_picasso_hdf5(path, table, pixel_size=pixel_size)
        back, rep = read_locs(path)  # the pixel size comes back from the yaml
    assert rep.pixel_size == pytest.approx(pixel_size)
    assert rep.pixel_size_source == "yaml locs_locs.yaml"
    # stored as float32 camera pixels: ~1e-7 relative precision
    _same_rows(table, back, ["x", "y"], rtol=3e-7, atol=1e-4 * pixel_size)
    _same_rows(table, back, ["photons", "bg", "sigma", "uncertainty"], rtol=1e-6, atol=1e-6)


def test_picasso_hdf5_writer_uses_picasso_fields_and_conventions(tmp_path):
    table = make_locs({"frame": [1, 3], "x": [150.0, 1000.0], "y": [50.0, 250.0], "photons": [500.0, 800.0],
                       "sigma": [120.0, 130.0], "uncertainty": [10.0, 20.0]})
    path = write_picasso_hdf5(tmp_path / "a_locs.hdf5", table, pixel_size=100, width=20, height=10, frames=5)
    with h5py.File(path, "r") as f:
        locs = f["locs"][...]
        assert list(f.keys()) == ["locs", "metadata"]  # as Picasso 0.11 writes
        embedded = json.loads(f["metadata"][()])
    assert locs.dtype["frame"] == np.uint32
    for name in ("x", "y", "photons", "sx", "sy", "bg", "lpx", "lpy"):
        assert locs.dtype[name] == np.float32
    np.testing.assert_array_equal(locs["frame"], [0, 2])  # 0-based
    np.testing.assert_allclose(locs["x"], [1.0, 9.5])  # centre of pixel 1 is x = 1.0 in Picasso
    np.testing.assert_allclose(locs["y"], [0.0, 2.0])
    np.testing.assert_allclose(locs["sx"], [1.2, 1.3], rtol=1e-6)
    np.testing.assert_allclose(locs["lpx"], [0.1, 0.2], rtol=1e-6)
    docs = read_picasso_yaml(tmp_path / "a_locs.yaml")
    assert docs[-1]["Width"] == 20 and docs[-1]["Height"] == 10 and docs[-1]["Frames"] == 5
    assert docs[-1]["Pixelsize"] == 100
    assert docs[-1]["Placeholder fields (imagesumming)"] == ["bg"]  # the only field not in the table
    assert embedded == docs  # Picasso 0.11 reads /metadata when the yaml is missing


def _passes_picasso_sanity(rec, meta):
    """The rules Picasso's loaders apply (FORMATS.md): any NaN/inf field, negative x/y/photons/
    sx/sy/lp*, or x >= Width, y >= Height drops the row; Width/Height/Frames must be present."""
    ok = np.ones(len(rec), bool)
    for name in rec.dtype.names:
        ok &= np.isfinite(rec[name])
    for name in ("x", "y", "lpx", "lpy", "photons", "sx", "sy"):
        ok &= rec[name] >= 0
    assert all(meta.get(k) for k in ("Width", "Height", "Frames"))
    return ok & (rec["x"] < meta["Width"]) & (rec["y"] < meta["Height"])


def test_picasso_hdf5_keeps_every_row_when_optional_fields_are_unknown(tmp_path, caplog):
    # a Deep-STORM csv has no precision, a prediction csv no photons or sigma: NaN fields would
    # make Picasso drop every row
    table = make_locs({"frame": [1, 2, 5], "x": [60.0, 990.0, 512.0], "y": [70.0, 5.0e3, 800.0],
                       "photons": [100.0, np.nan, 300.0]})
    path = write_picasso_hdf5(tmp_path / "p_locs.hdf5", table, pixel_size=100)
    with h5py.File(path, "r") as f:
        rec = f["locs"][...]
    meta = read_picasso_yaml(tmp_path / "p_locs.yaml")[-1]
    assert _passes_picasso_sanity(rec, meta).all()
    np.testing.assert_allclose(rec["lpx"], 0.1)  # > 0: Render's Gaussian blur needs a width
    np.testing.assert_allclose(rec["photons"], [100, 0, 300])
    assert "1 localization(s) without photons" in caplog.text
    assert meta["Placeholder fields (imagesumming)"] == ["sx", "sy", "bg", "lpx", "lpy"]
    back, rep = read_locs(path)  # placeholders are not data: left out again
    assert not {"sigma", "sigma_x", "uncertainty", "uncertainty_x", "bg"} & set(back.columns)
    assert "photons" in back.columns and any("placeholders" in n for n in rep.notes)
    _same_rows(table, back, ["x", "y"], rtol=1e-6)


def test_picasso_hdf5_keeps_a_predictions_confidence(tmp_path):
    table = make_locs({"frame": [1, 2], "x": [60.0, 90.0], "y": [70.0, 80.0], "confidence": [0.25, 3.5]})
    back, _ = read_locs(write_picasso_hdf5(tmp_path / "c_locs.hdf5", table, pixel_size=100))
    np.testing.assert_allclose(back["confidence"], [0.25, 3.5])
    assert back["confidence"].dtype == np.float64


def test_picasso_hdf5_writer_warns_about_rows_picasso_drops(tmp_path, caplog):
    table = make_locs({"frame": [1, 2], "x": [60.0, 90.0], "y": [70.0, 80.0], "z": [np.nan, 5.0]})
    path = write_picasso_hdf5(tmp_path / "z_locs.hdf5", table, pixel_size=100)
    with h5py.File(path, "r") as f:
        rec = f["locs"][...]
    assert list(_passes_picasso_sanity(rec, read_picasso_yaml(tmp_path / "z_locs.yaml")[-1])) == [False, True]
    assert "1 localization(s) have NaN or infinite" in caplog.text


def test_picasso_hdf5_writer_defaults_image_size_from_locs(tmp_path, caplog):
    table = make_locs({"frame": [1, 7], "x": [150.0, 1999.0], "y": [50.0, 2000.0]})
    write_picasso_hdf5(tmp_path / "b_locs.hdf5", table, pixel_size=100)
    meta = read_picasso_yaml(tmp_path / "b_locs.yaml")[-1]
    assert (meta["Width"], meta["Height"], meta["Frames"]) == (20, 21, 7)
    # a guess from the data's extent is said, not hidden (Picasso renders and filters by these)
    assert "Width/Height/Frames not known" in caplog.text and "20 x 21 px, 7 frames" in caplog.text
    caplog.clear()
    write_picasso_hdf5(tmp_path / "c_locs.hdf5", table, pixel_size=100, width=32, height=32, frames=10)
    assert "not known" not in caplog.text


def test_write_locs_dispatches_and_needs_pixel_size_for_picasso(tmp_path):
    table = make_locs({"frame": [2, 1], "x": [10.0, 20.0], "y": [30.0, 40.0]})
    for fmt in ("deepstorm", "thunderstorm", "deepstorm-prediction"):
        p = write_locs(tmp_path / f"{fmt}.csv", table, fmt)
        assert read_locs(p)[1].format == fmt
    with pytest.raises(InputError, match="pixel size"):
        write_locs(tmp_path / "p.hdf5", table, "picasso")
    assert not (tmp_path / "p.hdf5").exists()
    write_locs(tmp_path / "p.hdf5", table, "picasso", pixel_size=100)
    assert read_locs(tmp_path / "p.hdf5")[1].format == "picasso-hdf5"


# ---------------------------------------------------------------------------------------------
# Deep-STORM csv as the notebook reads it
# ---------------------------------------------------------------------------------------------


def test_deepstorm_csv_passes_the_notebook_rules(tmp_path, small_movie):
    _, truth = small_movie
    shuffled = truth.sample(frac=1.0, random_state=3).reset_index(drop=True)  # writer must sort
    path = write_deepstorm_csv(tmp_path / "train.csv", shuffled)
    assert path.read_text().splitlines()[0] == ",frame,x [nm],y [nm],Photon #,Sigma [nm]"
    df = pd.read_csv(path, index_col=0)  # exactly what the notebook does
    assert list(df.index) == list(range(1, len(truth) + 1))
    assert df["frame"].is_monotonic_increasing and df["frame"].min() >= 1
    # the notebook walks ids 1..N in frame order; rows of frame f belong to tif page f-1
    next_id, n = 1, len(df)
    for f in sorted(truth["frame"].unique()):
        got = []
        while next_id <= n and df.loc[next_id, "frame"] == f:
            got.append((df.loc[next_id, "x [nm]"], df.loc[next_id, "y [nm]"]))
            next_id += 1
        want = truth.loc[truth["frame"] == f, ["x", "y"]].to_numpy()
        np.testing.assert_allclose(sorted(got), sorted(map(tuple, want)), rtol=1e-12)
    assert next_id == n + 1
    np.testing.assert_allclose(np.sort(df["Photon #"]), np.sort(truth["photons"]))
    np.testing.assert_allclose(df["Sigma [nm]"], truth["sigma"].iloc[0])


# ---------------------------------------------------------------------------------------------
# real files (../shared/data)
# ---------------------------------------------------------------------------------------------


def _column_medians(values, centres, half_width):
    return [float(np.median(values[np.abs(values - c) < half_width])) for c in centres]


def test_real_picasso_testdata_locs_columns_at_grid(shared_data):
    locs, rep = read_locs(shared_data / "picasso" / "testdata_locs.hdf5", pixel_size=160)
    assert rep.format == "picasso-hdf5" and rep.frame_base == 0 and rep.pixel_size == 160
    assert len(locs) == 564
    assert locs["frame"].min() == 12 and locs["frame"].max() == 991  # file frames 11..990, 0-based
    assert {"net_gradient", "likelihood", "iterations"} <= set(locs.columns)
    assert locs["iterations"].dtype == np.int32
    centres = [960, 2560, 4160]  # emitters at 6, 16, 26 px (corner convention) x 160 nm
    for c in ("x", "y"):
        med = _column_medians(locs[c].to_numpy(), centres, 800)
        np.testing.assert_allclose(med, centres, atol=20)


def test_real_picasso_testdata_without_pixel_size_uses_yaml_pixelsize(shared_data):
    # the localize document (last) says Pixelsize 130; Picasso's rule: last document first
    _, rep = read_locs(shared_data / "picasso" / "testdata_locs.hdf5")
    assert rep.pixel_size == 130 and "testdata_locs.yaml" in rep.pixel_size_source


def test_real_picasso_raw_movie_locs(shared_data):
    locs, rep = read_locs(shared_data / "picasso" / "raw_movie_locs.hdf5")
    assert rep.pixel_size == 130 and rep.pixel_size_source == "yaml raw_movie_locs.yaml"
    assert {"ellipticity", "net_gradient", "sigma_x", "uncertainty_x"} <= set(locs.columns)
    with h5py.File(shared_data / "picasso" / "raw_movie_locs.hdf5", "r") as f:
        raw = f["locs"][...]
    assert len(locs) == len(raw) == 2399
    # read_locs keeps the file's row order: row by row, +1 frame and the half-pixel shift
    np.testing.assert_allclose(locs["x"], (raw["x"].astype(float) + 0.5) * 130)
    np.testing.assert_allclose(locs["y"], (raw["y"].astype(float) + 0.5) * 130)
    np.testing.assert_allclose(locs["uncertainty_x"], raw["lpx"].astype(float) * 130)
    np.testing.assert_array_equal(locs["frame"], raw["frame"].astype(np.int64) + 1)
    assert rep.metadata["Width"] == 32 and rep.metadata["Height"] == 32


def test_real_deepstorm_csv(shared_data):
    path = shared_data / "deepstorm" / "DNAPAINT_localizations.csv"
    locs, rep = read_locs(path)
    assert rep.format == "deepstorm" and rep.frame_base == 1
    assert len(locs) == 5744
    ref = pd.read_csv(path, index_col=0)
    np.testing.assert_array_equal(locs["frame"], ref["frame"])
    np.testing.assert_allclose(locs["x"], ref["x [nm]"])
    np.testing.assert_allclose(locs["photons"], ref["Photon #"])
    np.testing.assert_allclose(locs["sigma"], ref["Sigma [nm]"])


# ---------------------------------------------------------------------------------------------
# Picasso hdf5 variants
# ---------------------------------------------------------------------------------------------


def _picasso_rec(n=3, frame_dtype="u4", extra=()):
    dtype = [("frame", frame_dtype), ("x", "f4"), ("y", "f4"), ("photons", "f4"), ("sx", "f4"), ("sy", "f4"),
             ("bg", "f4"), ("lpx", "f4"), ("lpy", "f4")] + list(extra)
    rec = np.zeros(n, dtype=dtype)
    rec["frame"] = np.arange(n)
    rec["x"] = np.arange(n) + 1.0
    rec["y"] = np.arange(n) + 2.0
    rec["sx"] = rec["sy"] = 1.0
    rec["lpx"] = rec["lpy"] = 0.1
    return rec


def _write_h5(path, rec, metadata=None):
    with h5py.File(path, "w") as f:
        f.create_dataset("locs", data=rec)
        if metadata is not None:
            f.create_dataset("metadata", data=json.dumps(metadata))
    return path


def test_yaml_python_tags_neither_crash_nor_execute(tmp_path):
    flag = tmp_path / "pwned"
    path = _write_h5(tmp_path / "t_locs.hdf5", _picasso_rec())
    (tmp_path / "t_locs.yaml").write_text(
        "Generated by: Picasso\n"
        f'Evil: !!python/object/apply:os.system ["touch {flag}"]\n'
        "Tuple: !!python/tuple [1, 2]\n"
        "Obj: !!python/object:picasso.Something {a: 1}\n"
        "---\n"
        "Pixelsize: 120\n")
    locs, rep = read_locs(path)
    assert not flag.exists()
    assert rep.pixel_size == 120
    np.testing.assert_allclose(locs["x"], (np.arange(3) + 1.5) * 120)
    docs = read_picasso_yaml(tmp_path / "t_locs.yaml")
    assert docs[0]["Evil"] == [f"touch {flag}"]  # read as plain data


def test_picasso_011_metadata_json_used_without_yaml(tmp_path):
    meta = [{"Width": 40, "Height": 30, "Frames": 10}, {"Pixelsize": 108.0}]
    path = _write_h5(tmp_path / "m_locs.hdf5", _picasso_rec(), metadata=meta)
    locs, rep = read_locs(path)
    assert rep.pixel_size == 108 and rep.pixel_size_source == "hdf5 /metadata"
    assert rep.metadata == {"Width": 40, "Height": 30, "Frames": 10}
    np.testing.assert_allclose(locs["y"], (np.arange(3) + 2.5) * 108)


def test_picasso_metadata_json_used_when_yaml_lacks_pixel_size(tmp_path):
    path = _write_h5(tmp_path / "m_locs.hdf5", _picasso_rec(), metadata={"Pixelsize": 95})
    (tmp_path / "m_locs.yaml").write_text("Width: 32\nHeight: 32\n")
    assert read_locs(path)[1].pixel_size == 95


def test_picasso_camera_pixelsize_flat_key(tmp_path):
    path = _write_h5(tmp_path / "c_locs.hdf5", _picasso_rec())
    (tmp_path / "c_locs.yaml").write_text("Camera: Simulation\nCamera.Pixelsize: 160\n")
    assert read_locs(path)[1].pixel_size == 160


def test_picasso_without_pixel_size_is_refused(tmp_path):
    path = _write_h5(tmp_path / "n_locs.hdf5", _picasso_rec())
    with pytest.raises(InputError, match="pixel size") as exc:
        read_locs(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_picasso_float_frames_must_be_whole_numbers(tmp_path):
    rec = _picasso_rec(3, frame_dtype="f4")
    rec["frame"] = [0.0, 3.0, 8.0]  # float frames that are whole numbers are frames
    locs, rep = read_locs(_write_h5(tmp_path / "f_locs.hdf5", rec), pixel_size=100)
    np.testing.assert_array_equal(locs["frame"], [1, 4, 9])
    assert locs["frame"].dtype == np.int64
    rec["frame"] = [0.0, 3.0, 7.4]  # a molecule map's mean frames: refused, not rounded
    with pytest.raises(InputError, match="not whole numbers") as exc:
        read_locs(_write_h5(tmp_path / "mm_locs.hdf5", rec), pixel_size=100)
    assert "7.4" in str(exc.value) and "\n" not in str(exc.value)


def test_picasso_optional_fields_z_group_len(tmp_path):
    rec = _picasso_rec(3, extra=[("z", "f4"), ("group", "i4"), ("len", "u4"), ("n", "u4")])
    rec["z"] = [-50.0, 0.0, 75.5]
    rec["group"] = [4, 4, 9]
    rec["len"] = [1, 2, 3]
    locs, rep = read_locs(_write_h5(tmp_path / "o_locs.hdf5", rec), pixel_size=100)
    np.testing.assert_allclose(locs["z"], rec["z"])  # z is nm already
    assert locs["group"].dtype == np.int32 and list(locs["group"]) == [4, 4, 9]
    assert list(locs["len"]) == [1, 2, 3]
    assert {"group", "len", "n"} <= set(rep.extra_columns)
    # and back out: Picasso keeps z and group with their dtypes
    out = write_picasso_hdf5(tmp_path / "o2_locs.hdf5", locs, pixel_size=100)
    with h5py.File(out, "r") as f:
        back = f["locs"][...]
    assert back.dtype["group"] == np.int32
    np.testing.assert_allclose(back["z"], rec["z"])
    np.testing.assert_allclose(back["x"], rec["x"], atol=1e-5)


# ---------------------------------------------------------------------------------------------
# csv variants
# ---------------------------------------------------------------------------------------------


def test_thunderstorm_quoted_header_units_old_names_nan_infinity(tmp_path):
    path = tmp_path / "ts.csv"
    path.write_text(
        '"id","frame","x [nm]","y [nm]","sigma [nm]","intensity [photon]","offset [photon]",'
        '"bkgstd [photon]","uncertainty [nm]"\n'
        "1,1,100.5,200.25,120,1000,10,3,15\n"
        "2,1,NaN,300,120,Infinity,10,3,15\n"
        "3,2,400,-Infinity,120,900,10,3,15\n")
    locs, rep = read_locs(path)
    assert rep.format == "thunderstorm" and rep.frame_base == 1
    assert list(locs["frame"]) == [1, 1, 2]
    assert locs.loc[0, "x"] == 100.5 and locs.loc[0, "y"] == 200.25
    assert np.isnan(locs.loc[1, "x"]) and not np.isfinite(locs.loc[2, "y"])
    assert not np.isfinite(locs.loc[1, "photons"])
    assert locs.loc[0, "uncertainty"] == 15  # old name "uncertainty [nm]"
    assert locs.loc[0, "bg"] == 10
    assert "bkgstd [photon]" in locs.columns


def test_thunderstorm_pixel_and_micron_units(tmp_path):
    px = tmp_path / "px.csv"
    px.write_text('"frame","x [px]","y [px]","sigma [px]"\n1,2.5,3.0,1.2\n3,10,0.25,1.0\n')
    with pytest.raises(InputError, match="pixel size") as exc:
        read_locs(px)
    assert str(px) in str(exc.value)
    locs, rep = read_locs(px, pixel_size=100)
    np.testing.assert_allclose(locs["x"], [250, 1000])  # corner convention: no shift
    np.testing.assert_allclose(locs["y"], [300, 25])
    np.testing.assert_allclose(locs["sigma"], [120, 100])
    assert rep.units == "px" and rep.pixel_size == 100

    um = tmp_path / "um.csv"
    um.write_text('"frame","x [um]","y [µm]"\n1,1.5,2.25\n')
    locs, rep = read_locs(um)
    np.testing.assert_allclose(locs[["x", "y"]].to_numpy(), [[1500, 2250]])


def test_thunderstorm_writer_writes_nan_and_leaves_out_text(tmp_path, caplog):
    # ThunderSTORM's importer parses every field as a number and skips rows it cannot parse
    table = make_locs({"frame": [2, 1], "x": [10.0, 20.0], "y": [30.0, 40.0], "photons": [np.nan, 5.0],
                       "label": ["a", "b"], "flag": [True, False]})
    path = write_thunderstorm_csv(tmp_path / "ts.csv", table)
    lines = path.read_text().splitlines()
    assert lines == ['"id","frame","x [nm]","y [nm]","intensity [photon]","flag"',
                     "1,1,20.0,40.0,5.0,0", "2,2,10.0,30.0,NaN,1"]
    assert "'label' is not numeric" in caplog.text
    back, _ = read_locs(path)
    assert np.isnan(back["photons"].iloc[1])


def test_thunderstorm_writer_never_uses_exponent_notation(tmp_path):
    # ThunderSTORM's DecimalFormat stops at the 'e': 2.5e-05 would be read as 2.5
    table = make_locs({"frame": [1, 1, 2], "x": [10.0, 20.0, 30.0], "y": [1.0, 2.0, 3.0],
                       "confidence": [2.5e-05, np.nan, 0.5], "big": [1e17, 3.0, np.inf]})
    path = write_thunderstorm_csv(tmp_path / "ts.csv", table)
    body = path.read_text().splitlines()[1:]
    assert body == ["1,1,10.0,1.0,0.000025,100000000000000000.0", "2,1,20.0,2.0,NaN,3.0",
                    "3,2,30.0,3.0,0.5,Infinity"]
    assert "e" not in "".join(body).replace("Infinity", "")
    back, _ = read_locs(path)
    np.testing.assert_array_equal(back["confidence"], table["confidence"])
    np.testing.assert_array_equal(back["big"].to_numpy()[:2], [1e17, 3.0])


def test_picasso_csv_export(tmp_path):
    path = tmp_path / "picasso.csv"
    path.write_text(
        "id,frame,x [nm],y [nm],sigma [nm],intensity [photon],offset [photon],bkgstd [photon],uncertainty_xy [nm]\n"
        "0,0,160,320,150,1000,20,0,12\n"
        "1,0,480,0,150,1000,20,0,12\n"
        "2,5,800,160,150,1000,20,0,12\n")
    assert detect_format(path) == "picasso-csv"
    with pytest.raises(InputError, match="pixel size") as exc:
        read_locs(path)
    assert str(path) in str(exc.value)
    locs, rep = read_locs(path, pixel_size=160)
    assert rep.format == "picasso-csv" and rep.frame_base == 0 and rep.origin == "pixel centre"
    np.testing.assert_array_equal(locs["frame"], [1, 1, 6])
    np.testing.assert_allclose(locs["x"], [240, 560, 880])  # x_px * 160 + half a pixel
    np.testing.assert_allclose(locs["y"], [400, 80, 240])


def test_picasso_3d_csv_export_exact_header(tmp_path):
    # Picasso 0.9-0.11 io.export_thunderstorm for 3D linked data: unquoted header, sigma1/sigma2
    # = sx/sy x pixel size, photons and offset as integers, `len` exported as `detections`
    path = tmp_path / "picasso3d.csv"
    path.write_text(
        "id,frame,x [nm],y [nm],z [nm],sigma1 [nm],sigma2 [nm],intensity [photon],offset [photon],"
        "bkgstd [photon],uncertainty_xy [nm],detections\n"
        "0,0,130.0,260.0,-50.5,104.0,156.0,1000,20,0,9.75,3\n"
        "1,7,390.0,0.0,12.0,130.0,130.0,800,21,0,13.0,1\n")
    assert detect_format(path) == "picasso-csv"
    locs, rep = read_locs(path, pixel_size=130)
    np.testing.assert_array_equal(locs["frame"], [1, 8])
    np.testing.assert_allclose(locs["x"], [195, 455])
    np.testing.assert_allclose(locs["z"], [-50.5, 12.0])
    np.testing.assert_allclose(locs["sigma_x"], [104, 130])
    np.testing.assert_allclose(locs["sigma"], [130, 130])  # mean of sigma1 and sigma2
    assert list(locs["detections"]) == [3, 1] and "detections" in rep.extra_columns


def test_thunderstorm_intensity_in_adu_is_reported(tmp_path):
    path = tmp_path / "adu.csv"
    path.write_text('"id","frame","x [nm]","y [nm]","intensity [ADU]","offset [ADU]"\n1,1,10,20,5000,100\n')
    locs, rep = read_locs(path)
    assert locs["photons"].tolist() == [5000]
    assert sum("ADU" in n for n in rep.notes) == 2


def test_old_picasso_csv_quoted_header_crlf(tmp_path):
    path = tmp_path / "old.csv"
    path.write_bytes(b'"id","frame","x [nm]","y [nm]","sigma [nm]","intensity [photon]","offset [photon]",'
                     b'"bkgstd [photon]","uncertainty_xy [nm]"\r\n0,0,100,100,150,1000,20,0,12\r\n'
                     b'1,3,200,300,150,1000,20,0,12\r\n')
    locs, rep = read_locs(path, pixel_size=100)
    assert rep.format == "picasso-csv"
    np.testing.assert_array_equal(locs["frame"], [1, 4])
    np.testing.assert_allclose(locs["x"], [150, 250])


def test_format_and_frame_base_overrides(tmp_path):
    path = tmp_path / "ts.csv"
    path.write_text('"id","frame","x [nm]","y [nm]"\n1,1,10,20\n2,4,30,40\n')
    assert detect_format(path) == "thunderstorm"
    locs, rep = read_locs(path)
    assert list(locs["frame"]) == [1, 4]
    locs, rep = read_locs(path, frame_base=0)
    assert list(locs["frame"]) == [2, 5] and rep.frame_base == 0
    assert any("overridden" in n for n in rep.notes)
    # read as Picasso's csv export on request: 0-based frames and the half-pixel shift
    locs, rep = read_locs(path, format="picasso-csv", pixel_size=100)
    assert rep.format == "picasso-csv"
    assert list(locs["frame"]) == [2, 5]
    np.testing.assert_allclose(locs["x"], [60, 80])
    with pytest.raises(InputError, match="unknown format"):
        read_locs(path, format="nonsense")


def test_frame_zero_in_one_based_format_is_refused_with_its_count(tmp_path):
    path = tmp_path / "zero.csv"
    path.write_text("frame,x [nm],y [nm]\n0,10,20\n2,30,40\n5,30,40\n")
    with pytest.raises(InputError, match="1 of 3 localization.s. are in frame 0") as exc:
        read_locs(path)
    assert str(path) in str(exc.value) and "frame_base 0" in str(exc.value)
    locs, rep = read_locs(path, frame_base=0)  # the user decides
    assert list(locs["frame"]) == [1, 3, 6] and rep.frame_base == 0


def test_detection_of_every_csv_flavour(tmp_path):
    cases = {
        "deepstorm": ",frame,x [nm],y [nm],Photon #,Sigma [nm]\n1,1,10,20,100,120\n",
        "deepstorm-prediction": "frame,x [nm],y [nm],confidence [a.u]\n1,10,20,0.5\n",
        "thunderstorm": '"id","frame","x [nm]","y [nm]","bkgstd [photon]"\n1,1,10,20,2.5\n',
        "picasso-csv": "id,frame,x [nm],y [nm],bkgstd [photon]\n0,0,10,20,0\n",
    }
    for fmt, text in cases.items():
        p = tmp_path / f"{fmt}.csv"
        p.write_text(text)
        assert detect_format(p) == fmt, fmt
    locs = _write_h5(tmp_path / "x.dat", _picasso_rec())
    assert detect_format(locs) == "picasso-hdf5"  # from the content, not the name


def test_rows_without_frame_are_dropped_and_reported(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text('"id","frame","x [nm]","y [nm]"\n1,1,10,20\n2,,30,40\n3,NaN,50,60\n4,2,70,80\n')
    locs, rep = read_locs(path)
    assert list(locs["frame"]) == [1, 2] and list(locs["x"]) == [10, 70]
    assert rep.rows_read == 4 and rep.rows_dropped == {"frame is NaN": 2}
    assert "dropped" in rep.summary()


def test_picasso_writer_warns_about_negative_picasso_coordinates(tmp_path, caplog):
    table = make_locs({"frame": [1, 1], "x": [20.0, 500.0], "y": [500.0, 500.0]})
    with caplog.at_level("WARNING", logger="imagesumming"):
        write_picasso_hdf5(tmp_path / "e_locs.hdf5", table, pixel_size=100)
    assert "1 localization(s) within half a pixel" in caplog.text
    back, _ = read_locs(tmp_path / "e_locs.hdf5")
    np.testing.assert_allclose(back["x"], [20.0, 500.0], atol=1e-4)  # still read back correctly


def test_picasso_extra_metadata_numpy_values_and_bad_values(tmp_path):
    table = make_locs({"frame": [1], "x": [150.0], "y": [150.0]})
    write_picasso_hdf5(tmp_path / "a_locs.hdf5", table, pixel_size=np.float64(100),
                       extra_metadata={"Seed": np.int64(4), "Sum factor": np.float32(2.5)})
    meta = read_picasso_yaml(tmp_path / "a_locs.yaml")[-1]
    assert meta["Seed"] == 4 and meta["Sum factor"] == 2.5 and meta["Pixelsize"] == 100
    with pytest.raises(TypeError):
        write_picasso_hdf5(tmp_path / "b_locs.hdf5", table, pixel_size=100, extra_metadata={"x": object()})
    assert not (tmp_path / "b_locs.hdf5").exists() and not (tmp_path / "b_locs.yaml").exists()


def test_columns_writer_writes_what_csv_and_pandas_read_back_exactly(tmp_path):
    """write_columns (Deep-STORM csv, provenance): text quoted as the csv module does, floats exact."""
    import csv

    from imagesumming.io._csvtext import write_columns

    rng = np.random.default_rng(1)
    x = np.repeat(rng.uniform(0, 5e4, 40), 3)  # repeated values (as in a summed set) and distinct ones
    x[[0, 5]] = [np.nan, -0.0]
    names = np.array(["m.tif", 'a "b".tif', "c,d.tif", None, "", "é"] * 20, dtype=object)
    columns = {"": np.arange(1, 121), "frame": np.repeat(np.arange(1, 41), 3), "x [nm]": x,
               "tiny": np.full(120, 1e-300), "flag": np.arange(120) % 2 == 0, "name": names}
    path = tmp_path / "c.csv"
    write_columns(path, columns)
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    assert rows[0] == list(columns)
    assert [r[-1] for r in rows[1:]] == ["" if v is None else v for v in names]
    back = pd.read_csv(path, index_col=0, keep_default_na=False, na_values=[""])
    exact = np.array([float(r[2]) if r[2] else np.nan for r in rows[1:]])  # Python's parser: correctly rounded
    assert np.array_equal(exact, x + 0.0, equal_nan=True)  # bit-exact; -0.0 as 0.0
    np.testing.assert_allclose(back["x [nm]"], x, rtol=1e-15)  # pandas 2's default parser may be 1 ulp off
    assert rows[6][2] == "0.0" and rows[1][2] == ""
    assert (back["tiny"] == 1e-300).all() and list(back["flag"][:2]) == [True, False]
    assert list(back.index) == list(range(1, 121)) and list(back["frame"]) == list(columns["frame"])


def test_deepstorm_csv_unnamed_index_is_not_read(tmp_path):
    """The unnamed first column is an id that writers renumber: its text does not matter."""
    path = tmp_path / "d.csv"
    path.write_text(",frame,x [nm],y [nm]\nr1,1,10.5,20.25\nr2,2,30.0,40.0\n")
    locs, _ = read_locs(path)
    assert list(locs.columns) == ["frame", "x", "y"] and list(locs["x"]) == [10.5, 30.0]
