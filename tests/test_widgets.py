"""The notebook UIs driven from Python: set values, press buttons, check files and what is shown.

Runs without a kernel or front end: buttons are pressed with ``.click()`` and figures are checked
in the Output widgets' ``outputs`` (PNG records).
"""

from __future__ import annotations

import base64
import datetime
import json
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from imagesumming.demo import make_demo_data, make_demo_prediction
from imagesumming.io import open_movie, read_locs
from imagesumming.widgets import AddOnsUI, PredictionViewerUI, SummingUI
from imagesumming.widgets import _common as c
from imagesumming.widgets._viewer import threshold_text

IPYW7 = ipywidgets.__version__.startswith("7.")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """Demo movie + ground truth, and a fake Deep-STORM prediction folder made from them."""
    folder = tmp_path_factory.mktemp("demo")
    movie_path, locs_path = make_demo_data(folder, seed=2)
    truth, _ = read_locs(locs_path)
    with open_movie(movie_path) as m:
        pred = make_demo_prediction(folder / "prediction", truth, pixel_size=m.pixel_size, height=m.height,
                                    width=m.width, movie=np.asarray(m), seed=2)
    return {"folder": folder, "movie": movie_path, "locs": locs_path, "truth": truth, "pred": pred}


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _png(out) -> bytes:
    rec = [r for r in out.outputs if "image/png" in r["data"]][-1]
    return base64.b64decode(rec["data"]["image/png"])


# --- summing --------------------------------------------------------------------------------------
def _small_run(ui: SummingUI, seed="5") -> None:
    ui.n_patches.value, ui.n_summed.value, ui.bin_size.value = 40, 12, 4
    ui.seed.value = seed


def test_summing_ui_from_folder_load_run_show_save(demo, tmp_path):
    ui = SummingUI.from_folder(demo["folder"], out_dir=str(tmp_path / "out"))
    assert ui.name.value == "summed" and ui.out_dir.value == str(tmp_path / "out")
    assert [(r.movie.value, r.locs.value) for r in ui.rows] == [(str(demo["movie"]), str(demo["locs"]))]
    # the original notebook's defaults; the pixel size from the files (0)
    assert (ui.pixel_size.value, ui.camera_offset.value, ui.patch_size.value, ui.n_patches.value,
            ui.n_summed.value, ui.bin_size.value, ui.min_emitters.value) == (0, 100, 30, 200, 100, 10, 2)

    ui.load_button.click()
    assert "loaded 1 input pair" in c.message_text(ui.inputs_status)
    assert c.shown_images(ui.input_out) == 1 and c.shown_images(ui.input_density_out) == 1
    assert _png(ui.input_out).startswith(b"\x89PNG")
    info = c.message_text(ui.input_info)
    assert "demo_movie.tif" in info and str(len(demo["truth"])) in info
    first = _png(ui.input_out)
    ui.input_frame.value = 7  # the slider redraws the frame
    assert ui.input_frame.max == 60 and _png(ui.input_out) != first

    _small_run(ui)
    ui.run_button.click()
    assert c.message_text(ui.run_status).startswith("done: 12 summed frames"), c.message_text(ui.run_status)
    assert ui.progress.value == ui.progress.max and ui.progress.bar_style == "success"
    r = ui.result
    assert r.frames.shape == (12, 30, 30) and r.params["seed"] == 5 and r.params["bin_size"] == 4
    assert c.shown_images(ui.result_out) == 1 and c.shown_images(ui.density_out) == 2
    assert "summed frames: 12" in c.message_text(ui.summary)
    settings = c.message_text(ui.settings)
    assert "patch_size 29" in settings and "num_patches_per_frame 1" in settings
    frame1 = _png(ui.result_out)
    ui.result_frame.value = 12
    assert ui.result_frame.max == 12 and _png(ui.result_out) != frame1

    ui.single_button.click()
    assert c.shown_images(ui.single_out) == 1 and c.message_text(ui.result_status) == ""

    ui.name.value = "train"
    ui.save_button.click()
    assert sorted(_files(tmp_path / "out")) == ["train.csv", "train.tif", "train_params.json",
                                                 "train_provenance.csv"], c.message_text(ui.save_status)
    assert "saved 4 file(s)" in c.message_text(ui.save_status)
    with open_movie(tmp_path / "out" / "train.tif") as m:
        assert m.shape == (12, 30, 30) and m.pixel_size == pytest.approx(107.0)
    saved = read_locs(tmp_path / "out" / "train.csv")[0]
    assert len(saved) == len(r.locs)
    assert json.loads((tmp_path / "out" / "train_params.json").read_text())["seed"] == 5

    # saving again is refused (nothing overwritten) until "overwrite" is ticked
    before = (tmp_path / "out" / "train.tif").stat().st_mtime_ns
    ui.save_button.click()
    assert "exists already" in c.message_text(ui.save_status)
    assert (tmp_path / "out" / "train.tif").stat().st_mtime_ns == before
    ui.force.value = True
    ui.save_button.click()
    assert "saved 4 file(s)" in c.message_text(ui.save_status)
    assert (tmp_path / "out" / "train.tif").stat().st_mtime_ns != before


