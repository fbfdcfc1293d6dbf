"""Tests of imagesumming.summing (sum_patches, SummingResult) and imagesumming.sampling."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagesumming.errors import InputError, OutputExistsError
from imagesumming.io import (
    Movie,
    read_locs,
    write_deepstorm_csv,
    write_picasso_hdf5,
    write_tif,
)
from imagesumming.sampling import (
    TRANSFORMS,
    choose_bins,
    index_locs,
    transform_patches,
    transform_xy,
    window_members,
)
from imagesumming.io.locs import LocsFile
from imagesumming.schema import make_locs
from imagesumming.summing import SummingResult, output_paths, sum_patches
from imagesumming.synthetic import simulate_movie

PS = 100.0


def coded_movie(n_frames=12, height=40, width=48):
    """uint16 movie whose pixel values say where they come from: f*2000 + r*width + c."""
    f, r, c = np.meshgrid(np.arange(n_frames), np.arange(height), np.arange(width), indexing="ij")
    return (f * 2000 + r * width + c).astype(np.uint16)


def random_locs(n_frames, height, width, per_frame=15, seed=0, edges=True):
    """Random localizations, some of them exactly on pixel edges (the half-open rule matters there)."""
    rng = np.random.default_rng(seed)
    n = n_frames * per_frame
    frame = rng.integers(1, n_frames + 1, n)
    x = rng.uniform(0, width * PS, n)
    y = rng.uniform(0, height * PS, n)
    if edges:
        e = rng.random(n) < 0.3
        x[e] = rng.integers(0, width, e.sum()) * PS
        y[e] = rng.integers(0, height, e.sum()) * PS
    return make_locs({"frame": frame, "x": x, "y": y, "photons": rng.uniform(100, 200, n), "tag": np.arange(n)})


def brute_force_members(locs, frame, row, col, P):
    """Localizations of a window by the issue's rule, written the slow and obvious way."""
    out = []
    for rec in locs.itertuples(index=False):
        c, r = int(np.floor(rec.x / PS)), int(np.floor(rec.y / PS))
        if rec.frame == frame and col <= c < col + P and row <= r < row + P:
            out.append((rec.tag, rec.x - col * PS, rec.y - row * PS))
    return sorted(out)


def members_of(result, summed_frame):
    sel = result.locs[result.locs["frame"] == summed_frame]
    return sorted(zip(sel["tag"], sel["x"], sel["y"]))


# --------------------------------------------------------------------------------------------
# sampling: membership, windows, frame order
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_window_and_its_locs_come_from_the_same_frame_and_position(seed):
    movie = coded_movie()
    locs = random_locs(12, 40, 48, seed=seed)
    P = 7
    res = sum_patches(movie, locs, pixel_size=PS, camera_offset=0, patch_size=P, n_patches=40, n_summed=40,
                      bin_size=1, min_emitters=1, seed=seed, progress=False)
    assert len(res.provenance) == 40
    for rec in res.provenance.itertuples(index=False):
        window = movie[rec.frame - 1, rec.row:rec.row + P, rec.col:rec.col + P]
        np.testing.assert_array_equal(res.frames[rec.summed_frame - 1], window)
        expected = brute_force_members(locs, rec.frame, rec.row, rec.col, P)
        got = members_of(res, rec.summed_frame)
        assert [t for t, _, _ in got] == [t for t, _, _ in expected]
        np.testing.assert_allclose([g[1:] for g in got], [e[1:] for e in expected], atol=1e-9)
        assert rec.n_emitters == len(expected) >= 1
    # the table of source patches agrees with the provenance
    pt = res.patch_table.set_index("patch").loc[res.provenance["patch"]]
    for col in ("movie", "frame", "row", "col", "n_emitters", "transform"):
        np.testing.assert_array_equal(pt[col].to_numpy(), res.provenance[col].to_numpy())
    # shifted to the patch origin: everything inside [0, P*PS)
    assert res.locs["x"].between(0, P * PS, inclusive="left").all()
    assert res.locs["y"].between(0, P * PS, inclusive="left").all()


def test_membership_is_half_open_on_pixel_edges():
    locs = make_locs({"frame": [1, 1, 1, 1], "x": [2 * PS, 6 * PS, 6 * PS - 1e-9, 5.5 * PS],
                      "y": [3 * PS, 3 * PS, 3 * PS, 7 * PS]})
    index = index_locs([locs], [1], PS)
    # window of 4 px at row 3, col 2 covers columns 2..5 and rows 3..6
    window, entry = window_members(index, [0], [0], [3], [2], 4)
    assert sorted(index.source[entry]) == [0, 2]  # x=6*PS is column 6 (outside), y=7*PS is row 7 (outside)
    window, entry = window_members(index, [0], [0], [3], [3], 4)
    assert sorted(index.source[entry]) == [1, 2]  # x=2*PS (column 2) is outside a window starting at column 3


def test_each_needed_frame_is_read_once_and_the_movie_never_whole():
    data = coded_movie(n_frames=30)
    reads = []

    def reader(i):
        reads.append(i)
        return data[i]

    movie = Movie(reader=reader, shape=data.shape, dtype=data.dtype, pixel_size=PS)
    locs = random_locs(30, 40, 48, per_frame=20, seed=4)
    res = sum_patches(movie, locs, patch_size=8, n_patches=60, n_summed=30, bin_size=3, min_emitters=1,
                      camera_offset=0, seed=2, progress=False)
    needed = set(res.provenance["frame"] - 1)
    assert len(reads) == len(set(reads))  # every frame at most once
    assert needed <= set(reads) and len(reads) < 30
    # the sums are right with the frame-by-frame reader too
    for s in (1, 17, 30):
        prov = res.provenance[res.provenance["summed_frame"] == s]
        expected = sum(data[r.frame - 1, r.row:r.row + 8, r.col:r.col + 8].astype(np.int64) for r in prov.itertuples())
        np.testing.assert_array_equal(res.frames[s - 1], expected)


# --------------------------------------------------------------------------------------------
# sums: exact integers, negatives, floats
# --------------------------------------------------------------------------------------------


def expected_sums(res, movies, offset):
    P = res.frames.shape[1]
    out = np.zeros(res.frames.shape, np.float64 if movies[0].dtype.kind == "f" else np.int64)
    for r in res.provenance.itertuples(index=False):
        out[r.summed_frame - 1] += movies[r.movie][r.frame - 1, r.row:r.row + P, r.col:r.col + P].astype(out.dtype)
    k = res.params["bin_size"]
    return out - (k - 1) * offset


def test_sums_are_exact_in_a_wide_integer_type():
    rng = np.random.default_rng(0)
    movie = rng.integers(60000, 65536, (10, 32, 32)).astype(np.uint16)  # sums of 5 overflow uint16 and int16
    locs = random_locs(10, 32, 32, per_frame=30, seed=1)
    res = sum_patches(movie, locs, pixel_size=PS, patch_size=10, n_patches=30, n_summed=20, bin_size=5,
                      min_emitters=1, camera_offset=100, seed=0, progress=False)
    exp = expected_sums(res, [movie], 100)
    assert exp.max() > 2**16
    assert res.frames.dtype == np.int32
    np.testing.assert_array_equal(res.frames, exp)


