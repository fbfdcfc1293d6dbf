"""The canonical localization table and the per-frame statistics built on it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imagesumming.schema import CANONICAL, REQUIRED, empty_locs, locs_equal, make_locs, sort_locs
from imagesumming.stats import counts_per_frame, density_per_frame


def test_make_locs_orders_columns_and_fixes_dtypes():
    df = make_locs(pd.DataFrame({"note": ["a", "b"], "y": [1, 2], "photons": [3, 4], "x": [5, 6],
                                 "frame": [2.0, 1.0]}, index=[10, 20]))
    assert list(df.columns) == ["frame", "x", "y", "photons", "note"]
    assert df["frame"].dtype == np.int64
    assert df["x"].dtype == df["y"].dtype == df["photons"].dtype == np.float64
    assert list(df["note"]) == ["a", "b"]
    assert df.index.equals(pd.RangeIndex(2))


def test_make_locs_copies_its_input():
    src = pd.DataFrame({"frame": [1], "x": [1.0], "y": [2.0], "extra": [7]})
    df = make_locs(src)
    df.loc[0, "x"] = 99.0
    df.loc[0, "extra"] = 0
    assert src.loc[0, "x"] == 1.0 and src.loc[0, "extra"] == 7


def test_make_locs_requires_frame_x_y():
    with pytest.raises(KeyError, match="y"):
        make_locs({"frame": [1], "x": [1.0]})


def test_empty_locs():
    df = empty_locs()
    assert len(df) == 0 and tuple(df.columns) == REQUIRED and df["frame"].dtype == np.int64
    assert list(empty_locs(("frame", "x", "y", "photons")).columns) == ["frame", "x", "y", "photons"]


def test_sort_locs_is_stable():
    df = make_locs({"frame": [3, 1, 3, 1], "x": [0.0, 1.0, 2.0, 3.0], "y": [0.0] * 4})
    out = sort_locs(df)
    assert list(out["frame"]) == [1, 1, 3, 3]
    assert list(out["x"]) == [1.0, 3.0, 0.0, 2.0]
    assert out.index.equals(pd.RangeIndex(4))


def test_locs_equal():
    a = make_locs({"frame": [1, 2], "x": [1.0, 2.0], "y": [3.0, np.nan]})
    b = make_locs({"frame": [2, 1], "x": [2.0, 1.0 + 1e-8], "y": [np.nan, 3.0]})
    assert locs_equal(a, b)
    assert not locs_equal(a, b, atol_nm=1e-10)
    assert not locs_equal(a, b.iloc[:1])
    c = b.copy()
    c.loc[0, "frame"] = 3
    assert not locs_equal(a, c)


def test_canonical_names_are_unique_and_start_with_required():
    assert CANONICAL[:3] == REQUIRED and len(set(CANONICAL)) == len(CANONICAL)


def test_counts_and_density_per_frame_include_empty_frames():
    locs = make_locs({"frame": [1, 1, 3, 3, 3, 7], "x": [0.0] * 6, "y": [0.0] * 6})
    np.testing.assert_array_equal(counts_per_frame(locs, 4), [2, 0, 3, 0])  # frame 7 is beyond 4
    d = density_per_frame(locs, 4, width=10, height=20, pixel_size=100.0)  # 1 x 2 µm
    np.testing.assert_allclose(d, [1.0, 0.0, 1.5, 0.0])
    assert d.mean() == pytest.approx(0.625)


def test_make_locs_from_arrays_matches_the_table_path_and_copies():
    """Readers hand make_locs a dict of 1-D arrays: the same table as from a DataFrame, never a view."""
    arrays = {"x": np.array([5.0, 6.0]), "frame": np.array([2.0, 1.0]), "y": np.array([1, 2]),
              "note": np.array(["a", "b"], dtype=object), "group": np.array([3, 4], np.int32)}
    fast, slow = make_locs(arrays), make_locs(pd.DataFrame(arrays))
    pd.testing.assert_frame_equal(fast, slow)
    assert list(fast.columns) == ["frame", "x", "y", "note", "group"] and fast["group"].dtype == np.int32
    fast.loc[0, "x"] = 99.0
    assert arrays["x"][0] == 5.0
    with pytest.raises(ValueError, match="same length"):
        make_locs({"frame": np.array([1, 2]), "x": np.array([1.0]), "y": np.array([1.0])})
    # lists, scalars and Series (aligned on their index) still go through pandas
    s = make_locs({"frame": pd.Series([1, 2], index=[5, 6]), "x": pd.Series([1.0, 2.0], index=[5, 6]), "y": 0.5})
    assert list(s["y"]) == [0.5, 0.5] and s.index.equals(pd.RangeIndex(2))
