"""Attack on the end-to-end speed-up (commits after 2d19c4f): behaviour that must not change.

Each test pins a case where the faster code paths (make_locs' fast path for dicts of arrays, the
column writer that replaced ``csv.writer`` for the provenance csv) must give what the old ones did.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from imagesumming.io._csvtext import write_columns
from imagesumming.schema import make_locs


def test_make_locs_gives_a_dict_of_arrays_the_dtypes_a_dataframe_would():
    # the fast path for 1-D arrays kept numpy's bytes dtype (|S1) where a DataFrame (and the old
    # make_locs) makes an object column; the same table must not depend on how it was handed in
    data = {"frame": np.array([1, 2]), "x": np.array([1.0, 2.0]), "y": np.array([3.0, 4.0]),
            "tag": np.array([b"a", b"bc"]), "when": np.array(["2020-01-01", "2020-01-02"], "datetime64[D]")}
    from_dict = make_locs(data)
    from_frame = make_locs(pd.DataFrame(data))
    assert [str(t) for t in from_dict.dtypes] == [str(t) for t in from_frame.dtypes]
    assert from_dict["tag"].dtype == object
    assert list(from_dict["tag"]) == [b"a", b"bc"]


def _csv_writer_text(path, columns):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(list(columns))
        writer.writerows(zip(*(np.asarray(v).tolist() for v in columns.values())))
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("values", [
    [1, 1.0, True, 0, False, 0.0, "1", None],  # equal hashes: 1 == 1.0 == True, 0 == 0.0 == False
    [np.float64(1.5), np.float32(0.25), np.int64(3), np.bool_(True), "x"],  # numpy scalars in an object column
    ["a,b", 'q"u', "", None, "ünï", "a,b"],
], ids=["equal-hashes", "numpy-scalars", "text"])
def test_write_columns_writes_object_columns_as_the_csv_module(tmp_path, values):
    # write_columns replaced csv.writer for NAME_provenance.csv ("the same bytes as csv.writer"):
    # a value must never be written as another one that happens to hash equal, nor as its repr
    columns = {"value": np.array(values, dtype=object), "n": np.arange(len(values))}
    write_columns(tmp_path / "new.csv", columns)
    assert (tmp_path / "new.csv").read_text(encoding="utf-8") == _csv_writer_text(tmp_path / "old.csv", columns)