def test_sums_beyond_int32_stay_exact():
    rng = np.random.default_rng(3)
    movie = rng.integers(2**30, 2**31 - 1, (6, 16, 16)).astype(np.int32)  # sums of 3 leave int32
    locs = random_locs(6, 16, 16, per_frame=30, seed=1)
    res = sum_patches(movie, locs, pixel_size=PS, patch_size=8, n_patches=10, n_summed=5, bin_size=3,
                      min_emitters=1, camera_offset=100, seed=0, progress=False)
    exp = expected_sums(res, [movie], 100)
    assert exp.max() > 2**31 and res.frames.dtype == np.int64
    np.testing.assert_array_equal(res.frames, exp)


def test_negative_values_are_kept_and_counted():
    rng = np.random.default_rng(1)
    movie = rng.integers(40, 95, (10, 32, 32)).astype(np.uint16)  # below the offset: sums of 3 minus 200 go negative
    locs = random_locs(10, 32, 32, per_frame=30, seed=2)
    res = sum_patches(movie, locs, pixel_size=PS, patch_size=10, n_patches=30, n_summed=20, bin_size=3,
                      min_emitters=1, camera_offset=100, seed=0, progress=False)
    exp = expected_sums(res, [movie], 100)
    n_neg = int((exp < 0).sum())
    assert n_neg > 0
    assert res.frames.dtype == np.int32
    np.testing.assert_array_equal(res.frames, exp)
    assert res.params["output"]["negative_pixels"] == n_neg
    assert f"{n_neg} negative pixel value(s) kept" in res.summary()


@pytest.mark.parametrize("offset,dtype", [(100, np.uint16), (99.5, np.float32)])
def test_uint16_output_when_values_fit_float_for_a_fractional_offset(offset, dtype):
    movie = coded_movie()
    locs = random_locs(12, 40, 48, seed=3)
    res = sum_patches(movie, locs, pixel_size=PS, patch_size=6, n_patches=20, n_summed=10, bin_size=2,
                      min_emitters=1, camera_offset=offset, seed=5, progress=False)
    assert res.frames.dtype == dtype
    np.testing.assert_array_equal(res.frames, expected_sums(res, [movie], offset))  # x.5 values: exact in float32


def test_float_movies_are_summed_in_float():
    rng = np.random.default_rng(2)
    movie = rng.normal(100, 5, (10, 32, 32)).astype(np.float32)
    locs = random_locs(10, 32, 32, per_frame=30, seed=3)
    res = sum_patches(movie, locs, pixel_size=PS, patch_size=10, n_patches=30, n_summed=20, bin_size=4,
                      min_emitters=1, camera_offset=100, seed=0, progress=False)
    assert res.frames.dtype == np.float32
    np.testing.assert_allclose(res.frames, expected_sums(res, [movie], 100), rtol=1e-6, atol=1e-3)
    assert not np.allclose(res.frames, np.round(res.frames))  # not rounded to integers


# --------------------------------------------------------------------------------------------
# bins: distinct patches, unique
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n,k", [(200, 10), (12, 10), (10, 10), (5, 1)])
def test_bins_hold_distinct_patches(n, k):
    bins = choose_bins(np.random.default_rng(0), n, 50, k)
    assert bins.shape == (50, k)
    assert all(len(set(row)) == k for row in bins)
    assert bins.min() >= 0 and bins.max() < n


def test_unique_uses_each_patch_once():
    movie = coded_movie()
    locs = random_locs(12, 40, 48, seed=6)
    res = sum_patches(movie, locs, pixel_size=PS, patch_size=6, n_patches=40, n_summed=10, bin_size=4,
                      min_emitters=1, unique=True, seed=1, progress=False)
    assert res.provenance["patch"].is_unique and len(res.provenance) == 40
    with pytest.raises(InputError, match="unique.*40"):
        sum_patches(movie, locs, pixel_size=PS, patch_size=6, n_patches=39, n_summed=10, bin_size=4,
                    min_emitters=1, unique=True, seed=1, progress=False)


def test_patches_are_reused_by_default():
    movie = coded_movie()
    locs = random_locs(12, 40, 48, seed=6)
    res = sum_patches(movie, locs, pixel_size=PS, patch_size=6, n_patches=20, n_summed=30, bin_size=5,
                      min_emitters=1, seed=1, progress=False)
    assert not res.provenance["patch"].is_unique
    assert res.provenance.groupby("summed_frame")["patch"].nunique().eq(5).all()


# --------------------------------------------------------------------------------------------
# synthetic data: localizations sit on the spots (with and without augmentation)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bright():
    movie, truth = simulate_movie(n_frames=40, height=64, width=64, pixel_size=PS, emitters_per_frame=6,
                                  photons=3000, min_photons=2000, background=10, psf_sigma=110, seed=11)
    return movie, truth


def values_at(res, locs):
    f = locs["frame"].to_numpy() - 1
    c = np.floor(locs["x"].to_numpy() / PS).astype(int)
    r = np.floor(locs["y"].to_numpy() / PS).astype(int)
    med = np.median(res.frames.reshape(len(res.frames), -1), axis=1)
    return res.frames[f, r, c].astype(float) - med[f]


@pytest.mark.parametrize("augment", [False, True])
def test_localizations_sit_on_their_spots(bright, augment):
    movie, truth = bright
    P = 20
    res = sum_patches(movie, truth, pixel_size=PS, patch_size=P, n_patches=60, n_summed=30, bin_size=4,
                      min_emitters=2, augment=augment, seed=3, progress=False)
    above = values_at(res, res.locs)
    assert len(above) > 100
    assert (above > 60).all(), np.sort(above)[:5]
    if augment:
        assert res.provenance["transform"].nunique() == 8
        # control: the same positions without moving them like their patches miss the spots
        wrong = res.locs.copy()
        wrong["x"] = P * PS - wrong["x"] - 1e-6
        assert (values_at(res, wrong) > 60).mean() < 0.6
    else:
        assert set(res.provenance["transform"]) == {"identity"}