def test_summing_ui_parameters_reach_the_api(demo, tmp_path):
    ui = SummingUI([demo["movie"]], [demo["locs"]], out_dir=tmp_path)
    _small_run(ui, seed="")
    ui.mode.value = "target density"
    assert ui.bin_size.disabled and not ui.target_density.disabled
    ui.target_density.value = 0.8  # k = 4 on these patches
    ui.n_patches.value = 60  # each patch used once: 12 frames x 4 patches
    ui.unique.value, ui.augment.value = True, True
    ui.camera_offset.value = 90
    p = ui.parameters()
    assert p["seed"] is None and p["target_density"] == 0.8 and p["unique"] and p["augment"]
    assert ui.run()
    r = ui.result
    assert r.params["target_density"] == 0.8 and r.params["camera_offset"] == 90
    assert r.params["augment"] and r.params["unique"] and r.params["seed"] is not None  # drawn and recorded
    ui.seed.value = "abc"
    assert not ui.run()
    assert "seed must be a whole number" in c.message_text(ui.run_status)
    assert ui.progress.bar_style == "danger"


def test_summing_ui_bad_input_shows_message_and_writes_nothing(demo, tmp_path):
    out = tmp_path / "out"
    ui = SummingUI([tmp_path / "missing.tif"], [demo["locs"]], out_dir=str(out))
    ui.load_button.click()
    msg = c.message_text(ui.inputs_status)
    assert msg.startswith("Error:") and "missing.tif" in msg and "no such file" in msg
    assert "Traceback" not in ui.inputs_status.value
    ui.run_button.click()
    assert "no such file" in c.message_text(ui.run_status) and ui.result is None
    ui.save_button.click()
    assert "press Run first" in c.message_text(ui.save_status)
    # only one of a pair, and a parameter the API refuses
    ui.rows[0].movie.value = str(demo["movie"])
    ui.rows[0].locs.value = ""
    assert not ui.load() and "give both" in c.message_text(ui.inputs_status)
    ui.rows[0].locs.value = str(demo["locs"])
    ui.patch_size.value = 500  # larger than the 96 px frames
    assert not ui.run() and c.message_text(ui.run_status).startswith("Error:")
    assert ui.result is None and not out.exists()


def test_summing_ui_unexpected_exception_is_a_message(demo, tmp_path, monkeypatch):
    import imagesumming.summing

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(imagesumming.summing, "sum_patches", boom)
    ui = SummingUI([demo["movie"]], [demo["locs"]], out_dir=tmp_path)
    assert not ui.run()
    assert c.message_text(ui.run_status) == "Error: RuntimeError: disk on fire"


