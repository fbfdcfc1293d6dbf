"""Matching, metrics and the threshold sweep (imagesumming.evaluation)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagesumming.errors import InputError
from imagesumming.evaluation import (best_threshold, efficiency, evaluate, match, match_radii, metrics, per_frame,
                                     round_threshold, solve_pairs, sweep_thresholds, threshold_sweep)
from imagesumming.schema import make_locs


def planted(seed=0, n_frames=40, per_frame=25, miss=0.2, n_false=150, sigma=12.0, bias=(6.0, -4.0)):
    """Ground truth on a 1 µm grid (jittered) and predictions with known misses, false positives
    (at grid-cell centres, >= 350 nm from any true point) and Gaussian position noise."""
    rng = np.random.default_rng(seed)
    side = int(np.sqrt(per_frame))
    gx, gy = np.meshgrid(np.arange(side) * 1000.0 + 500, np.arange(side) * 1000.0 + 500)
    rows = []
    for f in range(1, n_frames + 1):
        rows.append(pd.DataFrame({"frame": f, "x": gx.ravel() + rng.uniform(-100, 100, gx.size),
                                  "y": gy.ravel() + rng.uniform(-100, 100, gy.size)}))
    gt = make_locs(pd.concat(rows, ignore_index=True))
    detected = rng.random(len(gt)) >= miss
    det = gt[detected]
    noise = rng.normal(0, sigma, (len(det), 2))
    cells = rng.integers(0, side - 1, (n_false, 2))
    false = pd.DataFrame({"frame": rng.integers(1, n_frames + 1, n_false),
                          "x": cells[:, 0] * 1000.0 + 1000, "y": cells[:, 1] * 1000.0 + 1000})
    pred = make_locs(pd.concat([
        pd.DataFrame({"frame": det["frame"].to_numpy(), "x": det["x"].to_numpy() + noise[:, 0] + bias[0],
                      "y": det["y"].to_numpy() + noise[:, 1] + bias[1], "confidence": rng.uniform(0.5, 1.0, len(det))}),
        false.assign(confidence=rng.uniform(0.0, 0.45, n_false)),
    ], ignore_index=True))
    # shuffle rows so that nothing depends on the order
    pred = make_locs(pred.iloc[rng.permutation(len(pred))])
    offsets = noise + np.asarray(bias)
    return gt, pred, {"detected": int(detected.sum()), "missed": int((~detected).sum()), "false": n_false,
                      "offsets": offsets}


@pytest.mark.parametrize("matcher", ["optimal", "greedy"])
def test_planted_counts_rmse_and_bias(matcher):
    sigma, bias = 12.0, (6.0, -4.0)
    gt, pred, truth = planted(sigma=sigma, bias=bias)
    table = evaluate(gt, pred, radii=(30, 100, 250), matcher=matcher).set_index("radius_nm")
    for r in (100.0, 250.0):
        row = table.loc[r]
        assert (row.tp, row.fp, row.fn) == (truth["detected"], truth["false"], truth["missed"])
        assert row.n_gt == len(gt) and row.n_pred == len(pred)
        assert row.jaccard == pytest.approx(truth["detected"] / (len(gt) + truth["false"]))
    # at 30 nm exactly the pairs whose injected offset is within 30 nm survive
    d = np.hypot(*truth["offsets"].T)
    row = table.loc[30.0]
    assert row.tp == int((d <= 30).sum())
    assert row.fn == len(gt) - row.tp and row.fp == len(pred) - row.tp
    # lateral RMSE and bias match the injected noise within 3 standard errors
    row = table.loc[250.0]
    n = truth["detected"]
    expected_rmse = np.sqrt(2 * sigma**2 + bias[0] ** 2 + bias[1] ** 2)
    se_rmse = np.sqrt(np.var(np.sum(truth["offsets"] ** 2, axis=1)) / n) / (2 * expected_rmse)
    assert abs(row.rmse_lateral_nm - expected_rmse) < 3 * se_rmse
    assert row.rmse_lateral_nm == pytest.approx(np.sqrt(np.mean(d**2)))  # exactly the injected offsets
    assert abs(row.mean_dx_nm - bias[0]) < 3 * sigma / np.sqrt(n)
    assert abs(row.mean_dy_nm - bias[1]) < 3 * sigma / np.sqrt(n)
    assert row.efficiency == pytest.approx(1 - np.sqrt((1 - row.jaccard) ** 2 + (row.rmse_lateral_nm / 100) ** 2))


def test_matches_identify_the_planted_pairs():
    gt, pred, truth = planted(n_frames=5)
    m = match(gt, pred, 250)
    pairs = m.pairs(gt, pred)
    # every pair joins a prediction to the true point it was made from (offset < 100 nm)
    assert (pairs["distance"] < 100).all()
    assert np.allclose(pairs["x_pred"] - pairs["x_gt"], pairs["dx"])
    assert (pairs["confidence_pred"] >= 0.5).all()  # no false positive was matched
    assert m.gt_matched.sum() == m.tp == m.pred_matched.sum()
    pf = per_frame(m)
    assert pf["tp"].sum() == m.tp and pf["fp"].sum() == m.fp and pf["fn"].sum() == m.fn
    assert list(pf["frame"]) == list(range(1, 6))


# --- optimal matching against brute force -------------------------------------------------------

def brute_force(gt_xy, pred_xy, radius):
    """Most pairs within radius, then least total distance, by trying every matching."""
    d = np.hypot(gt_xy[:, None, 0] - pred_xy[None, :, 0], gt_xy[:, None, 1] - pred_xy[None, :, 1])
    best = (0, 0.0)

    def rec(i, used, count, total):
        nonlocal best
        if i == len(gt_xy):
            if count > best[0] or (count == best[0] and total < best[1]):
                best = (count, total)
            return
        rec(i + 1, used, count, total)
        for j in range(len(pred_xy)):
            if j not in used and d[i, j] <= radius:
                rec(i + 1, used | {j}, count + 1, total + d[i, j])

    rec(0, frozenset(), 0, 0.0)
    return best


def sequential_greedy(gt_xy, pred_xy, radius):
    d = np.hypot(gt_xy[:, None, 0] - pred_xy[None, :, 0], gt_xy[:, None, 1] - pred_xy[None, :, 1])
    edges = sorted((d[i, j], i, j) for i in range(len(gt_xy)) for j in range(len(pred_xy)) if d[i, j] <= radius)
    gu, pu, pairs = set(), set(), set()
    for _, i, j in edges:
        if i not in gu and j not in pu:
            gu.add(i)
            pu.add(j)
            pairs.add((i, j))
    return pairs


coords = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=0, max_size=7)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(st.tuples(coords, coords), min_size=1, max_size=3))
def test_optimal_and_greedy_agree_with_reference_on_small_frames(frames):
    # integer grid of 10 nm steps: many near-ties and dense candidate groups at radius 100 nm
    radius = 100.0
    gts, preds = [], []
    for f, (g, p) in enumerate(frames, start=1):
        gts += [(f, 10.0 * x, 10.0 * y) for x, y in g]
        preds += [(f, 10.0 * x, 10.0 * y) for x, y in p]
    gt = make_locs(pd.DataFrame(gts, columns=["frame", "x", "y"]))
    pred = make_locs(pd.DataFrame(preds, columns=["frame", "x", "y"]))
    opt = match(gt, pred, radius, "optimal")
    gre = match(gt, pred, radius, "greedy")
    exp_tp, exp_total = 0, 0.0
    for f, (g, p) in enumerate(frames, start=1):
        gxy, pxy = 10.0 * np.array(g, float).reshape(-1, 2), 10.0 * np.array(p, float).reshape(-1, 2)
        tp, total = brute_force(gxy, pxy, radius)
        exp_tp += tp
        exp_total += total
        # greedy: same pairs as the sequential closest-first loop (row numbers within the frame)
        g0 = np.flatnonzero(gt["frame"].to_numpy() == f)
        p0 = np.flatnonzero(pred["frame"].to_numpy() == f)
        sel = gre.frame == f
        got = {(int(np.searchsorted(g0, i)), int(np.searchsorted(p0, j)))
               for i, j in zip(gre.gt_index[sel], gre.pred_index[sel])}
        assert got == sequential_greedy(gxy, pxy, radius)
    assert opt.tp == exp_tp
    assert opt.distance.sum() == pytest.approx(exp_total, abs=1e-6)
    assert gre.tp <= opt.tp
    # one-to-one
    assert len(set(opt.gt_index)) == opt.tp and len(set(opt.pred_index)) == opt.tp


def test_large_groups_use_linear_sum_assignment_and_stay_optimal():
    # one frame, 12 x 12 points packed within the radius of each other: a single big group
    rng = np.random.default_rng(3)
    g = rng.uniform(0, 60, (12, 2))
    p = g + rng.normal(0, 8, (12, 2))
    gt = make_locs({"frame": np.ones(12, int), "x": g[:, 0], "y": g[:, 1]})
    pred = make_locs({"frame": np.ones(12, int), "x": p[:, 0], "y": p[:, 1]})
    from scipy.optimize import linear_sum_assignment

    d = np.hypot(g[:, None, 0] - p[None, :, 0], g[:, None, 1] - p[None, :, 1])
    r, c = linear_sum_assignment(d)
    m = match(gt, pred, 250, "optimal")
    assert m.tp == 12
    assert m.distance.sum() == pytest.approx(d[r, c].sum())


def test_greedy_is_worse_on_a_constructed_case():
    # A and B are 150 nm apart; P sits between them (80 nm from A, 70 from B), Q 80 nm right of B.
    # Greedy takes the closest pair P-B first, leaving A and Q unpaired; the optimal assignment
    # pairs P-A and Q-B.
    gt = make_locs({"frame": [1, 1], "x": [0.0, 150.0], "y": [0.0, 0.0]})
    pred = make_locs({"frame": [1, 1], "x": [80.0, 230.0], "y": [0.0, 0.0]})
    opt = metrics(match(gt, pred, 100, "optimal"))
    gre = metrics(match(gt, pred, 100, "greedy"))
    assert (opt["tp"], opt["fp"], opt["fn"]) == (2, 0, 0)
    assert (gre["tp"], gre["fp"], gre["fn"]) == (1, 1, 1)
    assert opt["jaccard"] > gre["jaccard"] and opt["recall"] > gre["recall"]
    assert gre["rmse_lateral_nm"] == pytest.approx(70.0)  # greedy's one pair is the closest
    assert opt["rmse_lateral_nm"] == pytest.approx(80.0)


def test_solve_pairs_on_edges_directly():
    # a 2 x 2 group where the two diagonals cost 1 + 1 and 0.1 + 5: optimal takes the cheaper sum
    g = np.array([0, 0, 1, 1])
    p = np.array([0, 1, 0, 1])
    d = np.array([1.0, 0.1, 5.0, 1.0])
    assert solve_pairs(g, p, d, 2, 2, "optimal").tolist() == [True, False, False, True]
    assert solve_pairs(g, p, d, 2, 2, "greedy").tolist() == [False, True, True, False]


# --- frames, edge cases, errors -------------------------------------------------------------------

def test_frames_in_one_table_count_fully():
    gt = make_locs({"frame": [1, 2, 2, 5], "x": [100.0, 100, 900, 100], "y": [100.0, 100, 900, 100]})
    pred = make_locs({"frame": [1, 3, 3], "x": [110.0, 100, 900], "y": [100.0, 100, 900]})
    m = match(gt, pred, 250)
    assert (m.tp, m.fp, m.fn) == (1, 2, 3)
    ov = m.frame_overlap()
    assert ov == {"frames_both": 1, "frames_only_gt": 2, "frames_only_pred": 1,
                  "gt_rows_in_frames_only_gt": 3, "pred_rows_in_frames_only_pred": 2}
    pf = per_frame(m, n_frames=6)  # frames 1..6, empty ones with zeros
    assert pf["n_gt"].tolist() == [1, 2, 0, 0, 1, 0] and pf["n_pred"].tolist() == [1, 0, 2, 0, 0, 0]
    assert pf["fp"].tolist() == [0, 0, 2, 0, 0, 0] and pf["fn"].tolist() == [0, 2, 0, 0, 1, 0]
    assert len(per_frame(m, n_frames=3)) == 3


def test_no_frame_overlap_warns_with_counts(caplog):
    gt = make_locs({"frame": [1, 2, 2], "x": [100.0, 100, 900], "y": [100.0, 100, 900]})
    pred = make_locs({"frame": [7, 8], "x": [100.0, 100], "y": [100.0, 100]})
    with caplog.at_level(logging.WARNING, logger="imagesumming"):
        row = evaluate(gt, pred, radii=[250]).iloc[0]
    assert (row.tp, row.fp, row.fn) == (0, 2, 3)
    msgs = [r.getMessage() for r in caplog.records if "share no frame" in r.getMessage()]
    assert len(msgs) == 1 and "\n" not in msgs[0]
    assert "3 localizations in frames 1-2" in msgs[0] and "2 in frames 7-8" in msgs[0]


def test_undefined_metrics_are_nan():
    empty = make_locs({"frame": [], "x": [], "y": []})
    gt = make_locs({"frame": [1], "x": [100.0], "y": [100.0]})
    far = make_locs({"frame": [1], "x": [5000.0], "y": [100.0]})
    no_pred = metrics(match(gt, empty, 100))
    assert no_pred["recall"] == 0 and np.isnan(no_pred["precision"]) and np.isnan(no_pred["rmse_lateral_nm"])
    assert no_pred["jaccard"] == 0 and np.isnan(no_pred["efficiency"]) and np.isnan(no_pred["mean_dx_nm"])
    no_gt = metrics(match(empty, gt, 100))
    assert np.isnan(no_gt["recall"]) and no_gt["precision"] == 0
    nothing = metrics(match(empty, empty, 100))
    assert np.isnan(nothing["jaccard"]) and np.isnan(nothing["f1"]) and nothing["tp"] == 0
    miss = metrics(match(gt, far, 100))
    assert (miss["tp"], miss["fp"], miss["fn"]) == (0, 1, 1) and miss["jaccard"] == 0


def test_efficiency_formula():
    assert efficiency(1.0, 0.0) == 1.0
    assert efficiency(0.8, 30.0) == pytest.approx(1 - np.sqrt(0.04 + 0.09))
    assert efficiency(0.8, 30.0, alpha=0.5) == pytest.approx(1 - np.sqrt(0.04 + 0.0225))
    assert np.isnan(efficiency(np.nan, 10.0))


def test_match_radii_equals_separate_matches():
    gt, pred, _ = planted(n_frames=6, sigma=40.0)
    both = match_radii(gt, pred, [60, 250], "optimal")
    for r in (60.0, 250.0):
        single = match(gt, pred, r, "optimal")
        assert np.array_equal(both[r].gt_index, single.gt_index)
        assert np.array_equal(both[r].pred_index, single.pred_index)


@pytest.mark.parametrize("call, text", [
    (lambda gt, pred: threshold_sweep(gt, pred.drop(columns="confidence")), "no 'confidence' column"),
    (lambda gt, pred: match(gt, pred, -5), "positive"),
    (lambda gt, pred: match(gt, pred, "wide"), "number"),
    (lambda gt, pred: match(gt, pred, 100, "hungarian"), "unknown matcher"),
    (lambda gt, pred: match(gt, pred.assign(x=np.nan), 100), "NaN"),
    (lambda gt, pred: match(gt.drop(columns="y"), pred, 100), "lacks the column 'y'"),
    (lambda gt, pred: best_threshold(threshold_sweep(gt, pred), "speed"), "unknown metric"),
    (lambda gt, pred: sweep_thresholds([0.1, 0.2], 1), "at least 2"),
])
def test_errors_are_one_line(call, text):
    gt, pred, _ = planted(n_frames=2)
    with pytest.raises(InputError) as exc:
        call(gt, pred)
    assert text in str(exc.value) and "\n" not in str(exc.value)


# --- threshold sweep ---------------------------------------------------------------------------

def rematch(gt, pred, t, r, matcher):
    return evaluate(gt, pred[pred["confidence"].to_numpy() >= t], radii=[r], matcher=matcher).iloc[0]


@pytest.mark.parametrize("matcher", ["optimal", "greedy"])
@pytest.mark.parametrize("thresholds", [None, 7])
def test_sweep_is_exact(matcher, thresholds):
    # dense random data: large candidate groups, ties in confidence, every threshold checked
    rng = np.random.default_rng(11)
    n = 400
    gt = make_locs({"frame": rng.integers(1, 6, n), "x": rng.uniform(0, 3000, n), "y": rng.uniform(0, 3000, n)})
    pred = make_locs({"frame": rng.integers(1, 6, n), "x": rng.uniform(0, 3000, n), "y": rng.uniform(0, 3000, n),
                      "confidence": rng.integers(0, 12, n) / 4})
    sweep = threshold_sweep(gt, pred, [120, 250], matcher, thresholds=thresholds)
    expected_t = np.unique(pred["confidence"]) if thresholds is None else np.linspace(0, 11 / 4, 7)
    assert np.allclose(sweep[sweep.radius_nm == 120]["threshold"], expected_t)
    for row in sweep.itertuples():
        ref = rematch(gt, pred, row.threshold, row.radius_nm, matcher)
        assert (row.tp, row.fp, row.fn, row.n_pred) == (ref.tp, ref.fp, ref.fn, ref.n_pred)
        assert row.rmse_lateral_nm == pytest.approx(ref.rmse_lateral_nm, nan_ok=True)
        assert row.mean_dx_nm == pytest.approx(ref.mean_dx_nm, nan_ok=True)
        assert row.mean_dy_nm == pytest.approx(ref.mean_dy_nm, nan_ok=True)


def test_sweep_best_threshold_recovers_planted_separation():
    # true detections have confidence >= 0.5, false ones < 0.45: the best Jaccard threshold keeps
    # every true detection and drops every false one, i.e. it is the lowest true confidence
    gt, pred, truth = planted(seed=5)
    sweep = threshold_sweep(gt, pred, 250)
    best = best_threshold(sweep, "jaccard")
    true_conf = pred["confidence"][pred["confidence"] >= 0.5]
    assert best["threshold"] == true_conf.min()
    assert (best.tp, best.fp, best.fn) == (truth["detected"], 0, truth["missed"])
    assert best.jaccard == pytest.approx(truth["detected"] / len(gt))
    eff = best_threshold(sweep, "efficiency")
    assert eff["threshold"] == true_conf.min()
    # a grid sweep lands between the two populations too
    grid = threshold_sweep(gt, pred, 250, thresholds=np.linspace(0, 1, 21))
    gbest = best_threshold(grid, "jaccard")
    assert 0.45 <= gbest["threshold"] <= 0.5 and gbest.fp == 0


def test_sweep_counts_predictions_without_confidence_as_never_kept(caplog):
    gt, pred, _ = planted(n_frames=3)
    pred.loc[0, "confidence"] = np.nan
    with caplog.at_level(logging.WARNING, logger="imagesumming"):
        sweep = threshold_sweep(gt, pred, 250)
    assert sweep["n_pred"].max() == len(pred) - 1
    assert any("without a confidence" in r.getMessage() for r in caplog.records)


def test_sweep_in_chunks_and_auto_grid_give_the_same_numbers(monkeypatch, caplog):
    import imagesumming.evaluation.sweep as sweep_mod

    rng = np.random.default_rng(2)
    n = 300
    gt = make_locs({"frame": rng.integers(1, 4, n), "x": rng.uniform(0, 2500, n), "y": rng.uniform(0, 2500, n)})
    pred = make_locs({"frame": rng.integers(1, 4, n), "x": rng.uniform(0, 2500, n), "y": rng.uniform(0, 2500, n),
                      "confidence": rng.uniform(0, 1, n)})
    whole = threshold_sweep(gt, pred, [100, 250])
    assert whole.attrs["thresholds"] == "every distinct confidence" and len(whole) == 2 * n
    monkeypatch.setattr(sweep_mod, "_CHUNK", 50)  # many chunks of whole groups
    chunked = threshold_sweep(gt, pred, [100, 250], progress=False)
    pd.testing.assert_frame_equal(whole, chunked)
    monkeypatch.setattr(sweep_mod, "_AUTO_LIMIT", 10)
    monkeypatch.setattr(sweep_mod, "_AUTO_GRID", 9)
    with caplog.at_level(logging.WARNING, logger="imagesumming"):
        auto = threshold_sweep(gt, pred, [100, 250])
    assert auto.attrs["thresholds"] == "9 thresholds" and len(auto) == 18
    assert any("grid of 9 thresholds" in r.getMessage() for r in caplog.records)
    grid = threshold_sweep(gt, pred, [100, 250], thresholds=9)
    pd.testing.assert_frame_equal(auto, grid)
    forced = threshold_sweep(gt, pred, [100, 250], thresholds=None)  # None: always every confidence
    pd.testing.assert_frame_equal(whole, forced)


def test_round_threshold_keeps_the_same_predictions():
    rng = np.random.default_rng(4)
    conf = rng.uniform(0, 1, 500)
    for t in np.sort(conf)[::37]:
        short = round_threshold(conf, t)
        assert short <= t
        assert np.array_equal(conf >= short, conf >= t)
        assert len(repr(short)) <= len(repr(float(t)))
    # printing 4 significant digits would round 0.423187 up and drop it; the short one keeps it
    conf = np.array([0.1, 0.4231, 0.423187, 0.9])
    assert f"{0.423187:.4g}" == "0.4232" and round_threshold(conf, 0.423187) == 0.42318
    assert round_threshold(conf, 0.9) == 0.9 and round_threshold(conf, 0.1) == 0.0  # 0.0 keeps all
    assert round_threshold([np.nan, 2.0, 7.5], 7.5) == 7.0