def test_transforms_match_numpy_and_move_positions_alike():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 100, (1, 5, 5))
    numpy_ops = {"identity": lambda m: m, "flip_lr": np.fliplr, "flip_ud": np.flipud,
                 "rot180": lambda m: np.rot90(m, 2), "transpose": lambda m: m.T,
                 "rot270": lambda m: np.rot90(m, -1), "rot90": lambda m: np.rot90(m, 1),
                 "antitranspose": lambda m: np.rot90(m, 2).T}
    for code, name in enumerate(TRANSFORMS):
        np.testing.assert_array_equal(transform_patches(a, [code])[0], numpy_ops[name](a[0]))
        for r, c in [(0, 0), (1, 3), (4, 2)]:
            one = np.zeros((1, 5, 5), int)
            one[0, r, c] = 1
            rr, cc = np.argwhere(transform_patches(one, [code])[0])[0]
            x, y = transform_xy([(c + 0.3) * PS], [(r + 0.8) * PS], [code], 5 * PS)
            assert (int(x[0] // PS), int(y[0] // PS)) == (cc, rr), name
    # a position on the patch's edge stays inside the half-open patch after a flip
    x, y = transform_xy([0.0], [0.0], [3], 5 * PS)
    assert x[0] < 5 * PS and y[0] < 5 * PS and x[0] > 5 * PS - 1e-6


# --------------------------------------------------------------------------------------------
# target density, search bound
# --------------------------------------------------------------------------------------------


def test_target_density_chooses_k(bright):
    movie, truth = bright
    res = sum_patches(movie, truth, pixel_size=PS, patch_size=20, n_patches=80, n_summed=40, target_density=3.0,
                      min_emitters=1, seed=4, progress=False)
    mean_patch = res.densities["patches"].mean()
    k = res.params["bin_size"]
    assert k == round(3.0 / mean_patch) and k > 1
    assert len(res.provenance) == 40 * k
    reached = res.densities["output"].mean()
    assert reached == pytest.approx(res.params["output"]["mean_density"])
    assert abs(reached - 3.0) < 0.35 * 3.0
    # the density per summed frame counts its patches' emitters
    area = (20 * PS / 1000) ** 2
    per_frame = res.provenance.groupby("summed_frame")["n_emitters"].sum().to_numpy() / area
    np.testing.assert_allclose(res.densities["output"], per_frame)
    assert "target 3" in res.summary()


def test_target_density_out_of_reach_is_an_error(bright):
    movie, truth = bright
    with pytest.raises(InputError, match="target density 500 .* needs k = "):
        sum_patches(movie, truth, pixel_size=PS, patch_size=20, n_patches=30, n_summed=10, target_density=500,
                    min_emitters=1, seed=4, progress=False)


def test_search_is_bounded_and_says_what_to_change():
    movie = coded_movie()
    locs = random_locs(12, 40, 48, per_frame=3, seed=0, edges=False)
    with pytest.raises(InputError) as err:
        sum_patches(movie, locs, pixel_size=PS, patch_size=10, n_patches=20, n_summed=5, bin_size=2,
                    min_emitters=50, seed=0, progress=False, max_attempts=5000)
    msg = str(err.value)
    assert "found only 0 of 20 patches" in msg and "5000 random windows" in msg
    assert "best held" in msg and "emitters/µm²" in msg and "min_emitters" in msg  # the API's words (the CLI: --min-emitters)
    assert "\n" not in msg


# --------------------------------------------------------------------------------------------
# reproducibility and outputs
# --------------------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_outputs(tmp_path, bright):
    movie, truth = bright
    kw = dict(pixel_size=PS, patch_size=16, n_patches=50, n_summed=20, bin_size=5, augment=True, progress=False)
    a = sum_patches(movie, truth, seed=9, **kw)
    b = sum_patches(movie, truth, seed=9, **kw)
    c = sum_patches(movie, truth, seed=10, **kw)
    pa, pb = a.save(tmp_path / "a"), b.save(tmp_path / "b")
    for key in ("tif", "csv", "provenance"):
        assert pa[key].read_bytes() == pb[key].read_bytes(), key
    assert not np.array_equal(a.frames, c.frames)
    # an unseeded run records the seed it drew, which reproduces it
    d = sum_patches(movie, truth, seed=None, **kw)
    e = sum_patches(movie, truth, seed=d.params["seed"], **kw)
    np.testing.assert_array_equal(d.frames, e.frames)
    pd.testing.assert_frame_equal(d.locs, e.locs)


def test_saved_files_and_params(tmp_path, bright):
    movie, truth = bright
    write_tif(tmp_path / "m.tif", movie, PS)
    write_deepstorm_csv(tmp_path / "l.csv", truth)
    res = sum_patches(str(tmp_path / "m.tif"), str(tmp_path / "l.csv"), patch_size=16, n_patches=50, n_summed=20,
                      bin_size=5, seed=1, progress=False)
    paths = res.save(tmp_path / "out", name="train")
    assert {p.name for p in paths.values()} == {"train.tif", "train.csv", "train_provenance.csv", "train_params.json"}
    params = json.loads(paths["params"].read_text())
    assert params["seed"] == 1 and params["pixel_size"] == pytest.approx(PS)
    assert params["pixel_size_source"].startswith("m.tif")
    assert params["inputs"][0]["movie_bytes"] == (tmp_path / "m.tif").stat().st_size
    assert params["inputs"][0]["shape"] == [40, 64, 64]
    assert params["inputs"][0]["localizations"] == len(truth)
    assert {"imagesumming", "numpy", "pandas", "tifffile"} <= set(params["versions"])
    assert params["notebook_settings"] == res.notebook_settings
    prov = pd.read_csv(paths["provenance"])
    assert list(prov.columns)[:9] == ["summed_frame", "patch", "movie", "movie_name", "frame", "row", "col",
                                      "n_emitters", "transform"]
    assert (prov["movie_name"] == "m.tif").all()
    back, _ = read_locs(paths["csv"])
    assert len(back) == len(res.locs)
    np.testing.assert_allclose(np.sort(back["x"]), np.sort(res.locs["x"]))
    # existing outputs are refused before anything is written
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "train_params.json").write_text("{}")
    with pytest.raises(OutputExistsError):
        res.save(tmp_path / "again", name="train")
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == ["train_params.json"]
    res.save(tmp_path / "again", name="train", force=True)
    assert json.loads((tmp_path / "again" / "train_params.json").read_text())["seed"] == 1


def test_notebook_hand_off(tmp_path, bright):
    """Apply the Deep-STORM notebook's own rules (NOTEBOOK.md) to the saved tif and csv."""
    import tifffile
    from PIL import Image

    movie, truth = bright
    P, U = 20, 8
    res = sum_patches(movie, truth, pixel_size=107.0, patch_size=P, n_patches=60, n_summed=25, bin_size=4,
                      seed=2, progress=False)
    paths = res.save(tmp_path)
    nb = res.notebook_settings
    assert nb["patch_size"] == P - 1 and nb["num_patches_per_frame"] == 1 and nb["max_num_patches"] >= 25
    # pixel size as the notebook reads it with Pillow
    with Image.open(paths["tif"]) as im:
        unit, xres = im.tag_v2[296], float(im.tag_v2[282])
        assert unit == 3
        assert 1e7 / xres == pytest.approx(107.0, rel=1e-9)
        assert im.n_frames == 25
    stack = tifffile.imread(paths["tif"])
    assert stack.shape == (25, P, P)
    # csv read with index_col=0, rows looked up by id 1..N in frame order
    df = pd.read_csv(paths["csv"], index_col=0)
    assert list(df.columns[:3]) == ["frame", "x [nm]", "y [nm]"]
    assert df.index.tolist() == list(range(1, len(df) + 1))
    assert df["frame"].is_monotonic_increasing and df["frame"].min() >= 1 and df["frame"].max() <= len(stack)
    ps_hr = 107.0 / U
    Mhr = P * U
    patch_hr = nb["patch_size"] * U
    ids = iter(range(1, len(df) + 1))
    kept = 0
    for f in range(1, len(stack) + 1):  # the notebook's loop over frames, one patch per frame
        n_f = int((df["frame"] == f).sum())
        rows = [df.loc[next(ids)] for _ in range(n_f)]
        assert all(int(r["frame"]) == f for r in rows)
        grid = np.zeros((Mhr, Mhr))
        for r in rows:
            xi = min(max(int(round(r["x [nm]"] / ps_hr)), 0), Mhr - 1)
            yi = min(max(int(round(r["y [nm]"] / ps_hr)), 0), Mhr - 1)
            grid[yi, xi] += 1
        # every corner np.random.randint(0, Mhr - patch_size) can draw
        for r0 in range(Mhr - patch_hr):
            for c0 in range(Mhr - patch_hr):
                kept += grid[r0:r0 + patch_hr, c0:c0 + patch_hr].sum() >= nb["min_number_of_emitters_per_patch"]
    assert kept == U * U * len(stack)  # every summed frame yields its training patch, wherever it is cut


def test_inputs_are_not_modified(bright):
    movie, truth = bright
    m0, t0 = movie.copy(), truth.copy()
    sum_patches(movie, truth, pixel_size=PS, patch_size=16, n_patches=30, n_summed=10, bin_size=3, augment=True,
                seed=0, progress=False)
    np.testing.assert_array_equal(movie, m0)
    pd.testing.assert_frame_equal(truth, t0)


def test_several_movies_of_different_sizes():
    a, b = coded_movie(10, 40, 48), (coded_movie(8, 30, 36) + 30000).astype(np.uint16)
    la, lb = random_locs(10, 40, 48, seed=1), random_locs(8, 30, 36, seed=2)
    res = sum_patches([a, b], [la, lb], pixel_size=PS, camera_offset=0, patch_size=6, n_patches=60, n_summed=60,
                      bin_size=1, min_emitters=1, seed=3, progress=False)
    assert set(res.provenance["movie"]) == {0, 1}
    assert set(res.provenance["movie_name"]) == {"movie0", "movie1"}
    for rec in res.provenance.itertuples(index=False):
        src, locs = (a, la) if rec.movie == 0 else (b, lb)
        np.testing.assert_array_equal(res.frames[rec.summed_frame - 1],
                                      src[rec.frame - 1, rec.row:rec.row + 6, rec.col:rec.col + 6])
        assert [t for t, _, _ in members_of(res, rec.summed_frame)] == \
               [t for t, _, _ in brute_force_members(locs, rec.frame, rec.row, rec.col, 6)]


# --------------------------------------------------------------------------------------------
# pixel size
# --------------------------------------------------------------------------------------------


def test_pixel_size_from_tif_tags_or_picasso_yaml(tmp_path, bright):
    movie, truth = bright
    write_tif(tmp_path / "m.tif", movie, PS)
    write_tif(tmp_path / "plain.tif", movie)  # no pixel size in its tags
    write_picasso_hdf5(tmp_path / "l_locs.hdf5", truth, pixel_size=PS, width=64, height=64, frames=40)
    kw = dict(patch_size=16, n_patches=20, n_summed=5, bin_size=2, seed=0, progress=False)
    r1 = sum_patches(tmp_path / "plain.tif", tmp_path / "l_locs.hdf5", **kw)
    assert r1.pixel_size == pytest.approx(PS) and "yaml" in r1.params["pixel_size_source"]
    r2 = sum_patches(tmp_path / "m.tif", truth, **kw)
    assert r2.pixel_size == pytest.approx(PS) and "tif resolution tags" in r2.params["pixel_size_source"]
    # the two sources agree, and the flag wins over the files
    r3 = sum_patches(tmp_path / "m.tif", tmp_path / "l_locs.hdf5", **kw)
    assert r3.pixel_size == pytest.approx(PS)
    # a tif with another pixel size disagrees with the yaml
    write_tif(tmp_path / "other.tif", movie, 160.0)
    with pytest.raises(InputError, match="pixel sizes disagree: 160 nm .* 100 nm"):
        sum_patches(tmp_path / "other.tif", tmp_path / "l_locs.hdf5", **kw)
    r4 = sum_patches(tmp_path / "other.tif", tmp_path / "l_locs.hdf5", pixel_size=PS, **kw)
    assert r4.params["pixel_size_source"] == "given by the caller"
    with pytest.raises(InputError, match="pixel size unknown"):
        sum_patches(tmp_path / "plain.tif", truth, **kw)


# --------------------------------------------------------------------------------------------
# bad input: one-line errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,pattern", [
    (dict(patch_size=50), "patch size 50 px is larger than the 48x40 px frames"),
    (dict(bin_size=30, n_patches=20), "bin size 30 is larger than the number of patches 20"),
    (dict(n_patches=0), "number of patches must be a whole number >= 1"),
    (dict(n_summed=-3), "number of summed frames must be a whole number >= 1"),
    (dict(bin_size=0), "bin size must be a whole number >= 1"),
    (dict(patch_size=1), "patch size must be a whole number >= 2"),
    (dict(patch_size=2.5), "patch size must be a whole number"),
    (dict(min_emitters=-1), "minimum emitters per patch must be a whole number >= 0"),
    (dict(camera_offset=-5), "camera offset must be a non-negative number"),
    (dict(target_density=0), "target density must be a positive number"),
    (dict(pixel_size=-100), "pixel size must be a positive number"),
    (dict(on_invalid="keep"), "on_invalid must be 'error' or 'drop'"),
])
def test_bad_parameters(kwargs, pattern):
    movie = coded_movie()
    locs = random_locs(12, 40, 48, seed=0)
    kw = dict(pixel_size=PS, patch_size=6, n_patches=20, n_summed=5, bin_size=2, min_emitters=1, seed=0,
              progress=False)
    kw.update(kwargs)
    with pytest.raises(InputError, match=pattern) as err:
        sum_patches(movie, locs, **kw)
    assert "\n" not in str(err.value)


