"""Views of a Deep-STORM prediction: each function returns a matplotlib Figure (save it as PNG).

Figures are made without pyplot (:func:`imagesumming.plots.new_figure`), so they work in
scripts, notebooks and widgets alike. Positions are drawn at their true place in µm; frames are
1-based. Camera images (and the notebook's ``Widefield_`` image, a ``np.kron`` upscaling) follow the
corner convention: pixel ``k`` spans ``[k, k+1)`` pixels. Deep-STORM's prediction images do not:
the notebook trains on emitters rasterised at ``round(x / pixel_size_hr)`` and reports a peak in
pixel ``k`` at ``x = k * pixel_size_hr``, so prediction pixel ``k`` is centred on ``k`` and spans
``[k - 1/2, k + 1/2)``; they are drawn shifted by half a high-res pixel so that each predicted
localization sits on the centre of its peak pixel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..plots import new_figure, plot_density_boxes, plot_frame
from ..stats import density_per_frame
from .sweep import best_threshold


def _prediction_origin(pixel_size_hr: float) -> tuple[float, float]:
    """Corner (nm) of a Deep-STORM prediction image: pixel k is centred on k * pixel_size_hr."""
    return (-0.5 * pixel_size_hr, -0.5 * pixel_size_hr)

__all__ = ["frame_view", "folder_frame_view", "merged_view", "confidence_histogram", "density_view", "sweep_view"]


def confidence_cmap():
    """Colours for confidences that stay bright on a dark image (plasma without its dark third)."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    return ListedColormap(colormaps["plasma"](np.linspace(0.35, 1.0, 256)), name="confidence")


def _frame_rows(locs, frame, threshold=None, column="confidence"):
    if locs is None:
        return None
    sel = locs[locs["frame"] == frame]
    if threshold is not None and column in sel.columns:
        sel = sel[sel[column].to_numpy(dtype=np.float64) >= threshold]
    return sel


