"""Summed training frames that match the movie you will analyze (``imagesumming sum --match DENSE.tif``).

The dense movie's density is estimated (:mod:`imagesumming.density`) with the summing inputs
themselves as the calibration (low-density movies whose localizations are known) and becomes the
target density of the summing. With ``min_emitters="auto"`` the minimum emitters per source patch
is chosen so that the target is reached with the smallest ``k``: every summed frame holds ``k``
backgrounds (minus ``k - 1`` camera offsets), ``sqrt(k)`` times their noise, so a smaller ``k``
gives frames whose background looks more like the dense movie's.

The calibration measures at most 2,000 frames of each input movie, evenly spread over it.

The choice of ``min_emitters``: ``n_probe`` random windows (drawn like the search, from their own
random stream derived from the seed, so the summing's own draws are unchanged) give, for every
``m``, the fraction of windows holding ``>= m`` localizations and their mean density ``d_m``;
``k_m = round(target / d_m)``. An ``m`` is possible when the search would find the patches easily
(expected accepted windows in ``max_attempts`` draws at least twice ``n_patches``, at least 30 probe
windows qualify, and with ``unique`` at least ``n_summed x k_m`` patches). Among the possible ``m``
whose ``k_m x d_m`` lies within 15 % of the target, the smallest ``k`` wins, then the density
closest to the target, then the smaller ``m``; when none lies within 15 %, the closest density wins.

The comparison (``params["match"]``, :func:`match_lines`, :func:`plot_match`) measures the summed
frames with the same :func:`imagesumming.density.frame_measures` as the dense movie: density (the
summed frames' localizations; ``density_measured`` in the params is their estimate from the signal,
a rough check only: the summed frames are noisier, so their low-percentile background sits on more
emitter tails and it comes out ~10 % low at k = 10), background above the camera offset, background
noise and emitter peak height, side by side, and says in words where they differ by more than 25 %
(density: 15 %).
"""

from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np
import pandas as pd

from .density import (Calibration, DensityResult, _calibrate_inputs, _name, _same_pixel_size, estimate_density,
                      frame_measures)
from .errors import InputError, worded
from .io import as_movie

__all__ = ["choose_min_emitters", "match_lines", "plot_match", "sum_matching"]

log = logging.getLogger("imagesumming")

_DENSITY_TOL = 0.15
_LEVEL_TOL = 1.25  # ratios outside [1/1.25, 1.25] are called different
_PROBE = 20_000
_CALIBRATION_FRAMES = 2000  # per input movie, evenly spread: plenty for the slope, bounded time