def test_movie_and_locs_counts_must_match():
    movie = coded_movie()
    locs = random_locs(12, 40, 48, seed=0)
    with pytest.raises(InputError, match="2 movie.* but 1 localization file"):
        sum_patches([movie, movie], [locs], pixel_size=PS, progress=False)


def test_invalid_localizations_error_with_counts_or_are_dropped():
    movie = coded_movie()
    locs = random_locs(12, 40, 48, seed=0, edges=False)
    bad = pd.concat([locs, make_locs({"frame": [1, 2, 13, 20, 3], "x": [48 * PS, 10.0, 10.0, 10.0, 50.0],
                                      "y": [10.0, 40 * PS + 1, 10.0, 10.0, 50.0],
                                      "photons": [1.0] * 5, "tag": [-1] * 5})], ignore_index=True)
    kw = dict(pixel_size=PS, patch_size=6, n_patches=20, n_summed=5, bin_size=2, min_emitters=1, seed=0,
              progress=False)
    with pytest.raises(InputError, match=r"2 outside the 48x40 px image, 2 frame beyond the movie's 12 frames"):
        sum_patches(movie, bad, **kw)
    res = sum_patches(movie, bad, on_invalid="drop", **kw)
    assert res.params["inputs"][0]["invalid"] == {"outside the 48x40 px image": 2,
                                                   "frame beyond the movie's 12 frames": 2}
    assert res.params["inputs"][0]["localizations_used"] == len(locs) + 1
    assert "dropped 2 outside" in res.summary()


@pytest.mark.parametrize("shape", [(3000, 7, 7), (2500, 6, 5)])
@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.int32, np.float32, np.int64])
def test_median_and_noise_per_image(dtype, shape):
    from imagesumming.stats import median_noise as _median_noise

    rng = np.random.default_rng(0)
    stack = (rng.normal(300, 20, shape) - (100 if dtype != np.uint16 else 0)).astype(dtype)
    med, noise = _median_noise(stack, chunk=1000)
    flat = stack.reshape(len(stack), -1).astype(np.float64)
    exp_med = np.median(flat, axis=1)
    np.testing.assert_allclose(med, exp_med)
    np.testing.assert_allclose(noise, 1.4826 * np.median(np.abs(flat - exp_med[:, None]), axis=1), rtol=1e-6)


# --------------------------------------------------------------------------------------------
# report and figures
# --------------------------------------------------------------------------------------------


