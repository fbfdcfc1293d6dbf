"""The prediction viewer: a Deep-STORM prediction folder, ground truth, threshold with live metrics."""

from __future__ import annotations

import math
from pathlib import Path

import ipywidgets as w
import numpy as np

from ..errors import InputError
from . import _common as c

__all__ = ["PredictionViewerUI"]

_SHOWN = (("tp", "TP", "d"), ("fp", "FP", "d"), ("fn", "FN", "d"), ("jaccard", "Jaccard", ".3f"),
          ("recall", "recall", ".3f"), ("precision", "precision", ".3f"), ("f1", "F1", ".3f"),
          ("rmse_lateral_nm", "RMSE [nm]", ".1f"), ("efficiency", "efficiency", ".3f"))


def threshold_text(t: float) -> str:
    """A threshold as every part of the viewer shows it: shortest positional decimal (6 digits at most)."""
    return np.format_float_positional(float(f"{float(t):.6g}"), trim="-")


def _decimals(text_: str) -> int:
    return len(text_.split(".")[1]) if "." in text_ else 0


def _fmt(value, spec: str) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "–"
    return format(round(v), "d") if spec == "d" else format(v, spec)


class PredictionViewerUI(c.UI):
    """Notebook UI over :mod:`imagesumming.evaluation` for a Deep-STORM prediction folder.

    Parameters
    ----------
    prediction_dir : path, optional
        The folder the Deep-STORM notebook wrote (``Localizations_<name>_avg.csv`` / ``_max.csv``,
        ``Predicted_<name>.tif``, ``Widefield_<name>.tif``).
    ground_truth, movie : path, optional
        Ground truth (any localization format) and the input movie.
    radius : float
        Matching radius in nm for the live metrics (default 100).

    Parts: :attr:`inputs_panel`, :attr:`frame_view`, :attr:`overview`, :attr:`threshold_panel`.
    Buttons call :meth:`load`, :meth:`use_recommended` and :meth:`save`; the threshold is
    :attr:`threshold` (a slider). Loaded data: :attr:`folder`
    (:class:`~imagesumming.evaluation.PredictionFolder`), :attr:`sweep` (metrics per threshold).
    """

    def __init__(self, prediction_dir="", ground_truth="", movie="", *, radius: float = 100.0):
        self.folder = None
        self.sweep = None
        self.recommended = None
        self.recommended_value = None
        self.saved = None
        self._matches = None
        self._quiet = False

        self.pred_dir = c.text("prediction folder", prediction_dir, "folder with Localizations_*.csv")
        self.gt_path = c.text("ground truth", ground_truth, "ground truth (optional)")
        self.movie_path = c.text("movie", movie, "input movie .tif (optional)")
        self.pixel_size = c.number("camera pixel size [nm] (0: from the files)", 0.0, minimum=0)
        self.radius = c.number("matching radius [nm]", float(radius), minimum=0.001)
        self.matcher = w.Dropdown(options=["optimal", "greedy"], value="optimal", description="matching",
                                  style=c._STYLE)
        self.load_button = c.button("Load", "primary", "folder-open")
        self.load_button.on_click(lambda _: self.load())
        self.status = c.message()
        self.inputs_panel = w.VBox([c.heading("Prediction, ground truth, movie"), self.pred_dir, self.gt_path,
                                    self.movie_path, w.HBox([self.pixel_size, self.radius, self.matcher]),
                                    w.HBox([self.load_button]), self.status])

        self.frame = w.IntSlider(value=1, min=1, max=1, description="frame", continuous_update=False)
        self.frame.observe(lambda _: self._draw_frame(), names="value")
        self.frame_out = w.Output()
        self._scroll = w.Output(layout=w.Layout(height="0px", overflow="hidden"))
        self.frame_out.add_class("imagesumming-frame")  # a stable hook for browser tests
        self._frame_hook = c.hook_class(self.frame_out, "frame")
        self.frame_view = w.VBox([c.heading("Frame by frame"), self.frame, self.frame_out, self._scroll])

        self.merged_out = w.Output()
        self.hist_out = w.Output()
        self.density_out = w.Output()
        self.overview = w.VBox([c.heading("Overview"), self.merged_out, w.HBox([self.hist_out, self.density_out])])

        self.threshold = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.01, description="confidence threshold",
                                       readout_format=".3f", continuous_update=False, style=c._STYLE,
                                       layout=w.Layout(width="560px"))
        self.threshold.add_class("imagesumming-threshold")
        self.threshold.observe(lambda _: self._on_threshold(), names="value")
        self.metrics = w.HTML("")
        self.metrics.add_class("imagesumming-metrics")
        self.recommend_text = w.HTML("")
        self.recommend_button = c.button("Use recommended", "info")
        self.recommend_button.on_click(lambda _: self.use_recommended())
        self.sweep_out = w.Output()
        self.out_csv = c.text("filtered csv", "", "where to write the kept localizations")
        self.force = w.Checkbox(value=False, description="overwrite existing file", indent=False)
        self.save_button = c.button("Save filtered csv", "primary", "save")
        self.save_button.on_click(lambda _: self.save())
        self.save_status = c.message()
        self.threshold_panel = w.VBox([
            c.heading("Confidence threshold"), self.threshold, self.metrics,
            w.HBox([self.recommend_button, self.recommend_text]), self.sweep_out,
            self.out_csv, self.force, w.HBox([self.save_button]), self.save_status])
        self.widget = w.VBox([self.inputs_panel, self.frame_view, self.overview, self.threshold_panel])

    @classmethod
    def from_folder(cls, folder="", **kwargs) -> PredictionViewerUI:
        """A UI prefilled from ``folder``: the prediction folder is ``folder`` itself when it holds
        ``Localizations_*.csv``, else its first subfolder that does; the ground truth and the movie
        are the localization file and movie found in ``folder`` (when there is exactly one pair)."""
        if not folder:
            return cls(**kwargs)
        folder = Path(folder)
        candidates = [folder] + sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        pred = next((p for p in candidates if any(p.glob("Localizations_*.csv"))), None)
        pairs = c.find_pairs(folder)
        movie, gt = pairs[0] if len(pairs) == 1 else ("", "")
        return cls(pred or "", gt, movie, **kwargs)

    # --- actions -------------------------------------------------------------------------------
    def load(self) -> bool:
        """Load the prediction folder (+ ground truth, movie), sweep the thresholds, draw everything."""
        from ..evaluation import best_threshold, load_prediction_folder, match, sweep_view, threshold_sweep

        with c.reporting(self.status, busy="loading ...") as done:
            folder = load_prediction_folder(
                c.need_path(self.pred_dir.value, "prediction folder"), movie=c.path_or_none(self.movie_path.value),
                gt=c.path_or_none(self.gt_path.value), pixel_size=float(self.pixel_size.value) or None)
            sweep = recommended = matches = None
            has_conf = "confidence" in folder.locs.columns and np.isfinite(folder.locs["confidence"]).any()
            if folder.gt is not None and has_conf:
                sweep = threshold_sweep(folder.gt, folder.locs, radius=float(self.radius.value),
                                        matcher=self.matcher.value)
                recommended = best_threshold(sweep, "jaccard") if len(sweep) else None
                # all predictions matched once: the histogram splits them into matched / unmatched
                matches = match(folder.gt, folder.locs, float(self.radius.value), self.matcher.value)
            if self.folder is not None:
                self.folder.close()
            self.folder, self.sweep, self.recommended, self.saved = folder, sweep, recommended, None
            self._matches = matches
            self._setup_threshold(has_conf)
            self.frame.max = max(folder.n_frames, 1)
            self.frame.value = 1
            self._draw_frame()
            self._draw_overview()
            self._update_metrics()
            if folder.locs_path is not None:
                p = folder.locs_path
                self.out_csv.value = str(p.with_name(f"{p.stem}_filtered.csv"))
            lines = [f"loaded {len(folder.locs)} predicted localizations from {folder.locs_path.name}"
                     + (f", {len(folder.gt)} ground-truth localizations" if folder.gt is not None else "")
                     + f", {folder.n_frames} frames"]
            lines += folder.notes
            if not has_conf:
                lines.append("no confidence column: the threshold is not available")
            c.say(self.status, "\n".join(lines))
            c.bring_into_view(self._scroll, self._frame_hook)
        return done.ok

    def _setup_threshold(self, has_conf: bool) -> None:
        conf = self.folder.locs["confidence"].to_numpy(np.float64) if has_conf else np.array([0.0, 1.0])
        conf = conf[np.isfinite(conf)]
        lo, hi = float(conf.min()), float(conf.max())
        if hi <= lo:
            hi = lo + 1.0
        # widen to a round step so that every confidence is reachable
        step = float(f"{(hi - lo) / 200:.1g}") or (hi - lo) / 200
        lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
        t = self.threshold
        self._quiet = True  # load() draws everything once afterwards
        try:
            t.max = max(hi, t.min)  # min <= max at every step
            t.min = lo
            t.max = hi
            t.step = step
            t.value = lo
            self._fit_readout()
        finally:
            self._quiet = False
        self.threshold.disabled = not has_conf
        self.recommend_button.disabled = self.recommended is None
        if self.recommended is not None:
            from ..evaluation.sweep import round_threshold

            r = self.recommended
            # the shortest decimal that keeps the same rows: '.4g' could round up and drop the best one;
            # Use recommended moves the slider to this very value, so it reads the same everywhere
            self.recommended_value = round_threshold(self.folder.locs["confidence"], r["threshold"])
            self.recommend_text.value = (f"recommended threshold <b>{threshold_text(self.recommended_value)}</b> "
                                         f"(highest Jaccard {r['jaccard']:.3f} at {float(self.radius.value):g} nm)")
        else:
            self.recommend_text.value = ("give a ground truth for a recommended threshold" if has_conf else "")

    def threshold_value(self) -> float:
        """The threshold in use: the slider's value as it is shown (:func:`threshold_text`)."""
        return float(threshold_text(self.threshold.value))

    def _fit_readout(self) -> None:
        """The slider reads out its value as the rest of the viewer writes it (:func:`threshold_text`)."""
        fmt = f".{_decimals(threshold_text(self.threshold.value))}f"
        if self.threshold.readout_format != fmt:
            self.threshold.readout_format = fmt

    def _kept(self):
        from ..evaluation import filter_confidence

        locs = self.folder.locs
        if self.threshold.disabled:
            return locs
        return filter_confidence(locs, self.threshold_value())

    def _on_threshold(self) -> None:
        if self.folder is None or self._quiet:
            return
        self._fit_readout()
        with c.reporting(self.status):
            self._update_metrics()
            self._draw_frame()
            self._draw_threshold_views()

    def _metrics_row(self, t: float):
        """The sweep row for keeping confidences >= t (None above the highest confidence)."""
        s = self.sweep
        sel = s[s["threshold"].to_numpy(np.float64) >= t - 1e-12]
        return sel.iloc[0] if len(sel) else None

    def _update_metrics(self) -> None:
        folder = self.folder
        n_all, kept = len(folder.locs), len(self._kept())
        t = self.threshold_value()
        shown = threshold_text(t)  # as the slider reads it out
        head = (f"<b>threshold {shown}</b>: {kept} of {n_all} predicted localizations kept"
                if not self.threshold.disabled else f"{n_all} predicted localizations (no confidence column)")
        body = ""
        if self.sweep is not None:
            row = self._metrics_row(t)
            if row is None:
                body = "<br>no localization above this threshold"
            else:
                cells = [_fmt(row[k], spec) for k, _, spec in _SHOWN]
                body = (f"<br>matched to {int(row['n_gt'])} ground-truth localizations within "
                        f"{float(self.radius.value):g} nm ({self.matcher.value}):"
                        + c.html_table([cells], [label for _, label, _ in _SHOWN]))
        elif folder.gt is None:
            body = "<br>no ground truth: give one for Jaccard, recall, precision and RMSE"
        self.metrics.value = head + body

    def _draw_frame(self) -> None:
        if self.folder is None:
            return
        from ..evaluation import folder_frame_view

        with c.reporting(self.status):
            c.show(self.frame_out, folder_frame_view(self.folder, int(self.frame.value),
                                                      threshold=None if self.threshold.disabled
                                                      else self.threshold_value()))

    def _draw_overview(self) -> None:
        from ..evaluation import merged_view

        f = self.folder
        if (f.widefield is not None or f.predicted is not None) and f.pixel_size_hr:
            c.show(self.merged_out, merged_view(f.widefield, f.predicted, pixel_size_hr=f.pixel_size_hr))
        else:
            c.show(self.merged_out, "<i>no Widefield_/Predicted_ images with a pixel size in the folder</i>")
        self._draw_threshold_views()

    def _draw_threshold_views(self) -> None:
        from ..evaluation import confidence_histogram, density_view

        from ..evaluation import sweep_view

        f = self.folder
        t = None if self.threshold.disabled else self.threshold_value()
        if t is not None:
            c.show(self.hist_out, confidence_histogram(f.locs, threshold=t, matches=self._matches))
        else:
            c.clear(self.hist_out)
        if self.sweep is not None:
            c.show(self.sweep_out, sweep_view(self.sweep, threshold=t, confidence=f.locs["confidence"]))
        else:
            c.clear(self.sweep_out)
        size = self._field()
        if size is None:
            c.show(self.density_out, "<i>densities need the image size: give the movie</i>")
        else:
            width, height, ps = size
            c.show(self.density_out, density_view(f.gt, self._kept(), n_frames=max(f.n_frames, 1), width=width,
                                                  height=height, pixel_size=ps))

    def _field(self):
        """(width, height, pixel size) of the field of view, from the movie or the prediction images."""
        f = self.folder
        if f.movie is not None and f.pixel_size:
            return f.movie.width, f.movie.height, f.pixel_size
        img = f.predicted if f.predicted is not None else f.widefield
        if img is not None and f.pixel_size_hr:
            return img.shape[1], img.shape[0], f.pixel_size_hr
        return None

    def use_recommended(self) -> bool:
        """Move the threshold to the recommended one (highest Jaccard)."""
        with c.reporting(self.status) as done:
            if self.recommended is None:
                raise InputError("no recommended threshold: load a prediction with a ground truth first")
            t = float(self.recommended_value)
            self.threshold.value = min(max(t, self.threshold.min), self.threshold.max)
        return done.ok

    def save(self) -> bool:
        """Write the prediction csv rows with confidence >= the threshold (same format)."""
        from ..evaluation import filter_prediction_file

        with c.reporting(self.save_status, busy="saving ...") as done:
            if self.folder is None:
                raise InputError("press Load first")
            if self.threshold.disabled:
                raise InputError("the predictions have no confidence column to filter by", self.folder.locs_path)
            out = c.need_path(self.out_csv.value, "file name of the filtered csv")
            t = self.threshold_value()
            res = filter_prediction_file(self.folder.locs_path, t, out, force=bool(self.force.value))
            self.saved = out
            c.say(self.save_status, f"kept {res['kept']} of {res['total']} localizations with confidence >= "
                  f"{threshold_text(t)}; "
                  f"wrote {out}" + (f" ({res['no_confidence']} rows without confidence left out)"
                                    if res.get("no_confidence") else ""))
        return done.ok