def choose_min_emitters(index, shapes, target: float, *, patch_size: int, pixel_size: float, n_patches: int,
                        n_summed: int, unique: bool, max_attempts: int, seed: int, n_probe: int = _PROBE):
    """The minimum emitters per source patch that reaches ``target`` with the smallest ``k``.

    Parameters
    ----------
    index : imagesumming.sampling.LocIndex
        The checked localizations of the summing inputs.
    shapes : list of (frames, height, width)
    target : float
        Emitters/µm² wanted.
    patch_size, pixel_size, n_patches, n_summed, unique, max_attempts, seed
        As in :func:`imagesumming.summing.sum_patches`.
    n_probe : int
        Random windows drawn to learn how many emitters the windows hold.

    Returns
    -------
    chosen : int
    table : DataFrame
        One row per ``m``: ``min_emitters``, ``fraction`` (of windows with >= m), ``patch_density``
        (their mean, /µm²), ``k``, ``density`` (k x patch density), ``possible``, ``chosen``.
    """
    from .sampling import window_members

    rng = np.random.default_rng([int(seed), 13])  # own stream: the summing's draws stay as without auto
    shapes = np.asarray(shapes, dtype=np.int64)
    P = int(patch_size)
    movie = rng.integers(0, len(shapes), n_probe)
    frame = rng.integers(0, shapes[movie, 0])
    row = rng.integers(0, shapes[movie, 1] - P + 1)
    col = rng.integers(0, shapes[movie, 2] - P + 1)
    window, _ = window_members(index, movie, frame, row, col, P)
    counts = np.bincount(window, minlength=n_probe)
    area = (P * pixel_size / 1000.0) ** 2
    rows = []
    for m in range(0, int(counts.max()) + 1):
        sel = counts >= m
        frac = float(sel.mean())
        d = float(counts[sel].mean()) / area
        k = max(1, int(round(target / d))) if d > 0 else 0
        possible = (k > 0 and int(sel.sum()) >= 30 and frac * max_attempts >= 2 * n_patches and k <= n_patches
                    and (not unique or n_patches >= n_summed * k))
        rows.append((m, frac, d, k, k * d, possible))
    table = pd.DataFrame(rows, columns=["min_emitters", "fraction", "patch_density", "k", "density", "possible"])
    ok = table[table["possible"]]
    if not len(ok):
        raise InputError(f"no minimum emitters per patch reaches the target density {target:.3g} emitters/µm²: "
                         f"the {P} px windows hold {counts.mean() / area:.3g} emitters/µm² on average",
                         hint="ask for fewer {n_patches}, or give {min_emitters}")
    err = (ok["density"] / target - 1).abs()
    close = ok[err <= _DENSITY_TOL]
    if len(close):
        pick = close.assign(err=err[close.index]).sort_values(["k", "err", "min_emitters"]).index[0]
    else:
        pick = ok.assign(err=err).sort_values(["err", "k", "min_emitters"]).index[0]
    table["chosen"] = table.index == pick
    return int(table.loc[pick, "min_emitters"]), table


def _measure_summed(frames: np.ndarray, cal: Calibration) -> pd.DataFrame:
    """:func:`frame_measures` of every summed frame (NaN when a frame is too small for the border)."""
    rows = []
    for f in frames:
        try:
            m = frame_measures(f, border=cal.border)
            rows.append((m.background, m.background_noise, m.signal / cal.signal_per_loc, m.peak))
        except InputError:
            rows.append((np.nan,) * 4)
    return pd.DataFrame(rows, columns=["background", "background_noise", "density_measured", "peak"])


_MIN_ADU_PER_PHOTON = 0.15  # below it, the background's shot noise says the camera offset given is too low


def _ratio(a, b):
    return float(a / b) if b and np.isfinite(a) and np.isfinite(b) and b > 0 else float("nan")