def test_summary_and_figures(tmp_path, bright):
    from matplotlib.figure import Figure

    movie, truth = bright
    res = sum_patches(movie, truth, pixel_size=PS, patch_size=16, n_patches=30, n_summed=10, bin_size=3,
                      augment=True, seed=0, progress=False)
    assert isinstance(res, SummingResult)
    text = res.summary()
    for part in ("summed frames: 10 of 16x16 px, k = 3", "output density: mean", "emitters/µm²",
                 "negative pixel value", "patch_size = 15", "num_patches_per_frame = 1", "max_num_patches >= 10"):
        assert part in text, part
    assert res.background["noise_mad"].mean() > res.patch_table["noise_mad"].mean()  # k-fold read noise
    # per summed frame, next to what its 3 sources predict
    bg, pt = res.background, res.patch_table.set_index("patch")
    by_frame = res.provenance.groupby("summed_frame")["patch"].apply(list)
    for s in (1, 7, 10):
        src = pt.loc[by_frame[s]]
        assert bg.at[s - 1, "sources_median"] == pytest.approx(src["median"].sum() - 2 * 100)
        assert bg.at[s - 1, "sources_noise"] == pytest.approx(np.sqrt((src["noise_mad"] ** 2).sum()))
    # spots lift the median of a sum a little above the sum of medians; within the noise
    assert 0 <= (bg["median"] - bg["sources_median"]).median() < bg["sources_noise"].median()
    # independent noise adds in quadrature at least (k spot sets raise the MAD of a sum further)
    assert (bg["noise_mad"] / bg["sources_noise"]).min() > 0.8
    assert "expected from the sources" in text and "emitter-free" in text
    for fig in (res.plot_density(), res.plot_frame(2), res.plot_single(3), res.plot_background()):
        assert isinstance(fig, Figure)
    assert len(res.plot_background().axes) == 4
    # k = 3 sources (frame with its window + patch) and the sum, each image drawn once
    single = res.plot_single(1)
    assert sum(len(ax.images) for ax in single.axes) == 2 * 3 + 1
    with pytest.raises(IndexError):
        res.plot_frame(0)
    paths = res.save(tmp_path, plots=True)
    for key in ("png_density", "png_frame", "png_single", "png_background"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(output_paths(tmp_path, plots=True)) == set(paths)


# --------------------------------------------------------------------------------------------
# property: the vectorised membership equals the rule, for any tables and windows
# --------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n_movies=st.integers(1, 3), size=st.integers(1, 9),
       per_frame=st.integers(0, 12), edges=st.booleans())
def test_window_members_equal_the_rule(seed, n_movies, size, per_frame, edges):
    rng = np.random.default_rng(seed)
    shapes = [(int(rng.integers(1, 5)), int(rng.integers(size, 16)), int(rng.integers(size, 16)))
              for _ in range(n_movies)]
    tables = []
    for f, h, w in shapes:
        n = f * per_frame
        x = rng.uniform(0, w * PS, n)
        y = rng.uniform(0, h * PS, n)
        if edges:  # exactly on pixel edges
            x, y = np.floor(x / PS) * PS, np.floor(y / PS) * PS
        tables.append(make_locs({"frame": rng.integers(1, f + 1, n), "x": x, "y": y}))
    index = index_locs(tables, [s[0] for s in shapes], PS, heights=[s[1] for s in shapes])
    m = rng.integers(0, n_movies, 30)
    fr = np.array([rng.integers(0, shapes[i][0]) for i in m])
    row = np.array([rng.integers(0, shapes[i][1] - size + 1) for i in m])
    col = np.array([rng.integers(0, shapes[i][2] - size + 1) for i in m])
    window, entry = window_members(index, m, fr, row, col, size)
    offsets = np.cumsum([0] + [len(t) for t in tables])
    for w_ in range(30):
        t = tables[m[w_]]
        c = np.floor(t["x"].to_numpy() / PS)
        r = np.floor(t["y"].to_numpy() / PS)
        want = np.flatnonzero((t["frame"].to_numpy() == fr[w_] + 1) & (c >= col[w_]) & (c < col[w_] + size)
                              & (r >= row[w_]) & (r < row[w_] + size)) + offsets[m[w_]]
        got = index.source[entry[window == w_]]
        assert sorted(got) == sorted(want)


# --------------------------------------------------------------------------------------------
# real files from Picasso (skipped when ../shared/data is absent)
# --------------------------------------------------------------------------------------------


def test_real_picasso_raw_movie_and_hdf5_locs(shared_data, tmp_path):
    d = shared_data / "picasso"
    movie, locs = d / "testdata.raw", d / "testdata_locs.hdf5"
    # the two yaml files disagree (160 nm for the movie, 130 nm for the localizations)
    with pytest.raises(InputError, match="pixel sizes disagree: 160 nm in testdata.raw .* 130 nm in testdata_locs"):
        sum_patches(movie, locs, progress=False)
    # the localizations come from a 1000-frame simulation: most lie beyond the movie's 100 frames
    with pytest.raises(InputError, match=r"534 frame beyond the movie's 100 frames \(of 564"):
        sum_patches(movie, locs, pixel_size=160, progress=False)
    res = sum_patches(movie, locs, pixel_size=160, on_invalid="drop", patch_size=12, n_patches=20, n_summed=10,
                      bin_size=3, min_emitters=1, seed=0, progress=False)
    assert res.params["inputs"][0]["localizations_used"] == 30
    assert res.params["inputs"][0]["locs_format"] == "picasso-hdf5"
    raw = np.memmap(movie, dtype="<u2", mode="r", shape=(100, 32, 32))  # windows come from the right place
    exp = np.zeros(res.frames.shape, np.int64)
    for r in res.provenance.itertuples(index=False):
        exp[r.summed_frame - 1] += raw[r.frame - 1, r.row:r.row + 12, r.col:r.col + 12]
    np.testing.assert_array_equal(res.frames, exp - 2 * 100)
    # Picasso's extra fields travel with the localizations
    assert {"net_gradient", "likelihood", "iterations"} <= set(res.locs.columns)
    paths = res.save(tmp_path)
    assert json.loads(paths["params"].read_text())["inputs"][0]["invalid"] == {"frame beyond the movie's 100 frames": 534}


def test_provenance_csv_quotes_file_names(tmp_path):
    movie = coded_movie()
    write_tif(tmp_path / 'odd, "name".tif', movie, PS)
    res = sum_patches(tmp_path / 'odd, "name".tif', random_locs(12, 40, 48, seed=1), patch_size=6, n_patches=10,
                      n_summed=4, bin_size=2, min_emitters=1, seed=0, progress=False)
    prov = pd.read_csv(res.save(tmp_path / "out")["provenance"])
    assert (prov["movie_name"] == 'odd, "name".tif').all()
    pd.testing.assert_frame_equal(prov.drop(columns="movie_name"),
                                  res.provenance.drop(columns="movie_name").astype({"transform": prov["transform"].dtype}),
                                  check_dtype=False)


def notebook_patch_counts(locs, frame, P, U, pixel_size):
    """Emitters in every training patch the notebook can cut from a summed frame (NOTEBOOK.md).

    It rasterises at ``round(x / (pixel_size / U))`` clipped to the grid of ``P * U`` and cuts
    ``(P - 1) * U`` px at a corner drawn from ``randint(0, P*U - (P-1)*U)`` (``0 .. U-1``).
    """
    sel = locs[locs["frame"] == frame]
    hr = pixel_size / U
    xi = np.clip(np.round(sel["x"].to_numpy() / hr), 0, P * U - 1)
    yi = np.clip(np.round(sel["y"].to_numpy() / hr), 0, P * U - 1)
    n = (P - 1) * U
    return [int(((xi >= c0) & (xi < c0 + n) & (yi >= r0) & (yi < r0 + n)).sum())
            for r0 in range(U) for c0 in range(U)]


