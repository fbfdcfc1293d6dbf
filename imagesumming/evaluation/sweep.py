"""Metrics as a function of the confidence threshold, and the threshold that maximises them.

A prediction is kept at threshold ``T`` when its confidence is ``>= T`` (as ``imagesumming
filter``). The sweep is **exact** at every threshold evaluated, for both matchers.

Why not match once at the loosest threshold and drop pairs as the threshold rises? Because a
matching is not nested: once a prediction is removed, the ground-truth point it took may be free
for another prediction (optimal and greedy alike), so the counts from one matching are wrong.
Re-matching everything at each of up to a million distinct thresholds is far too slow.

How it is done instead: the matching of one threshold splits into independent groups (connected
components of the candidate pairs), and filtering predictions only removes points from the
groups of the full, lowest-threshold graph. A group's result therefore changes only at the
confidences of its own predictions. Each group is re-matched once per distinct confidence level
of its predictions (one "instance" per level, all instances solved together, vectorised, by the
same solver as :func:`~imagesumming.evaluation.matching.match`); the change of its TP count and
offset sums at each level is accumulated, and a reverse cumulative sum over thresholds gives the
exact totals at every threshold. The work is the sum over groups of (levels x group size):
about one matching's worth on sparse data (1 M predictions: a few seconds), done in chunks of
whole groups so that memory stays bounded. On very dense data the groups percolate (hundreds of
points, hundreds of levels each) and the work grows quadratically; ``thresholds="auto"`` (the
default) then sweeps a grid of 200 thresholds instead and logs a warning (levels are then the
grid steps; still exact at each of them).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from ..errors import InputError
from .matching import _components, _prepare, _unique, candidate_pairs, solve_pairs
from .metrics import METRIC_COLUMNS, metrics_from_sums

__all__ = ["threshold_sweep", "best_threshold", "sweep_thresholds", "round_threshold"]

log = logging.getLogger("imagesumming")


def _confidence(pred: pd.DataFrame, column: str) -> np.ndarray:
    if column not in pred.columns:
        raise InputError(f"predictions have no {column!r} column: a threshold sweep needs a confidence per "
                         f"localization (columns: {', '.join(map(str, pred.columns))})")
    return pred[column].to_numpy(dtype=np.float64)


def sweep_thresholds(confidence, thresholds=None) -> np.ndarray:
    """The thresholds a sweep evaluates, ascending.

    Parameters
    ----------
    confidence : array
        Confidences of the predictions (NaN ignored).
    thresholds : None, int or array
        None: every distinct confidence (exact steps). An int ``n``: ``n`` evenly spaced values
        from the lowest to the highest confidence. An array: these values.
    """
    conf = np.asarray(confidence, np.float64)
    conf = conf[np.isfinite(conf)]
    if thresholds is None:
        return _unique(conf)
    if np.ndim(thresholds) == 0:
        n = int(thresholds)
        if n < 2:
            raise InputError(f"a threshold grid needs at least 2 points, got {thresholds!r}")
        if conf.size == 0:
            return np.empty(0)
        return np.unique(np.linspace(conf.min(), conf.max(), n))
    t = np.unique(np.asarray(thresholds, np.float64))
    if not np.isfinite(t).all():
        raise InputError("thresholds must be finite numbers")
    return t


def threshold_sweep(gt: pd.DataFrame, pred: pd.DataFrame, radius=250.0, matcher: str = "optimal", *,
                    thresholds="auto", column: str = "confidence", alpha: float = 1.0,
                    progress: bool = True) -> pd.DataFrame:
    """Match at every confidence threshold (exact; see the module docstring).

    Parameters
    ----------
    gt, pred : DataFrame
        Canonical tables; ``pred`` needs a ``confidence`` column (or ``column``).
    radius : float or sequence of float, default 250
        Matching radius (radii) in nm; several radii give one block of rows each.
    matcher : {"optimal", "greedy"}
    thresholds : "auto", None, int or array
        None: every distinct confidence; an int: an evenly spaced grid of that many points; an
        array: these thresholds. "auto" (default): every distinct confidence unless the exact
        sweep would re-match more than 20 million candidate pairs (very dense data; a warning
        says so), then a grid of 200. Predictions with confidence ``>= threshold`` are kept.
    column : str, default "confidence"
    progress : bool, default True
        Show a progress bar when the work is split into several chunks, lasts, and a person
        watches (a terminal or a notebook; see :mod:`imagesumming._progress`).

    Returns
    -------
    DataFrame
        ``radius_nm``, ``threshold``, ``matcher`` and :data:`~imagesumming.evaluation.metrics.METRIC_COLUMNS`,
        thresholds ascending within each radius. ``attrs["thresholds"]`` says which thresholds
        were swept ("every distinct confidence" or "N thresholds").

    Examples
    --------
    >>> from imagesumming.schema import make_locs
    >>> gt = make_locs({"frame": [1, 1], "x": [100.0, 2000.0], "y": [100.0, 100.0]})
    >>> pred = make_locs({"frame": [1, 1, 1], "x": [110.0, 2010.0, 5000.0], "y": [100.0, 100.0, 100.0],
    ...                   "confidence": [0.9, 0.2, 0.5]})
    >>> threshold_sweep(gt, pred)[["threshold", "tp", "fp", "fn"]].values.tolist()
    [[0.2, 2.0, 1.0, 0.0], [0.5, 1.0, 1.0, 1.0], [0.9, 1.0, 0.0, 1.0]]
    """
    conf = _confidence(pred, column)
    matcher, radii, (gf, gx, gy), (pf, px, py) = _prepare(gt, pred, radius, matcher)
    n_nan = int(np.isnan(conf).sum())
    if n_nan:
        log.warning("%d prediction(s) without a confidence value are left out at every threshold", n_nan)
    auto = isinstance(thresholds, str)
    if auto and thresholds != "auto":
        raise InputError(f"thresholds must be None, 'auto', a number of grid points or a list, not {thresholds!r}")
    t = sweep_thresholds(conf, None if auto else thresholds)
    columns = ["radius_nm", "threshold", "matcher", *METRIC_COLUMNS]
    if len(t) == 0:
        return pd.DataFrame(columns=columns)
    gi_all, pi_all, d_all = candidate_pairs(gf, gx, gy, pf, px, py, max(radii))
    level = _levels(conf, t)
    inst = None
    every = thresholds is None or auto
    if auto:
        use = level[pi_all] >= 0
        inst = _instances(gi_all[use], pi_all[use], level[pi_all[use]], len(t)) if use.any() else None
        if inst is not None and inst["work"] > _AUTO_LIMIT:
            log.warning("an exact sweep over %d distinct confidences would re-match %d candidate pairs (dense data): "
                        "sweeping a grid of %d thresholds instead (thresholds=None forces the exact sweep)",
                        len(t), inst["work"], _AUTO_GRID)
            t = sweep_thresholds(conf, _AUTO_GRID)
            level = _levels(conf, t)
            inst, every = None, False
    n_t = len(t)
    n_pred_at = np.cumsum(np.bincount(level[level >= 0], minlength=n_t)[::-1])[::-1]
    use = level[pi_all] >= 0
    gi_all, pi_all, d_all = gi_all[use], pi_all[use], d_all[use]
    blocks = []
    for r in radii:
        keep = d_all <= r
        gi, pi, d = gi_all[keep], pi_all[keep], d_all[keep]
        sums = _level_sums(gi, pi, d, level, n_t, gx, gy, px, py, matcher, progress=progress,
                           inst=inst if r == max(radii) else None)
        m = metrics_from_sums(sums["tp"], np.full(n_t, len(gx)), n_pred_at, sums["d2"], sums["dx"],
                              sums["dy"], alpha=alpha)
        blocks.append(pd.DataFrame({"radius_nm": r, "threshold": t, "matcher": matcher, **m}, columns=columns))
    out = pd.concat(blocks, ignore_index=True)
    out.attrs["thresholds"] = "every distinct confidence" if every else f"{n_t} thresholds"
    return out


def _levels(conf, t) -> np.ndarray:
    """Index of the highest threshold each prediction passes (-1: none, or no confidence)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(conf), np.searchsorted(t, conf, side="right") - 1, -1)