def _comparison(targets: list[DensityResult], summed: pd.DataFrame, out_density: np.ndarray, *, k: int,
                camera_offset: float, min_emitters, auto_table) -> dict:
    """The ``params["match"]`` record: target, summed, ratios and plain-language differences."""
    dens = np.concatenate([t.density_per_frame for t in targets])
    bg = np.concatenate([t.frames["background"].to_numpy() for t in targets])
    noise = np.concatenate([t.frames["background_noise"].to_numpy() for t in targets])
    peak = np.concatenate([t.frames["peak"].to_numpy() for t in targets])
    unc = float(np.sqrt(np.sum([(t.uncertainty * len(t.frames)) ** 2 for t in targets])) / len(dens))

    def med(a):
        a = np.asarray(a, float)
        return float(np.nanmedian(a)) if np.isfinite(a).any() else float("nan")

    target = {"density": float(dens.mean()), "uncertainty": unc, "background": med(bg),
              "background_above_offset": med(bg) - camera_offset, "background_noise": med(noise), "peak": med(peak),
              "frames": int(len(dens)), "movies": [t.movie for t in targets]}
    out = {"density": float(np.mean(out_density)), "density_measured": med(summed["density_measured"]),
           "background": med(summed["background"]),
           "background_above_offset": med(summed["background"]) - camera_offset,
           "background_noise": med(summed["background_noise"]), "peak": med(summed["peak"]), "k": int(k)}
    ratios = {"density": _ratio(out["density"], target["density"]),
              "background_above_offset": _ratio(out["background_above_offset"], target["background_above_offset"]),
              "background_noise": _ratio(out["background_noise"], target["background_noise"]),
              "peak": _ratio(out["peak"], target["peak"])}
    notes = []
    r = ratios["density"]
    if np.isfinite(r) and abs(r - 1) > _DENSITY_TOL:
        notes.append(f"density {r:.2f}x the target's ({out['density']:.3g} vs {target['density']:.3g} /µm²): "
                     f"k = {k} patches of {out['density'] / k:.3g} /µm² cannot reach it closer; change "
                     + worded("{min_emitters} or {patch_size}"))
    r = ratios["background_above_offset"]
    if np.isfinite(r) and not 1 / _LEVEL_TOL <= r <= _LEVEL_TOL:
        why = (f"k = {k} sums {k} backgrounds" if r > 1 else "the dense movie's background is higher")
        notes.append(f"background {r:.1f}x the target's (above the camera offset {camera_offset:g} ADU): {why}"
                     + ((worded(" ({min_emitters} auto chose the smallest k that reaches the density; only denser "
                                "source movies lower it)") if min_emitters == "auto" else
                         worded(" (a smaller k: {min_emitters} auto, denser source patches)")) if r > 1 and k > 1 else "")
                     + (worded("; check {camera_offset}") if r < 0 else ""))
    r = ratios["background_noise"]
    if np.isfinite(r) and not 1 / _LEVEL_TOL <= r <= _LEVEL_TOL:
        notes.append(f"background noise {r:.1f}x the target's"
                     + (f": summing k = {k} frames adds their noise (about sqrt(k) = {np.sqrt(k):.1f}x)" if r > 1 else ""))
    r = ratios["peak"]
    if np.isfinite(r) and not 1 / _LEVEL_TOL <= r <= _LEVEL_TOL:
        notes.append(f"emitter peaks {r:.1f}x the target's"
                     + (": the dense movie's emitters overlap (or are brighter)" if r < 1 else
                        ": the source emitters are brighter than the dense movie's"))
    above, tn = target["background_above_offset"], target["background_noise"]
    if np.isfinite(above) and np.isfinite(tn) and above > 0 and tn ** 2 / above < _MIN_ADU_PER_PHOTON:
        # shot noise alone gives noise² >= gain x background above the offset: a lower ratio means the offset is wrong
        notes.append(f"the target's background noise {tn:.3g} ADU is too low for a background {above:.4g} ADU above the "
                     f"camera offset {camera_offset:g} ADU (that would be {tn ** 2 / above:.2g} ADU per photon): is "
                     + worded("the camera offset right? Give it with {camera_offset} (the background ratio above, "
                              "and the summed frames, depend on it)"))
    if not notes:
        # the density compared is the target's *estimate*: it can be off by more than its ± (systematic
        # errors), so the claim names it; its own notes follow (target_warnings)
        notes.append(f"the summed frames match the target: density within 15 % of the target's estimate "
                     f"({target['density']:.3g} ± {unc:.2g} /µm², statistical error only), background, noise and "
                     "peaks within 25 %")
    rec = {"target": target, "summed": out, "ratios": ratios, "differences": notes, "min_emitters": min_emitters,
           "camera_offset": camera_offset,
           "target_warnings": list(dict.fromkeys(w for t in targets for w in t.warnings))}
    if auto_table is not None:
        rec["min_emitters_auto"] = auto_table.to_dict(orient="list")
    return rec