@pytest.mark.parametrize("U", [2, 8, 16])
def test_notebook_min_emitters_holds_for_emitters_near_the_far_edge(U):
    """An emitter just inside pixel P-2 rounds onto the high-res row (P-1)*U, outside the patch at corner 0."""
    P = 10
    movie = np.full((1, P, P), 100, np.uint16)
    far = (P - 1) * PS - 1.0  # 1 nm left of the last pixel: inside pixel P-2
    locs = make_locs({"frame": [1, 1, 1], "x": [4.5 * PS, far, 3.5 * PS], "y": [4.5 * PS, 5.5 * PS, far]})
    res = sum_patches(movie, locs, pixel_size=PS, patch_size=P, n_patches=1, n_summed=1, bin_size=1,
                      min_emitters=1, seed=0, progress=False)
    need = res.notebook_settings["min_number_of_emitters_per_patch"]
    assert min(notebook_patch_counts(res.locs, 1, P, U, PS)) >= need == 1


def test_degenerate_inputs_are_one_line_errors():
    kw = dict(pixel_size=PS, patch_size=6, n_patches=10, n_summed=5, bin_size=2, seed=0, progress=False)
    locs = random_locs(12, 40, 48, seed=0)
    with pytest.raises(InputError, match="movie0 holds no frames"):
        sum_patches(np.zeros((0, 40, 48), np.uint16), locs.iloc[:0], **kw)
    with pytest.raises(InputError, match="may exceed 64-bit integers"):
        sum_patches(np.full((12, 40, 48), 2**63 + 5, np.uint64), locs, min_emitters=1, **kw)
    # uint64 values that fit: summed exactly
    movie = coded_movie().astype(np.uint64)
    res = sum_patches(movie, locs, min_emitters=1, camera_offset=0, **kw)
    np.testing.assert_array_equal(res.frames, expected_sums(res, [movie], 0))
    # a target density with patches holding no localizations says so (not "needs k = n + 1")
    with pytest.raises(InputError, match="patches hold no localizations"):
        sum_patches(coded_movie(), locs.iloc[:0], pixel_size=PS, patch_size=6, n_patches=10, n_summed=5,
                    target_density=2.0, min_emitters=0, seed=0, progress=False)


def test_movies_of_different_dtypes_are_summed_in_their_common_type():
    rng = np.random.default_rng(5)
    a = coded_movie(10, 40, 48)
    b = rng.normal(150, 4, (8, 30, 36)).astype(np.float32)
    c = rng.integers(-50, 50, (6, 20, 24)).astype(np.int16)
    tables = [random_locs(10, 40, 48, seed=1), random_locs(8, 30, 36, seed=2), random_locs(6, 20, 24, seed=3)]
    kw = dict(pixel_size=PS, patch_size=6, n_patches=60, n_summed=30, bin_size=3, min_emitters=1, seed=1,
              progress=False)
    res = sum_patches([a, c], [tables[0], tables[2]], **kw)  # uint16 + int16: exact integers, negatives kept
    assert set(res.provenance["movie"]) == {0, 1} and res.frames.dtype.kind == "i"
    np.testing.assert_array_equal(res.frames, expected_sums(res, [a, c], 100))
    res = sum_patches([a, b], tables[:2], **kw)  # with a float movie: summed in float
    assert res.frames.dtype == np.float32
    exp = np.zeros(res.frames.shape)
    for r in res.provenance.itertuples(index=False):
        exp[r.summed_frame - 1] += [a, b][r.movie][r.frame - 1, r.row:r.row + 6, r.col:r.col + 6]
    np.testing.assert_allclose(res.frames, exp - 2 * 100, rtol=1e-6)


@pytest.mark.parametrize("layout", ["zlib", "one series per page"])
def test_unmappable_tif_is_read_page_by_page_each_needed_frame_once(tmp_path, layout):
    """Compressed tifs, or tifs appended one page at a time (camera software), cannot be memory-mapped
    as one array: the windows come from single pages, each needed page read once."""
    import tifffile

    from imagesumming.io import open_movie

    data = coded_movie(n_frames=30)
    tags = dict(photometric="minisblack", resolution=(1e5, 1e5), resolutionunit="CENTIMETER")  # 100 nm pixels
    if layout == "zlib":
        tifffile.imwrite(tmp_path / "z.tif", data, compression="zlib", **tags)
    else:
        for frame in data:
            tifffile.imwrite(tmp_path / "z.tif", frame, append=True, metadata=None, **tags)
    locs = random_locs(30, 40, 48, per_frame=20, seed=4)
    with open_movie(tmp_path / "z.tif") as movie:
        assert not movie.memmapped and movie.pixel_size == pytest.approx(PS)
        reads, reader = [], movie._reader
        movie._reader = lambda i: (reads.append(i), reader(i))[1]
        res = sum_patches(movie, locs, patch_size=8, n_patches=25, n_summed=10, bin_size=3, min_emitters=1,
                          seed=2, progress=False)
    assert sorted(reads) == sorted(set(res.patch_table["frame"] - 1))  # the needed frames, once each
    np.testing.assert_array_equal(res.frames, expected_sums(res, [data], 100))
    # the same windows from a memory map give the same result
    write_tif(tmp_path / "m.tif", data, PS)
    again = sum_patches(tmp_path / "m.tif", locs, patch_size=8, n_patches=25, n_summed=10, bin_size=3,
                        min_emitters=1, seed=2, progress=False)
    np.testing.assert_array_equal(again.frames, res.frames)


@pytest.mark.parametrize("backing", ["array", "pages"])
def test_movie_read_windows(backing):
    data = coded_movie(n_frames=6)
    movie = Movie(data) if backing == "array" else Movie(reader=lambda i: data[i], shape=data.shape, dtype=data.dtype)
    f, r, c = np.array([5, 0, 5, 2]), np.array([0, 33, 10, 4]), np.array([41, 0, 3, 7])
    done = []
    got = movie.read_windows(f, r, c, 7, progress=done.append)
    assert got.dtype == data.dtype and sum(done) == 4
    for i in range(4):
        np.testing.assert_array_equal(got[i], data[f[i], r[i]:r[i] + 7, c[i]:c[i] + 7])
    assert movie.read_windows([], [], [], 7).shape == (0, 7, 7)
    with pytest.raises(IndexError, match="outside"):
        movie.read_windows([0], [34], [0], 7)
    with pytest.raises(IndexError, match="outside"):
        movie.read_windows([6], [0], [0], 7)


def test_source_patches_are_distinct_windows():
    """A window drawn twice is one patch: with 9 qualifying windows, 9 distinct patches and no 10th."""
    movie = coded_movie(n_frames=1, height=8, width=8)
    locs = make_locs({"frame": [1], "x": [3.5 * PS], "y": [3.5 * PS]})  # inside every 6 px window
    kw = dict(pixel_size=PS, patch_size=6, n_summed=3, bin_size=3, min_emitters=1, seed=0, progress=False)
    res = sum_patches(movie, locs, n_patches=9, unique=True, **kw)
    corners = set(zip(res.patch_table["row"], res.patch_table["col"]))
    assert corners == {(r, c) for r in range(3) for c in range(3)}
    assert res.params["search"]["repeated_windows_skipped"] > 0
    with pytest.raises(InputError, match="found only 9 of 10 patches .* repeated windows skipped"):
        sum_patches(movie, locs, n_patches=10, max_attempts=2000, **kw)


