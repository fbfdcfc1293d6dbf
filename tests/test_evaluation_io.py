"""Prediction folders, the confidence filter, views and the CLI (imagesumming.evaluation)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from imagesumming.cli import main
from imagesumming.demo import make_demo_prediction
from imagesumming.errors import InputError, OutputExistsError
from imagesumming.evaluation import (confidence_histogram, density_view, evaluate, filter_confidence,
                                     filter_prediction_file, find_prediction_files, folder_frame_view, frame_view,
                                     load_prediction_folder, match, merged_view, sweep_view, threshold_sweep)
from imagesumming.io import TifWriter, read_locs, write_locs, write_tif
from imagesumming.synthetic import simulate_movie

PX, UP = 100.0, 4


@pytest.fixture
def folder(tmp_path):
    """A movie, its ground truth (Deep-STORM csv) and a fake prediction folder with a stack."""
    movie, truth = simulate_movie(n_frames=6, height=16, width=20, pixel_size=PX, emitters_per_frame=5, seed=2)
    write_tif(tmp_path / "movie.tif", movie, PX)
    write_locs(tmp_path / "gt.csv", truth, "deepstorm")
    info = make_demo_prediction(tmp_path / "pred", truth, pixel_size=PX, height=16, width=20, movie=movie,
                                upsampling=UP, seed=4, name="movie")
    with TifWriter(tmp_path / "pred" / "PredictedStack_movie.tif", PX / UP, n_frames=6) as w:
        for i in range(6):
            w.write(np.full((16 * UP, 20 * UP), i, np.float32))
    return tmp_path, truth, info


def one_line_error(exc_info, *words):
    text = str(exc_info.value)
    assert "\n" not in text
    for w in words:
        assert w in text, text


# --- loading ----------------------------------------------------------------------------------

def test_load_prediction_folder(folder):
    tmp, truth, info = folder
    with load_prediction_folder(tmp / "pred", movie=tmp / "movie.tif", gt=tmp / "gt.csv") as pf:
        assert pf.name == "movie"
        assert pf.pixel_size_hr == pytest.approx(PX / UP) and pf.pixel_size == pytest.approx(PX)
        assert pf.upsampling == pytest.approx(UP)
        assert pf.predicted.shape == pf.widefield.shape == (16 * UP, 20 * UP)
        assert pf.stack.shape == (6, 16 * UP, 20 * UP) and pf.stack[3][0, 0] == 3  # stack[f - 1] is frame f
        assert len(pf.locs) == info["detected"] + info["false"] and "confidence" in pf.locs
        assert len(pf.gt) == len(truth) and pf.n_frames == 6
        assert pf.field_nm == (20 * PX, 16 * PX)
        assert any("resolution tags" in n for n in pf.notes)
    # without the movie, the camera pixel size can come from the caller
    pf = load_prediction_folder(tmp / "pred", pixel_size=PX)
    assert pf.movie is None and pf.upsampling == pytest.approx(UP)
    pf.close()


def test_localizations_outside_the_movie_are_counted_not_dropped(folder):
    tmp, truth, _ = folder
    extra = pd.concat([truth, pd.DataFrame({"frame": [9, 2], "x": [100.0, 99000.0], "y": [100.0, 100.0]})])
    write_locs(tmp / "gt_extra.csv", extra, "deepstorm")
    with load_prediction_folder(tmp / "pred", movie=tmp / "movie.tif", gt=tmp / "gt_extra.csv") as pf:
        assert len(pf.gt) == len(truth) + 2
        note = [n for n in pf.notes if n.startswith("ground truth: 1 outside")]
        assert note and "1 in a frame beyond the movie's 6 frames" in note[0]


def test_camera_pixel_size_derived_from_image_sizes(folder):
    tmp, _, _ = folder
    movie, _ = simulate_movie(n_frames=6, height=16, width=20, pixel_size=PX, seed=2)
    write_tif(tmp / "untagged.tif", movie)  # no resolution tags
    with load_prediction_folder(tmp / "pred", movie=tmp / "untagged.tif") as pf:
        assert pf.pixel_size == pytest.approx(PX)


def test_mismatched_pixel_sizes_are_one_line_errors(folder):
    tmp, _, _ = folder
    # the movie's tags say 160 nm but the images are 4x the movie at 25 nm -> 100 nm
    movie, _ = simulate_movie(n_frames=6, height=16, width=20, pixel_size=PX, seed=2)
    write_tif(tmp / "movie160.tif", movie, 160.0)
    with pytest.raises(InputError) as exc:
        load_prediction_folder(tmp / "pred", movie=tmp / "movie160.tif")
    one_line_error(exc, "movie160.tif", "pixel sizes do not match")
    # two prediction tifs that disagree
    img = np.zeros((16 * UP, 20 * UP), np.float32)
    write_tif(tmp / "pred" / "Widefield_movie.tif", img, 30.0, force=True)
    with pytest.raises(InputError) as exc:
        load_prediction_folder(tmp / "pred")
    one_line_error(exc, "pixel sizes disagree", "Widefield_movie.tif 30 nm", "Predicted_movie.tif 25 nm")
    # a caller's camera pixel size contradicting the image-size ratio
    write_tif(tmp / "pred" / "Widefield_movie.tif", img, PX / UP, force=True)
    with pytest.raises(InputError) as exc:
        load_prediction_folder(tmp / "pred", movie=tmp / "movie.tif", pixel_size=107.0)
    one_line_error(exc, "pixel sizes do not match")


def test_ground_truth_pixel_size_must_match(folder, tmp_path):
    tmp, truth, _ = folder
    from imagesumming.io import write_picasso_hdf5

    write_picasso_hdf5(tmp / "gt_locs.hdf5", truth, pixel_size=160.0, width=20, height=16)
    with pytest.raises(InputError) as exc:
        load_prediction_folder(tmp / "pred", movie=tmp / "movie.tif", gt=tmp / "gt_locs.hdf5")
    one_line_error(exc, "gt_locs.hdf5", "ground-truth pixel size 160 nm")


def test_unknown_formats_and_missing_files_are_one_line_errors(folder):
    tmp, _, _ = folder
    (tmp / "odd.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(InputError) as exc:
        load_prediction_folder(tmp / "pred", gt=tmp / "odd.csv")
    one_line_error(exc, "odd.csv", "unknown localization format")
    with pytest.raises(InputError) as exc:
        load_prediction_folder(locs=tmp / "odd.csv")
    one_line_error(exc, "odd.csv", "unknown localization format")
    with pytest.raises(InputError) as exc:
        load_prediction_folder(tmp / "nowhere")
    one_line_error(exc, "nowhere", "not a folder")
    (tmp / "empty").mkdir()
    with pytest.raises(InputError) as exc:
        find_prediction_files(tmp / "empty")
    one_line_error(exc, "Localizations_<name>_<avg|max>.csv")


def test_several_predictions_need_a_name(folder):
    tmp, truth, _ = folder
    make_demo_prediction(tmp / "pred", truth, pixel_size=PX, height=16, width=20, upsampling=UP, name="other")
    with pytest.raises(InputError) as exc:
        find_prediction_files(tmp / "pred")
    one_line_error(exc, "several movies", "movie", "other")
    assert find_prediction_files(tmp / "pred", name="other")["locs"].name == "Localizations_other_avg.csv"
    assert "stack" not in find_prediction_files(tmp / "pred", name="other")


def test_a_given_csv_finds_its_images_whatever_the_method(folder, capsys):
    """A folder with both _avg and _max (the notebook run twice): a given csv needs no choice."""
    tmp, truth, info = folder
    pred = read_locs(info["locs"])[0]
    write_locs(tmp / "pred" / "Localizations_movie_max.csv", pred.iloc[::2], "deepstorm-prediction")
    with pytest.raises(InputError):
        find_prediction_files(tmp / "pred")  # without a csv the method must be chosen
    with load_prediction_folder(tmp / "pred", locs=tmp / "pred" / "Localizations_movie_max.csv") as pf:
        assert len(pf.locs) == len(pred.iloc[::2]) and pf.predicted is not None and pf.stack is not None
    write_locs(tmp / "kept.csv", pred.iloc[:5], "deepstorm-prediction")  # a name that says nothing
    with load_prediction_folder(tmp / "pred", locs=tmp / "kept.csv") as pf:
        assert pf.name == "movie" and len(pf.locs) == 5 and pf.widefield is not None
    assert main(["evaluate", str(tmp / "pred" / "Localizations_movie_max.csv"), "--gt", str(tmp / "gt.csv"),
                 "--radius", "250", "-o", str(tmp / "e")]) == 0
    assert json.loads((tmp / "e" / "metrics.json").read_text())["n_pred_total"] == len(pred.iloc[::2])
    capsys.readouterr()
    make_demo_prediction(tmp / "pred", truth, pixel_size=PX, height=16, width=20, upsampling=UP, name="other")
    with pytest.raises(InputError) as exc:
        load_prediction_folder(tmp / "pred", locs=tmp / "kept.csv")
    one_line_error(exc, "several movies", "kept.csv", "choose one with name")  # the API's words (CLI: --name)
    with load_prediction_folder(tmp / "pred", locs=tmp / "kept.csv", name="other") as pf:
        assert pf.name == "other" and pf.stack is None


# --- filter -----------------------------------------------------------------------------------

def test_filter_prediction_file_keeps_rows_verbatim(tmp_path):
    text = ("frame,x [nm],y [nm],confidence [a.u]\n"
            "1,100.0,200.5,0.9\n1,12.5,7,0.25\n2,300,400,0.5\n3,1,2,\n3,5,6,0.7000\n")
    src = tmp_path / "Localizations_a_avg.csv"
    src.write_text(text)
    res = filter_prediction_file(src, 0.5, tmp_path / "out.csv")
    assert (res["kept"], res["total"], res["no_confidence"]) == (3, 5, 1)
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines == ["frame,x [nm],y [nm],confidence [a.u]", "1,100.0,200.5,0.9", "2,300,400,0.5", "3,5,6,0.7000"]
    assert src.read_text() == text  # input untouched
    # the output reads back as the same format
    out, rep = read_locs(tmp_path / "out.csv")
    assert rep.format == "deepstorm-prediction" and out["confidence"].min() == 0.5
    with pytest.raises(OutputExistsError):
        filter_prediction_file(src, 0.1, tmp_path / "out.csv")
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 4


@pytest.mark.parametrize("header, fmt", [
    ('"id","frame","x [nm]","y [nm]","sigma [nm]","confidence"', "thunderstorm"),
    (",frame,x [nm],y [nm],Photon #,Sigma [nm],confidence [a.u]", "deepstorm"),
])
def test_filter_keeps_the_header_verbatim(tmp_path, header, fmt):
    rows = ["1,1,100.5,200,120,0.9", "2,1,300,400,120,0.2", "3,2,500,600,120,0.6"]
    if fmt == "deepstorm":
        rows = [r[:r.rindex(",")] + ",1000" + r[r.rindex(","):] for r in rows]  # Photon # before confidence
    (tmp_path / "in.csv").write_text("\n".join([header, *rows]) + "\n")
    assert filter_prediction_file(tmp_path / "in.csv", 0.5, tmp_path / "out.csv")["kept"] == 2
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == header and len(lines) == 3
    # ids stay those of the kept rows (ThunderSTORM) or run 1..N again (Deep-STORM's unnamed index)
    assert [ln.split(",")[0] for ln in lines[1:]] == (["1", "3"] if fmt == "thunderstorm" else ["1", "2"])
    assert read_locs(tmp_path / "out.csv")[1].format == read_locs(tmp_path / "in.csv")[1].format


def test_filter_errors(tmp_path):
    src = tmp_path / "gt.csv"
    src.write_text(",frame,x [nm],y [nm]\n1,1,2,3\n")
    with pytest.raises(InputError) as exc:
        filter_prediction_file(src, 0.5, tmp_path / "o.csv")
    one_line_error(exc, "gt.csv", "no confidence column")
    assert not (tmp_path / "o.csv").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,x [nm],y [nm],confidence [a.u]\n1,1,2,high\n")
    with pytest.raises(InputError) as exc:
        filter_prediction_file(bad, 0.5, tmp_path / "o.csv")
    one_line_error(exc, "bad.csv")
    t = read_locs(src)[0]
    with pytest.raises(InputError) as exc:
        filter_confidence(t, 0.5)
    one_line_error(exc, "no 'confidence' column")
    with pytest.raises(InputError) as exc:
        filter_confidence(t.assign(confidence=0.7), float("nan"))  # would keep nothing
    one_line_error(exc, "finite")


# --- views ------------------------------------------------------------------------------------

def test_views_return_figures(folder, tmp_path):
    from matplotlib.figure import Figure

    tmp, _, _ = folder
    with load_prediction_folder(tmp / "pred", movie=tmp / "movie.tif", gt=tmp / "gt.csv") as pf:
        sweep = threshold_sweep(pf.gt, pf.locs, [100, 250])
        figs = {
            "frame": folder_frame_view(pf, 2, threshold=0.4),
            "frame_bare": frame_view(1, gt=pf.gt, pred=pf.locs, field_nm=(2000, 1600)),
            "merged": merged_view(pf.widefield, pf.predicted, pixel_size_hr=pf.pixel_size_hr),
            "merged_half": merged_view(None, pf.predicted, pixel_size_hr=pf.pixel_size_hr),
            "hist": confidence_histogram(pf.locs, threshold=0.4, matches=match(pf.gt, pf.locs, 100)),
            "density": density_view(pf.gt, pf.locs, n_frames=pf.n_frames + 2, width=20, height=16, pixel_size=PX),
            "sweep": sweep_view(sweep),
        }
        # the prediction panel shows the stack frame (constant value f - 1 in frame f)
        right = figs["frame"].axes[1]
        assert right.images[0].get_array().max() == 1
        n_shown = sum(len(c.get_offsets()) for c in right.collections)
        assert n_shown == int(((pf.locs["frame"] == 2) & (pf.locs["confidence"] >= 0.4)).sum())
    for name, fig in figs.items():
        assert isinstance(fig, Figure)
        fig.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    # density lines count empty frames: the two frames beyond the data are at 0
    line = figs["density"].axes[0].lines[0]
    assert len(line.get_ydata()) == 8 and line.get_ydata()[-1] == 0
    assert len(figs["sweep"].axes) == 2


# --- CLI --------------------------------------------------------------------------------------

def test_cli_filter(folder, capsys):
    tmp, _, info = folder
    src = info["locs"]
    assert main(["filter", str(src), "--threshold", "0.5", "-o", str(tmp / "f.csv")]) == 0
    n = int((read_locs(src)[0]["confidence"] >= 0.5).sum())
    assert f"kept {n} of {info['detected'] + info['false']}" in capsys.readouterr().out
    assert len(read_locs(tmp / "f.csv")[0]) == n
    assert main(["filter", str(src), "--threshold", "0.5", "-o", str(tmp / "f.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "exists already" in err and "\n" not in err


def test_cli_evaluate_writes_its_files(folder, capsys):
    tmp, truth, info = folder
    out = tmp / "eval"
    args = ["evaluate", str(info["locs"]), "--gt", str(tmp / "gt.csv"), "--movie", str(tmp / "movie.tif"),
            "--radius", "50,250", "--frames", "1,3", "-o", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    expected = {"metrics.csv", "metrics.json", "sweep.csv", "confidence_histogram.png", "density_per_frame.png",
                "sweep.png", "merged.png", "frame_1.png", "frame_3.png"}
    assert {p.name for p in out.iterdir()} == expected
    metrics_csv = pd.read_csv(out / "metrics.csv")
    pred = read_locs(info["locs"])[0]
    ref = evaluate(truth, pred, radii=[50, 250])
    assert metrics_csv["tp"].tolist() == ref["tp"].tolist()
    assert metrics_csv["jaccard"].to_numpy() == pytest.approx(ref["jaccard"].to_numpy())
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["n_gt"] == len(truth) and summary["matcher"] == "optimal"
    assert set(summary["best_thresholds"]) == {"50.0", "250.0"}
    sweep = pd.read_csv(out / "sweep.csv")
    assert sweep["threshold"].nunique() == pred["confidence"].nunique()
    assert "Jaccard" in printed and "best jaccard" in printed
    assert "lower detection threshold" not in printed  # the best threshold drops false detections
    # a second run refuses to overwrite, and leaves the files alone; --force overwrites
    before = (out / "metrics.csv").stat().st_mtime_ns
    assert main(args) == 2
    assert "exists already" in capsys.readouterr().err
    assert (out / "metrics.csv").stat().st_mtime_ns == before
    assert main(args + ["--force", "--matcher", "greedy", "--threshold", "0.4", "--sweep-grid", "11"]) == 0
    assert pd.read_csv(out / "sweep.csv")["threshold"].nunique() == 11
    assert json.loads((out / "metrics.json").read_text())["n_pred_evaluated"] == int((pred["confidence"] >= 0.4).sum())


def test_cli_evaluate_without_ground_truth_and_errors(folder, capsys):
    tmp, _, info = folder
    out = tmp / "views"
    assert main(["evaluate", str(info["locs"]), "-o", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert "metrics.json" in names and "confidence_histogram.png" in names and "metrics.csv" not in names
    assert "no ground truth" in capsys.readouterr().out
    for bad, word in ((["--radius", "50,wide"], "--radius"), (["--sweep-grid", "1"], "--sweep-grid"),
                      (["--threshold", "nan"], "--threshold")):
        args = ["evaluate", str(info["locs"]), "--gt", str(tmp / "gt.csv"), *bad, "-o", str(tmp / "x")]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert word in err and "\n" not in err
        assert not (tmp / "x").exists()  # checked before anything is written


def test_cli_recommended_threshold_reproduces_the_best_jaccard(folder, capsys):
    """The threshold the CLI prints, typed into `filter`, keeps what the sweep's best row kept."""
    import re

    tmp, truth, info = folder
    assert main(["evaluate", str(info["locs"]), "--gt", str(tmp / "gt.csv"), "--radius", "250",
                 "-o", str(tmp / "e")]) == 0
    printed = capsys.readouterr().out
    shown = re.search(r"best jaccard ([0-9.]+) with confidence >= ([0-9.e-]+) \((\d+) kept\)", printed)
    best = json.loads((tmp / "e" / "metrics.json").read_text())["best_thresholds"]["250.0"]["jaccard"]
    assert float(shown.group(2)) == best["threshold_rounded"] <= best["threshold"]
    assert main(["filter", str(info["locs"]), "--threshold", shown.group(2), "-o", str(tmp / "f.csv")]) == 0
    kept = read_locs(tmp / "f.csv")[0]
    assert len(kept) == int(shown.group(3)) == best["n_pred"]
    row = evaluate(truth, kept, radii=[250]).iloc[0]
    assert row.jaccard == pytest.approx(best["jaccard"]) and f"{row.jaccard:.3f}" == shown.group(1)