def test_summing_ui_pairs_and_uploads(demo, tmp_path):
    ui = SummingUI(upload_dir=tmp_path / "uploads")
    assert len(ui.rows) == 1
    ui.add_button.click()
    assert len(ui.rows) == 2 and len(ui.rows_box.children) == 2
    ui.rows[1].remove.click()
    assert len(ui.rows) == 1
    ui.rows[0].remove.click()  # the last row is emptied, not removed
    assert len(ui.rows) == 1

    files = {"a_movie.tif": demo["movie"].read_bytes(), "a_movie.csv": demo["locs"].read_bytes(),
             "b.tif": demo["movie"].read_bytes(), "notes.yaml": b"Pixelsize: 107\n"}
    if IPYW7:  # what the 7.x front end sends: metadata and data, then a counter increment
        ui.upload.metadata = [{"name": n, "type": "", "size": len(b), "lastModified": 0} for n, b in files.items()]
        ui.upload.data = list(files.values())
        ui.upload._counter += 1
    else:
        now = datetime.datetime.now(datetime.timezone.utc)
        ui.upload.value = tuple({"name": n, "type": "", "size": len(b), "last_modified": now,
                                 "content": memoryview(b)} for n, b in files.items())
    assert "uploaded 4 file(s)" in c.message_text(ui.inputs_status)
    up = tmp_path / "uploads"
    assert sorted(p.name for p in up.iterdir()) == sorted(files)
    assert c.uploaded_files(ui.upload) == []  # emptied for the next upload
    assert (up / "a_movie.tif").read_bytes() == files["a_movie.tif"]
    assert [(r.movie.value, r.locs.value) for r in ui.rows] == [(str(up / "a_movie.tif"), str(up / "a_movie.csv")),
                                                                 (str(up / "b.tif"), "")]
    assert not ui.load() and "row 2" in c.message_text(ui.inputs_status)
    ui.rows[1].remove.click()
    assert ui.load()


def test_uploaded_files_reads_both_ipywidgets_layouts():
    v7 = types.SimpleNamespace(value={"a.tif": {"metadata": {"name": "a.tif"}, "content": b"12"}})
    v8 = types.SimpleNamespace(value=({"name": "b.csv", "type": "text/csv", "size": 2, "content": memoryview(b"34")},))
    assert c.uploaded_files(v7) == [("a.tif", b"12")]
    assert c.uploaded_files(v8) == [("b.csv", b"34")]


def test_find_pairs(tmp_path):
    for name in ("x.tif", "x_locs.hdf5", "y.tiff", "y.csv", "z.tif", "Localizations_x_avg.csv"):
        (tmp_path / name).write_bytes(b"0")
    assert c.find_pairs(tmp_path) == [(tmp_path / "x.tif", tmp_path / "x_locs.hdf5"),
                                      (tmp_path / "y.tiff", tmp_path / "y.csv")]
    one = tmp_path / "one"
    one.mkdir()
    (one / "movie.tif").write_bytes(b"0")
    (one / "whatever.csv").write_bytes(b"0")
    assert c.find_pairs(one) == [(one / "movie.tif", one / "whatever.csv")]
    assert c.find_pairs(tmp_path / "absent") == []


