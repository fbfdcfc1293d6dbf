"""Match predicted localizations to ground truth, frame by frame, within a lateral radius.

Two matchers (SMLM challenge 2016, Sage et al. 2019; see the project's FORMATS notes):

``"optimal"``
    A one-to-one assignment with the **largest number of pairs** within the radius and, among
    those, the **smallest sum of distances**. Every connected group of candidate pairs is solved
    on its own: groups with one ground-truth or one predicted point take their closest pair,
    groups of up to :data:`BRUTE_FORCE_MAX` points a side are solved by enumerating every
    assignment (vectorised over groups of the same size), larger groups with
    :func:`scipy.optimize.linear_sum_assignment` on a cost matrix where non-candidates cost more
    than any set of real pairs.
``"greedy"``
    Closest pair first, as in the challenge's code and DECODE: repeatedly take the closest
    remaining pair whose two points are both free. Ties are broken by ground-truth then
    prediction row. Computed with locally-dominant rounds (a pair that is the closest one of
    both its points is taken), which gives exactly the sequential greedy result.

Candidate pairs come from one :class:`scipy.spatial.cKDTree` query over all frames at once: the
frame number becomes a third coordinate spaced more than the radius apart, so only points of the
same frame can be closer than the radius and their distance is the lateral distance.

Frames that only one table has count fully: their predictions are false positives, their
ground-truth points false negatives. A warning with counts is logged when the two tables share
no frame at all.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["MATCHERS", "BRUTE_FORCE_MAX", "Matches", "match", "match_radii", "candidate_pairs",
           "solve_pairs", "frame_overlap"]

log = logging.getLogger("imagesumming")

MATCHERS = ("optimal", "greedy")
#: groups with at most this many points on each side are solved by enumeration (faster than a
#: Python loop over linear_sum_assignment); larger ones by linear_sum_assignment
BRUTE_FORCE_MAX = 4


@dataclasses.dataclass(frozen=True)
class Matches:
    """The result of :func:`match`: which rows were paired, and their offsets.

    Attributes
    ----------
    gt_index, pred_index : ndarray of int64
        Row positions (0-based, ``iloc``) of the matched ground-truth and predicted rows, one
        entry per pair, sorted by frame then ground-truth row.
    frame : ndarray of int64
        Frame (1-based) of each pair.
    dx, dy : ndarray of float64
        Signed offset of each pair in nm, prediction minus ground truth.
    distance : ndarray of float64
        Lateral distance of each pair in nm.
    gt_matched, pred_matched : ndarray of bool
        One flag per row of the ground truth / predictions.
    gt_frame, pred_frame : ndarray of int64
        Frames (1-based) of every ground-truth / predicted row.
    radius : float
        Matching radius in nm (pairs closer than or at this distance are candidates).
    matcher : str
        ``"optimal"`` or ``"greedy"``.
    """

    gt_index: np.ndarray
    pred_index: np.ndarray
    frame: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    distance: np.ndarray
    gt_matched: np.ndarray
    pred_matched: np.ndarray
    gt_frame: np.ndarray
    pred_frame: np.ndarray
    radius: float
    matcher: str

    @property
    def n_gt(self) -> int:
        return len(self.gt_matched)

    @property
    def n_pred(self) -> int:
        return len(self.pred_matched)

    @property
    def tp(self) -> int:
        """Matched pairs (true positives)."""
        return len(self.gt_index)

    @property
    def fp(self) -> int:
        """Unmatched predictions (false positives)."""
        return self.n_pred - self.tp

    @property
    def fn(self) -> int:
        """Unmatched ground-truth points (false negatives)."""
        return self.n_gt - self.tp

    def frame_overlap(self) -> dict:
        """Frames (and rows) present in both tables or in only one of them."""
        return frame_overlap(self.gt_frame, self.pred_frame)

    def pairs(self, gt: pd.DataFrame | None = None, pred: pd.DataFrame | None = None) -> pd.DataFrame:
        """The pairs as a table: frame, gt_index, pred_index, dx, dy, distance (nm).

        With the two tables given, their x, y (and confidence) are added as ``x_gt``, ``x_pred``...
        """
        out = pd.DataFrame({"frame": self.frame, "gt_index": self.gt_index, "pred_index": self.pred_index,
                            "dx": self.dx, "dy": self.dy, "distance": self.distance})
        for table, suffix, idx in ((gt, "gt", self.gt_index), (pred, "pred", self.pred_index)):
            if table is None:
                continue
            for c in ("x", "y", "confidence"):
                if c in table.columns:
                    out[f"{c}_{suffix}"] = table[c].to_numpy(dtype=np.float64)[idx]
        return out


def _unique(a) -> np.ndarray:
    """Sorted distinct values (by sorting: numpy 2.3+'s hash-based np.unique is slower on large arrays)."""
    s = np.sort(np.asarray(a), kind="stable")
    if len(s) == 0:
        return s
    keep = np.empty(len(s), bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def frame_overlap(gt_frame, pred_frame) -> dict:
    """Count frames and rows that the two tables share or that only one of them has."""
    gf, pf = _unique(gt_frame), _unique(pred_frame)
    only_gt = np.setdiff1d(gf, pf, assume_unique=True)
    only_pred = np.setdiff1d(pf, gf, assume_unique=True)
    return {
        "frames_both": int(len(gf) - len(only_gt)),
        "frames_only_gt": int(len(only_gt)),
        "frames_only_pred": int(len(only_pred)),
        "gt_rows_in_frames_only_gt": int(np.isin(gt_frame, only_gt).sum()),
        "pred_rows_in_frames_only_pred": int(np.isin(pred_frame, only_pred).sum()),
    }


def _coords(table: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for c in ("frame", "x", "y"):
        if c not in table.columns:
            raise InputError(f"{what} table lacks the column {c!r} (expected a canonical table: frame, x, y)")
    f = table["frame"].to_numpy(dtype=np.int64)
    x = table["x"].to_numpy(dtype=np.float64)
    y = table["y"].to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise InputError(f"{what}: {int(bad.sum())} of {len(x)} localization(s) have NaN or infinite x/y; "
                         "remove them first (check_locs(..., on_invalid='drop'))")
    return f, x, y


def _check_radius(radius) -> float:
    try:
        r = float(radius)
    except (TypeError, ValueError):
        raise InputError(f"matching radius must be a number of nm, got {radius!r}") from None
    if not np.isfinite(r) or r <= 0:
        raise InputError(f"matching radius must be a positive number of nm, got {radius!r}")
    return r


def _check_matcher(matcher: str) -> str:
    m = str(matcher).lower()
    if m not in MATCHERS:
        raise InputError(f"unknown matcher {matcher!r}; choose one of {', '.join(MATCHERS)}")
    return m


def candidate_pairs(gt_frame, gt_x, gt_y, pred_frame, pred_x, pred_y, radius: float):
    """All (ground truth, prediction) pairs of the same frame within ``radius`` nm.

    One KD-tree per table over ``(x, y, frame * spacing)`` with a spacing larger than the
    radius: points of different frames are never within the radius, and for points of the same
    frame the distance is the lateral one.

    Returns
    -------
    gi, pi : ndarray of int64
        Row positions of the pairs (ground truth, prediction).
    dist : ndarray of float64
        Their lateral distance in nm.
    """
    from scipy.spatial import cKDTree

    radius = float(radius)
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
    if len(gt_x) == 0 or len(pred_x) == 0:
        return empty
    spacing = 4.0 * radius
    # the frame offset is an exact float (integers times a power-of-two-free spacing are still
    # exact below 2**53), so same-frame points differ by exactly 0 along it
    a = np.column_stack([gt_x, gt_y, np.asarray(gt_frame, np.float64) * spacing])
    b = np.column_stack([pred_x, pred_y, np.asarray(pred_frame, np.float64) * spacing])
    ta, tb = cKDTree(a, balanced_tree=False), cKDTree(b, balanced_tree=False)
    sdm = ta.sparse_distance_matrix(tb, radius, output_type="ndarray")
    if len(sdm) == 0:
        return empty
    gi = sdm["i"].astype(np.int64)
    pi = sdm["j"].astype(np.int64)
    dist = np.hypot(np.asarray(pred_x)[pi] - np.asarray(gt_x)[gi], np.asarray(pred_y)[pi] - np.asarray(gt_y)[gi])
    keep = dist <= radius  # the tree's 3-D distance equals this; guard against rounding
    return gi[keep], pi[keep], dist[keep]


# ---------------------------------------------------------------------------------------------
# solvers: both take candidate edges (g, p, d) with node ids g in [0, n_g), p in [0, n_p) and
# return a boolean mask of the chosen edges
# ---------------------------------------------------------------------------------------------


def solve_pairs(g, p, d, n_g: int, n_p: int, matcher: str = "optimal") -> np.ndarray:
    """Choose a one-to-one set of candidate pairs.

    Parameters
    ----------
    g, p : array of int
        Ground-truth and prediction node of each candidate pair (0 <= g < n_g, 0 <= p < n_p).
        Nodes of different frames (or sweep levels) never share a pair, so each connected
        group is solved independently.
    d : array of float
        Distance of each pair (any non-negative cost).
    matcher : {"optimal", "greedy"}

    Returns
    -------
    chosen : ndarray of bool
        One flag per candidate pair.
    """
    matcher = _check_matcher(matcher)
    g = np.asarray(g, np.int64)
    p = np.asarray(p, np.int64)
    d = np.asarray(d, np.float64)
    if len(g) == 0:
        return np.zeros(0, bool)
    if matcher == "greedy":
        return _greedy(g, p, d, n_g, n_p)
    return _optimal(g, p, d, n_g, n_p)


def _edge_order(g, p, d) -> np.ndarray:
    """Edges by distance, ties by ground-truth then prediction node (a strict total order)."""
    return np.lexsort((p, g, d))


def _greedy(g, p, d, n_g, n_p) -> np.ndarray:
    order = _edge_order(g, p, d)
    g, p = g[order], p[order]
    rank = np.arange(len(g))
    chosen_sorted = np.zeros(len(g), bool)
    alive = np.ones(len(g), bool)
    g_used = np.zeros(n_g, bool)
    p_used = np.zeros(n_p, bool)
    big = len(g)
    while True:
        idx = np.flatnonzero(alive)
        if len(idx) == 0:
            break
        ga, pa, ra = g[idx], p[idx], rank[idx]
        best_g = np.full(n_g, big)
        best_p = np.full(n_p, big)
        np.minimum.at(best_g, ga, ra)
        np.minimum.at(best_p, pa, ra)
        # a pair that is the closest alive pair of both its points is taken by sequential greedy
        take = (best_g[ga] == ra) & (best_p[pa] == ra)
        chosen_sorted[idx[take]] = True
        g_used[ga[take]] = True
        p_used[pa[take]] = True
        alive[idx] = ~(g_used[ga] | p_used[pa])
    chosen = np.zeros(len(g), bool)
    chosen[order] = chosen_sorted
    return chosen


def _components(g, p, *, node_labels=False):
    """Connected groups of the bipartite candidate graph.

    Returns a group label per edge and the compact node ids (0..) of each edge's ground-truth
    and predicted point; with ``node_labels`` also the group of every compact node.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    # compact node ids: only nodes with an edge take part
    gu, gl = np.unique(g, return_inverse=True)
    pu, pl = np.unique(p, return_inverse=True)
    n = len(gu) + len(pu)
    graph = coo_matrix((np.ones(len(g), np.int8), (gl, pl + len(gu))), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    labels = labels.astype(np.int64)  # int64: group ids are multiplied with node ids
    out = labels[gl], gl.astype(np.int64), pl.astype(np.int64)
    if node_labels:
        out += (labels[:len(gu)], labels[len(gu):])
    return out


def _optimal(g, p, d, n_g, n_p) -> np.ndarray:
    chosen = np.zeros(len(g), bool)
    comp, gl, pl, g_comp, p_comp = _components(g, p, node_labels=True)
    # per group: number of distinct ground-truth and predicted points
    n_comp = int(comp.max()) + 1
    g_count = np.bincount(g_comp, minlength=n_comp)
    p_count = np.bincount(p_comp, minlength=n_comp)

    # groups with one point on a side: the closest pair is optimal (one pair at most)
    star = (g_count == 1) | (p_count == 1)
    e_star = np.flatnonzero(star[comp])
    if len(e_star):
        o = e_star[np.lexsort((p[e_star], g[e_star], d[e_star], comp[e_star]))]
        first = np.ones(len(o), bool)
        first[1:] = comp[o][1:] != comp[o][:-1]
        chosen[o[first]] = True

    size = np.maximum(g_count, p_count)
    rest = ~star
    scale = float(d.max()) if len(d) and d.max() > 0 else 1.0
    cost = d / scale  # in [0, 1]
    for k in range(2, BRUTE_FORCE_MAX + 1):
        comps_k = np.flatnonzero(rest & (size == k))
        if len(comps_k):
            _brute_force(chosen, comp, gl, pl, cost, comps_k, k)
    big = np.flatnonzero(rest & (size > BRUTE_FORCE_MAX))
    if len(big):
        _lsa_groups(chosen, comp, gl, pl, cost, big)
    return chosen


def _local_ids(edge_comp, node):
    """0-based rank of each edge's node among the distinct nodes of its group."""
    key = edge_comp * (int(node.max()) + 1) + node
    uk, inv = np.unique(key, return_inverse=True)
    ucomp = uk // (int(node.max()) + 1)
    start = np.searchsorted(ucomp, ucomp, side="left")
    return (np.arange(len(uk)) - start)[inv]


_PERMS: dict[int, np.ndarray] = {}


def _perms(k: int) -> np.ndarray:
    if k not in _PERMS:
        _PERMS[k] = np.array(list(itertools.permutations(range(k))), np.int64)
    return _PERMS[k]


def _brute_force(chosen, comp, gl, pl, cost, comps_k, k) -> None:
    """Solve all groups of padded size k x k by enumerating the k! assignments."""
    pos = np.full(int(comp.max()) + 1, -1)
    pos[comps_k] = np.arange(len(comps_k))
    e = np.flatnonzero(pos[comp] >= 0)
    ec = pos[comp[e]]
    lg = _local_ids(ec, gl[e])
    lp = _local_ids(ec, pl[e])
    unmatched = k + 1.0  # more than any k real pairs cost together (each <= 1)
    perms = _perms(k)
    rows = np.arange(k)
    chunk = max(1, 2_000_000 // (len(perms) * k))
    best_perm = np.empty(len(comps_k), np.int64)
    for start in range(0, len(comps_k), chunk):
        stop = min(start + chunk, len(comps_k))
        sel = (ec >= start) & (ec < stop)
        c = np.full((stop - start, k, k), unmatched)
        c[ec[sel] - start, lg[sel], lp[sel]] = cost[e[sel]]
        total = c[:, rows, perms].sum(axis=2)  # (groups, k!)
        best_perm[start:stop] = np.argmin(total, axis=1)
    # an edge is chosen when the best permutation assigns its ground truth to its prediction
    chosen[e] = perms[best_perm[ec], lg] == lp


def _lsa_groups(chosen, comp, gl, pl, cost, groups) -> None:
    from scipy.optimize import linear_sum_assignment

    e = np.flatnonzero(np.isin(comp, groups))
    e = e[np.argsort(comp[e], kind="stable")]
    bounds = np.flatnonzero(np.diff(comp[e])) + 1
    for block in np.split(e, bounds):
        gu, lg = np.unique(gl[block], return_inverse=True)
        pu, lp = np.unique(pl[block], return_inverse=True)
        unmatched = min(len(gu), len(pu)) + 1.0
        c = np.full((len(gu), len(pu)), unmatched)
        c[lg, lp] = cost[block]
        r, cidx = linear_sum_assignment(c)
        assigned = np.full(len(gu), -1)
        assigned[r] = cidx
        chosen[block] = assigned[lg] == lp


# ---------------------------------------------------------------------------------------------
# public entry points
# ---------------------------------------------------------------------------------------------


def _build(gi, pi, dist, chosen, gf, gx, gy, pf, px, py, radius, matcher) -> Matches:
    gi, pi = gi[chosen], pi[chosen]
    order = np.lexsort((gi, gf[gi]))
    gi, pi = gi[order], pi[order]
    gm = np.zeros(len(gx), bool)
    gm[gi] = True
    pm = np.zeros(len(px), bool)
    pm[pi] = True
    return Matches(gt_index=gi, pred_index=pi, frame=gf[gi], dx=px[pi] - gx[gi], dy=py[pi] - gy[gi],
                   distance=dist[chosen][order], gt_matched=gm, pred_matched=pm, gt_frame=gf,
                   pred_frame=pf, radius=float(radius), matcher=matcher)


def _warn_overlap(gf, pf) -> None:
    if len(gf) and len(pf) and not np.intersect1d(_unique(gf), _unique(pf), assume_unique=True).size:
        log.warning(
            "ground truth (%d localizations in frames %d-%d) and predictions (%d in frames %d-%d) share no "
            "frame: every prediction counts as a false positive and every ground-truth point as a miss",
            len(gf), gf.min(), gf.max(), len(pf), pf.min(), pf.max())


def _prepare(gt: pd.DataFrame, pred: pd.DataFrame, radii, matcher: str):
    """Checked inputs of a matching: matcher, radii (list of float), (frame, x, y) of both tables.

    Raises InputError on a bad matcher, radius or table; warns when the tables share no frame.
    """
    matcher = _check_matcher(matcher)
    radii = [_check_radius(r) for r in np.atleast_1d(radii)]
    g, p = _coords(gt, "ground truth"), _coords(pred, "predictions")
    _warn_overlap(g[0], p[0])
    return matcher, radii, g, p


def match(gt: pd.DataFrame, pred: pd.DataFrame, radius: float = 250.0, matcher: str = "optimal") -> Matches:
    """Pair predicted localizations with ground truth, frame by frame, within ``radius`` nm.

    Parameters
    ----------
    gt, pred : DataFrame
        Canonical tables (frames 1-based, x/y in nm).
    radius : float, default 250
        Largest lateral distance of a pair, in nm.
    matcher : {"optimal", "greedy"}
        See the module docstring.

    Returns
    -------
    Matches

    Examples
    --------
    >>> from imagesumming.schema import make_locs
    >>> gt = make_locs({"frame": [1, 1], "x": [0.0, 150.0], "y": [0.0, 0.0]})
    >>> pred = make_locs({"frame": [1, 1], "x": [80.0, 230.0], "y": [0.0, 0.0]})
    >>> match(gt, pred, 100, "optimal").tp, match(gt, pred, 100, "greedy").tp
    (2, 1)
    """
    return match_radii(gt, pred, [radius], matcher)[float(radius)]


def match_radii(gt: pd.DataFrame, pred: pd.DataFrame, radii, matcher: str = "optimal") -> dict:
    """:func:`match` at several radii; the candidate pairs are searched once, at the largest.

    Returns
    -------
    dict
        ``{radius (float, nm): Matches}`` in the order given.
    """
    matcher, radii, (gf, gx, gy), (pf, px, py) = _prepare(gt, pred, radii, matcher)
    gi, pi, dist = candidate_pairs(gf, gx, gy, pf, px, py, max(radii))
    out = {}
    for r in radii:
        keep = dist <= r
        chosen = solve_pairs(gi[keep], pi[keep], dist[keep], len(gx), len(px), matcher)
        out[r] = _build(gi[keep], pi[keep], dist[keep], chosen, gf, gx, gy, pf, px, py, r, matcher)
    return out
