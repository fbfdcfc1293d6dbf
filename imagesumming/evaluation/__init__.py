"""Evaluation of Deep-STORM predictions against ground truth: matching, metrics, views.

Typical use::

    from imagesumming.evaluation import load_prediction_folder, evaluate, threshold_sweep, best_threshold
    from imagesumming.evaluation import match, metrics, filter_confidence

    res = evaluate(gt, pred, radii=(50, 100, 250), matcher="optimal")   # one row per radius
    sweep = threshold_sweep(gt, pred, radius=100)                        # exact, all thresholds
    best = best_threshold(sweep, "jaccard")

All tables are canonical (:mod:`imagesumming.schema`): frames 1-based, x/y in nm from the
pixel corner. Views (``imagesumming.evaluation.views``) return matplotlib Figures.
"""

from .matching import (BRUTE_FORCE_MAX, MATCHERS, Matches, candidate_pairs, frame_overlap, match, match_radii,
                       solve_pairs)
from .metrics import DEFAULT_RADII, METRIC_COLUMNS, efficiency, evaluate, metrics, metrics_from_sums, per_frame
from .predictions import (PredictionFolder, filter_confidence, filter_prediction_file, find_prediction_files,
                          load_prediction_folder, prediction_name)
from .sweep import best_threshold, round_threshold, sweep_thresholds, threshold_sweep
from .views import confidence_histogram, density_view, folder_frame_view, frame_view, merged_view, sweep_view

__all__ = [
    "MATCHERS", "BRUTE_FORCE_MAX", "Matches", "match", "match_radii", "candidate_pairs", "solve_pairs",
    "frame_overlap",
    "DEFAULT_RADII", "METRIC_COLUMNS", "metrics", "metrics_from_sums", "efficiency", "evaluate", "per_frame",
    "threshold_sweep", "best_threshold", "sweep_thresholds", "round_threshold",
    "PredictionFolder", "load_prediction_folder", "find_prediction_files", "prediction_name",
    "filter_confidence", "filter_prediction_file",
    "frame_view", "folder_frame_view", "merged_view", "confidence_histogram", "density_view", "sweep_view",
]
