"""Benchmark of the evaluation: matching 1 M ground-truth and 1 M predicted localizations.

Data: 10,000 frames of a 64 x 64 px (107 nm) field, 100 ground-truth emitters per frame
(2.1 / µm²); predictions are 90 % of them moved by Gaussian noise (25 nm per axis) plus 10 %
false detections at random places, so both tables hold 1,000,000 rows. Radius 250 nm.

Printed for comparison, on the same data in the same run:

* the bare KD-tree work: building the two trees and one query for all candidate pairs within the
  radius (``cKDTree.sparse_distance_matrix``), which any matcher needs;
* a bare nearest-neighbour query (``cKDTree.query`` with ``distance_upper_bound``), the least a
  matcher could do (no one-to-one assignment);
* :func:`imagesumming.evaluation.evaluate` (candidate pairs, one-to-one assignment, metrics) with
  the optimal and the greedy matcher;
* the threshold sweep over every distinct confidence (exact), for information.

Run: ``python benchmarks/bench_evaluation.py [--frames 10000] [--per-frame 100] [--no-sweep]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.spatial import cKDTree

from imagesumming.evaluation import evaluate, match, threshold_sweep
from imagesumming.evaluation.matching import _components
from imagesumming.schema import make_locs


def make_data(n_frames: int, per_frame: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    side = 64 * 107.0
    n = n_frames * per_frame
    frame = np.repeat(np.arange(1, n_frames + 1), per_frame)
    gt = make_locs({"frame": frame, "x": rng.uniform(0, side, n), "y": rng.uniform(0, side, n)})
    det = rng.random(n) < 0.9
    n_false = n - int(det.sum())
    pred = make_locs({
        "frame": np.concatenate([frame[det], rng.integers(1, n_frames + 1, n_false)]),
        "x": np.concatenate([gt["x"].to_numpy()[det] + rng.normal(0, 25, det.sum()), rng.uniform(0, side, n_false)]),
        "y": np.concatenate([gt["y"].to_numpy()[det] + rng.normal(0, 25, det.sum()), rng.uniform(0, side, n_false)]),
        "confidence": np.concatenate([rng.uniform(0.3, 1.0, det.sum()), rng.uniform(0.0, 0.6, n_false)]),
    })
    return gt, pred


def timed(fn, repeat=1):
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bare_pairs(gt, pred, radius):
    spacing = 4 * radius
    a = np.column_stack([gt["x"].to_numpy(), gt["y"].to_numpy(), gt["frame"].to_numpy() * spacing])
    b = np.column_stack([pred["x"].to_numpy(), pred["y"].to_numpy(), pred["frame"].to_numpy() * spacing])
    return cKDTree(a, balanced_tree=False).sparse_distance_matrix(cKDTree(b, balanced_tree=False), radius,
                                                                  output_type="ndarray")


def bare_nearest(gt, pred, radius):
    spacing = 4 * radius
    a = np.column_stack([gt["x"].to_numpy(), gt["y"].to_numpy(), gt["frame"].to_numpy() * spacing])
    b = np.column_stack([pred["x"].to_numpy(), pred["y"].to_numpy(), pred["frame"].to_numpy() * spacing])
    return cKDTree(a, balanced_tree=False).query(b, k=1, distance_upper_bound=radius)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--per-frame", type=int, default=100)
    ap.add_argument("--radius", type=float, default=250.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-sweep", action="store_true")
    args = ap.parse_args()
    r = args.radius
    gt, pred = make_data(args.frames, args.per_frame)
    print(f"data: {len(gt):,} ground-truth and {len(pred):,} predicted localizations, {args.frames:,} frames, "
          f"radius {r:g} nm")

    t_pairs, sdm = timed(lambda: bare_pairs(gt, pred, r), args.repeat)
    t_nn, _ = timed(lambda: bare_nearest(gt, pred, r), args.repeat)
    print(f"bare KD-tree: build + all pairs within radius   {t_pairs:7.2f} s  ({len(sdm):,} candidate pairs)")
    print(f"bare KD-tree: build + nearest-neighbour query    {t_nn:7.2f} s")

    m = match(gt, pred, r, "optimal")
    comp, _, _ = _components(sdm["i"].astype(np.int64), sdm["j"].astype(np.int64))
    sizes = np.bincount(np.bincount(comp))
    print(f"candidate groups: {comp.max() + 1:,}; largest has {int(np.bincount(comp).max())} pairs; "
          f"groups with 1/2/3+ pairs: {sizes[1]:,}/{sizes[2] if len(sizes) > 2 else 0:,}/{int(sizes[3:].sum()):,}")
    for matcher in ("optimal", "greedy"):
        t, res = timed(lambda matcher=matcher: evaluate(gt, pred, radii=[r], matcher=matcher), args.repeat)
        row = res.iloc[0]
        print(f"evaluate ({matcher:7s}, 1 radius)                 {t:7.2f} s  = {t / t_pairs:4.2f}x the pair query, "
              f"{t / t_nn:4.2f}x the nearest-neighbour query  (TP {row.tp:,}, Jaccard {row.jaccard:.4f}, "
              f"RMSE {row.rmse_lateral_nm:.2f} nm)")
    t3, _ = timed(lambda: evaluate(gt, pred, radii=[50, 100, 250], matcher="optimal"), 1)
    print(f"evaluate (optimal, radii 50,100,250)             {t3:7.2f} s")
    print(f"optimal TP {m.tp:,}")
    if not args.no_sweep:
        ts, sw = timed(lambda: threshold_sweep(gt, pred, r, "optimal", thresholds=None), 1)
        print(f"threshold sweep (optimal, {len(sw):,} thresholds, exact) {ts:7.2f} s")
        tg, sw = timed(lambda: threshold_sweep(gt, pred, r, "optimal", thresholds=200), 1)
        print(f"threshold sweep (optimal, grid of 200)           {tg:7.2f} s")


if __name__ == "__main__":
    main()