def match_lines(match: dict) -> list[str]:
    """The comparison as lines for the summary: target and summed side by side, then the differences."""
    t, s = match["target"], match["summed"]
    lines = [f"match: target {', '.join(t['movies'])} ({t['frames']} frames) vs summed frames (k = {s['k']}"
             f", min emitters {match['min_emitters']}"
             + (f": {match['min_emitters_chosen']}" if match["min_emitters"] == "auto"
                and match.get("min_emitters_chosen") is not None else "") + ")",
             f"  {'':22}{'target':>12}{'summed':>12}{'ratio':>8}"]

    def row(label, a, b, ratio, fmt="{:.3g}"):
        f = (lambda v: fmt.format(v) if v is not None and np.isfinite(v) else "n/a")
        rr = f"{ratio:.2f}" if ratio is not None and np.isfinite(ratio) else "n/a"
        lines.append(f"  {label:22}{f(a):>12}{f(b):>12}{rr:>8}")

    row("density /µm²", t["density"], s["density"], match["ratios"]["density"])
    row("background ADU* †", t["background_above_offset"], s["background_above_offset"],
        match["ratios"]["background_above_offset"], "{:.1f}")
    row("background noise ADU †", t["background_noise"], s["background_noise"], match["ratios"]["background_noise"],
        "{:.2f}")
    row("emitter peak ADU", t["peak"], s["peak"], match["ratios"]["peak"], "{:.1f}")
    lines.append(f"  * above the camera offset {match['camera_offset']:g} ADU; target density ± "
                 f"{t['uncertainty']:.2g} (1 sd); summed density from their localizations")
    # not the summary's emitter-free median and MAD: two methods, two (close) values for the same frames
    lines.append("  † measured as the density estimate measures a frame (its darkest pixels: low percentile, "
                 "neighbour differences), not as the emitter-free median and 1.4826 x MAD above")
    lines += [f"  differs: {n}" if not n.startswith("the summed frames match") else f"  {n}"
              for n in match["differences"]]
    lines += [f"  note: the target's estimate may be off itself (beyond its ±): {w}"
              for w in match.get("target_warnings", [])]
    return lines


def plot_match(match: dict, target_density=None, summed_density=None):
    """Figure: target vs summed side by side (density, background, noise, peak), ratios in the titles."""
    from .plots import new_figure

    fig, axes = new_figure(4, size=(2.6, 3.2))
    t, s, r = match["target"], match["summed"], match["ratios"]
    items = [("density", "emitters / µm²", "density"), ("background_above_offset", "ADU above offset", "background"),
             ("background_noise", "ADU rms", "background noise"), ("peak", "ADU above background", "emitter peak")]
    for ax, (key, unit, title) in zip(axes, items):
        vals = [t[key], s[key]]
        ax.bar([0, 1], [v if v is not None and np.isfinite(v) else 0 for v in vals], color=["C3", "C0"])
        if key == "density":
            ax.errorbar([0], [t["density"]], yerr=[t["uncertainty"]], color="k", capsize=4)
            jitter = np.random.default_rng(0)
            for x, per_frame in ((0, target_density), (1, summed_density)):
                if per_frame is not None and len(per_frame):
                    ax.plot(x + 0.3 * (jitter.random(len(per_frame)) - 0.5), per_frame, ".", color="k", ms=2,
                            alpha=0.3)
        ax.set_xticks([0, 1], ["target", f"summed\nk = {s['k']}"])
        rr = r[key]
        ax.set_title(f"{title}\n{rr:.2f}x" if rr is not None and np.isfinite(rr) else title, fontsize=10)
        ax.set_ylabel(unit)
    import textwrap

    fig.suptitle("\n".join(textwrap.fill(n, 130) for n in match["differences"]), fontsize=8)
    return fig


