"""Add-ons: split, merge, single frames, frame summing (imagesumming.addons).

Property tests run on small random movies and tables with empty frames at the start, in the
middle and at the end, in every writable localization format; regression tests pin each failure of
the original ImageSumming add-ons; one test per error case checks that nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagesumming.addons import (
    frame_groups,
    merge_movies,
    split_frames,
    split_movie,
    sum_frames,
)
from imagesumming.errors import InputError, OutputExistsError
from imagesumming.io import Movie, open_movie, read_locs, write_locs, write_tif
from imagesumming.schema import locs_equal, make_locs

PS = 100.0
COLS = ["x", "y", "photons", "sigma", "confidence"]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = ("uint16", "int16", "uint8", "int32", "float32")
FORMATS = ("deepstorm", "thunderstorm", "picasso-hdf5", "deepstorm-prediction")


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def random_movie(rng, n, h, w, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.standard_normal((n, h, w)) * 1e4).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=(n, h, w), endpoint=True, dtype=dtype)


def random_locs(rng, counts, h, w):
    frames = np.repeat(np.arange(1, len(counts) + 1), counts)
    k = len(frames)
    return make_locs({"frame": frames, "x": rng.uniform(0, w * PS, k), "y": rng.uniform(0, h * PS, k),
                      "photons": rng.uniform(100, 5000, k).round(1), "sigma": rng.uniform(80, 200, k).round(2),
                      "confidence": rng.uniform(0, 1, k)})


def write_data(folder, name, movie, locs, fmt):
    """Write a movie tif and its localizations; return (tif, locs file)."""
    folder = Path(folder)
    tif = write_tif(folder / f"{name}.tif", movie, PS)
    if locs is None:
        return tif, None
    if fmt == "picasso-hdf5":
        path = folder / f"{name}_locs.hdf5"
        write_locs(path, locs, fmt, pixel_size=PS, width=movie.shape[2], height=movie.shape[1], frames=len(movie))
    else:
        path = write_locs(folder / f"{name}.csv", locs, fmt)
    return tif, path


def hashes(folder) -> dict:
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def pixels(path) -> np.ndarray:
    with open_movie(path) as m:
        return m[:]


def table(path) -> pd.DataFrame:
    return read_locs(path)[0]


def picasso_yaml(hdf5) -> list[dict]:
    """The documents of a Picasso hdf5's sidecar yaml."""
    return list(yaml.safe_load_all(Path(hdf5).with_suffix(".yaml").read_text()))


def same_rows(a, b) -> bool:
    cols = [c for c in COLS if c in a.columns and c in b.columns]
    return locs_equal(a, b, columns=cols)