# --- add-ons --------------------------------------------------------------------------------------
def test_addons_ui_every_form_writes_its_files(demo, tmp_path):
    ui = AddOnsUI.from_folder(demo["folder"], out_dir=tmp_path)
    assert ui.split_at.value == 30  # half of the 60 frames
    n = len(demo["truth"])

    ui.convert_form.button.click()
    assert f"wrote {n} localizations" in c.message_text(ui.convert_form.status)
    conv = read_locs(tmp_path / "demo_locs_deepstorm.csv")[0]
    assert len(conv) == n and conv["frame"].min() >= 1

    ui.split_at.value = 20
    ui.split_form.button.click()
    assert "split: wrote" in c.message_text(ui.split_form.status)
    with open_movie(tmp_path / "split" / "demo_movie_part1.tif") as a, \
            open_movie(tmp_path / "split" / "demo_movie_part2.tif") as b:
        assert (len(a), len(b)) == (20, 40)

    # merge the movie with itself: the second copy's frames are offset by 60
    ui.merge_movies.value = f"{demo['movie']}\n{demo['movie']}"
    ui.merge_locs.value = f"{demo['locs']}\n{demo['locs']}"
    ui.merge_form.button.click()
    assert "merge: wrote merged.tif (120 frames)" in c.message_text(ui.merge_form.status)
    merged = read_locs(tmp_path / "merged.csv")[0]
    assert len(merged) == 2 * n and merged["frame"].max() == demo["truth"]["frame"].max() + 60

    ui.frames_form.button.click()
    assert len(list((tmp_path / "frames").glob("*.tif"))) == 60
    assert len(list((tmp_path / "frames").glob("*.csv"))) == 60

    ui.sum_n.value = 7
    ui.sum_form.button.click()
    msg = c.message_text(ui.sum_form.status)
    assert "sum-frames: wrote summed_frames.tif (8 frames)" in msg and "4 remainder frame(s)" in msg
    with open_movie(demo["movie"]) as m, open_movie(tmp_path / "summed_frames.tif") as s:
        ref = np.asarray(m[0:7], np.int64).sum(axis=0) - 6 * 100
        assert np.array_equal(np.asarray(s[0], np.int64), ref)


def test_addons_ui_converts_picasso_hdf5(demo, tmp_path):
    from imagesumming.io import write_picasso_hdf5
    from imagesumming.schema import locs_equal

    src = write_picasso_hdf5(tmp_path / "run_locs.hdf5", demo["truth"], pixel_size=107.0, width=96, height=96,
                             frames=60)
    ui = AddOnsUI(locs=src, out_dir=tmp_path / "out")
    assert ui.convert_output.value == str(tmp_path / "out" / "run_locs_deepstorm.csv")
    assert ui.convert() == tmp_path / "out" / "run_locs_deepstorm.csv"
    msg = c.message_text(ui.convert_form.status)
    assert "picasso-hdf5 (0-based frames" in msg and "pixel size 107 nm" in msg
    back, report = read_locs(tmp_path / "out" / "run_locs_deepstorm.csv")
    assert report.format == "deepstorm" and back["frame"].min() >= 1
    # Picasso's 0-based frames and pixel-centre coordinates come back as the original table (float32 px)
    assert locs_equal(back, demo["truth"], atol_nm=0.01, columns=["frame", "x", "y"])


def test_addons_ui_bad_inputs_show_messages_and_write_nothing(demo, tmp_path):
    ui = AddOnsUI(tmp_path / "nope.tif", tmp_path / "nope.csv", out_dir=tmp_path / "out")
    assert ui.convert() is None and "no such file" in c.message_text(ui.convert_form.status)
    assert ui.split() is None and "nope.tif" in c.message_text(ui.split_form.status)
    assert ui.merge() is None and c.message_text(ui.merge_form.status).startswith("Error:")
    assert ui.frames() is None and c.message_text(ui.frames_form.status).startswith("Error:")
    assert ui.sum_frames() is None and c.message_text(ui.sum_form.status).startswith("Error:")
    ui.merge_movies.value = ""
    assert ui.merge() is None and "give the movies" in c.message_text(ui.merge_form.status)
    # a good movie with a bad parameter
    ui.split_movie.value, ui.split_locs.value = str(demo["movie"]), str(demo["locs"])
    ui.split_at.value = 60
    assert ui.split() is None and c.message_text(ui.split_form.status).startswith("Error:")
    ui.sum_movie.value, ui.sum_locs.value = str(demo["movie"]), ""
    ui.sum_n.value = 61
    assert ui.sum_frames() is None and "only 60" in c.message_text(ui.sum_form.status)
    ui.convert_input.value, ui.convert_output.value = str(demo["locs"]), ""
    assert ui.convert() is None and "give the output csv" in c.message_text(ui.convert_form.status)
    assert _files(tmp_path / "out") == []
    # an existing output is refused and kept
    ui.convert_output.value = str(tmp_path / "exists.csv")
    (tmp_path / "exists.csv").write_text("keep me")
    assert ui.convert() is None and "exists already" in c.message_text(ui.convert_form.status)
    assert (tmp_path / "exists.csv").read_text() == "keep me"
    ui.convert_form.force.value = True
    assert ui.convert() == tmp_path / "exists.csv"