def test_cli_says_when_keeping_every_prediction_is_best(tmp_path, capsys):
    movie, truth = simulate_movie(n_frames=4, height=16, width=20, pixel_size=PX, emitters_per_frame=5, seed=3)
    write_locs(tmp_path / "gt.csv", truth, "deepstorm")
    # no false detection: every threshold above the lowest confidence loses true ones
    info = make_demo_prediction(tmp_path / "p", truth, pixel_size=PX, height=16, width=20, upsampling=UP,
                                false_per_frame=0.0, miss_fraction=0.2, seed=1)
    assert main(["evaluate", str(info["locs"]), "--gt", str(tmp_path / "gt.csv"), "--radius", "250",
                 "-o", str(tmp_path / "e")]) == 0
    assert "lower detection threshold" in capsys.readouterr().out
    notes = json.loads((tmp_path / "e" / "metrics.json").read_text())["notes"]
    assert any("lower detection threshold" in n for n in notes)
    # (test_cli_evaluate_writes_its_files: false detections at low confidence, no such note)


def test_cli_evaluate_with_no_prediction(folder, capsys):
    tmp, truth, _ = folder
    (tmp / "none").mkdir()
    (tmp / "none" / "Localizations_movie_avg.csv").write_text("frame,x [nm],y [nm],confidence [a.u]\n")
    assert main(["evaluate", str(tmp / "none" / "Localizations_movie_avg.csv"), "--gt", str(tmp / "gt.csv"),
                 "--radius", "250", "--frames", "1", "-o", str(tmp / "e")]) == 0
    assert "no threshold to sweep" in capsys.readouterr().out
    row = pd.read_csv(tmp / "e" / "metrics.csv").iloc[0]
    assert (row.tp, row.fp, row.fn) == (0, 0, len(truth)) and row.recall == 0 and np.isnan(row.precision)
    assert json.loads((tmp / "e" / "metrics.json").read_text())["best_thresholds"] == {}