@st.composite
def datasets(draw, n_min=2, n_max=7):
    """Parameters of a random movie + table; empty first/middle/last frames drawn separately."""
    n = draw(st.integers(n_min, n_max))
    counts = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    for idx in (0, n // 2, n - 1):
        if draw(st.booleans()):
            counts[idx] = 0
    return {"n": n, "h": draw(st.integers(1, 5)), "w": draw(st.integers(1, 5)),
            "dtype": draw(st.sampled_from(DTYPES)), "seed": draw(st.integers(0, 2**32 - 1)),
            "counts": counts, "fmt": draw(st.sampled_from(FORMATS))}


def build(params, folder, name="m"):
    rng = np.random.default_rng(params["seed"])
    movie = random_movie(rng, params["n"], params["h"], params["w"], params["dtype"])
    locs = random_locs(rng, params["counts"], params["h"], params["w"])
    tif, lp = write_data(folder, name, movie, locs, params["fmt"])
    return movie, tif, lp


# ---------------------------------------------------------------------------------------------
# property tests
# ---------------------------------------------------------------------------------------------


@SETTINGS
@given(params=datasets(), at_frac=st.floats(0, 1))
def test_split_then_merge_gives_back_the_input(params, at_frac):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        movie, tif, lp = build(params, d / "in")
        before = hashes(d / "in")
        n = params["n"]
        at = 1 + int(round(at_frac * (n - 2)))
        r = split_movie(tif, lp, at=at, out_dir=d / "parts", progress=False)
        p1, p2 = list(r.movies)
        assert r.movies == {p1: at, p2: n - at}
        assert np.array_equal(pixels(p1), movie[:at]) and np.array_equal(pixels(p2), movie[at:])
        assert pixels(p1).dtype == movie.dtype
        src = table(lp)
        l1, l2 = list(r.locs)
        t1, t2 = table(l1), table(l2)
        assert same_rows(t1, src[src["frame"] <= at])
        shifted = src[src["frame"] > at]
        assert same_rows(t2, shifted.assign(frame=shifted["frame"] - at))  # second part renumbered from 1
        assert r.locs_format == params["fmt"]
        if params["fmt"] == "picasso-hdf5":
            for meta in picasso_yaml(l2):  # the input's document (Picasso reads the first) and ours
                assert (meta["Frames"], meta["Width"], meta["Height"], meta["Pixelsize"]) == (
                    n - at, params["w"], params["h"], PS)
        m = merge_movies([p1, p2], [l1, l2], output=d / "merged", progress=False)
        merged_tif, merged_locs = list(m.movies)[0], list(m.locs)[0]
        assert np.array_equal(pixels(merged_tif), movie) and pixels(merged_tif).dtype == movie.dtype
        assert same_rows(table(merged_locs), src)
        assert hashes(d / "in") == before


@SETTINGS
@given(a=datasets(), b=datasets())
def test_merge_then_split_at_the_boundary_gives_back_the_inputs(a, b):
    b = {**b, "h": a["h"], "w": a["w"], "dtype": a["dtype"], "fmt": a["fmt"]}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        ma, ta, la = build(a, d / "in", "a")
        mb, tb, lb = build(b, d / "in", "b")
        before = hashes(d / "in")
        m = merge_movies([ta, tb], [la, lb], output=d / "ab.tif", progress=False)
        assert m.movies == {d / "ab.tif": a["n"] + b["n"]}
        s = split_movie(d / "ab.tif", list(m.locs)[0], at=a["n"], out_dir=d / "parts", progress=False)
        (p1, p2), (l1, l2) = list(s.movies), list(s.locs)
        assert np.array_equal(pixels(p1), ma) and np.array_equal(pixels(p2), mb)
        assert same_rows(table(l1), table(la)) and same_rows(table(l2), table(lb))
        assert hashes(d / "in") == before


@settings(SETTINGS, max_examples=15)  # two files per frame: the slowest property
@given(params=datasets(n_max=8))
def test_single_frames_merged_give_back_the_movie(params):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        movie, tif, lp = build(params, d / "in")
        before = hashes(d / "in")
        n = params["n"]
        r = split_frames(tif, lp, out_dir=d / "frames", progress=False)
        tifs, locs = list(r.movies), list(r.locs)
        width = len(str(n))
        assert [p.name for p in tifs] == [f"m_{i:0{width}d}.tif" for i in range(1, n + 1)]
        assert sorted(p.name for p in tifs) == [p.name for p in tifs]
        assert list(r.locs.values()) == params["counts"]
        for i, lpath in enumerate(locs):
            t = table(lpath)  # empty frames still have a readable file
            assert len(t) == params["counts"][i] and (t["frame"] == 1).all()
        m = merge_movies(tifs, locs, output=d / "back", progress=False)
        assert np.array_equal(pixels(list(m.movies)[0]), movie)
        assert same_rows(table(list(m.locs)[0]), table(lp))
        assert hashes(d / "in") == before


def reference_sum(movie, groups, offset):
    n = groups.shape[1]
    return movie.astype(np.int64)[groups].sum(axis=1) - (n - 1) * offset


@SETTINGS
@given(params=datasets(n_max=10), n=st.integers(1, 4), offset=st.integers(0, 500), shuffle=st.booleans(),
       seed=st.integers(0, 1000))
def test_sum_frames_equals_numpy_reference(params, n, offset, shuffle, seed):
    params = {**params, "dtype": params["dtype"] if params["dtype"] != "float32" else "uint16"}
    n = min(n, params["n"])
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        movie, tif, lp = build(params, d / "in")
        before = hashes(d / "in")
        expected_groups, _ = frame_groups(params["n"], n, shuffle=shuffle, seed=seed)
        ref = reference_sum(movie, expected_groups, offset)
        if ref.min() < np.iinfo(np.int32).min or ref.max() > np.iinfo(np.int32).max:  # 32-bit input only
            with pytest.raises(InputError, match="beyond int32"):
                sum_frames(tif, lp, n=n, camera_offset=offset, output=d / "sum", shuffle=shuffle, seed=seed,
                           progress=False)
            assert sorted(p.name for p in d.iterdir()) == ["in"] and hashes(d / "in") == before
            return
        r = sum_frames(tif, lp, n=n, camera_offset=offset, output=d / "sum", shuffle=shuffle, seed=seed,
                       progress=False)
        groups = np.array(r.groups) - 1
        assert np.array_equal(groups, expected_groups)
        # consecutive, or a permutation: every frame exactly once in the groups or the remainder
        used = np.concatenate([groups.ravel(), np.array(r.remainder, int) - 1])
        assert sorted(used) == list(range(params["n"]))
        assert len(r.remainder) == params["n"] % n
        if not shuffle:
            assert np.array_equal(groups.ravel(), np.arange(groups.size))
        out = pixels(d / "sum.tif")
        assert np.array_equal(out.astype(np.int64), ref)
        assert np.iinfo(out.dtype).min <= ref.min() and ref.max() <= np.iinfo(out.dtype).max
        assert r.negative_pixels == int((ref < 0).sum())
        # ground truth: each row of a grouped frame lands in its group's frame
        src = table(lp)
        group_of = {int(f) + 1: g + 1 for g, grp in enumerate(groups) for f in grp}
        kept = src[src["frame"].isin(list(group_of))]
        expected = kept.assign(frame=[group_of[int(f)] for f in kept["frame"]])
        assert same_rows(table(list(r.locs)[0]), expected)
        assert r.left_out == len(src) - len(kept)
        record = json.loads((d / "sum_groups.json").read_text())
        assert record["Seed"] == (seed if shuffle else None)
        assert record["Groups (1-based source frames of each summed frame)"] == r.groups
        assert hashes(d / "in") == before


@SETTINGS
@given(params=datasets(), at_frac=st.floats(0, 1))
def test_arrays_and_tables_given_directly_are_not_modified(params, at_frac):
    rng = np.random.default_rng(params["seed"])
    movie = random_movie(rng, params["n"], params["h"], params["w"], params["dtype"])
    locs = random_locs(rng, params["counts"], params["h"], params["w"])
    movie_copy, locs_copy = movie.copy(), locs.copy(deep=True)
    at = 1 + int(round(at_frac * (params["n"] - 2)))
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        split_movie(movie, locs, at=at, out_dir=d / "s", pixel_size=PS, progress=False)
        merge_movies([movie, movie], [locs, locs], output=d / "m", pixel_size=PS, progress=False)
        split_frames(movie, locs, out_dir=d / "f", pixel_size=PS, progress=False)
        if movie.dtype.kind != "f":
            sum_frames(movie, locs, n=1, camera_offset=0, output=d / "sum", pixel_size=PS, progress=False)
        assert (d / "s" / "movie_part1.csv").exists()  # a table given as a DataFrame is written as Deep-STORM csv
    assert np.array_equal(movie, movie_copy) and movie.dtype == movie_copy.dtype
    pd.testing.assert_frame_equal(locs, locs_copy)


# ---------------------------------------------------------------------------------------------
# regression tests: the failures of the original ImageSumming add-ons
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def data(tmp_path, small_movie):
    """The 12-frame synthetic movie (uint16, 100 nm) and its Deep-STORM csv in tmp_path/in."""
    movie, truth = small_movie
    (tmp_path / "in").mkdir()
    tif, csv = write_data(tmp_path / "in", "m", movie, truth, "deepstorm")
    return movie, truth, tif, csv


def test_split_at_the_last_frame_works(tmp_path, data):
    # ImageSumming raised UnboundLocalError for F = frames - 1
    movie, truth, tif, csv = data
    r = split_movie(tif, csv, at=11, out_dir=tmp_path / "out", progress=False)
    p1, p2 = list(r.movies)
    assert r.movies[p2] == 1 and np.array_equal(pixels(p2), movie[11:])
    last = table(list(r.locs)[1])
    assert len(last) == (truth["frame"] == 12).sum() and (last["frame"] == 1).all()


def test_merge_offsets_by_movie_length_when_last_frames_are_empty(tmp_path, small_movie):
    # ImageSumming offset the second movie by the largest localized frame of the first
    movie, truth = small_movie
    a_locs = truth[truth["frame"] <= 6]  # frames 7..12 of movie A have no localizations
    ta, la = write_data(tmp_path, "a", movie, a_locs, "deepstorm")
    tb, lb = write_data(tmp_path, "b", movie[:5], truth[truth["frame"] <= 5], "deepstorm")
    r = merge_movies([ta, tb], [la, lb], output=tmp_path / "ab", progress=False)
    merged = table(list(r.locs)[0])
    b_rows = merged[merged["frame"] > 12]
    assert len(b_rows) == (truth["frame"] <= 5).sum()
    assert sorted(b_rows["frame"].unique()) == sorted((truth.loc[truth["frame"] <= 5, "frame"] + 12).unique())
    assert same_rows(b_rows.assign(frame=b_rows["frame"] - 12), truth[truth["frame"] <= 5])


def test_merge_of_three_movies_of_different_lengths_with_empty_ends(tmp_path, small_movie):
    movie, truth = small_movie
    lengths, parts = (12, 5, 7), []
    for k, n in enumerate(lengths):  # each movie's last two frames have no localizations
        rows = truth[truth["frame"] <= n - 2]
        parts.append((*write_data(tmp_path, f"p{k}", movie[:n], rows, "thunderstorm"), rows))
    r = merge_movies([p[0] for p in parts], [p[1] for p in parts], output=tmp_path / "all", progress=False)
    assert r.movies == {tmp_path / "all.tif": 24}
    assert np.array_equal(pixels(tmp_path / "all.tif"), np.concatenate([movie[:n] for n in lengths]))
    expected = pd.concat([rows.assign(frame=rows["frame"] + off)
                          for (_, _, rows), off in zip(parts, (0, 12, 17), strict=True)], ignore_index=True)
    assert same_rows(table(tmp_path / "all.csv"), expected)
    s = split_movie(tmp_path / "all.tif", tmp_path / "all.csv", at=1, out_dir=tmp_path / "s", progress=False)
    assert list(s.movies.values()) == [1, 23] and list(s.locs.values()) == [
        int((expected["frame"] == 1).sum()), int((expected["frame"] > 1).sum())]


def test_inputs_are_not_modified(tmp_path, data):
    # ImageSumming's split and merge changed the tables they were given
    movie, truth, tif, csv = data
    before = hashes(tmp_path / "in")
    truth_copy = truth.copy(deep=True)
    with open_movie(tif) as m:
        ps = m.pixel_size
        split_movie(m, truth, at=4, out_dir=tmp_path / "s", pixel_size=55.0, on_invalid="drop", progress=False)
        assert m.pixel_size == ps  # the caller's Movie keeps its own pixel size
    split_movie(tif, csv, at=4, out_dir=tmp_path / "s2", progress=False)
    merge_movies([tif, tif], [csv, csv], output=tmp_path / "m", progress=False)
    split_frames(tif, csv, out_dir=tmp_path / "f", progress=False)
    sum_frames(tif, csv, n=3, camera_offset=100, output=tmp_path / "sum", shuffle=True, progress=False)
    assert hashes(tmp_path / "in") == before
    pd.testing.assert_frame_equal(truth, truth_copy)


def test_uint16_values_above_32767_survive(tmp_path):
    # ImageSumming saved every movie as int16: values above 32767 wrapped
    rng = np.random.default_rng(3)
    movie = rng.integers(32768, 65535, size=(6, 5, 7), endpoint=True, dtype=np.uint16)
    movie[0, 0, 0], movie[1, 0, 0] = 65535, 65535
    tif, _ = write_data(tmp_path, "bright", movie, None, None)
    r = split_movie(tif, at=3, out_dir=tmp_path / "s", progress=False)
    parts = [pixels(p) for p in r.movies]
    assert all(p.dtype == np.uint16 for p in parts) and np.array_equal(np.concatenate(parts), movie)
    m = merge_movies(list(r.movies), output=tmp_path / "m", progress=False)
    assert np.array_equal(pixels(list(m.movies)[0]), movie)
    f = split_frames(tif, out_dir=tmp_path / "f", progress=False)
    assert np.array_equal(np.concatenate([pixels(p) for p in f.movies]), movie)
    s = sum_frames(tif, n=2, camera_offset=0, output=tmp_path / "sum", progress=False)
    summed = pixels(list(s.movies)[0])
    assert s.dtype == "int32" and summed.dtype == np.int32
    assert summed[0, 0, 0] == 131070  # 65535 + 65535, neither wrapped nor clipped
    assert np.array_equal(summed, movie.astype(np.int64).reshape(3, 2, 5, 7).sum(1))


def test_sum_frames_keeps_and_counts_negative_values(tmp_path):
    movie = np.full((4, 2, 3), 100, np.uint16)
    movie[:, 0, 0] = 10  # below the offset
    tif, _ = write_data(tmp_path, "dark", movie, None, None)
    r = sum_frames(tif, n=2, camera_offset=100, output=tmp_path / "sum", progress=False)
    out = pixels(tmp_path / "sum.tif")
    assert out[0, 0, 0] == 10 + 10 - 100 and out[0, 1, 1] == 100
    assert r.negative_pixels == 2 and "below 0" in r.summary()


def test_sum_frames_reports_the_remainder(tmp_path, data):
    movie, truth, tif, csv = data
    r = sum_frames(tif, csv, n=5, camera_offset=100, output=tmp_path / "sum", progress=False)
    assert r.remainder == [11, 12] and r.movies == {tmp_path / "sum.tif": 2}
    assert r.left_out == int(truth["frame"].isin([11, 12]).sum())
    assert "2 remainder frame(s) left out" in r.summary()
    record = json.loads((tmp_path / "sum_groups.json").read_text())
    assert record["Remainder (1-based frames left out)"] == [11, 12] and record["Frames summed"] == 5


def test_shuffle_is_reproducible_from_the_seed(tmp_path, data):
    movie, truth, tif, csv = data
    a = sum_frames(tif, csv, n=3, camera_offset=100, output=tmp_path / "a", shuffle=True, seed=5, progress=False)
    b = sum_frames(tif, csv, n=3, camera_offset=100, output=tmp_path / "b", shuffle=True, seed=5, progress=False)
    c = sum_frames(tif, csv, n=3, camera_offset=100, output=tmp_path / "c", shuffle=True, seed=6, progress=False)
    assert a.groups == b.groups and a.seed == 5 and "seed 5" in a.summary()
    assert (tmp_path / "a.tif").read_bytes() == (tmp_path / "b.tif").read_bytes()
    assert a.groups != c.groups
    assert a.groups != frame_groups(12, 3)[0].tolist()  # shuffled, not consecutive


# ---------------------------------------------------------------------------------------------
# formats, pixel sizes, names
# ---------------------------------------------------------------------------------------------


def test_picasso_input_stays_picasso_with_updated_yaml(tmp_path, small_movie):
    movie, truth = small_movie
    truth = truth.assign(net_gradient=np.linspace(1, 2, len(truth)).astype(np.float32),
                         group=np.arange(len(truth), dtype=np.int32))
    tif, lp = write_data(tmp_path, "m", movie, truth, "picasso-hdf5")
    r = sum_frames(tif, lp, n=4, camera_offset=100, output=tmp_path / "out" / "dense", progress=False)
    assert set(p.name for p in r.paths) == {"dense.tif", "dense_locs.hdf5", "dense_locs.yaml", "dense_groups.json"}
    first, meta = picasso_yaml(tmp_path / "out" / "dense_locs.hdf5")
    for doc in (first, meta):
        assert (doc["Frames"], doc["Width"], doc["Height"], doc["Pixelsize"]) == (3, 48, 40, 100.0)
    assert meta["Frames summed"] == 4
    out, rep = read_locs(tmp_path / "out" / "dense_locs.hdf5")
    assert rep.format == "picasso-hdf5" and len(out) == len(truth)
    assert np.array_equal(np.sort(out["group"].to_numpy()), np.arange(len(truth)))  # extra columns carried
    with open_movie(tmp_path / "out" / "dense.tif") as m:
        assert m.pixel_size == pytest.approx(100.0)


PICASSO_YAML = """Byte Order: <
Camera: Andor Zyla 4.2
Data Type: uint16
Frames: 12
Height: 40
Width: 48
---
Box Size: 7
Generated by: Picasso Localize
Min. Net Gradient: 5000
Pixelsize: 100
"""


def test_picasso_yaml_history_is_kept_with_the_new_sizes(tmp_path, small_movie):
    # a real Picasso yaml has one document per step (movie, localize): outputs keep them, updated
    movie, truth = small_movie
    tif, lp = write_data(tmp_path, "m", movie, truth, "picasso-hdf5")
    lp.with_suffix(".yaml").write_text(PICASSO_YAML)
    r = split_movie(tif, lp, at=5, out_dir=tmp_path / "s", progress=False)
    cam, loc, ours = picasso_yaml(list(r.locs)[1])
    assert (cam["Camera"], cam["Byte Order"], cam["Frames"], cam["Width"], cam["Height"]) == (
        "Andor Zyla 4.2", "<", 7, 48, 40)
    assert (loc["Box Size"], loc["Min. Net Gradient"], loc["Pixelsize"]) == (7, 5000, 100.0)
    assert ours["Frames"] == 7 and ours["Source"] == "frames 6-12 of m.tif"
    m = merge_movies([tif, tif], [lp, lp], output=tmp_path / "mm", progress=False)
    assert [d.get("Frames") for d in picasso_yaml(list(m.locs)[0])] == [24, None, 24]
    f = split_frames(tif, lp, out_dir=tmp_path / "f", progress=False)
    assert [d.get("Frames") for d in picasso_yaml(list(f.locs)[0])] == [1, None, 1]
    assert lp.with_suffix(".yaml").read_text() == PICASSO_YAML  # the input is untouched
    assert read_locs(list(r.locs)[1])[1].pixel_size == PS


def test_to_changes_the_output_format(tmp_path, data):
    movie, truth, tif, csv = data
    r = split_movie(tif, csv, at=6, out_dir=tmp_path / "o", to="thunderstorm", progress=False)
    assert r.locs_format == "thunderstorm"
    for p in r.locs:
        assert read_locs(p)[1].format == "thunderstorm"
    r = split_movie(tif, csv, at=6, out_dir=tmp_path / "p", to="picasso", progress=False)
    assert [p.name for p in r.paths] == ["m_part1.tif", "m_part2.tif", "m_part1_locs.hdf5", "m_part2_locs.hdf5",
                                         "m_part1_locs.yaml", "m_part2_locs.yaml"]


def test_picasso_csv_is_written_as_thunderstorm_with_the_movie_pixel_size(tmp_path, data):
    movie, truth, tif, csv = data
    pic = tmp_path / "in" / "picasso.csv"
    n = len(truth)
    pd.DataFrame({"id": np.arange(n), "frame": truth["frame"] - 1, "x [nm]": truth["x"] - PS / 2,
                  "y [nm]": truth["y"] - PS / 2, "sigma [nm]": truth["sigma"], "intensity [photon]": truth["photons"],
                  "offset [photon]": 0.0, "bkgstd [photon]": 0.0, "uncertainty_xy [nm]": 5.0}).to_csv(pic, index=False)
    r = split_movie(tif, pic, at=6, out_dir=tmp_path / "o", progress=False)  # pixel size from the tif tags
    assert r.locs_format == "thunderstorm" and any("ThunderSTORM" in note for note in r.notes)
    back = pd.concat([table(p).assign(frame=lambda t, k=k: t["frame"] + 6 * k) for k, p in enumerate(r.locs)])
    assert same_rows(back, truth)


def test_raw_movie_with_real_picasso_files(tmp_path, shared_data):
    raw = shared_data / "picasso" / "testdata.raw"
    with open_movie(raw) as m:
        original, ps = m[:], m.pixel_size
    r = split_movie(raw, at=99, out_dir=tmp_path / "s", progress=False)
    assert [p.name for p in r.movies] == ["testdata_part1.tif", "testdata_part2.tif"]
    assert np.array_equal(np.concatenate([pixels(p) for p in r.movies]), original)
    with open_movie(tmp_path / "s" / "testdata_part2.tif") as m:
        assert m.pixel_size == pytest.approx(ps) and m.dtype == original.dtype
    # Picasso localizations of a 1000-frame 32x32 movie: a blank movie of that size carries them
    locs_file = shared_data / "picasso" / "testdata_locs.hdf5"
    src, rep = read_locs(locs_file)
    blank = write_tif(tmp_path / "blank.tif", np.zeros((1000, 32, 32), np.uint16), rep.pixel_size)
    r = split_movie(blank, locs_file, at=500, out_dir=tmp_path / "p", progress=False)
    l1, l2 = list(r.locs)
    t2 = table(l2)
    assert len(table(l1)) + len(t2) == len(src) and r.locs_format == "picasso-hdf5"
    later = src[src["frame"] > 500]
    assert locs_equal(t2, later.assign(frame=later["frame"] - 500), columns=["x", "y", "photons", "likelihood"])
    import h5py

    def records(path, shift=0):
        with h5py.File(path, "r") as f:
            rec = f["locs"][...]
        rec["frame"] += shift
        return np.sort(rec, order=["frame", "x", "y"])

    # Picasso's own records come back bit for bit (float32 pixels through float64 nm and back)
    both = np.concatenate([records(l1), records(l2, 500)])
    original = records(locs_file)
    assert both.dtype == original.dtype and all(np.array_equal(both[k], original[k], equal_nan=True)
                                                for k in original.dtype.names)
    movie_doc, localize_doc, ours = picasso_yaml(l2)
    assert movie_doc["Frames"] == ours["Frames"] == 500 and movie_doc["Camera"] == "Simulation"
    assert localize_doc["Generated by"] == "Picasso Localize" and localize_doc["Box Size"] == 7


# ---------------------------------------------------------------------------------------------
# errors: one line, nothing written
# ---------------------------------------------------------------------------------------------


def assert_one_line(exc_info, *words):
    msg = str(exc_info.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg


@pytest.mark.parametrize("at", [0, 12, 13, -1])
def test_split_frame_out_of_range(tmp_path, data, at):
    movie, truth, tif, csv = data
    with pytest.raises(InputError) as e:
        split_movie(tif, csv, at=at, out_dir=tmp_path / "out", progress=False)
    assert_one_line(e, "out of range", "12 frames", "m.tif")
    assert not (tmp_path / "out").exists()


def test_merge_refuses_different_image_sizes(tmp_path, small_movie):
    movie, truth = small_movie
    ta, _ = write_data(tmp_path, "a", movie, None, None)
    tb, _ = write_data(tmp_path, "b", movie[:, :-1], None, None)
    with pytest.raises(InputError) as e:
        merge_movies([ta, tb], output=tmp_path / "ab", progress=False)
    assert_one_line(e, "b.tif", "48x39", "48x40", "same size")
    assert not (tmp_path / "ab.tif").exists()


def test_merge_refuses_different_pixel_sizes(tmp_path, small_movie):
    movie, truth = small_movie
    ta = write_tif(tmp_path / "a.tif", movie, 100.0)
    tb = write_tif(tmp_path / "b.tif", movie, 160.0)
    with pytest.raises(InputError) as e:
        merge_movies([ta, tb], output=tmp_path / "ab", progress=False)
    assert_one_line(e, "b.tif", "160", "100", "same pixel size")
    assert not (tmp_path / "ab.tif").exists()


def test_merge_refuses_mismatched_inputs(tmp_path, data):
    movie, truth, tif, csv = data
    with pytest.raises(InputError, match="2 movies but 1 localization"):
        merge_movies([tif, tif], [csv], output=tmp_path / "x", progress=False)
    ts = write_locs(tmp_path / "ts.csv", truth, "thunderstorm")
    with pytest.raises(InputError, match="different formats"):
        merge_movies([tif, tif], [csv, ts], output=tmp_path / "x", progress=False)
    r = merge_movies([tif, tif], [csv, ts], output=tmp_path / "x", to="deepstorm", progress=False)
    assert r.locs == {tmp_path / "x.csv": 2 * len(truth)}


def test_movie_and_locs_pixel_sizes_must_agree(tmp_path, small_movie):
    movie, truth = small_movie
    tif = write_tif(tmp_path / "m.tif", movie, 160.0)
    lp = tmp_path / "m_locs.hdf5"
    write_locs(lp, truth, "picasso", pixel_size=PS, width=48, height=40, frames=12)
    with pytest.raises(InputError) as e:
        split_movie(tif, lp, at=3, out_dir=tmp_path / "o", progress=False)
    assert_one_line(e, "160", "100", "pixel size")
    r = split_movie(tif, lp, at=3, out_dir=tmp_path / "o", pixel_size=PS, progress=False)
    with open_movie(list(r.movies)[0]) as m:
        assert m.pixel_size == pytest.approx(PS)


def test_localizations_beyond_the_movie(tmp_path, small_movie):
    movie, truth = small_movie
    tif, csv = write_data(tmp_path, "m", movie[:10], truth, "deepstorm")  # truth has frames 11, 12
    beyond = int((truth["frame"] > 10).sum())
    with pytest.raises(InputError) as e:
        split_movie(tif, csv, at=5, out_dir=tmp_path / "o", progress=False)
    assert_one_line(e, f"{beyond} in a frame beyond the movie's 10 frames", "m.csv", "on_invalid='drop'")  # the API's words (the CLI says --drop-invalid)
    assert not (tmp_path / "o").exists()
    for call in (lambda **kw: merge_movies([tif], [csv], output=tmp_path / "o" / "mm", **kw),
                 lambda **kw: split_frames(tif, csv, out_dir=tmp_path / "o", **kw),
                 lambda **kw: sum_frames(tif, csv, n=2, camera_offset=100, output=tmp_path / "o" / "s", **kw)):
        with pytest.raises(InputError, match="beyond the movie"):
            call(progress=False)
    assert not (tmp_path / "o").exists()
    r = split_movie(tif, csv, at=5, out_dir=tmp_path / "o", on_invalid="drop", progress=False)
    assert r.dropped == {"in a frame beyond the movie's 10 frames": beyond}
    assert sum(r.locs.values()) == len(truth) - beyond and "dropped" in r.summary()


def test_localizations_outside_the_image(tmp_path, small_movie):
    movie, truth = small_movie
    tif, csv = write_data(tmp_path, "m", movie[:, :20, :20], truth, "deepstorm")
    with pytest.raises(InputError) as e:
        split_movie(tif, csv, at=5, out_dir=tmp_path / "o", progress=False)
    assert_one_line(e, "outside the 20x20 px image")


def test_n_larger_than_the_movie_and_bad_n_or_offset(tmp_path, data):
    movie, truth, tif, csv = data
    with pytest.raises(InputError) as e:
        sum_frames(tif, csv, n=13, camera_offset=100, output=tmp_path / "s", progress=False)
    assert_one_line(e, "13 frames", "only 12", "m.tif")
    with pytest.raises(InputError, match="whole number >= 1"):
        sum_frames(tif, n=0, camera_offset=100, output=tmp_path / "s", progress=False)
    with pytest.raises(InputError, match="do not fit in 64-bit integers"):
        sum_frames(np.zeros((4, 2, 2), np.uint64), n=2, camera_offset=0, output=tmp_path / "s", progress=False)
    with pytest.raises(InputError, match="whole number of ADU"):
        sum_frames(tif, n=2, camera_offset=99.5, output=tmp_path / "s", progress=False)
    assert list(tmp_path.glob("s*")) == []


def test_unknown_formats(tmp_path, data):
    movie, truth, tif, csv = data
    odd = tmp_path / "odd.csv"
    odd.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(InputError) as e:
        split_movie(tif, odd, at=3, out_dir=tmp_path / "o", progress=False)
    assert_one_line(e, "unknown localization format", "odd.csv")
    with pytest.raises(InputError, match="unknown format 'nonsense'"):
        split_movie(tif, csv, at=3, out_dir=tmp_path / "o", to="nonsense", progress=False)
    with pytest.raises(InputError, match="cannot write localization format 'picasso-csv'"):
        split_frames(tif, csv, out_dir=tmp_path / "o", to="picasso-csv", progress=False)
    with pytest.raises(InputError, match="pixel size"):
        merge_movies([movie], [truth], output=tmp_path / "o" / "x", to="picasso", progress=False)
    assert not (tmp_path / "o").exists()


def test_existing_outputs_are_refused_and_nothing_is_written(tmp_path, data):
    movie, truth, tif, csv = data
    out = tmp_path / "out"
    out.mkdir()
    (out / "m_part2.csv").write_text("mine")
    with pytest.raises(OutputExistsError) as e:
        split_movie(tif, csv, at=3, out_dir=out, progress=False)
    assert_one_line(e, "m_part2.csv", "exists already")
    assert sorted(p.name for p in out.iterdir()) == ["m_part2.csv"]  # part1 not written either
    r = split_movie(tif, csv, at=3, out_dir=out, force=True, progress=False)
    assert len(table(out / "m_part2.csv")) == sum(list(r.locs.values())[1:])
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "m_07.tif").write_bytes(b"x")
    with pytest.raises(OutputExistsError, match="m_07.tif"):
        split_frames(tif, csv, out_dir=tmp_path / "frames", progress=False)
    assert [p.name for p in (tmp_path / "frames").iterdir()] == ["m_07.tif"]
    (tmp_path / "s_groups.json").write_text("{}")
    with pytest.raises(OutputExistsError, match="s_groups.json"):
        sum_frames(tif, n=2, camera_offset=0, output=tmp_path / "s", progress=False)
    assert not (tmp_path / "s.tif").exists()


def test_an_output_may_not_overwrite_an_input(tmp_path, data):
    movie, truth, tif, csv = data
    before = hashes(tmp_path / "in")
    with pytest.raises(InputError, match="overwrite an input"):
        merge_movies([tif, tif], [csv, csv], output=tif, force=True, progress=False)
    with pytest.raises(InputError, match="overwrite an input"):
        sum_frames(tif, n=2, camera_offset=0, output=tmp_path / "in" / "m", force=True, progress=False)
    assert hashes(tmp_path / "in") == before


def test_a_failure_while_writing_leaves_nothing(tmp_path, data, monkeypatch):
    movie, truth, tif, csv = data
    from imagesumming import addons

    calls = []

    def failing(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return write_locs(path, *args, **kwargs)

    monkeypatch.setattr(addons, "write_locs", failing)
    with pytest.raises(OSError, match="disk full"):
        split_movie(tif, csv, at=3, out_dir=tmp_path / "new" / "out", progress=False)
    assert len(calls) == 2 and not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    calls.clear()
    with pytest.raises(OSError):
        split_movie(tif, csv, at=3, out_dir=tmp_path / "kept", progress=False)
    assert list((tmp_path / "kept").iterdir()) == []  # the existing folder stays, empty


def test_page_by_page_and_big_endian_inputs_stream_bit_for_bit(tmp_path, small_movie):
    import tifffile

    movie, truth = small_movie
    zipped = tmp_path / "zipped.tif"
    tifffile.imwrite(zipped, movie, compression="zlib", photometric="minisblack")  # not memory-mappable
    with open_movie(zipped) as m:
        assert not m.memmapped
    r = split_movie(zipped, at=7, out_dir=tmp_path / "z", pixel_size=PS, progress=False)
    assert np.array_equal(np.concatenate([pixels(p) for p in r.movies]), movie)
    raw = tmp_path / "big_endian.raw"
    movie.astype(">u2").tofile(raw)
    raw.with_suffix(".yaml").write_text("Byte Order: '>'\nData Type: uint16\nFrames: 12\nHeight: 40\nWidth: 48\n"
                                        "Pixelsize: 100\n")
    s = sum_frames(raw, n=3, camera_offset=100, output=tmp_path / "be", progress=False)
    assert s.pixel_size == PS and np.array_equal(pixels(tmp_path / "be.tif"),
                                                 reference_sum(movie, np.arange(12).reshape(4, 3), 100))


def test_float_movies_sum_in_float64(tmp_path):
    rng = np.random.default_rng(1)
    movie = rng.standard_normal((6, 3, 4)).astype(np.float32) * 1000
    r = sum_frames(movie, n=3, camera_offset=10.5, output=tmp_path / "f", pixel_size=PS, progress=False)
    ref = (movie.astype(np.float64).reshape(2, 3, 3, 4).sum(1) - 2 * 10.5).astype(np.float32)
    out = pixels(tmp_path / "f.tif")
    assert r.dtype == "float32" and np.array_equal(out, ref)


def test_32_bit_sums_are_written_as_int32_or_refused(tmp_path):
    movie = np.full((4, 2, 2), 2**30, np.int32)
    r = sum_frames(movie, n=2, camera_offset=2**30, output=tmp_path / "ok", pixel_size=PS, progress=False)
    assert r.dtype == "int32" and (pixels(tmp_path / "ok.tif") == 2**30).all()
    with pytest.raises(InputError) as e:
        sum_frames(movie, n=2, camera_offset=0, output=tmp_path / "big", pixel_size=PS, progress=False)
    assert_one_line(e, "summed frame 1 has values 2147483648..2147483648", "beyond int32", str(tmp_path / "big.tif"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.tif", "ok_groups.json"]


def test_64_bit_pixels_are_narrowed_with_a_note_or_refused(tmp_path):
    movie = np.arange(24, dtype=np.int64).reshape(4, 2, 3)
    r = split_movie(movie, at=2, out_dir=tmp_path / "s", pixel_size=PS, progress=False)
    assert r.dtype == "int32" and any("int64 pixels written as int32" in n for n in r.notes)
    assert np.array_equal(np.concatenate([pixels(p) for p in r.movies]), movie)
    f = split_frames(movie - 5, out_dir=tmp_path / "f", pixel_size=PS, progress=False)  # frames 2-4 fit uint16
    assert [pixels(p).dtype for p in f.movies] == [np.int32] * 4
    movie[3, 0, 0] = 2**40
    with pytest.raises(InputError) as e:
        split_movie(movie, at=2, out_dir=tmp_path / "t", pixel_size=PS, progress=False)
    assert_one_line(e, "do not fit in int32", str(tmp_path / "t"))
    assert ".imagesumming-" not in str(e.value) and not (tmp_path / "t").exists()


def test_merge_widens_different_dtypes_exactly(tmp_path):
    a = np.array([[[0, 65535]]], np.uint16)
    b = np.array([[[-32768, 32767]]], np.int16)
    r = merge_movies([a, b], output=tmp_path / "ab", pixel_size=PS, progress=False)
    out = pixels(tmp_path / "ab.tif")
    assert r.dtype == "int32" and out.dtype == np.int32 and out.tolist() == [[[0, 65535]], [[-32768, 32767]]]
    assert any("widened to int32" in note for note in r.notes)


def test_one_frame_movie_and_output_folder_that_is_a_file(tmp_path, data):
    movie, truth, tif, csv = data
    with pytest.raises(InputError, match="one frame cannot be split"):
        split_movie(movie[:1], at=1, out_dir=tmp_path / "o", progress=False)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError) as e:
        split_frames(tif, csv, out_dir=tmp_path / "afile", progress=False)
    assert_one_line(e, "afile", "expected an output folder")
    with pytest.raises(InputError) as e:  # was a NotADirectoryError traceback
        split_movie(tif, csv, at=3, out_dir=tmp_path / "afile" / "sub", progress=False)
    assert_one_line(e, "cannot write here", str(tmp_path / "afile" / "sub"))
    assert (tmp_path / "afile").read_text() == "x"


def test_a_negative_seed_is_one_line_and_writes_nothing(tmp_path, data):
    movie, truth, tif, csv = data
    for seed in (-1, 2.5):
        with pytest.raises(InputError) as e:
            sum_frames(tif, n=4, camera_offset=100, output=tmp_path / "s", shuffle=True, seed=seed, progress=False)
        assert_one_line(e, "seed must be a whole number >= 0", "m.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    r = sum_frames(tif, n=4, camera_offset=100, output=tmp_path / "s", shuffle=True, seed=7.0, progress=False)
    assert r.seed == 7 and r.groups == (frame_groups(12, 4, shuffle=True, seed=7)[0] + 1).tolist()


class OneFrameAtATime(Movie):
    """A movie that refuses any read but one frame (as a page-by-page tif reads), and counts reads."""

    def __init__(self, array):
        super().__init__(path=None, reader=lambda i: array[i].copy(), shape=array.shape, dtype=array.dtype,
                         pixel_size=PS)
        self.reads = 0

    def __getitem__(self, key):
        assert isinstance(key, (int, np.integer)), f"read {key!r}: more than one frame at a time"
        self.reads += 1
        return super().__getitem__(key)

    def __array__(self, *args, **kwargs):
        raise AssertionError("the whole movie was loaded")


def test_every_command_streams_one_frame_at_a_time(tmp_path, data):
    movie, truth, tif, csv = data
    for call in (lambda m: split_movie(m, truth, at=5, out_dir=tmp_path / "s", progress=False),
                 lambda m: merge_movies([m, m, m], [truth] * 3, output=tmp_path / "m", progress=False),
                 lambda m: split_frames(m, truth, out_dir=tmp_path / "f", progress=False),
                 lambda m: sum_frames(m, truth, n=5, camera_offset=100, output=tmp_path / "u", shuffle=True,
                                      progress=False)):
        m = OneFrameAtATime(movie)
        call(m)
        assert m.reads <= 3 * len(movie)  # each frame read once (merge: the movie three times)
    assert np.array_equal(pixels(tmp_path / "m.tif"), np.concatenate([movie] * 3))
    assert np.array_equal(pixels(tmp_path / "u.tif"), reference_sum(movie, frame_groups(12, 5, shuffle=True)[0], 100))


def test_shuffle_without_seed_records_a_fresh_seed(tmp_path, data):
    movie, truth, tif, csv = data
    r = sum_frames(tif, n=4, camera_offset=100, output=tmp_path / "a", shuffle=True, seed=None, progress=False)
    assert isinstance(r.seed, int) and json.loads((tmp_path / "a_groups.json").read_text())["Seed"] == r.seed
    again = sum_frames(tif, n=4, camera_offset=100, output=tmp_path / "b", shuffle=True, seed=r.seed, progress=False)
    assert again.groups == r.groups


def test_reader_notes_and_metadata_mismatch_are_reported(tmp_path, small_movie):
    movie, truth = small_movie
    tif = write_tif(tmp_path / "m.tif", movie, PS)
    lp = tmp_path / "m_locs.hdf5"
    write_locs(lp, truth, "picasso", pixel_size=PS, width=48, height=40, frames=99)
    r = split_movie(tif, lp, at=6, out_dir=tmp_path / "o", progress=False)
    assert any("m_locs.hdf5" in n and "Frames 99 (movie: 12)" in n for n in r.notes), r.notes


def test_frame_groups():
    groups, rest = frame_groups(7, 3)
    assert groups.tolist() == [[0, 1, 2], [3, 4, 5]] and rest.tolist() == [6]
    groups, rest = frame_groups(7, 3, shuffle=True, seed=1)
    assert sorted(groups.ravel().tolist() + rest.tolist()) == list(range(7))
    assert (np.diff(groups, axis=1) > 0).all()