def sum_matching(movies, locs, match, *, min_emitters="auto", pixel_size=None, camera_offset=100.0, patch_size=30,
                 n_patches=200, n_summed=100, unique=False, augment=False, seed=None, on_invalid="error",
                 progress=True, max_attempts=None):
    """Sum patches to the density of the movie(s) you will analyze, and compare the result with them.

    Parameters
    ----------
    movies, locs
        The low-density movies and their localizations, as in :func:`imagesumming.summing.sum_patches`;
        they are also the calibration of the density estimate.
    match : path, Movie or array, or a list of them
        The dense movie(s) to match (no localizations needed); their frames are pooled.
    min_emitters : int or "auto"
        Minimum localizations per source patch, or "auto" (see the module docstring).
    pixel_size, camera_offset, patch_size, n_patches, n_summed, unique, augment, seed, on_invalid, progress,
    max_attempts
        As in :func:`imagesumming.summing.sum_patches`.

    Returns
    -------
    SummingResult
        With ``params["match"]``: ``target`` (density, uncertainty, background, noise, peak of the
        dense movies), ``summed`` (the same of the summed frames), ``ratios``, ``differences``
        (sentences), ``min_emitters`` and, for "auto", the table of the choice.
    """
    from . import summing as S
    from .sampling import index_locs

    targets = match if isinstance(match, (list, tuple)) else [match]
    if not targets:
        raise InputError("no movie to match given")
    auto = isinstance(min_emitters, str)
    if auto and min_emitters != "auto":
        raise InputError(f"min_emitters must be a whole number or 'auto', got {min_emitters!r}")
    fixed_min = None if auto else S._count(min_emitters, "minimum emitters per patch", 0)
    # target_density and min_emitters are placeholders here: the estimate and the choice replace them below
    settings = S.check_settings(patch_size=patch_size, n_patches=n_patches, n_summed=n_summed, bin_size=None,
                                target_density=1.0, min_emitters=fixed_min or 0, unique=unique, augment=augment,
                                seed=seed, on_invalid=on_invalid, max_attempts=max_attempts,
                                camera_offset=camera_offset)
    P, n_patches, n_summed = settings.patch_size, settings.n_patches, settings.n_summed
    seed, max_attempts, camera_offset = settings.seed, settings.max_attempts, settings.camera_offset

    inputs = S._open_inputs(movies, locs, pixel_size)
    dense = []
    try:
        for i, t in enumerate(targets):  # pixel sizes first: a mismatch stops before any work
            m = as_movie(t)
            dense.append(m)
            if m.pixel_size is not None and pixel_size is None:
                _same_pixel_size(m.pixel_size, f"{_name(t, i, 'movie')} ({m.pixel_size_source})", inputs)
        checked, _ = S._check_tables(inputs, settings)
        cal = _calibrate_inputs(inputs, tables=checked, on_invalid="keep", progress=progress,
                                max_frames=_CALIBRATION_FRAMES)
        results = [estimate_density(m, cal, pixel_size=pixel_size, camera_offset=camera_offset, progress=progress)
                   for m in dense]
        per_frame = np.concatenate([r.density_per_frame for r in results])
        target = float(per_frame.mean())
        unc = float(np.sqrt(np.sum([(r.uncertainty * len(r.frames)) ** 2 for r in results])) / len(per_frame))
        if not target > 2 * unc:
            raise InputError(f"the movie(s) to match estimate {target:.3g} ± {unc:.2g} emitters/µm², not "
                             "distinguishable from no emitters: nothing to match (is it the right movie?)")
        table = None
        if auto:
            shapes = [m.shape for m in inputs.opened]
            index = index_locs(checked, [sh[0] for sh in shapes], inputs.pixel_size, heights=[sh[1] for sh in shapes])
            chosen, table = choose_min_emitters(index, shapes, target, patch_size=P, pixel_size=inputs.pixel_size,
                                                n_patches=n_patches, n_summed=n_summed, unique=bool(unique),
                                                max_attempts=max_attempts, seed=seed)
        else:
            chosen = fixed_min
        settings = dataclasses.replace(settings, target_density=target, min_emitters=chosen)
        result = S._run(inputs, settings, progress=progress)
    finally:
        for t, m in zip(targets, dense):
            if isinstance(t, (str, os.PathLike)):  # opened here; Movies the caller passed stay open
                m.close()
        inputs.close()
    summed = _measure_summed(result.frames, cal)
    rec = _comparison(results, summed, result.densities["output"], k=result.params["bin_size"],
                      camera_offset=camera_offset, min_emitters="auto" if auto else chosen, auto_table=table)
    rec["min_emitters_chosen"] = chosen
    rec["calibration"] = cal.to_dict()
    rec["target_per_movie"] = [{"movie": r.movie, "frames": len(r.frames), "density": r.density,
                                "uncertainty": r.uncertainty, "background": r.background,
                                "background_noise": r.background_noise} for r in results]
    result.params["match"] = rec
    result.params["target_density_from"] = "match"
    return result