# --- real files ---------------------------------------------------------------------------------

@pytest.mark.parametrize("gt_file", ["deepstorm/DNAPAINT_localizations.csv", "picasso/testdata_locs.hdf5"])
def test_real_ground_truth_files(shared_data, tmp_path, capsys, gt_file):
    """Real ground truths (Deep-STORM csv; Picasso hdf5 with its yaml pixel size): predictions made
    from them with 20 % misses, 30 nm noise and false detections in frames without ground truth."""
    gt, rep = read_locs(shared_data / gt_file)
    rng = np.random.default_rng(0)
    keep = rng.random(len(gt)) >= 0.2
    det = gt[keep]
    last = int(gt["frame"].max())
    n_false = 40
    pred = pd.DataFrame({
        "frame": np.concatenate([det["frame"].to_numpy(), last + 1 + rng.integers(0, 5, n_false)]),
        "x": np.concatenate([det["x"].to_numpy() + rng.normal(0, 30, len(det)), rng.uniform(0, 5000, n_false)]),
        "y": np.concatenate([det["y"].to_numpy() + rng.normal(0, 30, len(det)), rng.uniform(0, 5000, n_false)]),
        "confidence": np.concatenate([rng.uniform(0.5, 1, len(det)), rng.uniform(0, 0.5, n_false)]),
    })
    write_locs(tmp_path / "Localizations_real_avg.csv", pred, "deepstorm-prediction")
    assert main(["evaluate", str(tmp_path / "Localizations_real_avg.csv"), "--gt", str(shared_data / gt_file),
                 "--radius", "250", "-o", str(tmp_path / "eval")]) == 0
    printed = capsys.readouterr().out
    row = pd.read_csv(tmp_path / "eval" / "metrics.csv").iloc[0]
    # every detection lies within 250 nm of its own true point, false ones sit in frames without
    # ground truth: the optimal matching pairs exactly the detections
    assert (row.tp, row.fp, row.fn) == (int(keep.sum()), n_false, int((~keep).sum()))
    assert f"only in predictions: {len(np.unique(pred['frame'][len(det):]))}" in printed
    summary = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    best = summary["best_thresholds"]["250.0"]["jaccard"]
    # the best threshold keeps every detection and drops every false one
    assert best["threshold"] == pytest.approx(pred["confidence"][:len(det)].min(), rel=1e-12)
    assert best["precision"] == 1.0 and best["recall"] == pytest.approx(keep.mean())