@pytest.mark.parametrize("augment", [False, True])
def test_positions_within_ulps_of_pixel_edges_stay_inside_the_summed_frame(augment):
    """With a pixel size like 108.33333 nm, x / ps and x - col * ps round differently near edges."""
    from imagesumming.validate import check_locs

    ps, P = 108.33333, 7
    k = np.arange(1, 20) * ps
    xs = np.concatenate([np.nextafter(k, 0), k, np.nextafter(k, np.inf)])
    gx, gy = (a.ravel() for a in np.meshgrid(xs, xs))
    locs = make_locs({"frame": np.ones(len(gx), np.int64), "x": gx, "y": gy})
    res = sum_patches(np.full((1, 21, 21), 100, np.uint16), locs, pixel_size=ps, patch_size=P, n_patches=200,
                      n_summed=200, bin_size=1, min_emitters=1, augment=augment, seed=0, progress=False)
    for c in ("x", "y"):
        assert res.locs[c].between(0, P * ps, inclusive="left").all()
    _, dropped = check_locs(res.locs, pixel_size=ps, width=P, height=P, n_frames=200)  # reads back as valid
    assert not dropped


def test_summary_shows_what_the_reader_decided(tmp_path):
    """A Deep-STORM csv with 0-based frames, read so on request (a frame 0 alone is refused): the summary says so."""
    movie, truth = simulate_movie(n_frames=8, height=40, width=40, pixel_size=100.0, emitters_per_frame=6, seed=3)
    tif = write_tif(tmp_path / "m.tif", movie, 100.0)
    zero_based = truth.assign(frame=truth["frame"] - 1)
    csv = tmp_path / "zero.csv"
    pd.DataFrame({"frame": zero_based["frame"], "x [nm]": zero_based["x"], "y [nm]": zero_based["y"]},
                 index=pd.RangeIndex(1, len(truth) + 1)).to_csv(csv)
    with pytest.raises(InputError, match="in frame 0"):
        sum_patches(tif, csv, patch_size=12, n_patches=10, n_summed=5, bin_size=2, min_emitters=1, seed=0,
                    progress=False)
    result = sum_patches(tif, LocsFile(csv, frame_base=0), patch_size=12, n_patches=10, n_summed=5, bin_size=2, min_emitters=1,
                         seed=0, progress=False)
    text = result.summary()
    assert "note (zero.csv)" in text and "0-based" in text
    assert result.params["inputs"][0]["locs_frame_base"] == 0
    assert any("0-based" in n for n in result.params["inputs"][0]["locs_notes"])


# ---------------------------------------------------------------------------------------------
# background statistics: computed when shown; emitter-free pixels compared like with like
# ---------------------------------------------------------------------------------------------


def test_statistics_are_computed_only_when_shown(tmp_path, bright, monkeypatch):
    import imagesumming.summing as summing

    calls = []
    real = summing._background_statistics
    monkeypatch.setattr(summing, "_background_statistics", lambda *a: calls.append(1) or real(*a))
    movie, truth = bright
    res = sum_patches(movie, truth, pixel_size=PS, patch_size=16, n_patches=30, n_summed=10, bin_size=3,
                      seed=0, progress=False)
    res.save(tmp_path)
    assert calls == []  # summing and saving the four outputs need no statistics
    text = res.summary()
    assert len(calls) == 1 and "background noise" in text
    res.plot_background()
    assert res.summary() == text and len(calls) == 1  # cached
    used = res.provenance.drop_duplicates("patch").set_index("patch")
    assert (res.patch_table.set_index("patch").loc[used.index, ["frame", "row", "col"]] == used[["frame", "row", "col"]]).all().all()


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.int32, np.float32, np.uint8])
def test_masked_median_noise_matches_numpy(dtype):
    from imagesumming.stats import masked_median_noise

    rng = np.random.default_rng(3)
    stack = rng.integers(90, 140, (50, 8, 9)).astype(dtype)
    mask = rng.random(stack.shape) < rng.uniform(0, 1, (50, 1, 1))
    med, noise, n = masked_median_noise(stack, mask, min_pixels=5, chunk=16)
    for i in range(50):
        v = stack[i][mask[i]].astype(float)
        assert n[i] == len(v)
        if len(v) < 5:
            assert np.isnan(med[i]) and np.isnan(noise[i])
        else:
            assert med[i] == np.median(v)
            assert noise[i] == pytest.approx(1.4826 * np.median(np.abs(v - np.median(v))))
    assert np.isnan(med).any() and np.isfinite(med).any()  # both cases were exercised


@pytest.mark.parametrize("stencil_step", [None, 1])
def test_emitter_mask_marks_pixels_within_the_radius_also_from_outside_the_window(stencil_step, monkeypatch):
    import imagesumming.stats
    from imagesumming.stats import emitter_mask

    if stencil_step:  # one localization per step: the chunked path gives the same mask
        monkeypatch.setattr(imagesumming.stats, "_STENCIL_ELEMENTS", stencil_step)

    # window of 6 px at row 10, col 20 (pixel size 100 nm); one localization inside, one 1.2 px left of it
    x = np.array([2250.0, 1880.0])
    y = np.array([1310.0, 1420.0])
    mask = emitter_mask(x, y, np.array([0, 0]), [10], [20], 6, pixel_size=100.0, radius=180.0)
    cy, cx = (np.arange(6)[:, None] + 10.5) * 100, (np.arange(6)[None, :] + 20.5) * 100
    expect = np.zeros((6, 6), bool)
    for xi, yi in zip(x, y):
        expect |= (cx - xi) ** 2 + (cy - yi) ** 2 < 180.0 ** 2
    np.testing.assert_array_equal(mask[0], expect)
    assert expect[:, 0].any()  # the outside localization's light reaches into column 0


def test_window_members_with_a_margin_match_brute_force():
    locs = random_locs(5, 40, 48, per_frame=30, seed=4)
    index = index_locs([locs], [5], PS, heights=[40])
    rng = np.random.default_rng(1)
    fr, row, col = rng.integers(0, 5, 40), rng.integers(0, 40 - 8, 40), rng.integers(0, 48 - 8, 40)
    window, entry = window_members(index, np.zeros(40, int), fr, row, col, 8, margin=3, heights=[40])
    px, py = np.floor(locs["x"] / PS).to_numpy(), np.floor(locs["y"] / PS).to_numpy()
    for w in range(40):
        sel = ((locs["frame"].to_numpy() == fr[w] + 1) & (py >= row[w] - 3) & (py < row[w] + 11)
               & (px >= col[w] - 3) & (px < col[w] + 11))
        assert sorted(index.source[entry[window == w]]) == sorted(np.flatnonzero(sel))


@pytest.mark.parametrize("augment", [False, True])
def test_emitter_masks_cover_every_patch_localization_and_turn_with_the_patch(bright, augment):
    from imagesumming.summing import _emitter_masks

    movie, truth = bright
    res = sum_patches(movie, truth, pixel_size=PS, patch_size=16, n_patches=30, n_summed=12, bin_size=3,
                      augment=augment, seed=2, progress=False)
    radius = res.background_mask["radius_nm"]
    assert radius == pytest.approx(3 * 110)  # 3 x the localizations' sigma
    near = _emitter_masks(res.stats_inputs, 16, radius)
    centres = (np.arange(16) + 0.5) * PS
    for patch in sorted(set(res.provenance["patch"])):
        pl = res._patch_locs(patch)  # patch coordinates, after the patch's symmetry
        for x, y in zip(pl["x"], pl["y"]):
            close = (centres[None, :] - x) ** 2 + (centres[:, None] - y) ** 2 < radius ** 2
            assert near[patch][close].all(), (patch, x, y)
    assert res.patch_table["bg_pixels"].to_numpy().tolist() == (~near).sum(axis=(1, 2)).tolist()


