"""Localization metrics from matched pairs (SMLM challenge 2016, Sage et al. 2019).

TP = matched pairs, FP = unmatched predictions, FN = unmatched ground truth;
recall = TP / (TP + FN), precision = TP / (TP + FP), Jaccard = TP / (TP + FP + FN),
F1 = 2 TP / (2 TP + FP + FN), lateral RMSE = sqrt(mean(dx² + dy²)) over the pairs (nm),
mean signed offsets dx, dy (prediction minus ground truth, nm) and the efficiency
``1 - sqrt((1 - Jaccard)² + (alpha * RMSE / 100 nm)²)`` with alpha = 1.

A metric whose denominator is zero is NaN (recall without ground truth, precision without
predictions, RMSE, offsets and efficiency without pairs), never 0 or 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats import counts_per_frame
from .matching import Matches, match_radii

__all__ = ["DEFAULT_RADII", "METRIC_COLUMNS", "metrics", "metrics_from_sums", "efficiency", "evaluate",
           "per_frame"]

#: default matching radii in nm (the challenge used 250 nm, loose above ~5 emitters/µm²)
DEFAULT_RADII = (50.0, 100.0, 250.0)
#: columns of :func:`evaluate` and of the sweep, in order
METRIC_COLUMNS = ("n_gt", "n_pred", "tp", "fp", "fn", "recall", "precision", "jaccard", "f1",
                  "rmse_lateral_nm", "mean_dx_nm", "mean_dy_nm", "efficiency")


def _div(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def efficiency(jaccard, rmse_nm, alpha: float = 1.0):
    """``1 - sqrt((1 - jaccard)² + (alpha * rmse_nm / 100)²)`` (NaN where either is NaN).

    The challenge's formula in fractions instead of percent; alpha = 1 weighs 1 nm of RMSE like
    one percentage point of Jaccard (lateral).
    """
    j = np.asarray(jaccard, np.float64)
    r = np.asarray(rmse_nm, np.float64)
    out = 1.0 - np.sqrt((1.0 - j) ** 2 + (alpha * r / 100.0) ** 2)
    return out[()] if out.ndim == 0 else out


def metrics_from_sums(tp, n_gt, n_pred, sum_d2, sum_dx, sum_dy, *, alpha: float = 1.0) -> dict:
    """Every metric from counts and sums over the pairs (scalars or arrays of equal shape).

    Parameters
    ----------
    tp, n_gt, n_pred : int or array
    sum_d2 : float or array
        Sum over pairs of dx² + dy² (nm²).
    sum_dx, sum_dy : float or array
        Sums over pairs of the signed offsets (nm).

    Returns
    -------
    dict
        Keys :data:`METRIC_COLUMNS`.
    """
    tp = np.asarray(tp, np.int64)
    n_gt = np.asarray(n_gt, np.int64)
    n_pred = np.asarray(n_pred, np.int64)
    fp, fn = n_pred - tp, n_gt - tp
    jac = _div(tp, tp + fp + fn)
    rmse = np.sqrt(_div(sum_d2, tp))
    out = {
        "n_gt": n_gt, "n_pred": n_pred, "tp": tp, "fp": fp, "fn": fn,
        "recall": _div(tp, n_gt), "precision": _div(tp, n_pred), "jaccard": jac,
        "f1": _div(2 * tp, 2 * tp + fp + fn), "rmse_lateral_nm": rmse,
        "mean_dx_nm": _div(sum_dx, tp), "mean_dy_nm": _div(sum_dy, tp),
        "efficiency": np.asarray(efficiency(jac, rmse, alpha)),
    }
    if tp.ndim == 0:
        out = {k: (int(v) if k in ("n_gt", "n_pred", "tp", "fp", "fn") else float(v)) for k, v in out.items()}
    return out


def metrics(matches: Matches, *, alpha: float = 1.0) -> dict:
    """All metrics of one matching (see the module docstring); NaN where undefined.

    Returns
    -------
    dict
        ``radius_nm``, ``matcher`` and :data:`METRIC_COLUMNS`.
    """
    m = matches
    out = {"radius_nm": m.radius, "matcher": m.matcher}
    out.update(metrics_from_sums(m.tp, m.n_gt, m.n_pred, float(np.sum(m.dx ** 2 + m.dy ** 2)),
                                 float(np.sum(m.dx)), float(np.sum(m.dy)), alpha=alpha))
    return out


def evaluate(gt: pd.DataFrame, pred: pd.DataFrame, radii=DEFAULT_RADII, matcher: str = "optimal", *,
             alpha: float = 1.0) -> pd.DataFrame:
    """Match at several radii and tabulate the metrics, one row per radius.

    Parameters
    ----------
    gt, pred : DataFrame
        Canonical tables (frames 1-based, x/y in nm). Frames that only one of them has count
        fully (all false positives or all misses).
    radii : sequence of float, default (50, 100, 250)
        Matching radii in nm.
    matcher : {"optimal", "greedy"}

    Returns
    -------
    DataFrame
        Columns ``radius_nm``, ``matcher`` and :data:`METRIC_COLUMNS`.

    Examples
    --------
    >>> from imagesumming.schema import make_locs
    >>> gt = make_locs({"frame": [1, 1, 2], "x": [100.0, 900.0, 500.0], "y": [100.0, 900.0, 500.0]})
    >>> pred = make_locs({"frame": [1, 2, 2], "x": [130.0, 540.0, 3000.0], "y": [140.0, 500.0, 0.0]})
    >>> evaluate(gt, pred, radii=[250])[["tp", "fp", "fn", "jaccard"]].to_dict("records")
    [{'tp': 2, 'fp': 1, 'fn': 1, 'jaccard': 0.5}]
    """
    rows = [metrics(m, alpha=alpha) for m in match_radii(gt, pred, radii, matcher).values()]
    return pd.DataFrame(rows, columns=["radius_nm", "matcher", *METRIC_COLUMNS])


def per_frame(matches: Matches, n_frames: int | None = None) -> pd.DataFrame:
    """Counts per frame: ``frame`` (1-based), ``n_gt``, ``n_pred``, ``tp``, ``fp``, ``fn``.

    Frames 1..n_frames are listed (default: up to the last frame of either table), empty ones
    with zeros.
    """
    m = matches
    last = max([int(a.max()) for a in (m.gt_frame, m.pred_frame) if len(a)] or [0])
    n = last if n_frames is None else int(n_frames)

    def count(frames):
        return counts_per_frame(pd.DataFrame({"frame": frames}), n)

    n_gt, n_pred, tp = count(m.gt_frame), count(m.pred_frame), count(m.frame)
    return pd.DataFrame({"frame": np.arange(1, n + 1), "n_gt": n_gt, "n_pred": n_pred, "tp": tp,
                         "fp": n_pred - tp, "fn": n_gt - tp})