# --- the notebook's own conventions ---------------------------------------------------------------

def write_like_the_notebook(out, movie, truth, pixel_size, upsampling):
    """What ZeroCostDL4Mic's batchFramePredictionLocalization writes for a perfect network.

    The network is trained on emitters rasterised at ``round(x / pixel_size_hr)`` (cell 3.2,
    FromLoc2Image_SimpleHistogram), so a perfect one returns exactly that spike image for each
    frame; its local maxima are reported as ``frame = page + 1``, ``x = column * pixel_size_hr``
    (csv.writer, header ``frame,x [nm],y [nm],confidence [a.u]``), and the sums are saved with
    Pillow as the notebook's saveAsTIF does (mode F, resolution unit 3 = cm, 1e7 / nm).
    """
    import csv

    from PIL import Image

    hr = pixel_size / upsampling
    n, h, w = movie.shape
    prediction = np.zeros((h * upsampling, w * upsampling), np.float32)
    rows = []
    for page in range(n):
        spikes = np.zeros_like(prediction)
        sel = truth[truth["frame"] == page + 1]
        for x, y in zip(sel["x"], sel["y"]):
            spikes[min(max(round(y / hr), 0), h * upsampling - 1), min(max(round(x / hr), 0), w * upsampling - 1)] = 1
        prediction += spikes
        yind, xind = np.nonzero(spikes)
        rows += [(page + 1, float(np.float32(xi) * np.float32(hr)), float(np.float32(yi) * np.float32(hr)), 1.0)
                 for yi, xi in zip(yind, xind)]
    out.mkdir()
    with open(out / "Localizations_movie_max.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["frame", "x [nm]", "y [nm]", "confidence [a.u]"])
        writer.writerows(rows)
    widefield = np.kron(movie.sum(axis=0), np.ones((upsampling, upsampling))).astype(np.float32)
    for stem, image in (("Predicted", prediction), ("Widefield", widefield)):
        Image.fromarray(image).save(out / f"{stem}_movie.tif", resolution_unit=3, resolution=0.01 * 1e9 / hr)
    return prediction


@pytest.mark.parametrize("pixel_size, upsampling", [(100.0, 8), (107.0, 8), (160.0, 4)])
def test_notebook_positions_need_no_half_pixel_shift(tmp_path, pixel_size, upsampling):
    """Corner-convention ground truth vs the notebook's ``column x pixel_size_hr``: unbiased, each
    coordinate within half a high-res pixel, RMSE of a uniform rounding error (hr / sqrt(6)).
    Emitters exactly on ``k x pixel_size_hr`` come back exactly. Frames stay aligned (1-based)."""
    hr = pixel_size / upsampling
    rng = np.random.default_rng(7)
    n_frames, h, w = 5, 24, 32
    gx, gy = np.meshgrid(np.arange(1, 10) * 320.0 * pixel_size / 100, np.arange(1, 7) * 320.0 * pixel_size / 100)
    parts = []
    for f in range(1, n_frames + 1):
        # every frame has its own emitters: a frame off by one would match nothing
        jitter = rng.uniform(-100, 100, (2, gx.size)) * pixel_size / 100
        parts.append(pd.DataFrame({"frame": f, "x": gx.ravel() + jitter[0], "y": gy.ravel() + jitter[1]}))
    exact = pd.DataFrame({"frame": [1, 2, 3], "x": [37 * hr, 60 * hr, 3 * hr], "y": [5 * hr, 50 * hr, 70 * hr]})
    truth = pd.concat(parts + [exact], ignore_index=True)
    write_locs(tmp_path / "gt.csv", truth, "deepstorm")
    movie = rng.poisson(100, (n_frames, h, w)).astype(np.uint16)
    write_tif(tmp_path / "movie.tif", movie, pixel_size)
    write_like_the_notebook(tmp_path / "pred", movie, truth, pixel_size, upsampling)

    with load_prediction_folder(tmp_path / "pred", movie=tmp_path / "movie.tif", gt=tmp_path / "gt.csv") as pf:
        # Pillow's rational resolution tags (cm) give back the notebook's pixel_size_hr
        assert pf.pixel_size_hr == pytest.approx(hr, rel=1e-9) and pf.pixel_size == pytest.approx(pixel_size)
        assert sorted(pf.locs["frame"].unique()) == list(range(1, n_frames + 1))
        m = match(pf.gt, pf.locs, hr, "optimal")
        pairs = m.pairs(pf.gt, pf.locs)
    assert (m.tp, m.fp, m.fn) == (len(truth), 0, 0)
    assert np.all(np.abs(m.dx) <= hr / 2 + 1e-3) and np.all(np.abs(m.dy) <= hr / 2 + 1e-3)
    se = hr / np.sqrt(12) / np.sqrt(m.tp)
    assert abs(m.dx.mean()) < 4 * se and abs(m.dy.mean()) < 4 * se  # a half-pixel shift would be hr / 2
    rmse = np.sqrt(np.mean(m.dx ** 2 + m.dy ** 2))
    assert rmse == pytest.approx(hr / np.sqrt(6), rel=0.15)
    on_grid = pairs[pairs["x_gt"].isin(exact["x"]) & pairs["y_gt"].isin(exact["y"])]
    assert len(on_grid) == len(exact)
    assert np.abs(on_grid[["dx", "dy"]].to_numpy()).max() < 1e-3


def test_prediction_images_are_drawn_centred_on_their_localizations(tmp_path):
    """Prediction pixel k is centred on k x pixel_size_hr (see above): the views shift the
    prediction images by half a high-res pixel, the widefield images not."""
    pixel_size, upsampling = 100.0, 8
    hr = pixel_size / upsampling
    truth = pd.DataFrame({"frame": [1, 1], "x": [40 * hr, 90 * hr], "y": [30 * hr, 70 * hr]})
    movie = np.full((1, 16, 16), 100, np.uint16)
    prediction = write_like_the_notebook(tmp_path / "pred", movie, truth, pixel_size, upsampling)
    with TifWriter(tmp_path / "pred" / "PredictedStack_movie.tif", hr, n_frames=1) as wr:
        wr.write(prediction)
    with load_prediction_folder(tmp_path / "pred", pixel_size=pixel_size) as pf:
        fig = folder_frame_view(pf, 1)
        merged = merged_view(pf.widefield, pf.predicted, pixel_size_hr=pf.pixel_size_hr)
        locs = pf.locs
    for ax in (fig.axes[1], merged.axes[1]):
        x0, _, _, y0 = ax.images[0].get_extent()
        assert (x0, y0) == pytest.approx((-hr / 2000, -hr / 2000))
        img = ax.images[0].get_array()
        # the pixel under each localization (as drawn) is its peak
        for x, y in zip(locs["x"], locs["y"]):
            col = int(np.floor((x / 1000 - x0) / (hr / 1000)))
            row = int(np.floor((y / 1000 - y0) / (hr / 1000)))
            assert img[row, col] == img.max() > 0
    assert merged.axes[0].images[0].get_extent()[0] == 0  # widefield: corner convention


@pytest.mark.parametrize("tags", ["none", "inch"])
def test_notebook_pixel_size_quirks_are_explained(tmp_path, caplog, tags):
    """The notebook reads a tif without resolution tags as 1000 nm pixels and inches as 2.5 cm;
    its predicted positions are then off, and the loader says why."""
    import logging

    import tifffile

    movie = np.full((2, 12, 16), 100, np.uint16)
    if tags == "none":
        tifffile.imwrite(tmp_path / "movie.tif", movie, photometric="minisblack")  # resolution 1/1, unit none
        notebook_px = 1000.0  # getPixelSizeTIFFmetadata: unit none -> µm per pixel
    else:
        res = 2.54e7 / 100.0  # a correct 100 nm pixel in pixels per inch
        tifffile.imwrite(tmp_path / "movie.tif", movie, photometric="minisblack", resolution=(res, res),
                         resolutionunit="INCH")
        notebook_px = 0.025 * 1e9 / res  # the notebook's inch: 98.4 nm
    truth = pd.DataFrame({"frame": [1, 2], "x": [300.0, 700.0], "y": [400.0, 500.0]})
    write_like_the_notebook(tmp_path / "pred", movie, truth, notebook_px, 8)
    if tags == "none":
        with caplog.at_level(logging.WARNING, logger="imagesumming"):
            pf = load_prediction_folder(tmp_path / "pred", movie=tmp_path / "movie.tif")
        pf.close()
        assert pf.pixel_size == pytest.approx(1000.0)
        assert any("without resolution tags" in r.getMessage() for r in caplog.records)
        assert any("without resolution tags" in n for n in pf.notes)
    else:
        with pytest.raises(InputError) as exc:
            load_prediction_folder(tmp_path / "pred", movie=tmp_path / "movie.tif")
        one_line_error(exc, "movie.tif", "pixel sizes do not match", "2.5 cm", "1.6 %")