def frame_view(frame: int, *, movie_frame=None, prediction_frame=None, gt: pd.DataFrame | None = None,
               pred: pd.DataFrame | None = None, pixel_size: float | None = None,
               pixel_size_hr: float | None = None, threshold: float | None = None, field_nm=None):
    """One frame: the widefield frame with ground truth (crosses) next to the prediction.

    Parameters
    ----------
    frame : int
        Frame number, 1-based.
    movie_frame : 2-D array, optional
        The input frame (camera pixels, ``pixel_size`` nm).
    prediction_frame : 2-D array, optional
        The per-frame prediction (``pixel_size_hr`` nm), e.g. ``stack[frame - 1]``, drawn with pixel
        ``k`` centred on ``k * pixel_size_hr`` (see the module docstring). Without it the right
        panel shows the widefield frame under the predictions.
    gt, pred : DataFrame, optional
        Canonical tables; only rows of ``frame`` are drawn. Predictions are coloured by
        ``confidence`` when they have one; ``threshold`` hides those below it.
    field_nm : (width, height), optional
        Field of view in nm when no image is given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = new_figure(2, 1, size=(4.6, 4.2))
    g = _frame_rows(gt, frame)
    p = _frame_rows(pred, frame, threshold)

    def background(ax, image, ps, title, origin=(0.0, 0.0)):
        if image is not None and ps:
            plot_frame(ax, image, None, pixel_size=ps, title=title, origin_nm=origin)
            return
        w, h = field_nm if field_nm is not None else (1000.0, 1000.0)
        plot_frame(ax, np.zeros((1, 1)), None, pixel_size=1.0, title=title)
        ax.images[-1].set_extent((0, w / 1000, h / 1000, 0))
        ax.set_xlim(0, w / 1000)
        ax.set_ylim(h / 1000, 0)

    left, right = axes
    has_movie = movie_frame is not None and bool(pixel_size)
    left_title = (f"frame {frame}: widefield" + (" + ground truth" if g is not None else "") if has_movie
                  else f"frame {frame}: " + ("ground truth (no movie given)" if g is not None
                                             else "no movie and no ground truth given"))
    background(left, movie_frame, pixel_size, left_title)
    if g is not None and len(g):
        left.plot(g["x"] / 1000, g["y"] / 1000, "+", color="red", markersize=9, label=f"ground truth ({len(g)})")
        left.legend(loc="upper right", fontsize=8)
    if prediction_frame is not None and pixel_size_hr:
        background(right, prediction_frame, pixel_size_hr, f"frame {frame}: prediction",
                   _prediction_origin(pixel_size_hr))
    else:
        background(right, movie_frame, pixel_size, f"frame {frame}: predictions on widefield (no stack)"
                   if has_movie else f"frame {frame}: predictions (no movie, no stack)")
    if p is not None and len(p):
        if "confidence" in p.columns:
            from matplotlib.cm import ScalarMappable
            from matplotlib.colors import Normalize

            conf = p["confidence"].to_numpy(dtype=np.float64)
            sm = ScalarMappable(Normalize(np.nanmin(conf), np.nanmax(conf)), confidence_cmap())
            # hollow circles keep the prediction image visible under them
            right.scatter(p["x"] / 1000, p["y"] / 1000, s=36, marker="o", facecolors="none",
                          edgecolors=sm.to_rgba(conf), linewidths=1.2)
            fig.colorbar(sm, ax=right, label="confidence [a.u.]", shrink=0.8)
        else:
            right.plot(p["x"] / 1000, p["y"] / 1000, "o", mfc="none", color="cyan", markersize=6)
        if g is not None and len(g):
            right.plot(g["x"] / 1000, g["y"] / 1000, "+", color="red", markersize=9, alpha=0.7)
    right.set_title(right.get_title() + (f" ({0 if p is None else len(p)} locs"
                                          + (f", confidence >= {threshold:g})" if threshold is not None else ")")),
                    fontsize=9)
    return fig


def folder_frame_view(folder, frame: int, *, threshold: float | None = None):
    """:func:`frame_view` of a :class:`~imagesumming.evaluation.predictions.PredictionFolder`.

    Reads only frame ``frame`` (1-based) of the movie and of the prediction stack.
    """
    mf = folder.movie[frame - 1] if folder.movie is not None and 1 <= frame <= len(folder.movie) else None
    pfr = folder.stack[frame - 1] if folder.stack is not None and 1 <= frame <= len(folder.stack) else None
    return frame_view(frame, movie_frame=mf, prediction_frame=pfr, gt=folder.gt, pred=folder.locs,
                      pixel_size=folder.pixel_size, pixel_size_hr=folder.pixel_size_hr, threshold=threshold,
                      field_nm=folder.field_nm)


def merged_view(widefield, predicted, *, pixel_size_hr: float):
    """The merged (summed over frames) widefield image next to the merged prediction.

    Parameters
    ----------
    widefield, predicted : 2-D array or None
        The notebook's ``Widefield_<name>.tif`` and ``Predicted_<name>.tif``; a missing one
        leaves its panel empty. The prediction is drawn half a pixel up and left of the
        widefield image (its pixel ``k`` is centred on ``k * pixel_size_hr``).
    pixel_size_hr : float
        Their pixel size in nm.
    """
    fig, axes = new_figure(2, 1, size=(4.6, 4.2))
    for ax, img, title, cmap, origin in ((axes[0], widefield, "merged widefield", "gray", (0.0, 0.0)),
                                         (axes[1], predicted, "merged prediction", "hot",
                                          _prediction_origin(pixel_size_hr))):
        if img is None:
            ax.set_axis_off()
            ax.set_title(f"{title}: not available")
            continue
        img = np.asarray(img, np.float64)
        plot_frame(ax, img, None, pixel_size=pixel_size_hr, title=title, cmap=cmap, origin_nm=origin)
        hi = np.percentile(img, 99.8) if img.size else 1.0
        ax.images[-1].set_clim(float(img.min()) if img.size else 0.0, hi if hi > img.min() else None)
    return fig


def confidence_histogram(pred: pd.DataFrame, *, threshold: float | None = None, matches=None, bins: int = 60,
                         column: str = "confidence"):
    """Histogram of prediction confidences; with ``matches``, true and false positives stacked.

    Parameters
    ----------
    pred : DataFrame
        Predictions with a ``confidence`` column.
    threshold : float, optional
        Drawn as a vertical line.
    matches : Matches, optional
        A matching of ``pred`` (at any radius): splits the histogram into matched (TP) and
        unmatched (FP) predictions.
    """
    from ..errors import InputError

    if column not in pred.columns:
        raise InputError(f"predictions have no {column!r} column to draw a histogram of")
    conf = pred[column].to_numpy(dtype=np.float64)
    ok = np.isfinite(conf)
    fig, ax = new_figure(1, 1, size=(6.0, 3.6))
    edges = np.histogram_bin_edges(conf[ok], bins=bins) if ok.any() else bins
    if matches is not None:
        tp = matches.pred_matched & ok
        ax.hist([conf[tp], conf[~matches.pred_matched & ok]], bins=edges, stacked=True,
                label=[f"matched ({int(tp.sum())}, {matches.radius:g} nm)",
                       f"unmatched ({int((~matches.pred_matched & ok).sum())})"], color=["tab:green", "tab:red"])
        ax.legend(fontsize=8)
    else:
        ax.hist(conf[ok], bins=edges, color="tab:blue")
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", linewidth=1)
        ax.annotate(f"threshold {threshold:g}: {int((conf >= threshold).sum())} of {len(conf)} kept",
                    (threshold, 0.95), xycoords=("data", "axes fraction"), xytext=(4, 0),
                    textcoords="offset points", fontsize=8, va="top")
    ax.set_xlabel("confidence [a.u.]")
    ax.set_ylabel("predicted localizations")
    return fig


def density_view(gt: pd.DataFrame | None, pred: pd.DataFrame | None, *, n_frames: int, width: int, height: int,
                 pixel_size: float, pred_label: str = "predictions"):
    """Density per frame (emitters / µm²) of ground truth and predictions; empty frames count.

    Parameters
    ----------
    gt, pred : DataFrame or None
    n_frames : int
        Frames of the movie (frames without localizations count as density 0).
    width, height : int
        Image size in pixels of ``pixel_size`` nm (camera or high-res, any consistent pair).
    pred_label : str
        Legend of the predictions (e.g. "predictions, confidence >= 0.4").
    """
    fig, (ax_line, ax_box) = new_figure(2, 1, size=(5.0, 3.6))
    dens = {}
    for label, table in (("ground truth", gt), (pred_label, pred)):
        if table is not None:
            dens[label] = density_per_frame(table, n_frames, width=width, height=height, pixel_size=pixel_size)
    frames = np.arange(1, n_frames + 1)
    for label, d in dens.items():
        ax_line.plot(frames, d, label=f"{label} (mean {d.mean():.3g})", linewidth=0.8)
    ax_line.set_xlabel("frame")
    ax_line.set_ylabel("emitters / µm²")
    if dens:
        ax_line.legend(fontsize=8)
        plot_density_boxes(ax_box, dens)
    ax_line.set_title(f"density per frame ({n_frames} frames, empty ones count)", fontsize=9)
    return fig


_CURVES = (("jaccard", "Jaccard"), ("recall", "recall"), ("precision", "precision"), ("f1", "F1"),
           ("efficiency", "efficiency (α=1)"))


def sweep_view(sweep: pd.DataFrame, *, threshold: float | None = None, confidence=None):
    """Metrics against the confidence threshold, one panel per radius, best thresholds marked.

    Parameters
    ----------
    sweep : DataFrame
        From :func:`~imagesumming.evaluation.sweep.threshold_sweep`. The value at threshold
        ``t_i`` holds for every threshold in ``(t_{i-1}, t_i]`` (same predictions kept), hence
        the steps.
    threshold : float, optional
        The current threshold, drawn as a solid line.
    confidence : array, optional
        The predictions' confidences: the best thresholds are then labelled as the shortest
        decimal that keeps the same predictions (:func:`~imagesumming.evaluation.sweep.round_threshold`).
    """
    from .sweep import round_threshold

    radii = list(pd.unique(sweep["radius_nm"])) if len(sweep) else []
    fig, axes = new_figure(max(len(radii), 1), 1, size=(4.6, 3.8))
    axes = np.atleast_1d(axes)
    for ax, r in zip(axes, radii):
        s = sweep[sweep["radius_nm"] == r]
        t = s["threshold"].to_numpy(dtype=np.float64)
        for col, label in _CURVES:
            ax.plot(t, s[col].to_numpy(dtype=np.float64), label=label, linewidth=1.2, drawstyle="steps-pre")
        for metric, style in (("jaccard", "--"), ("efficiency", ":")):
            vals = s[metric].to_numpy(dtype=np.float64)
            if np.isfinite(vals).any():
                b = best_threshold(s, metric)
                shown = (round_threshold(confidence, b["threshold"]) if confidence is not None
                         else float(f"{b['threshold']:.4g}"))
                ax.axvline(b["threshold"], color="k", linestyle=style, linewidth=1,
                           label=f"best {metric}: {shown:g} ({b[metric]:.3f})")
        if threshold is not None:
            ax.axvline(threshold, color="0.45", linewidth=3, alpha=0.6, label=f"current: {threshold:g}")
        ax.set_xlabel("confidence threshold [a.u.]")
        ax.set_ylabel("metric (Jaccard, recall, ...)")
        ax.set_ylim(min(0.0, np.nanmin(s["efficiency"].to_numpy(dtype=np.float64), initial=0.0)), 1.02)
        ax.set_title(f"radius {r:g} nm, {s['matcher'].iloc[0]} matching", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
    if not radii:
        axes[0].set_title("empty sweep")
    return fig