#: expanded pairs solved at once (bounds memory: ~100 bytes each)
_CHUNK = 2_000_000
#: ``thresholds="auto"`` sweeps every distinct confidence unless that means re-matching more
#: than this many candidate pairs in total (very dense data), then a grid of _AUTO_GRID points
_AUTO_LIMIT = 20_000_000
_AUTO_GRID = 200


def _instances(gi, pi, b, n_t) -> dict:
    """Group the candidate pairs and list the (group, level) instances each pair takes part in.

    ``b`` is the level of each pair's prediction. A pair belongs to every instance of its group
    whose level is at most its own (the prediction is still kept at that threshold).
    """
    comp, _, _ = _components(gi, pi)
    key = _unique(comp * n_t + b)  # instances, sorted by (group, level)
    inst_comp = key // n_t
    comp_start = np.searchsorted(inst_comp, np.arange(int(comp.max()) + 1), side="left")
    first = comp_start[comp]  # first instance of each pair's group
    n_inst = np.searchsorted(key, comp * n_t + b) - first + 1
    return {"comp": comp, "key": key, "inst_comp": inst_comp, "inst_level": key % n_t, "first": first,
            "n_inst": n_inst, "work": int(n_inst.sum())}


def _level_sums(gi, pi, d, level, n_t, gx, gy, px, py, matcher, progress=False, inst=None) -> dict:
    """TP and offset sums at every threshold level (arrays of length n_t)."""
    from .._progress import progress_bar

    zeros = {k: np.zeros(n_t) for k in ("tp", "d2", "dx", "dy")}
    if len(gi) == 0:
        return {**zeros, "tp": np.zeros(n_t, np.int64)}
    if inst is None:
        inst = _instances(gi, pi, level[pi], n_t)
    comp, first, n_inst_e = inst["comp"], inst["first"], inst["n_inst"]
    n_inst = len(inst["key"])
    contrib = {k: np.zeros(n_inst) for k in ("tp", "d2", "dx", "dy")}
    # whole groups per chunk, about _CHUNK expanded pairs each
    order = np.argsort(comp, kind="stable")
    work_per_comp = np.bincount(comp, weights=n_inst_e)
    chunk_of_comp = ((np.cumsum(work_per_comp) - work_per_comp) // _CHUNK).astype(np.int64)
    chunk_e = chunk_of_comp[comp[order]]
    bounds = np.flatnonzero(np.diff(chunk_e)) + 1
    blocks = np.split(order, bounds)
    for block in progress_bar(blocks, show=progress and len(blocks) > 1, desc="threshold sweep", unit="chunk"):
        reps = n_inst_e[block]
        e_rep = np.repeat(block, reps)
        offsets = np.arange(len(e_rep)) - np.repeat(np.cumsum(reps) - reps, reps)
        ins = first[e_rep] + offsets  # global instance of each expanded pair
        # points are distinct per instance
        _, g_node = np.unique(ins * (len(gx) + 1) + gi[e_rep], return_inverse=True)
        _, p_node = np.unique(ins * (len(px) + 1) + pi[e_rep], return_inverse=True)
        chosen = solve_pairs(g_node, p_node, d[e_rep], int(g_node.max()) + 1, int(p_node.max()) + 1, matcher)
        ce, ci = e_rep[chosen], ins[chosen]
        dx = px[pi[ce]] - gx[gi[ce]]
        dy = py[pi[ce]] - gy[gi[ce]]
        contrib["tp"] += np.bincount(ci, minlength=n_inst)
        contrib["d2"] += np.bincount(ci, weights=dx * dx + dy * dy, minlength=n_inst)
        contrib["dx"] += np.bincount(ci, weights=dx, minlength=n_inst)
        contrib["dy"] += np.bincount(ci, weights=dy, minlength=n_inst)
    # delta of an instance = its contribution minus that of the next higher level of its group;
    # the total at threshold level g is the sum of the deltas of all levels >= g
    inst_comp, inst_level = inst["inst_comp"], inst["inst_level"]
    has_next = np.zeros(n_inst, bool)
    has_next[:-1] = inst_comp[1:] == inst_comp[:-1]
    out = {}
    for k, c in contrib.items():
        nxt = np.zeros(n_inst)
        nxt[:-1] = c[1:]
        per_level = np.bincount(inst_level, weights=c - np.where(has_next, nxt, 0.0), minlength=n_t)
        out[k] = np.cumsum(per_level[::-1])[::-1]
    out["tp"] = np.rint(out["tp"]).astype(np.int64)
    return out


def best_threshold(sweep: pd.DataFrame, metric: str = "jaccard") -> pd.Series:
    """The sweep row that maximises ``metric`` (the lowest such threshold on ties; NaN ignored).

    With several radii in ``sweep``, pass the rows of one radius. Returns the row (a Series
    with ``threshold`` and every metric); raises InputError when the metric is NaN everywhere.
    """
    if metric not in sweep.columns:
        raise InputError(f"unknown metric {metric!r}; choose one of {', '.join(METRIC_COLUMNS)}")
    if "radius_nm" in sweep.columns and sweep["radius_nm"].nunique() > 1:
        raise InputError("the sweep holds several radii: select the rows of one radius first")
    values = sweep[metric].to_numpy(dtype=np.float64)
    if not np.isfinite(values).any():
        raise InputError(f"{metric} is undefined (NaN) at every threshold")
    order = np.argsort(sweep["threshold"].to_numpy(dtype=np.float64), kind="stable")
    best = order[np.nanargmax(values[order])]
    return sweep.iloc[best]


def round_threshold(confidence, threshold: float) -> float:
    """The shortest decimal ``T <= threshold`` that keeps the same predictions as ``threshold``.

    A sweep's thresholds are confidence values (e.g. 0.423187...): printed with a few digits they
    may round up and drop the predictions at that confidence. This returns the shortest decimal
    in ``(highest confidence below threshold, threshold]``, which keeps exactly the same rows
    (``confidence >= T``) and is fit to be typed into ``imagesumming filter --threshold``.

    Examples
    --------
    >>> round_threshold([0.1, 0.38, 0.4231879, 0.9], 0.4231879)
    0.4
    >>> round_threshold([0.4231, 0.4231879], 0.4231879)
    0.42318
    """
    t = float(threshold)
    conf = np.asarray(confidence, np.float64)
    below = conf[np.isfinite(conf) & (conf < t)]
    lower = float(below.max()) if below.size else -math.inf
    if not math.isfinite(t):
        return t
    for digits in range(-3, 18):
        v = math.floor(t * 10.0 ** digits) / 10.0 ** digits
        if lower < v <= t:
            return v
    return t