# --- prediction viewer ----------------------------------------------------------------------------
def test_viewer_loads_folder_and_threshold_updates_metrics(demo, tmp_path):
    ui = PredictionViewerUI.from_folder(demo["folder"])
    assert (ui.pred_dir.value, ui.gt_path.value, ui.movie_path.value) == (
        str(demo["pred"]["folder"]), str(demo["locs"]), str(demo["movie"]))
    ui.load_button.click()
    status = c.message_text(ui.status)
    n_pred = demo["pred"]["detected"] + demo["pred"]["false"]
    assert status.startswith(f"loaded {n_pred} predicted localizations"), status
    for out in (ui.frame_out, ui.hist_out, ui.density_out, ui.sweep_out):
        assert c.shown_images(out) == 1
    assert c.shown_images(ui.merged_out) == 1
    text0 = c.message_text(ui.metrics)
    assert f"{n_pred} of {n_pred} predicted localizations kept" in text0 and "Jaccard" in text0
    # at the lowest threshold every planted detection is matched within 100 nm (25 nm jitter)
    row = ui._metrics_row(ui.threshold.value)
    assert int(row["tp"]) + int(row["fn"]) == len(demo["truth"])
    assert int(row["tp"]) <= demo["pred"]["detected"] and int(row["fp"]) >= demo["pred"]["false"] - 5

    hist0, frame0 = _png(ui.hist_out), _png(ui.frame_out)
    ui.threshold.value = 0.5  # every false detection has confidence < 0.5
    text1 = c.message_text(ui.metrics)
    assert text1 != text0 and _png(ui.hist_out) != hist0
    row = ui._metrics_row(0.5)
    assert int(row["fp"]) <= 3 and int(row["n_pred"]) == int((ui.folder.locs["confidence"] >= 0.5).sum())
    ui.frame.value = 10
    assert _png(ui.frame_out) != frame0

    assert ui.recommended is not None
    ui.recommend_button.click()
    best = float(ui.recommended["threshold"])
    conf = ui.folder.locs["confidence"].to_numpy()
    # the slider moves to the shortest decimal keeping the same rows, and every part shows it alike
    t = ui.threshold.value
    assert t <= best and np.array_equal(conf >= t, conf >= best)
    shown = threshold_text(t)
    assert len(shown) <= len(threshold_text(best))
    assert f"recommended threshold {shown} " in c.message_text(ui.recommend_text)
    assert f"<b>threshold {shown}</b>" in ui.metrics.value
    assert ui.threshold.readout_format == f".{len(shown.split('.')[1])}f"

    ui.out_csv.value = str(tmp_path / "filtered.csv")
    ui.save_button.click()
    kept = read_locs(tmp_path / "filtered.csv")[0]
    assert len(kept) == int((ui.folder.locs["confidence"] >= ui.threshold.value).sum())
    assert f"kept {len(kept)} of {n_pred}" in c.message_text(ui.save_status)
    ui.save_button.click()
    assert "exists already" in c.message_text(ui.save_status)


def test_viewer_without_ground_truth_and_bad_folder(demo, tmp_path):
    ui = PredictionViewerUI(demo["pred"]["folder"])
    assert ui.load()
    assert "no ground truth" in c.message_text(ui.metrics)
    assert ui.sweep is None and ui.recommend_button.disabled
    assert not ui.use_recommended() and "no recommended threshold" in c.message_text(ui.status)
    assert c.shown_images(ui.density_out) == 1  # image size from the prediction images

    bad = PredictionViewerUI(tmp_path / "nothing-here")
    bad.load_button.click()
    msg = c.message_text(bad.status)
    assert msg.startswith("Error:") and "nothing-here" in msg
    bad.save_button.click()
    assert "press Load first" in c.message_text(bad.save_status)
    empty = tmp_path / "empty"
    empty.mkdir()
    bad.pred_dir.value = str(empty)
    assert not bad.load() and "no Localizations_" in c.message_text(bad.status)
    assert list(empty.iterdir()) == []


