"""CLI commands of the evaluation: evaluate (match to ground truth, sweep the threshold), filter."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
from pathlib import Path

from ..errors import InputError
from . import options as o
from .options import add_locs_options, locs_file


@contextlib.contextmanager
def _gt_options(gt):
    """Hints about the ground-truth file name its options as evaluate spells them (``--gt-origin``,
    not ``--origin``, which evaluate does not have)."""
    try:
        yield
    except InputError as exc:
        if gt is not None and exc.path is not None and exc.hint and _same_file(exc.path, gt):
            import re

            exc.hint = re.sub(r"\{(columns|frame_base|unit|origin)\}", r"{gt_\1}", exc.hint)
            exc.args = (exc.render(),)
        raise


def _same_file(a, b) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="measure Deep-STORM predictions against ground truth",
                       description="Match predictions to ground truth frame by frame (KD-tree candidates, optimal "
                                   "or greedy one-to-one assignment) at several radii; print recall, precision, "
                                   "Jaccard, F1, lateral RMSE, bias and efficiency; sweep the confidence "
                                   "threshold; write metrics.csv, sweep.csv, metrics.json and PNG figures.")
    p.add_argument("input", metavar="PRED.csv", help="prediction csv (Localizations_<name>_avg.csv or _max.csv)")
    p.add_argument("--gt", metavar="GT", help="ground truth (Picasso hdf5/csv, ThunderSTORM or Deep-STORM csv)")
    p.add_argument("--gt-format", default="auto", metavar="FMT", help="ground-truth format (default: detect)")
    add_locs_options(p, "gt-", "the ground truth")
    p.add_argument("--movie", metavar="M.tif", help="the input movie (for the frame views and densities)")
    p.add_argument("--prediction-dir", metavar="DIR",
                   help="the notebook's result folder (Predicted_/Widefield_/PredictedStack_<name>.tif); "
                        "default: the csv's folder when its name follows the notebook's pattern")
    p.add_argument("--name", help="<name> of the prediction files when the folder holds several")
    p.add_argument("--radius", default="50,100,250", metavar="NM[,NM...]",
                   help="matching radii in nm (default: %(default)s)")
    p.add_argument("--matcher", default="optimal", choices=("optimal", "greedy"),
                   help="one-to-one assignment: optimal (most pairs, then least distance) or greedy "
                        "(closest first, as in the SMLM challenge); default: %(default)s")
    p.add_argument("--threshold", type=float, metavar="T",
                   help="evaluate only predictions with confidence >= T (the sweep always uses all)")
    p.add_argument("--sweep-grid", type=int, metavar="N",
                   help="sweep N evenly spaced thresholds (default: every distinct confidence, or a grid of "
                        "200 when that is too much work on very dense data)")
    p.add_argument("--frames", metavar="F[,F...]", help="frames (1-based) to draw (default: the frame with the "
                                                         "most ground-truth localizations)")
    o.add_pixel_size(p)
    p.add_argument("--pixel-size-hr", type=float, metavar="NM", help="prediction pixel size in nm (overrides tags)")
    o.add_output(p, "folder", "metrics.csv, sweep.csv, metrics.json and the PNG figures", old=())
    o.add_force(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("filter", help="keep the predictions with confidence >= a threshold",
                       description="Write the rows of a Deep-STORM prediction csv whose confidence is >= the "
                                   "threshold, in the same format (rows unchanged), and report how many were kept.")
    p.add_argument("input", metavar="PRED.csv", help="prediction csv (frame,x [nm],y [nm],confidence [a.u])")
    p.add_argument("--threshold", "-t", type=float, required=True, metavar="T", help="keep rows with confidence >= T")
    o.add_output(p, "file", "the kept rows, in the input's format", metavar="OUT.csv", old=())
    o.add_force(p)
    p.set_defaults(func=cmd_filter)


def cmd_filter(args: argparse.Namespace) -> int:
    from ..evaluation.predictions import filter_prediction_file

    r = filter_prediction_file(args.input, args.threshold, args.output, force=args.force)
    pct = 100.0 * r["kept"] / r["total"] if r["total"] else 0.0
    o.say(args, f"kept {r['kept']} of {r['total']} localizations ({pct:.1f} %) with {r['column']} >= {args.threshold:g}")
    if r["no_confidence"]:
        o.say(args, f"left out {r['no_confidence']} row(s) without a confidence value")
    o.say(args, f"wrote {args.output}")
    return 0


def _numbers(text: str, what: str, cast=float) -> list:
    try:
        values = [cast(v) for v in str(text).replace(" ", "").split(",") if v]
    except ValueError:
        raise InputError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise InputError(f"{what}: no value given")
    return values


def _table_lines(table) -> list[str]:
    cols = [("radius_nm", "radius", "{:g}"), ("tp", "TP", "{:d}"), ("fp", "FP", "{:d}"), ("fn", "FN", "{:d}"),
            ("recall", "recall", "{:.3f}"), ("precision", "precision", "{:.3f}"), ("jaccard", "Jaccard", "{:.3f}"),
            ("f1", "F1", "{:.3f}"), ("rmse_lateral_nm", "RMSE nm", "{:.1f}"), ("mean_dx_nm", "dx nm", "{:+.1f}"),
            ("mean_dy_nm", "dy nm", "{:+.1f}"), ("efficiency", "eff.", "{:.3f}")]
    rows = [[h for _, h, _ in cols]]
    for rec in table.to_dict("records"):
        row = []
        for key, _, fmt in cols:
            v = rec[key]
            if isinstance(v, float) and not math.isfinite(v):
                row.append("nan")
            else:
                row.append(fmt.format(int(v) if fmt == "{:d}" else v))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    return ["  ".join(s.rjust(w) for s, w in zip(r, widths)) for r in rows]


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from .. import __version__
    from .._files import atomic_path, check_input_file, json_ready, output_set
    from ..evaluation import views
    from ..evaluation.matching import frame_overlap, match_radii
    from ..evaluation.metrics import metrics
    from ..evaluation.predictions import filter_confidence, load_prediction_folder, prediction_name
    from ..evaluation.sweep import best_threshold, round_threshold, threshold_sweep

    radii = _numbers(args.radius, "--radius")
    frames_wanted = _numbers(args.frames, "--frames", int) if args.frames else None
    if frames_wanted and min(frames_wanted) < 1:
        raise InputError(f"--frames are 1-based frame numbers (>= 1), got {args.frames!r}")
    # every option is checked before anything is written
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise InputError(f"--threshold must be a finite number, got {args.threshold}")
    if args.sweep_grid is not None and args.sweep_grid < 2:
        raise InputError(f"--sweep-grid needs at least 2 thresholds, got {args.sweep_grid}")
    pred_path = check_input_file(args.input)
    folder, name = None, args.name
    if args.prediction_dir:
        folder = args.prediction_dir
        name = name or (prediction_name(pred_path) or (None,))[0]
    elif prediction_name(pred_path):
        folder, name = pred_path.parent, name or prediction_name(pred_path)[0]
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise InputError("output must be a folder", out)

    with contextlib.ExitStack() as outputs, _gt_options(args.gt), \
            load_prediction_folder(folder, locs=pred_path, name=name, movie=args.movie,
                                   gt=locs_file(args.gt, args, "gt-"), gt_format=args.gt_format,
                                   pixel_size=args.pixel_size, pixel_size_hr=args.pixel_size_hr) as pf:
        pred_all = pf.locs
        has_conf = "confidence" in pred_all.columns
        if args.sweep_grid is not None and not has_conf:
            raise InputError("--sweep-grid: the predictions have no confidence column to sweep", pred_path)
        pred = pred_all
        if args.threshold is not None:
            pred = filter_confidence(pred_all, args.threshold)
        gt = pf.gt
        n_frames = pf.n_frames
        if frames_wanted is None:
            source = gt if gt is not None and len(gt) else pred_all
            frames_wanted = [int(source["frame"].value_counts().sort_index().idxmax())] if len(source) else []
        figures = {"confidence_histogram.png": has_conf, "density_per_frame.png": pf.field_nm is not None,
                   "sweep.png": gt is not None and has_conf,
                   "merged.png": pf.widefield is not None or pf.predicted is not None}
        figures.update({f"frame_{f}.png": True for f in frames_wanted})
        files = ["metrics.json"] + (["metrics.csv"] if gt is not None else []) + \
                (["sweep.csv"] if gt is not None and has_conf else []) + [k for k, v in figures.items() if v]
        # one set: locked, checked before anything is written, moved in together (metrics.json last)
        outputs.enter_context(output_set([out / f for f in files], inputs=pf.paths.values(), force=args.force,
                                         command="evaluate", manifest=out / "metrics.json"))

        summary = {"imagesumming_version": __version__, "command": "evaluate",
                   "inputs": {k: str(v) for k, v in pf.paths.items()}, "matcher": args.matcher,
                   "radii_nm": radii, "threshold": args.threshold, "n_pred_total": len(pred_all),
                   "n_pred_evaluated": len(pred), "pixel_size_nm": pf.pixel_size,
                   "pixel_size_hr_nm": pf.pixel_size_hr, "n_frames": n_frames, "notes": list(pf.notes)}
        o.say(args, f"predictions: {len(pred_all)} localizations in {pred_all['frame'].nunique()} frames"
              + (f"; {len(pred)} with confidence >= {args.threshold:g}" if args.threshold is not None else ""))
        for note in pf.notes:
            o.say(args, f"note: {note}")

        matches = None
        if gt is not None:
            summary["n_gt"] = len(gt)
            summary["frames"] = frame_overlap(gt["frame"].to_numpy(), pred["frame"].to_numpy())
            ov = summary["frames"]
            o.say(args, f"ground truth: {len(gt)} localizations; frames in both: {ov['frames_both']}, only in ground "
                  f"truth: {ov['frames_only_gt']} ({ov['gt_rows_in_frames_only_gt']} locs, all misses), only in "
                  f"predictions: {ov['frames_only_pred']} ({ov['pred_rows_in_frames_only_pred']} locs, all false)")
            all_matches = match_radii(gt, pred, radii, args.matcher)
            table = pd.DataFrame([metrics(m) for m in all_matches.values()])
            matches = all_matches[max(all_matches)]
            o.say(args, f"\nmetrics ({args.matcher} matching; RMSE lateral; dx, dy = prediction - ground truth):")
            o.say(args, *_table_lines(table))
            summary["metrics"] = table.to_dict("records")
            with atomic_path(out / "metrics.csv", force=args.force) as tmp:
                table.to_csv(tmp, index=False)
            if has_conf:
                sweep = threshold_sweep(gt, pred_all, radii, args.matcher, progress=o.progress(args),
                                        thresholds="auto" if args.sweep_grid is None else args.sweep_grid)
                with atomic_path(out / "sweep.csv", force=args.force) as tmp:
                    sweep.to_csv(tmp, index=False)
                best = {}
                mode = sweep.attrs.get("thresholds", "")
                if len(sweep):
                    o.say(args, f"\nconfidence sweep over {sweep['threshold'].nunique()} thresholds ({mode}, exact at each)")
                else:
                    o.say(args, "\nnote: no prediction has a confidence value: no threshold to sweep")
                for r in radii if len(sweep) else []:
                    s = sweep[sweep["radius_nm"] == r]
                    best[r] = {}
                    for metric in ("jaccard", "efficiency"):
                        try:
                            b = best_threshold(s, metric)
                        except InputError:
                            continue
                        # a short threshold that keeps the same predictions (to type into `filter`)
                        short = round_threshold(pred_all["confidence"], b["threshold"])
                        best[r][metric] = {"threshold": float(b["threshold"]), "threshold_rounded": short,
                                           metric: float(b[metric]), "recall": float(b["recall"]),
                                           "precision": float(b["precision"]), "n_pred": int(b["n_pred"])}
                    text = ", ".join(f"best {k} {v[k]:.3f} with confidence >= {v['threshold_rounded']:g} "
                                     f"({v['n_pred']} kept)" for k, v in best[r].items())
                    o.say(args, f"  radius {r:g} nm: {text}")
                n_conf = int(np.isfinite(pred_all["confidence"].to_numpy(np.float64)).sum())
                if any(v["n_pred"] == n_conf for b in best.values() for v in b.values()):
                    # the csv holds only what passed the notebook's detection threshold
                    note = ("keeping every prediction scores best: a lower detection threshold in the notebook "
                            "(section 6.1, threshold) may do better")
                    o.say(args, f"note: {note}")
                    summary["notes"].append(note)
                summary["best_thresholds"] = best
                summary["sweep"] = mode
                _save(views.sweep_view(sweep, confidence=pred_all["confidence"]), out / "sweep.png", args.force)
            else:
                o.say(args, "note: the predictions have no confidence column: no threshold sweep")
        else:
            o.say(args, "note: no ground truth (--gt): no metrics, only views")

        if has_conf:
            if gt is not None and args.threshold is not None:
                # the histogram shows every prediction: match all of them (largest radius)
                matches = match_radii(gt, pred_all, [max(radii)], args.matcher)[max(radii)]
            _save(views.confidence_histogram(pred_all, threshold=args.threshold, matches=matches),
                  out / "confidence_histogram.png", args.force)
        if pf.field_nm is not None:
            w, h = pf.field_nm
            label = "predictions" + (f" (confidence >= {args.threshold:g})" if args.threshold is not None else "")
            _save(views.density_view(gt, pred, n_frames=max(n_frames, 1), width=w, height=h, pixel_size=1.0,
                                     pred_label=label), out / "density_per_frame.png", args.force)
        if figures["merged.png"]:
            _save(views.merged_view(pf.widefield, pf.predicted, pixel_size_hr=pf.pixel_size_hr or 1.0),
                  out / "merged.png", args.force)
        for f in frames_wanted:
            _save(views.folder_frame_view(pf, f, threshold=args.threshold), out / f"frame_{f}.png", args.force)
        with atomic_path(out / "metrics.json", force=args.force) as tmp:
            tmp.write_text(json.dumps(json_ready(summary), indent=2, allow_nan=False) + "\n")
    o.say(args, f"\nwrote {', '.join(files)} to {out}")
    o.detail(args, *(f"  {k}: {v}" for k, v in pf.paths.items()), *(f"wrote {out / f}" for f in files))
    return 0


def _save(fig, path: Path, force: bool) -> None:
    from .._files import atomic_path

    with atomic_path(path, force=force) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
