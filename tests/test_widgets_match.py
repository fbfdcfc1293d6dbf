"""The ImageSumming form's optional "movie to analyze" field (sum_matching behind it)."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")

from imagesumming import write_locs, write_tif  # noqa: E402
from imagesumming.synthetic import simulate_movie  # noqa: E402
from imagesumming.widgets import SummingUI  # noqa: E402
from imagesumming.widgets import _common as c  # noqa: E402


def test_movie_to_analyze_sets_the_target_and_shows_the_comparison(tmp_path):
    low, locs = simulate_movie(n_frames=200, height=64, width=64, pixel_size=107.0, density=0.3, seed=1)
    dense, _ = simulate_movie(n_frames=10, height=64, width=64, pixel_size=107.0, density=2.0, seed=2)
    write_tif(tmp_path / "low.tif", low, 107.0)
    write_locs(tmp_path / "low.csv", locs, "deepstorm")
    write_tif(tmp_path / "dense.tif", dense, 107.0)
    ui = SummingUI([tmp_path / "low.tif"], [tmp_path / "low.csv"], out_dir=str(tmp_path / "out"))
    ui.n_patches.value, ui.n_summed.value, ui.seed.value = 100, 10, "3"
    assert ui.run() and "match" not in ui.result.params  # empty field: the plain summing
    ui.match_movie.value = str(tmp_path / "dense.tif")
    assert ui.run(), c.message_text(ui.run_status)
    m = ui.result.params["match"]
    assert m["min_emitters"] == "auto" and ui.result.params["target_density"] == pytest.approx(m["target"]["density"])
    assert "match: target dense.tif" in ui.summary.value
    ui.auto_min.value = False
    ui.min_emitters.value = 1
    assert ui.run() and ui.result.params["match"]["min_emitters"] == 1
    ui.match_movie.value = str(tmp_path / "missing.tif")
    assert not ui.run() and "no such file" in c.message_text(ui.run_status)
