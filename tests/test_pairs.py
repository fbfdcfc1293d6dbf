"""Pairing movies with localization files from form fields (imagesumming.pairs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagesumming.errors import InputError
from imagesumming.pairs import pair_files, split_paths


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("m/b.tif", "m/a.tif", "m/a_locs.hdf5", "m/b_locs.hdf5", "m/a.csv", "m/b.csv", "locs/a.csv",
                 "m/c.ome.tif", "m/c_locs.hdf5"):
        p = tmp_path / name
        p.parent.mkdir(exist_ok=True)
        p.write_text("x")
    return tmp_path


def names(pairs):
    return [(m.as_posix(), loc.as_posix()) for m, loc in pairs]


def test_split_paths_takes_semicolons_newlines_quotes_and_lists():
    assert split_paths(' "a.tif" ; b.tif\n\n c.tif ;') == ["a.tif", "b.tif", "c.tif"]
    assert split_paths("") == [] and split_paths(None) == []
    assert split_paths([Path("x.tif"), " y.tif "]) == ["x.tif", "y.tif"]


def test_lists_pair_in_the_order_given(files):
    pairs = pair_files("m/b.tif; m/a.tif", "m/b.csv\nm/a.csv")
    assert names(pairs) == [("m/b.tif", "m/b.csv"), ("m/a.tif", "m/a.csv")]
    assert names(pair_files("m/a.tif", "locs/a.csv")) == [("m/a.tif", "locs/a.csv")]  # relative to the working folder


def test_a_pattern_pairs_by_the_movies_name(files):
    pairs = pair_files("m/*.tif", "{stem}_locs.hdf5")  # a bare name: beside each movie
    assert names(pairs) == [("m/a.tif", "m/a_locs.hdf5"), ("m/b.tif", "m/b_locs.hdf5"),
                            ("m/c.ome.tif", "m/c_locs.hdf5")]
    pairs = pair_files("m/a.tif;m/b.tif", "m/{stem}.csv")  # with a folder: from the working folder
    assert names(pairs) == [("m/a.tif", "m/a.csv"), ("m/b.tif", "m/b.csv")]
    assert names(pair_files("m/a*.tif", "m/a.csv")) == [("m/a.tif", "m/a.csv")]  # a pattern matching one file


@pytest.mark.parametrize("movies,locs,message", [
    ("m/a.tif;m/b.tif", "m/a.csv", r"2 movie\(s\) but 1 localization file"),
    ("m/*.tif", "m/a.csv;m/b.csv;m/a_locs.hdf5", "name their localizations with {stem}"),
    ("m/*.tif", "m/*.csv", "cannot be paired by a pattern"),
    ("m/*.png", "{stem}.csv", "no movie matches the pattern"),
    ("m", "{stem}.csv", "is a folder"),
    ("m/a.tif;m/../m/a.tif", "{stem}.csv", "given twice"),
    ("m/a.tif", "{stem}_missing.csv", "no localization file for movie"),
    ("m/missing.tif", "m/a.csv", "no such file"),
    ("m/a.tif", "", "give both"),
    ("m/a.tif", "{stem}*.csv", "pattern character"),
])
def test_ambiguous_or_missing_inputs_are_refused(files, movies, locs, message):
    with pytest.raises(InputError, match=message):
        pair_files(movies, locs)