def test_background_noise_compares_like_with_like():
    # known background: 30 photons/px, gain 1, read noise 1.5 ADU -> source noise ~ sqrt(30 + 2.25)
    movie, truth = simulate_movie(n_frames=60, height=64, width=64, pixel_size=PS, emitters_per_frame=5,
                                  photons=4000, min_photons=3000, background=30, psf_sigma=120, seed=5)
    k = 9
    res = sum_patches(movie, truth, pixel_size=PS, patch_size=24, n_patches=120, n_summed=40, bin_size=k,
                      seed=1, progress=False)
    pt, bg = res.patch_table, res.background
    src_noise, summed_noise = pt["bg_noise"].mean(), bg["bg_noise"].mean()
    assert pt["bg_level"].mean() == pytest.approx(30, abs=1.0)  # the background above the offset
    assert bg["bg_level"].mean() == pytest.approx(k * 30, rel=0.03)  # k-fold
    assert src_noise == pytest.approx(np.sqrt(30 + 1.5 ** 2), rel=0.1)
    assert summed_noise == pytest.approx(np.sqrt(k) * src_noise, rel=0.1)  # noise x sqrt(k)
    # the expectations are exactly the sources' figures added (levels) and in quadrature (noise)
    by_frame = res.provenance.groupby("summed_frame")["patch"].apply(list)
    ptp = pt.set_index("patch")
    for s in (1, 20, 40):
        src = ptp.loc[by_frame[s]]
        assert bg.at[s - 1, "expected_level"] == pytest.approx(src["bg_level"].sum())
        assert bg.at[s - 1, "expected_noise"] == pytest.approx(np.sqrt((src["bg_noise"] ** 2).sum()))
    # all pixels mix emitters into the noise of the dense sums: what the old summary compared
    assert bg["noise_mad"].mean() > 1.3 * bg["sources_noise"].mean()
    text = res.summary()
    assert f"sqrt(k) x {src_noise:.2f}" in text and f"k = {k} x {pt['bg_level'].mean():.2f}" in text
    assert "emitter-free: pixel centre farther than 360 nm (3 x PSF sigma 120 nm" in text


def test_background_without_sigma_or_emitter_free_pixels_says_so():
    movie, truth = simulate_movie(n_frames=20, height=40, width=40, pixel_size=PS, emitters_per_frame=12,
                                  photons=3000, background=10, seed=2)
    res = sum_patches(movie, truth.drop(columns="sigma"), pixel_size=PS, patch_size=10, n_patches=40,
                      n_summed=10, bin_size=8, min_emitters=2, seed=0, progress=False)
    assert res.background_mask["psf_sigma_source"].startswith("one camera pixel")
    assert res.background["bg_level"].isna().all()  # 8 x 2+ emitters leave no 20 emitter-free pixels
    text = res.summary()
    assert "summed n/a" in text and "10 summed frame(s) with fewer than 20 such pixels left out" in text


def test_extra_columns_are_carried_with_their_dtypes(bright):
    movie, truth = bright
    t = truth.copy()
    t["label"] = pd.Series([f"e{i}" for i in range(len(t))], dtype=object)
    t["group"] = pd.array(np.arange(len(t)) % 3, dtype="Int64")
    t["kind"] = pd.Categorical(np.where(np.arange(len(t)) % 2, "a", "b"))
    res = sum_patches(movie, t, pixel_size=PS, patch_size=16, n_patches=30, n_summed=10, bin_size=3, seed=0,
                      progress=False)
    canonical = make_locs(t)
    for c in ("label", "group", "kind", "photons", "sigma", "emitter"):
        assert res.locs[c].dtype == canonical[c].dtype, c
    # each output row carries the values of the input row it came from
    src = t.set_index("label")
    back = src.loc[res.locs["label"]]
    np.testing.assert_array_equal(back["photons"].to_numpy(), res.locs["photons"].to_numpy())
    assert list(back["group"]) == list(res.locs["group"]) and list(back["kind"]) == list(res.locs["kind"])
    assert isinstance(res.locs.index, pd.RangeIndex)


def test_index_row_table_and_binary_search_agree(monkeypatch):
    import imagesumming.sampling as sampling

    tables = [random_locs(6, 40, 48, per_frame=25, seed=s) for s in (7, 8)]
    with_table = index_locs(tables, [6, 6], PS, heights=[40, 40])
    monkeypatch.setattr(sampling, "_ROW_TABLE_MAX", 0)
    without = index_locs(tables, [6, 6], PS, heights=[40, 40])
    assert with_table.row_start is not None and without.row_start is None
    rng = np.random.default_rng(2)
    mov, fr = rng.integers(0, 2, 300), rng.integers(0, 6, 300)
    row, col = rng.integers(0, 40 - 9, 300), rng.integers(0, 48 - 9, 300)
    for margin in (0, 2):
        a = window_members(with_table, mov, fr, row, col, 9, margin=margin, heights=[40, 40])
        b = window_members(without, mov, fr, row, col, 9, margin=margin, heights=[40, 40])
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert len(a[0]) > 100


@pytest.mark.parametrize("augment", [False, True])
def test_summed_positions_keep_the_digits_of_the_input(tmp_path, augment):
    """x - col * ps leaves float noise (3000.48 - 2033 = 967.4800000000032): positions are kept to 1e-6 nm."""
    from imagesumming.summing import POSITION_DECIMALS

    rng = np.random.default_rng(4)
    n = 400
    x = np.round(rng.uniform(0, 40 * 107.0, n), 2)  # two decimals, as ThunderSTORM-like files give them
    y = np.round(rng.uniform(0, 40 * 107.0, n), 2)
    locs = make_locs({"frame": rng.integers(1, 6, n), "x": x, "y": y})
    res = sum_patches(np.full((5, 40, 40), 100, np.uint16), locs, pixel_size=107.0, patch_size=12, n_patches=30,
                      n_summed=10, bin_size=3, min_emitters=1, augment=augment, seed=2, progress=False)
    paths = res.save(tmp_path / "o")
    text = paths["csv"].read_text().splitlines()[1:]
    for line in text:
        for field in line.split(",")[2:4]:
            whole, _, frac = field.partition(".")
            assert len(frac) <= 2, line  # the input's two decimals, no 16th-digit noise
    # every output position is its source position moved by whole pixels (and the patch's symmetry), to 1e-6 nm
    P, ps = 12, 107.0
    prov = res.provenance
    back, _ = read_locs(paths["csv"])
    assert np.array_equal(back["x"].to_numpy(), res.locs["x"].to_numpy())
    for frame, group in back.groupby("frame"):
        slots = prov[prov["summed_frame"] == frame]
        cand = []
        for _, s in slots.iterrows():
            sel = locs[(locs["frame"] == s["frame"]) & (locs["x"] >= s["col"] * ps) & (locs["x"] < (s["col"] + P) * ps)
                       & (locs["y"] >= s["row"] * ps) & (locs["y"] < (s["row"] + P) * ps)]
            mx, my = sel["x"].to_numpy() - s["col"] * ps, sel["y"].to_numpy() - s["row"] * ps
            code = TRANSFORMS.index(s["transform"])
            cand.append(np.stack(transform_xy(mx, my, np.full(len(mx), code), P * ps), axis=1))
        want = np.concatenate(cand)
        got = group[["x", "y"]].to_numpy()
        assert len(got) == len(want)
        got, want = got[np.lexsort(got.T)], want[np.lexsort(want.T)]
        assert np.abs(got - want).max() <= 0.5 * 10.0 ** -POSITION_DECIMALS + 1e-9
    assert back["x"].between(0, P * ps, inclusive="left").all() and back["y"].between(0, P * ps, inclusive="left").all()