def test_viewer_prediction_without_confidence(demo, tmp_path):
    folder = tmp_path / "pred"
    folder.mkdir()
    table = pd.read_csv(demo["pred"]["locs"]).drop(columns=["confidence [a.u]"])
    table.to_csv(folder / "Localizations_x_avg.csv", index=False)
    ui = PredictionViewerUI(folder, demo["locs"], demo["movie"])
    assert ui.load(), c.message_text(ui.status)
    assert ui.threshold.disabled and "no confidence column" in c.message_text(ui.status)
    assert not ui.save() and "no confidence column" in c.message_text(ui.save_status)


# --- display -------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [SummingUI, AddOnsUI, PredictionViewerUI])
def test_uis_display_as_one_widget(cls, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    ui = cls()
    ui._ipython_display_()
    assert shown == [ui.widget] and isinstance(ui.widget, ipywidgets.VBox)


def test_summing_ui_says_when_a_typed_pixel_size_overrides_the_files(demo, tmp_path):
    """The API logs such overrides as warnings, which a kernel shows nowhere: the UI shows them."""
    ui = SummingUI([demo["movie"]], [demo["locs"]], out_dir=str(tmp_path / "out"))
    ui.pixel_size.value = 110  # the demo movie's tags say 107 nm
    assert ui.load()
    # a visible warning (its own line, marked), not a grey note
    assert ("Warning: demo_movie.tif says 107 nm per pixel; the 110 nm typed above are used"
            in c.message_text(ui.inputs_status))
    assert f"color:{c._COLORS['warning']}" in ui.inputs_status.value
    _small_run(ui)
    assert ui.run()
    text = c.message_text(ui.run_status)
    assert text.startswith("done:") and "Warning: pixel size 110 nm given overrides 107 nm" in text
    ui.pixel_size.value = 0  # from the files: nothing to say
    assert ui.load() and c.message_text(ui.inputs_status) == "loaded 1 input pair(s)"
    assert ui.run() and "Warning" not in c.message_text(ui.run_status)


def test_summing_ui_unreadable_frame_on_the_slider_is_a_message(demo):
    import dataclasses

    class Unreadable:
        n_frames, width, height = 60, 96, 96

        def __getitem__(self, i):
            raise OSError("frame unreadable (truncated file?)")

        def close(self):
            pass

    ui = SummingUI([demo["movie"]], [demo["locs"]])
    assert ui.load()
    ui._inputs[0] = dataclasses.replace(ui._inputs[0], movie=Unreadable())
    ui.input_frame.value = 3  # the observer must not raise (a traceback in the kernel's log)
    assert c.message_text(ui.inputs_status) == "Error: OSError: frame unreadable (truncated file?)"


# --- issue 12: forms that show results where people look ---------------------------------------
def test_find_pairs_never_offers_files_imagesumming_wrote(tmp_path):
    """A data folder holding a summing run (NAME_params.json names its files) offers only the raw pair."""
    from imagesumming.demo import run_demo

    run_demo(tmp_path, seed=1, plots=False)
    assert (tmp_path / "summed.tif").exists() and (tmp_path / "summed.csv").exists()
    assert c.find_pairs(tmp_path) == [(tmp_path / "demo_movie.tif", tmp_path / "demo_locs.csv")]
    ui = SummingUI.from_folder(tmp_path)
    assert [(r.movie.value, r.locs.value) for r in ui.rows] == [(str(tmp_path / "demo_movie.tif"),
                                                                 str(tmp_path / "demo_locs.csv"))]
    addons = AddOnsUI.from_folder(tmp_path)
    assert addons.merge_movies.value == str(tmp_path / "demo_movie.tif")
    # the outputs of sum-frames (OUT_groups.json) are results too
    addons.sum_movie.value, addons.sum_locs.value = str(tmp_path / "demo_movie.tif"), str(tmp_path / "demo_locs.csv")
    addons.sum_output.value = str(tmp_path / "dense.tif")
    assert addons.sum_frames() is not None
    assert c.find_pairs(tmp_path) == [(tmp_path / "demo_movie.tif", tmp_path / "demo_locs.csv")]
    # an unrelated json with that name is not trusted to name anything
    (tmp_path / "other_params.json").write_text("[1, 2]")
    assert "demo_movie.tif" not in c.written_by_imagesumming(tmp_path)


def test_demo_writes_a_prediction_folder_the_viewer_and_evaluate_read(tmp_path):
    from imagesumming.demo import run_demo
    from imagesumming.evaluation import evaluate, load_prediction_folder

    demo = run_demo(tmp_path, seed=4, plots=False)
    pred = demo["prediction"]
    assert sorted(p.name for p in (tmp_path / "prediction").iterdir()) == [
        "Localizations_demo_movie_avg.csv", "Predicted_demo_movie.tif", "Widefield_demo_movie.tif"]
    with load_prediction_folder(tmp_path / "prediction", movie=demo["movie"], gt=demo["locs"]) as pf:
        assert len(pf.locs) == pred["detected"] + pred["false"] and pf.locs["confidence"].notna().all()
        table = evaluate(pf.gt, pf.locs, radii=(100,))
        assert 0.6 < float(table["recall"].iloc[0]) < 0.95  # 15 % missed, 25 nm jitter
    ui = PredictionViewerUI.from_folder(tmp_path)
    assert ui.pred_dir.value == str(tmp_path / "prediction") and ui.gt_path.value == str(demo["locs"])
    assert ui.load() and ui.recommended is not None
    with pytest.raises(Exception, match="exists already"):
        run_demo(tmp_path, seed=4, plots=False)


def test_forms_turn_the_api_bars_off_and_leave_no_widget_in_their_outputs(demo, tmp_path, monkeypatch):
    """The API's tqdm notebook bars close their widgets, which an Output shows as "model not found"."""
    import imagesumming.addons
    import imagesumming.summing

    calls = []
    for module, name in ((imagesumming.addons, "merge_movies"), (imagesumming.addons, "split_frames"),
                         (imagesumming.summing, "sum_patches")):
        real = getattr(module, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append((_name, kwargs.get("progress")))
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    ui = AddOnsUI(demo["movie"], demo["locs"], out_dir=tmp_path)
    assert ui.merge() is not None and ui.frames() is not None
    assert ui.merge_form.progress.bar_style == "success" and ui.merge_form.log.outputs == ()
    s = SummingUI([demo["movie"]], [demo["locs"]])
    _small_run(s)
    assert s.run() and s.run_log.outputs == ()
    assert calls == [("merge_movies", False), ("split_frames", False), ("sum_patches", False)]
    ui.split_movie.value = str(tmp_path / "nope.tif")  # a failing job marks its bar
    assert ui.split() is None and ui.split_form.progress.bar_style == "danger"


def test_summing_ui_results_under_their_controls_and_legible(demo, tmp_path):
    ui = SummingUI([demo["movie"]], [demo["locs"]])
    view = list(ui.result_view.children)
    controls = next(i for i, ch in enumerate(view) if ui.single_button in getattr(ch, "children", ()))
    # Show single's figure right under its button, the frame next, the long summary last
    assert view[controls + 2] is ui.single_out
    assert view.index(ui.summary) > view.index(next(ch for ch in view if ui.result_out in getattr(ch, "children", ())))
    assert ui.load()
    _small_run(ui)
    assert ui.run()
    # the page is asked to scroll to the summed frame (a JavaScript record aimed at its own class)
    js = ui._scroll.outputs[0]["data"]["application/javascript"]
    assert ui._result_hook in js and ui._result_hook in ui.result_out._dom_classes
    assert "white-space:pre-wrap;word-break:normal" in ui.summary.value
    assert ui.show_single()
    assert ui._single_hook in ui._scroll.outputs[0]["data"]["application/javascript"]
    single1 = _png(ui.single_out)
    ui.result_frame.value = 2  # the shown sources follow the slider
    assert c.shown_images(ui.single_out) == 1 and _png(ui.single_out) != single1
    from PIL import Image  # noqa: PLC0415 - matplotlib depends on pillow
    import io

    width, height = Image.open(io.BytesIO(_png(ui.single_out))).size
    assert width <= 1000 and height <= 900  # k = 4 sources: legible at notebook width, not a 2,288 px strip
    # frame images carry an intensity colorbar in ADU
    fig = ui.result.plot_frame(1)
    assert any(ax.get_ylabel() == "ADU" for ax in fig.axes)


def test_summing_ui_removed_pair_leaves_the_table_at_once(demo, tmp_path):
    other = tmp_path / "b"
    other.mkdir()
    movie2, locs2 = make_demo_data(other, seed=7)
    ui = SummingUI([demo["movie"], movie2], [demo["locs"], locs2])
    assert ui.load() and len(ui._inputs) == 2
    info = c.message_text(ui.input_info)
    assert info.count("demo_movie.tif") == 2 and "localization file" in info
    header = ui.input_info.value.split("</tr>")[0]  # each column named once
    assert header.count(">localizations<") == 1
    ui.rows[1].remove.click()
    assert len(ui._inputs) == 1 and ui._inputs[0].movie_path == demo["movie"]
    assert c.message_text(ui.input_info).count("demo_movie.tif") == 1
    assert [tuple(o) for o in ui.input_choice.options] == [("1: demo_movie.tif", 0)]
    assert "1 input pair(s) loaded" in c.message_text(ui.inputs_status)


def test_viewer_views_say_what_they_show(demo, tmp_path):
    from imagesumming.evaluation import sweep_view
    from imagesumming.evaluation.views import confidence_cmap

    ui = PredictionViewerUI(demo["pred"]["folder"], demo["locs"])  # no movie
    assert ui.load()
    from imagesumming.evaluation import folder_frame_view

    fig = folder_frame_view(ui.folder, 1, threshold=ui.threshold_value())
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "frame 1: ground truth (no movie given)" and "no movie" in titles[1]
    # the lowest confidence stays bright on a black image
    r, g, b, _ = confidence_cmap()(0.0)
    assert 0.299 * r + 0.587 * g + 0.114 * b > 0.3
    ui.threshold.value = 0.5
    s = sweep_view(ui.sweep, threshold=ui.threshold_value(), confidence=ui.folder.locs["confidence"])
    ax = s.axes[0]
    assert ax.get_ylabel() and any(t.get_text() == "current: 0.5" for t in ax.get_legend().get_texts())
    # the readout follows the value: one threshold, one way of writing it
    assert ui.threshold.readout_format == ".1f" and "<b>threshold 0.5</b>" in ui.metrics.value
    ui.out_csv.value = str(tmp_path / "f.csv")
    assert ui.save() and "confidence >= 0.5;" in c.message_text(ui.save_status)


def test_addons_ui_warns_when_a_typed_pixel_size_overrides_the_movie(demo, tmp_path):
    ui = AddOnsUI(demo["movie"], demo["locs"], out_dir=tmp_path)
    assert ui.split_form.pixel_size.value == 0  # from the files
    ui.split_form.pixel_size.value = 110  # the demo movie's tags say 107 nm
    assert ui.split() is not None
    msg = c.message_text(ui.split_form.status)
    assert "split: wrote" in msg and "Warning: demo_movie.tif says 107 nm per pixel; the 110 nm typed" in msg
    ui.merge_movies.value = f"{demo['movie']}\n{demo['movie']}"
    ui.merge_locs.value = f"{demo['locs']}\n{demo['locs']}"
    ui.merge_form.pixel_size.value = 107  # agrees: nothing to say
    assert ui.merge() is not None, c.message_text(ui.merge_form.status)
    assert "Warning" not in c.message_text(ui.merge_form.status)
